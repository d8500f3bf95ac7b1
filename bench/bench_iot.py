"""IoT gateway: ingest rate with the agents running vs. raw mosquitto, latency, drain rate.

Two mosquitto 2.0 brokers on 127.0.0.1 with TLS and password files (the fog broker and a
"cloud" broker standing for the uplink: the GCP broker group's MQTT path), the gateway as a real
`python -m reference_apps.iot_gateway.gateway` process, paho clients as devices.
- raw: N readings queued by mosquitto (QoS 1) for an offline subscriber with a persistent
  session; the rate at which it takes them on reconnecting, readings/s
- gateway: the same backlog taken by the gateway process (validation, agents, durable buffer
  before each PUBACK), readings/s (target: >= 0.5x raw)
- latency: 10 devices at 1,000 readings/s in total for BENCH_SECONDS; device -> cloud broker
  (through the gateway's buffer and forwarder), p50 / p99 ms (target p99 < 50 ms)
- drain: the cloud broker stopped while N readings arrive, then started; items/s forwarded
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
N = int(os.environ.get("BENCH_READINGS", "20000"))
DEVICES = [f"sensor-{n:02d}" for n in range(10)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def certificate(folder: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    (folder / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "server.crt"


class Mosquitto:
    def __init__(self, folder: Path, accounts: list[str]) -> None:
        folder.mkdir(mode=0o755)
        self.folder, self.port = folder, free_port()
        self.ca = certificate(folder)
        passwords = folder / "passwords"
        passwords.write_text("".join(f"{a}:pw-{a}\n" for a in accounts))
        subprocess.run(["mosquitto_passwd", "-U", str(passwords)], check=True)
        (folder / "mosquitto.conf").write_text(
            "per_listener_settings false\nallow_anonymous false\n"
            f"password_file {passwords}\nlistener {self.port} 127.0.0.1\n"
            f"cafile {self.ca}\ncertfile {folder}/server.crt\nkeyfile {folder}/server.key\n"
            "tls_version tlsv1.2\nmax_queued_messages 1000000\nmax_inflight_messages 100\n"
        )
        for path in folder.iterdir():
            path.chmod(0o644)
        shutil.chown(folder, "mosquitto")
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def client(broker: Mosquitto, name: str, on_message: Any = None, topic: str = "") -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{time.monotonic_ns()}")
    c.username_pw_set(name, f"pw-{name}")
    c.tls_set(ca_certs=str(broker.ca))
    c.max_inflight_messages_set(100)
    subscribed = threading.Event()
    if on_message:
        c.on_message = on_message
        c.on_subscribe = lambda *args: subscribed.set()
        c.on_connect = lambda cl, *args: cl.subscribe(topic, qos=1)
    c.connect("localhost", broker.port)
    c.loop_start()
    if on_message:
        subscribed.wait(10)
    return c


def publish_all(device: str, broker: Mosquitto, count: int) -> None:
    c = client(broker, device)
    infos = [
        c.publish(
            f"devices/{device}/telemetry",
            json.dumps({"id": f"b{i}", "ts": time.time(), "metrics": {"temperature": 20 + i % 5}}),
            qos=1,
        )
        for i in range(count)
    ]
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


def raw_rate(broker: Mosquitto) -> float:
    """A subscriber with a persistent session is offline while N readings are queued for it,
    then reconnects: the rate at which it takes the backlog (the publisher is out of the way)."""
    received = threading.Semaphore(0)
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw-sub", clean_session=False)
    sub.username_pw_set("gw1", "pw-gw1")
    sub.tls_set(ca_certs=str(broker.ca))
    sub.on_message = lambda *args: received.release()
    subscribed = threading.Event()
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.connect("localhost", broker.port)
    sub.loop_start()
    sub.subscribe("devices/+/telemetry", qos=1)
    subscribed.wait(10)
    sub.disconnect()
    sub.loop_stop()
    publish_all(DEVICES[0], broker, N)
    started = time.perf_counter()
    sub.reconnect()
    sub.loop_start()
    for _ in range(N):
        received.acquire(timeout=120)
    elapsed = time.perf_counter() - started
    sub.disconnect()
    sub.loop_stop()
    return N / elapsed


class Status:
    """The gateway's retained status, followed live."""

    def __init__(self, broker: Mosquitto) -> None:
        self.latest: dict[str, Any] = {}
        self.client = client(broker, "observer", self._on, "gateways/+/status")

    def _on(self, c: Any, u: Any, message: Any) -> None:
        self.latest = json.loads(message.payload)

    def wait(self, condition: Any, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.latest and condition(self.latest):
                return self.latest
            time.sleep(0.02)
        raise SystemExit(f"gateway status never matched: {self.latest}")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-iot-"))
    root.chmod(0o755)
    fog = Mosquitto(root / "fog", [*DEVICES, "gw1", "observer"])
    cloud = Mosquitto(root / "cloud", ["gw1", "bridge"])
    gateway = None
    try:
        raw = raw_rate(fog)
        env = {
            **os.environ,
            "DATA_DIR": str(root / "data"),
            "GATEWAY_ID": "gw1",
            "BROKER_URL": f"mqtts://gw1:pw-gw1@localhost:{fog.port}",
            "BROKER_CA_FILE": str(fog.ca),
            "UPLINK_URL": f"mqtts://gw1:pw-gw1@localhost:{cloud.port}",
            "UPLINK_CA_FILE": str(cloud.ca),
            "UPLINK_RETRY_SECONDS": "0.2",
            "STATUS_SECONDS": "0.1",
            "DEVICE_RATE_LIMIT": "100000",
            "DEVICE_RATE_BURST": "1000000",
            "LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "reference_apps.iot_gateway.gateway"]
        status = Status(fog)
        gateway = subprocess.Popen(command, cwd=REPO, env=env)
        status.wait(lambda s: True, 30)  # subscribed: the broker keeps its session from now
        gateway.terminate()
        gateway.wait(30)
        publish_all(DEVICES[0], fog, N)
        status.latest = {}
        gateway = subprocess.Popen(command, cwd=REPO, env=env)
        first = status.wait(lambda s: s["received"] > 0, 60)
        last = status.wait(lambda s: s["received"] >= N)
        through_gateway = (last["received"] - first["received"]) / (last["at"] - first["at"])

        latencies: list[float] = []

        def on_batch(c: Any, u: Any, message: Any) -> None:
            now = time.time()
            for item in json.loads(message.payload)["items"]:
                if item["kind"] == "reading" and item["id"].split(":")[1].startswith("l"):
                    latencies.append((now - item["ts"]) * 1000)

        status.wait(lambda s: s["buffer_depth"] == 0)
        bridge = client(cloud, "bridge", on_batch, "devices/+/telemetry")
        devices = {d: client(fog, d) for d in DEVICES}
        begin = time.perf_counter()
        sent = 0
        while time.perf_counter() - begin < SECONDS:
            for device, c in devices.items():
                reading = {"id": f"l{sent}", "ts": time.time(), "metrics": {"temperature": 21}}
                c.publish(f"devices/{device}/telemetry", json.dumps(reading), qos=1)
                sent += 1
            time.sleep(max(0.0, begin + sent / 1000 - time.perf_counter()))
        deadline = time.monotonic() + 30
        while len(latencies) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        cuts = statistics.quantiles(latencies, n=100)

        cloud.stop()
        status.wait(lambda s: s["uplink"]["state"] == "down", 30)
        publish_all(DEVICES[1], fog, N)
        before = status.wait(lambda s: s["buffer_depth"] >= N)["buffer_depth"]
        started = time.perf_counter()
        cloud.start()
        status.wait(lambda s: s["buffer_depth"] == 0)
        drain = before / (time.perf_counter() - started)

        print(f"raw mosquitto -> subscriber (QoS 1, TLS, backlog of {N:,}): {raw:,.0f} readings/s")
        print(
            f"through the gateway (validation, agents, durable buffer): {through_gateway:,.0f}"
            f" readings/s = {through_gateway / raw:.2f}x raw (target >= 0.5x)"
        )
        print(
            f"device -> cloud broker via the gateway at {sent / SECONDS:,.0f} readings/s:"
            f" p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms over {len(latencies)} readings"
            " (target p99 < 50 ms)"
        )
        print(f"drain after an outage: {before:,} items in the buffer, {drain:,.0f} items/s")
        bridge.disconnect()
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(30)
        fog.stop()
        cloud.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
