"""The HDInsight engine, opened from the exact MAPREDUCE_CLUSTER_URL the Azure stack renders for
its job-runner tier. The cluster's file system is Azurite (Blob API; the stack's account name is
replaced by Azurite's through the connection string). The cluster's Livy gateway is a local HTTP
double of its batches API (no HDInsight or Livy emulator exists here): it checks the gateway
login and Livy's X-Requested-By header, keeps batches in memory, and "plays the cluster" — in the
main test by running the uploaded Spark driver for real with pyspark in local mode over the
uploaded files. Key Vault has no emulator either: the gateway password's reference is answered by
an in-process stand-in for the SDK's SecretClient."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from azure.storage.blob import BlobServiceClient
from mr_helpers import ENGINE_FILES, MailCapture, free_port, pipe, run_in_background, wait_until

from reference_apps.backends import ConfigError, secrets
from reference_apps.mapreduce import build_service, create_app, load_settings, worker
from reference_apps.mapreduce.engines import HDInsightEngine, open_engine
from reference_apps.mapreduce.engines.hdinsight import parse_url
from reference_apps.mapreduce.programs import built_in
from tests.playbook_check import boot_vars
from tests.stacks.harness import run_stack
from tierstack.mocks.azure import INVOKES, computed

PASSWORD = "gateway-pw-1!"
FILES = ENGINE_FILES
FAILING_MAPPER = b"import sys\nsys.stderr.write('mapper broke on line 1\\n')\nsys.exit(3)\n"


@pytest.fixture(scope="module")
def stack_url() -> str:
    """MAPREDUCE_CLUSTER_URL as the Azure stack writes it into the job runner's boot vars."""
    run = run_stack("azure-mapreduce", computed=computed, invokes=INVOKES)
    vmss = run.one("azure-native:compute:VirtualMachineScaleSet", "job-runner-vmss")
    custom_data = base64.b64decode(vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"])
    script = yaml.safe_load(custom_data.decode())["write_files"][0]["content"]
    return boot_vars(script)["python_app_env"]["MAPREDUCE_CLUSTER_URL"]


class Vault:
    """Stands in for azure.keyvault.secrets.SecretClient (no Key Vault emulator exists here)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get_secret(self, name: str) -> Any:
        assert (self.url, name) == (Livy.vault_url, "hadoop-gateway-password")
        return type("Secret", (), {"value": PASSWORD})()


class Livy(BaseHTTPRequestHandler):
    """POST /livy/batches, GET /livy/batches[/{id}[/log]], DELETE /livy/batches/{id}, behind the
    HDInsight gateway's basic auth; ``cluster`` (set by a test) runs a submitted batch."""

    batches: dict[str, dict[str, Any]] = {}
    cancelled: list[str] = []
    logs: dict[str, list[str]] = {}
    cluster: list[Callable[[dict[str, Any]], None]] = []  # a list: a function would bind
    vault_url = ""

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _allowed(self, changes: bool) -> bool:
        login = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {login}":
            self._answer(401, {"message": "unauthorized"})
            return False
        if changes and not self.headers.get("X-Requested-By"):
            self._answer(400, {"msg": "Missing Required Header for CSRF protection."})
            return False
        return True

    def do_POST(self) -> None:
        if not self._allowed(changes=True):
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        batch_id = str(len(self.batches))
        batch = {"id": int(batch_id), "state": "starting", "appId": None, "request": body}
        self.batches[batch_id] = batch
        for cluster in self.cluster:
            threading.Thread(target=cluster, args=(batch,), daemon=True).start()
        self._answer(201, {key: batch[key] for key in ("id", "state", "appId")})

    def do_GET(self) -> None:
        if not self._allowed(changes=False):
            return
        path = urlsplit(self.path).path.removeprefix("/livy/batches").strip("/")
        if not path:
            return self._answer(200, {"from": 0, "total": len(self.batches), "sessions": []})
        batch_id, _, what = path.partition("/")
        batch = self.batches.get(batch_id)
        if batch is None:
            return self._answer(404, {"msg": f"Session '{batch_id}' not found."})
        if what == "log":
            lines = self.logs.get(batch_id, [])
            return self._answer(200, {"id": batch["id"], "total": len(lines), "log": lines[-40:]})
        return self._answer(200, {k: v for k, v in batch.items() if k != "request"})

    def do_DELETE(self) -> None:
        if not self._allowed(changes=True):
            return
        batch_id = self.path.removeprefix("/livy/batches/")
        self.cancelled.append(batch_id)
        self.batches[batch_id]["state"] = "killed"
        self._answer(200, {"msg": "deleted"})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def azure(
    stack_url: str, azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, str], Any]]:
    """The job runner's environment (the stack's URL, the double's address) and the cluster's
    file system container in Azurite."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string)
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    container = service.get_container_client("cluster")
    if not container.exists():
        container.create_container()
    vault = parse_url(stack_url)[4].removeprefix("azure-keyvault://").partition("/")[0]
    Livy.vault_url = f"https://{vault}"
    monkeypatch.setattr(secrets, "azure_client", Vault)
    Livy.batches.clear()
    Livy.cancelled.clear()
    Livy.logs.clear()
    Livy.cluster.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Livy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "MAPREDUCE_CLUSTER_URL": stack_url,
        "HDINSIGHT_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "HDINSIGHT_POLL_SECONDS": "0.1",
    }
    try:
        yield env, container
    finally:
        server.shutdown()
        for blob in container.list_blobs():
            container.delete_blob(blob.name)


def key_of(url: str) -> str:
    """The blob name of an abfs:// URL in the cluster's container."""
    parts = urlsplit(url)
    assert parts.scheme == "abfs" and parts.username == "cluster", url
    return parts.path.lstrip("/")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local-mode SparkContext for the module's driver runs (a JVM start costs tens of
    seconds here; the cluster would start one per batch)."""
    from pyspark import SparkConf, SparkContext

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = (
        SparkConf()
        .setMaster("local[2]")
        .setAppName("hdinsight-driver-test")
        .set("spark.ui.enabled", "false")
        .set("spark.pyspark.python", sys.executable)
    )
    sc = SparkContext.getOrCreate(conf)
    try:
        yield sc
    finally:
        sc.stop()


def run_driver(batch: dict[str, Any], container: Any, folder: Path, sc: Any) -> int:
    """What the cluster does with the batch: fetch its files from the file system, run the
    uploaded driver (with the uploaded streaming module) on Spark in local mode, store what it
    wrote back in the file system. The driver's exit status."""
    from pyspark import cloudpickle

    request = batch["request"]

    def fetch(url: str) -> str:
        key = key_of(url)
        if key.endswith("/"):  # an input folder: every blob under it
            for blob in container.list_blobs(name_starts_with=key):
                fetch(url + blob.name.removeprefix(key))
        else:
            path = folder / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(container.download_blob(key).readall())
        return (folder / key).as_uri() + ("/" if key.endswith("/") else "")

    def load(name: str, url: str) -> Any:
        spec = importlib.util.spec_from_file_location(name, fetch(url).removeprefix("file://"))
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module

    (streaming_url,) = request["pyFiles"]
    streaming = load("streaming", streaming_url)  # the driver imports it by this name
    cloudpickle.register_pickle_by_value(streaming)  # as --py-files would ship it
    try:
        driver = load("livy_driver", request["file"])
    finally:
        del sys.modules["streaming"], sys.modules["livy_driver"]
    args = []
    output_key = ""
    for previous, arg in zip(["", *request["args"]], request["args"], strict=False):
        if previous == "--output":
            output_key = key_of(arg)
            args.append((folder / output_key).as_uri())
        elif arg.startswith("abfs://"):
            args.append(fetch(arg))
        else:
            args.append(arg)
    batch["state"] = "running"
    status = driver.run(sc, driver.parse(args))
    for path in sorted((folder / output_key).glob("*")):
        if not path.name.startswith("."):  # Hadoop's .crc files stay on the "cluster"
            container.upload_blob(output_key + path.name, path.read_bytes(), overwrite=True)
    return status


