"""Real servers for the reference-app tests, started once per session on 127.0.0.1.

PostgreSQL 15 (initdb/pg_ctl), moto (S3, SQS, DynamoDB, SES), Azurite (Blob, Queue, Table), the
GCS emulator and Google's pstest Pub/Sub emulator. All are installed by the project's own
scripts/setup.d/20-emulators.sh and the Python lock; a missing one fails the test loudly.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gunicorn_hooks
import pytest
import requests
from PIL import Image

from reference_apps.backends.queue import PubSubQueue

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BIN = Path(sys.executable).parent
AZURITE = REPO / "tools" / "azurite" / "node_modules" / ".bin" / "azurite"
PSTEST = REPO / "tools" / "pstest" / "pstest"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited early with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Gunicorn:
    """An app under gunicorn (or a worker, with ``target`` a ``-m`` module) in its own process,
    as production runs it. ``wait=False`` returns at once, for a test of how it starts."""

    def __init__(
        self,
        target: str,
        env: dict[str, str],
        log: Path,
        worker: bool = False,
        *,
        wait: bool = True,
        workers: int = 2,
    ) -> None:
        self.port = free_port()
        if worker:
            command = [sys.executable, "-m", target]
        else:
            command = [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--timeout",
                "30",
                "--config",
                "python:gunicorn_hooks",
                target,
            ]
        base = {key: os.environ[key] for key in ("PATH", "LANG", "HOME") if key in os.environ}
        base["PYTHONPATH"] = str(Path(__file__).parent)
        self.log, self.workers = log, workers
        self.process = subprocess.Popen(
            command, cwd=REPO, env={**base, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )
        if wait and not worker:
            self.wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _fail(self, why: str) -> RuntimeError:
        return RuntimeError(f"{why}: {self.log.read_text()[-2000:]}")

    def all_workers_loaded(self) -> bool:
        return self.log.read_text(errors="replace").count(gunicorn_hooks.LOADED) >= self.workers

    def wait_ready(self, timeout: float = 30) -> None:
        """Until every worker has loaded the app and /readyz answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self._fail("exited")
            try:
                ready = requests.get(f"{self.url}/readyz", timeout=5).status_code == 200
                if ready and self.all_workers_loaded():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise self._fail(f"not ready after {timeout}s")

    def first_answer(self, path: str, timeout: float = 30) -> requests.Response:
        """The first answer to GET ``path``, whatever its status, as soon as the server answers
        (gunicorn listens before its worker has loaded the app: a request may wait meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return requests.get(f"{self.url}{path}", timeout=5)
            except (requests.ConnectionError, requests.Timeout):
                if self.process.poll() is not None:
                    raise self._fail("exited") from None
                if time.monotonic() > deadline:
                    raise self._fail(f"no answer after {timeout}s") from None
                time.sleep(0.2)

    def stop(self) -> None:
        stop(self.process)


def jpeg(width: int = 64, height: int = 48, color: str = "orange") -> bytes:
    """A real JPEG made here (no fixtures on disk)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG")
    return buffer.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image.save(buffer, "PNG")
    return buffer.getvalue()


@contextlib.contextmanager
def postgres_cluster(
    options: str = "", hba: str | None = None, files: dict[str, bytes] | None = None
) -> Iterator[tuple[int, Path]]:
    """A throw-away PostgreSQL 15 cluster on 127.0.0.1: (port, data directory). ``hba``
    replaces pg_hba.conf (default: initdb's trust for all); ``files`` are written into the data
    directory before the server starts (e.g. its TLS key and certificate), owned by its user."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is missing: run make setup (scripts/setup.d/20-emulators.sh)")
    root = Path(tempfile.mkdtemp(prefix="refapps-pg-"))
    data = root / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    for name, content in {
        **(files or {}),
        **({"pg_hba.conf": hba.encode()} if hba else {}),
    }.items():
        (data / name).write_bytes(content)
        (data / name).chmod(0o600)
        if as_postgres:
            shutil.chown(data / name, "postgres", "postgres")
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(root / "log"),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off {options}",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield port, data
    finally:
        subprocess.run(
            [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A throw-away PostgreSQL 15 cluster (trust auth on 127.0.0.1 only)."""
    with postgres_cluster() as (port, _):
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"


