"""Real mosquitto brokers for the IoT gateway tests, configured the way roles/mqtt_broker renders
them: TLS 1.2 listener, no anonymous clients, a hashed password file and per-device ACLs."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from conftest import REPO, free_port, stop, wait_for_port
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reference_apps.backends.settings import parse_url
from reference_apps.iot_gateway.timeseries import TimeSeries
from tests.certificates import self_signed

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")
DEVICES = [f"sensor-{n:02d}" for n in range(10)]


def write_key_pair(folder: Path, name: str, dns: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key, [dns], valid_for=datetime.timedelta(days=1), ca=True)
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Broker:
    """One mosquitto process; ``restart()`` keeps the port, so clients reconnect to it."""

    folder: Path
    devices: list[str]
    users: dict[str, dict[str, list[str]]]
    client_certificates: bool = False
    anonymous: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def password(self, name: str) -> str:
        return f"pw-{name}-secret"

    @property
    def ca(self) -> Path:
        return self.folder / "ca.crt"

    def url(self, name: str) -> str:
        return f"mqtts://{name}:{self.password(name)}@localhost:{self.port}"

    def write_config(self) -> None:
        self.folder.chmod(0o755)
        server_crt, server_key = write_key_pair(self.folder, "server", "localhost")
        trusted = [server_crt.read_text()]
        if self.client_certificates:
            client_crt, _ = write_key_pair(self.folder, "client", "gateway")
            trusted.append(client_crt.read_text())
        self.ca.write_text("".join(trusted))
        acl = []
        for device in self.devices:  # as roles/mqtt_broker/templates/acl.j2
            acl += [f"user {device}", f"topic readwrite devices/{device}/#", ""]
        for name, topics in self.users.items():
            acl.append(f"user {name}")
            acl += [f"topic read {topic}" for topic in topics.get("read", [])]
            acl += [f"topic write {topic}" for topic in topics.get("write", [])]
            acl += [f"topic readwrite {topic}" for topic in topics.get("readwrite", [])]
            acl.append("")
        (self.folder / "acl").write_text("\n".join(acl))
        passwords = self.folder / "passwords"
        passwords.write_text(
            "".join(f"{name}:{self.password(name)}\n" for name in [*self.devices, *self.users])
        )
        if passwords.read_text():
            subprocess.run([str(MOSQUITTO_PASSWD), "-U", str(passwords)], check=True)
        lines = [
            "per_listener_settings false",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            f"listener {self.port} 127.0.0.1",
            f"cafile {self.ca}",
            f"certfile {server_crt}",
            f"keyfile {server_key}",
            "tls_version tlsv1.2",
            "persistence true",
            f"persistence_location {self.folder}/",
            "max_queued_messages 100000",
            "log_dest stderr",
        ]
        if not self.anonymous:
            lines += [f"password_file {passwords}", f"acl_file {self.folder / 'acl'}"]
        if self.client_certificates:
            lines += ["require_certificate true", "use_identity_as_username true"]
        (self.folder / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        for path in self.folder.iterdir():
            path.chmod(0o644)
        shutil.chown(self.folder, "mosquitto") if _has_user("mosquitto") else None

    def start(self) -> None:
        log = (self.folder / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.folder / "mosquitto.conf")],
            stdout=log,
            stderr=log,
        )
        try:
            wait_for_port(self.port, self.process, timeout=15)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {self.log()[-800:]}") from None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.folder / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, name: str, client_id: str = "", **kwargs: Any) -> Client:
        return Client(self, name, client_id or f"{name}-{time.monotonic_ns()}", **kwargs)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class Client:
    """A connected paho client that records what it receives (for assertions)."""

    def __init__(
        self,
        broker: Broker,
        name: str,
        client_id: str,
        password: str | None = None,
        subscribe: tuple[str, ...] = (),
        certificate: tuple[Path, Path] | None = None,
    ) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.changed = threading.Condition()
        self.connect_result: Any = None
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set(name, broker.password(name) if password is None else password)
        if certificate is None:
            self.client.tls_set(ca_certs=str(broker.ca))
        else:
            self.client.tls_set(
                ca_certs=str(broker.ca), certfile=str(certificate[0]), keyfile=str(certificate[1])
            )
        self.client.on_message = self._on_message
        self.topics = subscribe
        connected = threading.Event()

        def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            self.connect_result = reason
            if not reason.is_failure and self.topics:
                client.subscribe([(topic, 1) for topic in self.topics])
            connected.set()

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.connect("localhost", broker.port)
        self.client.loop_start()
        connected.wait(10)
        if self.topics and not self.connect_result.is_failure:
            self.subscribed.wait(10)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.changed:
            self.messages.append((message.topic, message.payload))
            self.changed.notify_all()

    def publish(self, topic: str, payload: bytes | str | dict, qos: int = 1) -> Any:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        info = self.client.publish(topic, data, qos=qos)
        if qos:
            info.wait_for_publish(10)
        return info

    def wait_for(
        self, predicate: Callable[[list[tuple[str, bytes]]], bool], timeout: float = 15
    ) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.messages), timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


GATEWAY_ACCOUNT = {
    "read": ["devices/+/telemetry"],
    "write": ["devices/+/commands", "gateways/gw1/#"],
}
API_ACCOUNT = {"read": ["gateways/+/status"], "write": ["devices/+/commands"]}
OBSERVER_ACCOUNT = {"read": ["devices/#"]}


@pytest.fixture
def make_broker() -> Iterator[Callable[..., Broker]]:
    """Start brokers for one test; all are stopped at its end."""
    if not MOSQUITTO.exists():
        pytest.fail("mosquitto is missing: run make setup (scripts/setup.d/20-emulators.sh)")
    started: list[Broker] = []
    folders: list[Path] = []

    def make(
        devices: list[str] | None = None,
        users: dict[str, dict[str, list[str]]] | None = None,
        **kwargs: Any,
    ) -> Broker:
        folder = Path(tempfile.mkdtemp(prefix="iot-mosquitto-"))
        folders.append(folder)
        broker = Broker(
            folder,
            DEVICES if devices is None else devices,
            {"gw1": GATEWAY_ACCOUNT, "fogapi": API_ACCOUNT, "observer": OBSERVER_ACCOUNT}
            if users is None
            else users,
            **kwargs,
        )
        broker.write_config()
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class LinkCutter:
    """A TCP relay in front of a server: ``cut()`` closes every connection and refuses new ones,
    as a pulled cable or a firewall rule would; ``restore()`` listens on the same port again.
    (The local target cuts the real link with nftables; here nothing needs root or Podman.)"""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._server: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):  # wakes the accepting thread (Linux)
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def start_bridge(
    folder: Path, pubsub_host: str, broker: Broker, queue_url: str, **env: str
) -> subprocess.Popen:
    """The GCP broker group's bridge as its own process, logging to ``folder/bridge.log``:
    subscribed on ``broker`` as the "bridge" account, forwarding into the Pub/Sub emulator."""
    log = (folder / "bridge.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "reference_apps.iot_gateway.bridge"],
        cwd=REPO,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(folder),
            "DATA_DIR": str(folder),
            "PUBSUB_EMULATOR_HOST": pubsub_host,
            "QUEUE_URL": queue_url,
            "BROKER_URL": broker.url("bridge"),
            "BROKER_CA_FILE": str(broker.ca),
            "BRIDGE_ID": "b1",
            **env,
        },
        stdout=log,
        stderr=log,
    )


def wait_until(condition: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.1)


@dataclass
class Rig:
    broker: Broker
    env: dict[str, str]
    series: TimeSeries
    cutter: LinkCutter
    folder: Path
    processes: dict[str, subprocess.Popen]
    status: Client

    def start(self, name: str, **overrides: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", f"reference_apps.iot_gateway.{name}"],
            cwd=REPO,
            env={**self.env, **overrides},
            stdout=log,
            stderr=log,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def latest_status(self) -> dict[str, Any]:
        for topic, payload in reversed(self.status.messages):
            if topic == "gateways/gw1/status":
                return json.loads(payload)
        return {}

    def publish(
        self,
        count: int,
        start: int = 0,
        devices: list[str] = DEVICES,
        attempted: set[str] | None = None,
    ) -> set[str]:
        """``count`` readings per device; returns the ids the broker acknowledged (every one,
        unless the broker goes away mid-way); ``attempted`` collects every id sent."""
        acked = set()
        for device in devices:
            client = self._device_client(device)
            sent = []
            for seq in range(start, start + count):
                reading = {
                    "id": f"r{seq}",
                    "ts": time.time(),
                    "metrics": {"temperature": 20 + (seq % 7) * 0.1, "humidity": 40.0},
                }
                info = client.client.publish(
                    f"devices/{device}/telemetry", json.dumps(reading), qos=1
                )
                sent.append((f"{device}:r{seq}", info))
                if attempted is not None:
                    attempted.add(f"{device}:r{seq}")
            for reading_id, info in sent:
                try:
                    info.wait_for_publish(30)
                except (RuntimeError, ValueError):  # lost with the connection: never acked
                    continue
                if info.is_published():
                    acked.add(reading_id)
            client.close()
        return acked

    def _device_client(self, device: str, timeout: float = 30) -> Client:
        """A device's connection; while the broker restarts, a connect is refused or reset at
        once, and the device tries again, as a real one does."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.broker.client(device)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stored_ids(self) -> list[str]:
        rows = self.series.db.execute(f"SELECT id FROM {self.series.table} WHERE kind = 'reading'")
        return [row["id"] for row in rows]