def start(
    engine: HDInsightEngine, program: Any, timeout: float = 120
) -> tuple[threading.Thread, dict]:
    return run_in_background(engine, program, reducers=3, timeout=timeout)


def submitted() -> dict[str, Any]:
    return wait_until(lambda: list(Livy.batches.values()), 30, "the batch")[0]  # type: ignore[index]


def test_the_stack_url_names_the_login_file_system_and_password_reference(stack_url) -> None:
    user, cluster, account, container, ref = parse_url(stack_url)
    assert user == "admin" and container == "cluster"
    assert cluster.startswith("mapreduce-dev-hadoop-") and account.startswith("mapreducedevhadoop")
    assert ref.startswith("azure-keyvault://mapreduce-dev-kv-")
    assert ref.endswith(".vault.azure.net/hadoop-gateway-password")


@pytest.mark.parametrize(
    "url",
    [
        "hdinsight://c",  # what the stack rendered before: no login, store or password
        "hdinsight://admin@c?storage=azblob://acct/cluster",
        "hdinsight://admin@c?gateway_password_ref=azure-keyvault://v.vault.azure.net/s",
        "hdinsight://admin:pw@c?storage=azblob://a/c&gateway_password_ref=azure-keyvault://v/s",
        "hdinsight://admin@c?storage=s3://a/c&gateway_password_ref=azure-keyvault://v/s",
        "hdinsight://admin@c?storage=azblob://a&gateway_password_ref=azure-keyvault://v/s",
    ],
)
def test_urls_the_stack_does_not_render_are_refused_with_the_form(url: str) -> None:
    with pytest.raises(ConfigError, match=r"use hdinsight://<gateway user>@<cluster>\?storage="):
        open_engine(url, {})