@dataclass(frozen=True)
class TlsPostgres:
    """A PostgreSQL server as the clouds run theirs: TLS with a certificate from a CA of its
    own (``ca_file``, naming 127.0.0.1), and only TLS with a password (scram-sha-256) for every
    role but the superuser the tests set up with (``admin_dsn``, trust)."""

    port: int
    admin_dsn: str
    ca_file: Path


@dataclass(frozen=True)
class LoopbackTls:
    """A test CA and a server certificate it issued for 127.0.0.1, written as PEM files: the
    server loads ``cert``/``key``, the client trusts ``ca`` only (verified TLS, as in prod)."""

    ca: Path
    cert: Path
    key: Path


def loopback_tls(folder: Path) -> LoopbackTls:
    """Writes ca.pem, server.crt and server.key (a new CA and key pair each call) to ``folder``."""
    ca, cert, key = _test_ca_and_server_cert()
    files = LoopbackTls(folder / "ca.pem", folder / "server.crt", folder / "server.key")
    files.ca.write_bytes(ca)
    files.cert.write_bytes(cert)
    files.key.write_bytes(key)
    return files


def _test_ca_and_server_cert() -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key) in PEM, the server's naming 127.0.0.1."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tierstack test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), server.public_bytes(pem), key_pem


@pytest.fixture(scope="session")
def postgres_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsPostgres]:
    tls = loopback_tls(tmp_path_factory.mktemp("database-tls"))
    hba = (
        "local all postgres trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n"
    )
    files = {"server.crt": tls.cert.read_bytes(), "server.key": tls.key.read_bytes()}
    options = "-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
    with postgres_cluster(options, hba, files) as (port, _):
        yield TlsPostgres(port, f"postgresql://postgres@127.0.0.1:{port}/postgres", tls.ca)


@pytest.fixture
def fresh_pg_table() -> str:
    """A unique table name so tests sharing the cluster never see each other's rows."""
    return f"t_{os.urandom(6).hex()}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """boto3 pointed at the moto server, as AWS_ENDPOINT_URL does for SeaweedFS in production."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_endpoint


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    if not AZURITE.exists():
        pytest.fail("Azurite is missing: run make setup (npm ci in tools/azurite)")
    blob, queue, table = free_port(), free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="refapps-azurite-"))
    ports = [
        ("--blobHost", "--blobPort", blob),
        ("--queueHost", "--queuePort", queue),
        ("--tableHost", "--tablePort", table),
    ]
    listen = [
        arg for host, port_flag, port in ports for arg in (host, "127.0.0.1", port_flag, str(port))
    ]
    log = workdir / "azurite.log"
    process = subprocess.Popen(
        [
            str(AZURITE),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--location",
            str(workdir),
            *listen,
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        for port in (blob, queue, table):
            try:
                wait_for_port(port, process)
            except RuntimeError as error:
                raise RuntimeError(f"Azurite did not start: {log.read_text()[-500:]}") from error
        account = "devstoreaccount1"
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{blob}/{account};"
            f"QueueEndpoint=http://127.0.0.1:{queue}/{account};"
            f"TableEndpoint=http://127.0.0.1:{table}/{account};"
        )
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def gcs_emulator_host() -> Iterator[str]:
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def pubsub_queue(project: str, topic: str, subscription: str) -> PubSubQueue:
    """A fresh Pub/Sub queue on the emulator (PUBSUB_EMULATOR_HOST set): the topic and
    subscription and their "-dead-letter" pair, as the GCP stack creates them; max 5 deliveries,
    30 s visibility."""
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    for suffix in ("", "-dead-letter"):
        path = publisher.create_topic(name=publisher.topic_path(project, topic + suffix)).name
        subscriber.create_subscription(
            name=subscriber.subscription_path(project, subscription + suffix),
            topic=path,
            ack_deadline_seconds=30,
        )
    return PubSubQueue(project, topic, subscription, 5, 30)


@pytest.fixture(scope="session")
def pubsub_emulator_host() -> Iterator[str]:
    if not PSTEST.exists():
        pytest.fail("tools/pstest/pstest is missing: run make setup")
    process = subprocess.Popen([str(PSTEST)], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip() if process.stdout else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"pstest did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        stop(process)