@pytest.fixture
def rig(
    make_broker: Callable[..., Broker], postgres_dsn: str, fresh_pg_table: str, tmp_path: Path
) -> Iterator[Rig]:
    broker = make_broker()
    cutter = LinkCutter(int(postgres_dsn.rsplit(":", 1)[1].split("/")[0]))
    relayed = postgres_dsn.replace(postgres_dsn.rsplit(":", 1)[1].split("/")[0], str(cutter.port))
    queue_table, series_table = f"{fresh_pg_table}_q", f"{fresh_pg_table}_ts"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_ID": "gw1",
        "BROKER_URL": broker.url("gw1"),
        "BROKER_CA_FILE": str(broker.ca),
        "UPLINK_URL": f"{relayed}?table={queue_table}",
        "UPLINK_RETRY_SECONDS": "0.2",
        "UPLINK_TIMEOUT_SECONDS": "3",
        "STATUS_SECONDS": "0.2",
        "WINDOW_SECONDS": "1",
        "QUEUE_URL": f"{postgres_dsn}?table={queue_table}",
        "KV_URL": f"{postgres_dsn}?table={series_table}",
        "OBJECT_STORE_URL": f"file://{tmp_path}/archive",
        "QUEUE_VISIBILITY_TIMEOUT": "5",
        "LOG_LEVEL": "INFO",
    }
    series = TimeSeries(parse_url("KV_URL", env["KV_URL"], ("postgresql",)), 86400)
    status = broker.client("fogapi", subscribe=("gateways/+/status",))
    rig = Rig(broker, env, series, cutter, tmp_path, {}, status)
    try:
        yield rig
    finally:
        status.close()
        for process in rig.processes.values():
            if process.poll() is None:
                stop(process)
        cutter.cut()