def test_a_job_runs_as_a_livy_batch_of_the_uploaded_driver(azure, spark, tmp_path: Path) -> None:
    env, container = azure
    engine = open_engine(env["MAPREDUCE_CLUSTER_URL"], env)
    assert isinstance(engine, HDInsightEngine)
    runs: list[int] = []

    def cluster(batch: dict[str, Any]) -> None:
        runs.append(run_driver(batch, container, tmp_path, spark))
        batch["state"] = "success" if runs[-1] == 0 else "dead"

    Livy.cluster.append(cluster)
    thread, outcome = start(engine, built_in("inverted-index"))
    thread.join(timeout=240)
    request = submitted()["request"]
    assert runs == [0]
    assert request["conf"] == {"spark.yarn.maxAppAttempts": "1"}
    assert request["file"].endswith("/livy_driver.py") and request["pyFiles"][0].endswith(
        "/streaming.py"
    )
    option = dict(zip(request["args"][:10:2], request["args"][1:10:2], strict=True))
    assert option["--reducers"] == "3" and option["--env"] == "INPUT_FORMAT=documents"
    assert key_of(option["--output"]).startswith("output/inverted-index/")
    expected = pipe("inverted-index", {"a.txt": FILES["a.txt"], "b_c.txt": FILES["b,c.txt"]})
    assert len(outcome["parts"]) == 3
    assert sorted(b"".join(outcome["parts"]).decode().splitlines()) == sorted(expected.splitlines())
    assert "fog\ta.txt,b_c.txt" in expected.splitlines()
    assert list(container.list_blobs()) == []  # programs, inputs and outputs removed


def test_a_failing_mapper_fails_the_job_with_the_drivers_reason(
    azure, spark, tmp_path: Path
) -> None:
    env, container = azure
    engine = open_engine(env["MAPREDUCE_CLUSTER_URL"], env)

    def cluster(batch: dict[str, Any]) -> None:
        batch["state"] = "success" if run_driver(batch, container, tmp_path, spark) == 0 else "dead"

    Livy.cluster.append(cluster)
    program = built_in("word-count")
    program = type(program)(FAILING_MAPPER, program.reducer, program.env, "custom")
    thread, outcome = start(engine, program)
    thread.join(timeout=240)
    error = outcome["error"]
    assert error.reason == "the HDInsight batch ended dead: the mapper exited with status 3"
    assert "mapper broke on line 1" in error.stderr
    assert list(container.list_blobs()) == []


def test_a_dead_batch_fails_the_job_with_its_log_tail(azure) -> None:
    env, _ = azure
    engine = open_engine(env["MAPREDUCE_CLUSTER_URL"], env)
    thread, outcome = start(engine, built_in("word-count"))
    batch = submitted()
    lines = [f"line {n}" for n in range(100)] + ["ERROR ApplicationMaster: out of memory"]
    Livy.logs[str(batch["id"])] = lines
    batch.update(state="dead", appId="application_1_0007")
    thread.join(timeout=30)
    assert outcome["error"].reason == "the HDInsight batch ended dead (YARN: application_1_0007)"
    assert outcome["error"].stderr.splitlines() == lines[-40:]


def test_past_the_time_limit_the_batch_is_deleted_and_the_job_fails(azure) -> None:
    env, container = azure
    engine = open_engine(env["MAPREDUCE_CLUSTER_URL"], env)
    thread, outcome = start(engine, built_in("word-count"), timeout=1)
    thread.join(timeout=30)
    assert outcome["error"].reason == "the job exceeded its time limit and was stopped"
    assert Livy.cancelled == [str(submitted()["id"])]
    assert Livy.batches[Livy.cancelled[0]]["state"] == "killed"
    assert list(container.list_blobs()) == []


