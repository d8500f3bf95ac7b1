"""The Dataproc engine: files in the GCS emulator, the jobs API answered by a local HTTP double
of Dataproc's REST endpoints (no Dataproc emulator exists). The test plays the cluster: it reads
the submitted Hadoop streaming job, runs the pipe over the files the job names, writes the part
and sets the job's state in the double."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.cloud import storage
from mr_helpers import ENGINE_FILES, pipe, run_in_background, wait_until

from reference_apps.mapreduce.engines import DataprocEngine, open_engine
from reference_apps.mapreduce.programs import built_in

PROJECT, REGION, CLUSTER, BUCKET = "tierstack-test", "europe-west1", "mapreduce-hadoop", "job-data"
FILES = ENGINE_FILES


class DataprocDouble(BaseHTTPRequestHandler):
    """jobs:submit, jobs/<id> and jobs/<id>:cancel of the Dataproc v1 REST API, in memory."""

    jobs: dict[str, dict[str, Any]] = {}
    cancelled: list[str] = []
    prefix = f"/v1/projects/{PROJECT}/regions/{REGION}/jobs"

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        if self.path == f"{self.prefix}:submit":
            job = {**body["job"], "status": {"state": "PENDING"}}
            self.jobs[job["reference"]["jobId"]] = job
            return self._answer(200, job)
        if self.path.startswith(self.prefix + "/") and self.path.endswith(":cancel"):
            job_id = self.path.removeprefix(self.prefix + "/").removesuffix(":cancel")
            self.cancelled.append(job_id)
            self.jobs[job_id]["status"] = {"state": "CANCELLED"}
            return self._answer(200, self.jobs[job_id])
        return self._answer(404, {"error": {"message": "not found"}})

    def do_GET(self) -> None:
        job = self.jobs.get(self.path.removeprefix(self.prefix + "/"))
        return self._answer(200, job) if job else self._answer(404, {"error": {"code": 404}})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dataproc(
    gcs_emulator_host: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DataprocEngine, storage.Client]]:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator_host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    client = storage.Client()
    bucket = client.create_bucket(f"{BUCKET}-{id(monkeypatch)}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), DataprocDouble)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    DataprocDouble.jobs.clear()
    DataprocDouble.cancelled.clear()
    engine = open_engine(
        f"dataproc://{PROJECT}/{REGION}/{CLUSTER}",
        {
            "OBJECT_STORE_URL": f"gs://{bucket.name}/app",
            "DATAPROC_POLL_SECONDS": "0.1",
            "DATAPROC_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        },
    )
    assert isinstance(engine, DataprocEngine)
    try:
        yield engine, client
    finally:
        server.shutdown()


def start(engine: DataprocEngine, timeout: float = 60) -> tuple[threading.Thread, dict[str, Any]]:
    return run_in_background(engine, built_in("word-count"), reducers=3, timeout=timeout)


def submitted() -> dict[str, Any]:
    return wait_until(lambda: list(DataprocDouble.jobs.values()), 30, "the job")[0]  # type: ignore[index]


def test_a_streaming_job_is_submitted_polled_and_its_parts_collected(dataproc) -> None:
    engine, client = dataproc
    thread, outcome = start(engine)
    job = submitted()
    assert job["placement"] == {"clusterName": CLUSTER}
    hadoop = job["hadoopJob"]
    assert hadoop["mainJarFileUri"] == "file:///usr/lib/hadoop-mapreduce/hadoop-streaming.jar"
    args = hadoop["args"]
    option = dict(zip(args[::2], args[1::2], strict=True))
    assert option["-mapper"] == "python3 mapper.py" and option["-numReduceTasks"] == "3"
    assert option["-cmdenv"] == "INPUT_FORMAT=documents"

    def fetch(url: str) -> bytes:
        bucket, _, name = url.removeprefix("gs://").partition("/")
        return client.bucket(bucket).blob(name).download_as_bytes()

    assert [fetch(url) for url in hadoop["fileUris"]] == [
        built_in("word-count").mapper,
        built_in("word-count").reducer,
    ]
    documents = {}
    for index, arg in enumerate(args):
        if arg == "-input":
            bucket, _, prefix = args[index + 1].removeprefix("gs://").partition("/")
            (blob,) = client.list_blobs(bucket, prefix=prefix)
            documents[blob.name.rpartition("/")[2]] = blob.download_as_bytes().decode()
    assert documents == {"a.txt": FILES["a.txt"], "b_c.txt": FILES["b,c.txt"]}
    bucket, _, output = option["-output"].removeprefix("gs://").partition("/")
    assert output.startswith("output/word-count/")
    result = pipe("word-count", documents)
    client.bucket(bucket).blob(f"{output}part-00000").upload_from_string(result)
    job["status"] = {"state": "DONE"}
    thread.join(timeout=30)
    assert (
        b"".join(outcome["parts"]).decode()
        == result
        == "and\t1\ncafé\t1\ncloud\t1\nfog\t2\nthe\t2\n"
    )
    assert list(client.list_blobs(bucket)) == []  # run files and output removed


def test_an_error_state_fails_the_job_with_its_details(dataproc) -> None:
    engine, _ = dataproc
    thread, outcome = start(engine)
    submitted()["status"] = {"state": "ERROR", "details": "Job failed with message [mapper died]"}
    thread.join(timeout=30)
    assert outcome["error"].reason == (
        "the Dataproc job ended ERROR: Job failed with message [mapper died]"
    )


def test_past_the_time_limit_the_job_is_cancelled(dataproc) -> None:
    engine, _ = dataproc
    thread, outcome = start(engine, timeout=1)
    thread.join(timeout=30)
    assert outcome["error"].reason == "the job exceeded its time limit and was stopped"
    assert DataprocDouble.cancelled == [submitted()["reference"]["jobId"]]
