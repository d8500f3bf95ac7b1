"""The Spark engine on a real Spark standalone cluster (pyspark's Master and Worker, Java 17)
started here on 127.0.0.1: the same programs give the pipe's output; a worker killed in the middle
of a job is survived when another remains, and reported as a clear failure when none does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from mr_helpers import (
    Deployment,
    MailCapture,
    SparkCluster,
    free_port,
    pipe,
    sorted_lines,
    wait_until,
)

pytestmark = pytest.mark.slow
RUN = [sys.executable, "-m", "reference_apps.mapreduce.run"]
LINE = "Café {} Zürich naïve don\u2019t\r\nThe fog and the cloud\n"
CORPUS = {f"doc-{index},v{index % 3}.txt": LINE.format(index) * (index + 1) for index in range(6)}
SLOW_MAPPER = (  # marks its start in MARKS (same machine), then takes two seconds
    "import os, sys, time\n"
    "open(os.path.join(MARKS, str(time.time_ns())), 'w').close()\n"
    "time.sleep(2)\n"
    "for line in sys.stdin:\n"
    "    for word in line.split():\n"
    "        print(word + '\\t1')\n"
)
SUM_REDUCER = (
    "import sys\n"
    "from collections import Counter\n"
    "counts = Counter()\n"
    "for line in sys.stdin:\n"
    "    word, count = line.rstrip('\\n').split('\\t')\n"
    "    counts[word] += int(count)\n"
    "for word in sorted(counts):\n"
    "    print(f'{word}\\t{counts[word]}')\n"
)


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkCluster]:
    cluster = SparkCluster()
    try:
        cluster.add_worker(cores=2)
        yield cluster
    finally:
        cluster.stop()


def spark_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable, **extra}


def write_corpus(folder: Path) -> list[str]:
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return list(CORPUS)


def test_cli_on_spark_equals_the_pipe(spark: SparkCluster, tmp_path: Path) -> None:
    job = "inverted-index"  # the job runner's test below runs the word count too
    names = write_corpus(tmp_path)
    done = subprocess.run(
        [*RUN, job, *names, "-o", "out", "--reducers", "3", "--engine", spark.url],
        cwd=tmp_path,
        env=spark_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parts = sorted((tmp_path / "out").glob("part-*"))
    assert [part.name for part in parts] == ["part-00000", "part-00001", "part-00002"]
    for part in parts:  # each part sorted by key, as a Hadoop reducer writes it
        keys = [line.split("\t")[0].encode() for line in part.read_text().splitlines()]
        assert keys == sorted(keys)
    result = "".join(part.read_text() for part in parts)
    assert sorted_lines(result) == sorted_lines(pipe(job, CORPUS))
    assert spark.state()["completedapps"]  # it ran on the cluster, not in local mode


def test_the_job_runner_on_spark_reports_success_failure_and_mails(
    spark: SparkCluster, tmp_path: Path
) -> None:
    capture = MailCapture()
    smtp_port = free_port()
    controller = Controller(capture, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "MAPREDUCE_CLUSTER_URL": spark.url,
        "ALLOW_CUSTOM_PROGRAMS": "true",
        "QUEUE_VISIBILITY_TIMEOUT": "300",
        "JOB_TIME_LIMIT": "240",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
    }
    deployment = Deployment(env, tmp_path)
    try:
        session = requests.Session()
        good = session.post(
            f"{deployment.url}/api/v1/jobs",
            files=[("input", (name, text.encode())) for name, text in CORPUS.items()],
            data={"job": "inverted-index", "email": "ada@example.org"},
            timeout=10,
        ).json()
        counted = session.post(
            f"{deployment.url}/api/v1/jobs",
            files=[("input", (name, text.encode())) for name, text in CORPUS.items()],
            data={"job": "word-count"},
            timeout=10,
        ).json()
        bad = session.post(
            f"{deployment.url}/api/v1/jobs",
            files=[
                ("input", ("a.txt", b"x\n")),
                ("mapper", ("m.py", b"import sys\nsys.exit('mapper gave up: no input schema')\n")),
                ("reducer", ("r.py", SUM_REDUCER.encode())),
            ],
            data={"job": "custom", "email": "ada@example.org"},
            timeout=10,
        ).json()
        deployment.start_worker()
        done = deployment.wait_for_status(session, good["url"], {"succeeded", "failed"}, 240)
        assert done["status"] == "succeeded", done
        assert done["engine"] == "spark"
        result = session.get(deployment.url + done["result_url"], timeout=10).text
        assert sorted_lines(result) == sorted_lines(pipe("inverted-index", CORPUS))
        counts = deployment.wait_for_status(session, counted["url"], {"succeeded", "failed"}, 120)
        assert counts["status"] == "succeeded", counts
        counted_result = session.get(deployment.url + counts["result_url"], timeout=10).text
        assert sorted_lines(counted_result) == sorted_lines(pipe("word-count", CORPUS))
        failed = deployment.wait_for_status(session, bad["url"], {"succeeded", "failed"}, 120)
        assert failed["status"] == "failed"
        assert failed["error"] == "the mapper exited with status 1"
        assert failed["stderr_tail"].strip() == "mapper gave up: no input schema"
        mails = wait_until(lambda: len(capture.messages) == 2 and capture.messages, 10, "2 mails")
        subjects = sorted(message_from_bytes(raw)["Subject"] for _, _, raw in mails)
        assert subjects == [
            "MapReduce job custom failed",
            "MapReduce job inverted-index succeeded",
        ]
        link = re.search(
            r"(http://\S+/download/\S+)",
            next(
                message_from_bytes(raw).get_payload(decode=True).decode()
                for _, _, raw in mails
                if b"succeeded" in raw
            ),
        )
        assert link is not None and requests.get(link.group(1), timeout=10).text == result
    finally:
        deployment.stop()
        controller.stop()


def busy_workers(cluster: SparkCluster) -> int:
    state = cluster.state() or {"workers": []}
    return sum(
        1 for worker in state["workers"] if worker["state"] == "ALIVE" and worker["coresused"]
    )


def test_a_killed_spark_worker_never_hangs_the_job(tmp_path: Path) -> None:
    """Two workers, one killed mid-job: the job completes. Then the last one killed mid-job: the
    job fails within the no-worker grace with a reason that says so, instead of waiting."""
    cluster = SparkCluster()
    try:
        first, second = cluster.add_worker(cores=1), cluster.add_worker(cores=1)
        marks = tmp_path / "marks"
        marks.mkdir()
        (tmp_path / "m.py").write_text(f"MARKS = {str(marks)!r}\n{SLOW_MAPPER}")

        def tasks_started() -> int:
            return len(list(marks.iterdir()))

        (tmp_path / "r.py").write_text(SUM_REDUCER)
        names = []
        for index in range(8):  # eight map tasks of two seconds each
            (tmp_path / f"in{index}.txt").write_text(f"spark worker {index}\n")
            names.append(f"in{index}.txt")
        command = [*RUN, "--mapper", "m.py", "--reducer", "r.py", *names, "--engine", cluster.url]
        env = spark_env(SPARK_NO_WORKER_GRACE="5")

        survived = subprocess.Popen(
            [*command, "-o", "out1"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
        )
        wait_until(
            lambda: busy_workers(cluster) == 2 and tasks_started() >= 2,
            180,
            "map tasks running on both workers",
        )
        first.send_signal(signal.SIGKILL)
        _, stderr = survived.communicate(timeout=240)
        assert survived.returncode == 0, stderr[-3000:]
        counts = dict(
            line.split("\t")
            for part in sorted((tmp_path / "out1").glob("part-*"))
            for line in part.read_text().splitlines()
        )
        assert counts == {"spark": "8", "worker": "8", **{str(index): "1" for index in range(8)}}

        before = tasks_started()
        stranded = subprocess.Popen(
            [*command, "-o", "out2"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
        )
        wait_until(lambda: tasks_started() > before, 180, "a map task on the last worker")
        second.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, stderr = stranded.communicate(timeout=120)
        assert time.monotonic() - killed_at < 60
        assert stranded.returncode == 1
        assert f"job failed: no Spark worker has been alive for 5 s ({cluster.url})" in stderr
        assert not (tmp_path / "out2").exists()
    finally:
        cluster.stop()
