"""spark: the local target's Spark standalone cluster — the master on services, a worker on the
worker host — runs as sandboxed units, registers, keeps its web UIs on loopback and is reachable
only where the cluster needs it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tierstack.local.target import LocalTarget

pytestmark = pytest.mark.hosts

# The master's state from its web UI (loopback, port 8090) once a worker is alive (up to a minute).
STATE = """
import json, time, urllib.request
state = {}
for _ in range(30):
    try:
        state = json.load(urllib.request.urlopen("http://127.0.0.1:8090/json/", timeout=5))
    except OSError:
        state = {}
    if any(worker.get("state") == "ALIVE" for worker in state.get("workers", [])):
        break
    time.sleep(2)
print(json.dumps(state))
"""


def listening(host: Any, port: int) -> set[str]:
    """The addresses a TCP port listens on (Java's v4-mapped IPv6 folded to IPv4)."""
    lines = host.check_output(f"ss -Hltn 'sport = :{port}'").splitlines()
    return {line.split()[3].rsplit(":", 1)[0].replace("[::ffff:", "").strip("[]") for line in lines}


def test_master_and_worker_run_as_sandboxed_units(hosts: dict[str, Any]) -> None:
    for host, unit in ((hosts["services"], "spark-master"), (hosts["worker"], "spark-worker")):
        assert host.service(unit).is_running and host.service(unit).is_enabled
        properties = host.check_output(
            f"systemctl show {unit} -p User -p ProtectSystem -p NoNewPrivileges -p MemoryMax"
        )
        assert "User=spark" in properties and "ProtectSystem=strict" in properties
        assert "NoNewPrivileges=yes" in properties and "MemoryMax=infinity" not in properties
    assert not hosts["app1"].service("spark-worker").is_enabled


def test_the_worker_registered_with_the_master(hosts: dict[str, Any], target: LocalTarget) -> None:
    services = hosts["services"]
    services.check_output(f"cat > /tmp/spark_state.py <<'EOF'\n{STATE}\nEOF")
    state = json.loads(services.check_output("python3 /tmp/spark_state.py"))
    assert state["status"] == "ALIVE"
    assert state["url"] == f"spark://{target.ip('services')}:7077"
    alive = [w for w in state["workers"] if w["state"] == "ALIVE"]
    assert [w["host"] for w in alive] == [target.ip("worker")]
    assert alive[0]["cores"] == 1 and alive[0]["memory"] == 512


def test_web_uis_are_on_loopback_and_cluster_ports_on_the_private_address(
    hosts: dict[str, Any], target: LocalTarget
) -> None:
    services, worker = hosts["services"], hosts["worker"]
    assert listening(services, 8090) == {"127.0.0.1"}
    assert listening(worker, 8081) == {"127.0.0.1"}
    # ...and those listeners are Spark's UIs (ss cannot name another process in a container).
    master_log = services.check_output("journalctl -u spark-master --no-pager -o cat")
    assert "Bound MasterWebUI to 127.0.0.1, and started at http://localhost:8090" in master_log
    worker_log = worker.check_output("journalctl -u spark-worker --no-pager -o cat")
    assert "Bound WorkerWebUI to 127.0.0.1, and started at http://localhost:8081" in worker_log
    assert listening(services, 7077) == {target.ip("services")}
    assert listening(worker, 7078) == {target.ip("worker")}
    assert listening(services, 6066) == set()  # no REST submission server


def test_the_firewall_admits_only_the_cluster_ports_from_the_private_network(
    hosts: dict[str, Any], target: LocalTarget
) -> None:
    services_rules = hosts["services"].check_output("nft list chain inet filter input")
    assert f"ip saddr {target.subnet} tcp dport 7077 accept" in services_rules
    assert "dport 8090" not in services_rules
    worker_rules = hosts["worker"].check_output("nft list chain inet filter input")
    assert f"ip saddr {target.ip('services')} tcp dport 7078 accept" in worker_rules
    assert "dport 8081" not in worker_rules
    # From an app host: the master's cluster port answers, its web UI does not.
    probe = (
        "python3 -c 'import socket, sys;"
        " socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)'"
    )
    app1 = hosts["app1"]
    assert app1.run(f"{probe} {target.ip('services')} 7077").rc == 0
    assert app1.run(f"{probe} {target.ip('services')} 8090").rc != 0
    assert app1.run(f"{probe} {target.ip('worker')} 7078").rc != 0


def test_the_job_runner_imports_pyspark_from_the_roles_virtualenv_and_apps_carry_no_java(
    hosts: dict[str, Any], target: LocalTarget
) -> None:
    """mapreduce's job runner holds the Spark driver: it imports pyspark from the link the role
    publishes, as its own user; app hosts carry neither Java nor Spark (a cheap cold start)."""
    if "mapreduce" not in target.apps:
        pytest.skip("mapreduce is not deployed")
    worker = hosts["worker"]
    version = worker.check_output(
        "runuser -u mapreduce-worker -- env PYTHONPATH=/opt/spark/site-packages"
        " /opt/tierstack/venv/bin/python -c 'import pyspark; print(pyspark.__version__)'"
    )
    assert version.strip() == "4.3.0"
    assert worker.run("/opt/tierstack/venv/bin/python -c 'import pyspark'").rc != 0
    for name in ("app1", "app2", "lb", "gateway"):
        assert not hosts[name].package("openjdk-17-jre-headless").is_installed, name
        assert not hosts[name].file("/opt/spark").exists, name