def test_a_wrong_gateway_password_is_named(azure, monkeypatch: pytest.MonkeyPatch) -> None:
    env, _ = azure
    monkeypatch.setattr(Vault, "get_secret", lambda self, name: type("S", (), {"value": "old"})())
    engine = open_engine(env["MAPREDUCE_CLUSTER_URL"], env)
    with pytest.raises(ConfigError, match="the HDInsight gateway refused the login \\(401\\)"):
        engine.check()
    thread, outcome = start(engine, built_in("word-count"))
    thread.join(timeout=30)
    assert outcome["error"].reason.startswith("the HDInsight gateway refused the login (401)")


def test_the_worker_takes_a_queued_job_to_succeeded_with_the_result_stored(
    azure, azurite_connection_string: str, tmp_path: Path
) -> None:
    env, container = azure
    service_client = BlobServiceClient.from_connection_string(azurite_connection_string)
    job_data = service_client.get_container_client(f"jobdata{free_port()}")
    job_data.create_container()
    smtp_port = free_port()
    from aiosmtpd.controller import Controller

    mail = MailCapture()
    controller = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    app_env = {
        **env,
        "DATA_DIR": str(tmp_path),
        "OBJECT_STORE_URL": f"azblob://devstoreaccount1/{job_data.container_name}",
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "MAIL_FROM": "jobs@tierstack.test",
        "PUBLIC_URL": "https://mapreduce.example",
        "QUEUE_VISIBILITY_TIMEOUT": "60",
    }

    def cluster(batch: dict[str, Any]) -> None:
        """Plays the cluster with the reference pipe (the driver itself is run above)."""
        args = batch["request"]["args"]
        documents = {}
        for arg in args:
            if arg.startswith("abfs://") and "/input/" in arg:
                (blob,) = container.list_blobs(name_starts_with=key_of(arg))
                documents[blob.name.rpartition("/")[2]] = container.download_blob(blob).readall()
        output = key_of(args[args.index("--output") + 1])
        result = pipe("inverted-index", documents)
        container.upload_blob(f"{output}part-00000", result.encode(), overwrite=True)
        batch["state"] = "success"

    Livy.cluster.append(cluster)
    client = create_app(app_env).test_client()
    response = client.post(
        "/api/v1/jobs",
        data={
            "job": "inverted-index",
            "email": "owner@example.org",
            "input": [(io.BytesIO(text.encode()), name) for name, text in FILES.items()],
        },
    )
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]
    service = build_service(load_settings(app_env, web=False), mail=True)
    engine = open_engine(env["MAPREDUCE_CLUSTER_URL"], app_env)
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(service, engine, stop, 0.2))
    runner.start()
    try:
        job = wait_until(
            lambda: (
                (j := client.get(f"/api/v1/jobs/{job_id}").get_json())["status"]
                in {"succeeded", "failed"}
                and j
            ),
            60,
            "the job to end",
        )
    finally:
        stop.set()
        runner.join(timeout=30)
        controller.stop()
    assert job["status"] == "succeeded", job
    result = client.get(f"/api/v1/jobs/{job_id}/result")
    assert result.data.decode() == pipe(
        "inverted-index", {"a.txt": FILES["a.txt"], "b_c.txt": FILES["b,c.txt"]}
    )
    stored = [blob.name for blob in job_data.list_blobs(name_starts_with=f"jobs/{job_id}/output/")]
    assert stored and all(name.rpartition("/")[2].startswith("part-") for name in stored)
    assert [to for _, to, _ in mail.messages] == [["owner@example.org"]]
    assert list(container.list_blobs()) == []


def test_a_worker_that_cannot_read_the_gateway_password_yet_waits(
    stack_url: str, tmp_path: Path
) -> None:
    """On a fresh VM the identity's grant on the secret may not have propagated: the job runner
    waits with backoff, naming the reference, instead of exiting into systemd restarts. (No Key
    Vault answers here: the SDK finds no credential, as a VM whose identity is not ready.)"""
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "reference_apps.mapreduce.worker"],
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                "DATA_DIR": str(tmp_path),
                "MAPREDUCE_CLUSTER_URL": stack_url,
                "AZURE_IDENTITY_DISABLE_MULTITENANTAUTH": "1",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[3],
        )
    try:
        wait_until(lambda: "cannot read the secret" in log.read_text(), 60, "the secret's error")
        assert process.poll() is None, log.read_text()[-2000:]
        text = log.read_text()
        assert "dependency unavailable; retrying" in text
        assert "gateway_password_ref=azure-keyvault://" in text
    finally:
        process.terminate()
        process.wait(timeout=20)
