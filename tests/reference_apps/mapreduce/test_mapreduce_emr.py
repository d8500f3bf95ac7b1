"""The EMR engine against the moto server: it uploads the programs and inputs, adds the Hadoop
streaming step to the cluster, polls it, collects the part files and cleans up. moto never runs
or finishes a step, so the test plays the cluster: it reads the step's arguments and its files
from the bucket, runs the streaming pipe itself, writes the parts and sets the step's state
through moto's backend (the server runs in this process)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.emr.models import emr_backends
from mr_helpers import ENGINE_FILES, pipe, run_in_background, sorted_lines, wait_until

from reference_apps.mapreduce.engines import EmrEngine, open_engine
from reference_apps.mapreduce.programs import built_in

REGION = "us-east-1"
FILES = ENGINE_FILES


@pytest.fixture
def emr(aws_env: str) -> Iterator[tuple[EmrEngine, Any, Any, str]]:
    s3 = boto3.client("s3", region_name=REGION)
    client = boto3.client("emr", region_name=REGION)
    bucket = "job-data-emr-test"
    s3.create_bucket(Bucket=bucket)
    cluster = client.run_job_flow(
        Name="hadoop",
        ReleaseLabel="emr-7.5.0",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    engine = open_engine(
        f"emr://{cluster}", {"OBJECT_STORE_URL": f"s3://{bucket}/app", "EMR_POLL_SECONDS": "0.1"}
    )
    assert isinstance(engine, EmrEngine)
    engine.check()
    yield engine, s3, client, cluster
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def start(engine: EmrEngine, timeout: float = 60) -> tuple[threading.Thread, dict[str, Any]]:
    return run_in_background(engine, built_in("inverted-index"), reducers=2, timeout=timeout)


def the_step(client: Any, cluster: str) -> dict[str, Any]:
    steps = wait_until(lambda: client.list_steps(ClusterId=cluster)["Steps"], 30, "the step")
    return steps[0]


def moto_step(cluster: str, step_id: str) -> Any:
    backend = emr_backends[DEFAULT_ACCOUNT_ID][REGION]
    return next(step for step in backend.clusters[cluster].steps if step.id == step_id)


def test_a_streaming_step_runs_the_programs_and_its_parts_come_back(
    emr: tuple[EmrEngine, Any, Any, str],
) -> None:
    engine, s3, client, cluster = emr
    thread, outcome = start(engine)
    step = the_step(client, cluster)
    args = step["Config"]["Args"]
    assert step["Config"]["Jar"] == "command-runner.jar"
    assert args[0] == "hadoop-streaming" and step["ActionOnFailure"] == "CONTINUE"
    option = {args[index]: args[index + 1] for index in range(1, len(args) - 1, 2)}
    assert option["-mapper"] == "python3 mapper.py" and option["-reducer"] == "python3 reducer.py"
    assert option["-numReduceTasks"] == "2" and option["-cmdenv"] == "INPUT_FORMAT=documents"
    inputs = [args[index + 1] for index, arg in enumerate(args) if arg == "-input"]
    assert len(inputs) == 2

    # Be the cluster: fetch what the step names, run mapper | sort | reducer, write the part.
    def fetch(url: str) -> bytes:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    mapper_url, reducer_url = option["-files"].split(",")
    assert fetch(mapper_url) == built_in("inverted-index").mapper
    assert fetch(reducer_url) == built_in("inverted-index").reducer
    documents = {}
    for folder in inputs:
        bucket, _, prefix = folder.removeprefix("s3://").partition("/")
        (key,) = [
            item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
        ]
        documents[key.rpartition("/")[2]] = fetch(f"s3://{bucket}/{key}").decode()
    assert documents == {"a.txt": FILES["a.txt"], "b_c.txt": FILES["b,c.txt"]}  # Hadoop-safe names
    output = option["-output"]
    assert output.startswith("s3://job-data-emr-test/output/inverted-index/")  # the nodes' grant
    bucket, _, prefix = output.removeprefix("s3://").partition("/")
    result = pipe("inverted-index", documents)
    s3.put_object(Bucket=bucket, Key=f"{prefix}part-00000", Body=result.encode())
    s3.put_object(Bucket=bucket, Key=f"{prefix}_SUCCESS", Body=b"")
    moto_step(cluster, step["Id"]).state = "COMPLETED"
    thread.join(timeout=30)
    assert b"".join(outcome["parts"]).decode() == result
    assert sorted_lines(result)[0] == "and\ta.txt"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # run files and output removed


def test_a_failed_step_fails_the_job_with_its_reason(emr: tuple[EmrEngine, Any, Any, str]) -> None:
    engine, _, client, cluster = emr
    thread, outcome = start(engine)
    step = moto_step(cluster, the_step(client, cluster)["Id"])
    step.last_state_change_reason = "Step failed with exitCode 1"
    step.state = "FAILED"
    thread.join(timeout=30)
    assert outcome["error"].reason == "the EMR step ended FAILED: Step failed with exitCode 1"


def test_a_step_past_the_time_limit_is_cancelled_and_fails(
    emr: tuple[EmrEngine, Any, Any, str],
) -> None:
    engine, s3, _, _ = emr
    thread, outcome = start(engine, timeout=1)
    thread.join(timeout=30)
    assert outcome["error"].reason == "the job exceeded its time limit and was stopped"
    assert s3.list_objects_v2(Bucket="job-data-emr-test").get("KeyCount", 0) == 0


@pytest.mark.parametrize(
    ("url", "env", "message"),
    [
        ("emr://j-1", {}, "use emr://<cluster id> with OBJECT_STORE_URL=s3://"),
        ("hdinsight://c", {}, "use hdinsight://<gateway user>@<cluster>?storage=azblob://"),
        ("dataproc://p/r", {}, "use dataproc://<project>/<region>/<cluster> with"),
    ],
)
def test_engine_urls_that_cannot_work_stop_the_worker_with_one_line(
    url: str, env: dict[str, str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reference_apps.mapreduce.worker"],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            "MAPREDUCE_CLUSTER_URL": url,
            **env,
            "DATA_DIR": "/tmp/mapreduce-config-test",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("configuration error: MAPREDUCE_CLUSTER_URL=")
    )
    assert message in done.stderr
