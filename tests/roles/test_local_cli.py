"""The local target's CLI and converge reporting, without hosts: bad input and missing
prerequisites give one clear line and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tierstack.local import cli, podman
from tierstack.local.target import (
    APPS,
    REPO,
    LocalTarget,
    TargetError,
    ansible_env,
    describe_failure,
    parse_recap,
)

RECAP = (
    "PLAY RECAP ****************************************\n"
    "app1                       : ok=43   changed=2    unreachable=0    failed=0    "
    "skipped=11   rescued=0    ignored=0\n"
    "services                   : ok=64   changed=0    unreachable=0    failed=1    "
    "skipped=7    rescued=0    ignored=0\n"
)

FAILED_RUN = """
TASK [common : Install the baseline packages] **********************************
ok: [app1]

TASK [postgres : Create the app login roles] ***********************************
fatal: [services]: FAILED! =>
    changed: false
    msg: unable to connect to database
"""


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="tierstack")
    cli.register(main.add_subparsers(dest="command", required=True))
    return main


def test_parse_recap_reads_every_counter() -> None:
    recap = parse_recap(RECAP)
    assert recap["app1"]["changed"] == 2
    assert recap["services"] == {
        "ok": 64,
        "changed": 0,
        "unreachable": 0,
        "failed": 1,
        "skipped": 7,
        "rescued": 0,
        "ignored": 0,
    }


def test_parse_recap_without_a_recap_is_empty() -> None:
    assert parse_recap("ERROR! the playbook could not be parsed") == {}


def test_a_failed_converge_names_host_task_and_reason(tmp_path: Path) -> None:
    line = describe_failure(FAILED_RUN, tmp_path / "converge.log")
    assert line == (
        "converge failed on host services at task 'postgres : Create the app login roles': "
        f"unable to connect to database (log: {tmp_path / 'converge.log'})"
    )


def test_a_failed_handler_is_named_as_the_task(tmp_path: Path) -> None:
    text = (
        "RUNNING HANDLER [python_app : Restart python apps] ****\n"
        "failed: [worker] (item=x) =>\n    msg: 'Could not find the requested service x'\n"
    )
    line = describe_failure(text, tmp_path / "c.log")
    assert line.startswith(
        "converge failed on host worker at task 'python_app : Restart python apps': "
    )


def test_a_converge_that_never_started_reports_its_last_line(tmp_path: Path) -> None:
    line = describe_failure("ERROR! couldn't resolve module/action 'x'\n", tmp_path / "c.log")
    assert line.startswith("converge failed: ERROR! couldn't resolve module/action 'x'")


def test_up_refuses_an_unknown_app() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["up", "local", "--app", "no-such-app"])
    assert exit_info.value.code == 2


def test_up_refuses_an_unknown_target() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["up", "aws"])
    assert exit_info.value.code == 2


def test_up_without_podman_fails_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(podman.shutil, "which", lambda name: None)
    args = parser().parse_args(["up", "local", "--https-port", "18443", "--http-port", "18080"])
    assert args.func(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["tierstack: podman is not installed: run `make setup` (as root) first"]


def test_up_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["up", "local", "--https-port", "70000"])
    assert args.func(args) == 1
    assert capsys.readouterr().err.strip() == "tierstack: port 70000 is out of range: use 1-65535"


def test_verify_without_a_target_says_to_bring_it_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(
        LocalTarget,
        "load",
        classmethod(
            lambda cls, name="tierstack": (_ for _ in ()).throw(
                cli.TargetError("the local target 'tierstack' is not up: run `tierstack up local`")
            )
        ),
    )
    args = parser().parse_args(["verify", "local"])
    assert args.func(args) == 1
    assert capsys.readouterr().err.strip() == (
        "tierstack: the local target 'tierstack' is not up: run `tierstack up local`"
    )


def test_inventory_gives_each_app_its_own_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LocalTarget, "state_dir", property(lambda self: tmp_path))
    target = LocalTarget(name="unit", apps=["image-processing", "cloud-drive"])
    inventory = target.inventory()["all"]
    envs = inventory["vars"]["tierstack_app_envs"]
    assert "@services:5432/image_processing?" in envs["image-processing"]["QUEUE_URL"]
    assert envs["image-processing"]["QUEUE_URL"].endswith("&table=jobs")
    assert "@services:5432/cloud_drive?" in envs["cloud-drive"]["DATABASE_URL"]
    assert envs["image-processing"]["SECRET_KEY"] != envs["cloud-drive"]["SECRET_KEY"]
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    # Generated once: a second inventory reuses the same secrets.
    assert target.inventory()["all"]["vars"]["tierstack_app_envs"] == envs


def test_social_analytics_shares_the_services_backends_and_replays_gently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listener, consumer and dashboard share the app's own database as queue and table and its
    own bucket for the raw archive; the listener alone replays, at a rate two shared cores carry.
    Each unit gets only what its blueprint tier uses: the consumer, which touches no object
    store, holds no S3 keys, and no consumer holds the dashboard's session key."""
    monkeypatch.setattr(LocalTarget, "state_dir", property(lambda self: tmp_path))
    target = LocalTarget(name="unit", apps=["social-analytics"])
    variables = target.inventory()["all"]["vars"]
    env = variables["tierstack_app_envs"]["social-analytics"]
    workers = variables["tierstack_worker_envs"]["social-analytics"]
    listener, consumer = workers["listener"], workers["sentiment-consumer"]
    database = "@services:5432/social_analytics?sslmode=verify-full&sslrootcert="
    assert database in env["KV_URL"] and env["KV_URL"].endswith("&table=kv")
    for unit in (listener, consumer):
        assert unit["APP_ENV"] == "production"
        assert unit["QUEUE_URL"] == env["QUEUE_URL"] and env["QUEUE_URL"].endswith("&table=jobs")
        assert database in unit["QUEUE_URL"]
        assert unit["KV_URL"] == env["KV_URL"]
        assert "SECRET_KEY" not in unit
    assert listener["OBJECT_STORE_URL"] == "s3://social-analytics"
    assert listener["AWS_SECRET_ACCESS_KEY"] == env["AWS_SECRET_ACCESS_KEY"]
    assert not {"OBJECT_STORE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(consumer)
    assert listener["REPLAY_RATE"] == "2"
    assert "REPLAY_RATE" not in env and "REPLAY_RATE" not in consumer
    assert (
        "REPLAY_RATE"
        not in LocalTarget(name="unit", apps=["image-processing"]).inventory()["all"]["vars"][
            "tierstack_worker_envs"
        ]["image-processing"]["filter-worker"]
    )


def test_iot_gateway_has_its_own_host_forwarding_to_the_services_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway host runs the broker with the target's certificate and one account per
    simulated device, the fog gateway whose uplink is the app's queue on the services host, and
    the simulator; the fog API reaches that broker with its own account."""
    monkeypatch.setattr(LocalTarget, "state_dir", property(lambda self: tmp_path))
    target = LocalTarget(name="unit", subnet="10.9.8.0/24", apps=["iot-gateway"])
    inventory = target.inventory()["all"]
    keys = target.secrets()
    env = inventory["vars"]["tierstack_app_envs"]["iot-gateway"]
    gateway = inventory["children"]["tier_gateway"]["hosts"]["gateway"]
    assert gateway["ansible_host"] == "10.9.8.15"
    # blueprint_host's worker tier runs the gateway's units only (no app's consumers).
    assert (gateway["tierstack_tier"], gateway["local_blueprint_apps"]) == ("worker", [])
    assert {"port": 8883, "source": "10.9.8.0/24"} in gateway["tierstack_firewall_allow"]
    devices = gateway["mqtt_broker_devices"]
    assert [d["name"] for d in devices] == [f"sensor-{n:02d}" for n in range(10)]
    assert len({d["password"] for d in devices}) == 10
    assert gateway["local_gateway_passwords"].splitlines() == [
        f"{d['name']}:{d['password']}" for d in devices
    ]
    assert gateway["mqtt_broker_tls_ca"] == inventory["vars"]["blueprint_host_database_ca"]
    units = {unit["name"]: unit for unit in gateway["local_gateway_units"]}
    assert units["iot-gateway-gateway"]["env"]["UPLINK_URL"] == env["QUEUE_URL"]
    assert "@services:5432/iot_gateway?" in env["QUEUE_URL"]
    assert units["iot-gateway-gateway"]["env"]["BROKER_URL"] == (
        f"mqtts://gateway:{keys['mqtt_gateway']}@localhost:8883"
    )
    simulator = units["iot-gateway-simulator"]["env"]
    assert (simulator["SIM_DEVICES"], simulator["SIM_INTERVAL"]) == ("10", "5")
    assert env["BROKER_URL"] == f"mqtts://fogapi:{keys['mqtt_fogapi']}@gateway:8883"
    # The broker account is the fog API's alone: the telemetry consumer gets the backends its
    # blueprint tier uses (queue, time series, archive), the gateway's units no session key.
    consumer = inventory["vars"]["tierstack_worker_envs"]["iot-gateway"]["telemetry-consumer"]
    assert sorted(consumer) == [
        "APP_ENV",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL_S3",
        "AWS_SECRET_ACCESS_KEY",
        "KV_URL",
        "OBJECT_STORE_URL",
        "QUEUE_URL",
        "QUEUE_VISIBILITY_TIMEOUT",
    ]
    assert (consumer["QUEUE_URL"], consumer["KV_URL"]) == (env["QUEUE_URL"], env["KV_URL"])
    assert consumer["OBJECT_STORE_URL"] == "s3://iot-gateway"
    for unit_env in (consumer, *(unit["env"] for unit in units.values())):
        assert keys["mqtt_fogapi"] not in "".join(unit_env.values())
        assert "SECRET_KEY" not in unit_env
    users = {user["name"]: user for user in gateway["mqtt_broker_users"]}
    assert users["fogapi"]["write"] == ["devices/+/commands"]
    assert users["gateway"]["read"] == ["devices/+/telemetry"]
    # Without the app the gateway host is only a baseline host.
    other = LocalTarget(name="unit", apps=["cloud-drive"]).inventory()["all"]["children"]
    assert "local_gateway_units" not in other["tier_gateway"]["hosts"]["gateway"]


def test_mapreduce_runs_its_jobs_on_the_targets_spark_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job runner's engine is the master on services; its driver binds the worker host's
    address on pinned ports, and only the master is admitted to the driver's port there."""
    monkeypatch.setattr(LocalTarget, "state_dir", property(lambda self: tmp_path))
    target = LocalTarget(name="unit", subnet="10.9.8.0/24", apps=["mapreduce"], https_port=9443)
    inventory = target.inventory()["all"]
    env = inventory["vars"]["tierstack_worker_envs"]["mapreduce"]["job-runner"]
    # The web tier submits to the queue only: no cluster, no driver settings.
    web = inventory["vars"]["tierstack_app_envs"]["mapreduce"]
    assert not {"MAPREDUCE_CLUSTER_URL", "SPARK_CONF", "SPARK_DRIVER_HOST"} & set(web)
    assert float(web["JOB_TIME_LIMIT"]) <= float(web["QUEUE_VISIBILITY_TIMEOUT"])
    assert env["MAPREDUCE_CLUSTER_URL"] == "spark://10.9.8.14:7077"
    assert (
        env["SPARK_DRIVER_HOST"]
        == inventory["children"]["tier_worker"]["hosts"]["worker"]["ansible_host"]
    )
    conf = dict(pair.split("=", 1) for pair in env["SPARK_CONF"].split(";"))
    assert conf["spark.driver.port"] == "7079" and conf["spark.port.maxRetries"] == "0"
    assert env["PUBLIC_URL"] == "https://mapreduce.localhost:9443"
    # The runner refuses a time limit above the visibility timeout.
    assert float(env["JOB_TIME_LIMIT"]) <= float(env["QUEUE_VISIBILITY_TIMEOUT"])
    worker = inventory["children"]["tier_worker"]["hosts"]["worker"]
    assert {"port": 7079, "source": "10.9.8.14/32"} in worker["tierstack_firewall_allow"]
    assert [rule["port"] for rule in worker["tierstack_firewall_allow"]] == [22, 7078, 7079]
    # Without mapreduce, no driver port is open on the worker host.
    other = LocalTarget(name="unit", subnet="10.9.8.0/24", apps=["cloud-drive"]).inventory()
    rules = other["all"]["children"]["tier_worker"]["hosts"]["worker"]["tierstack_firewall_allow"]
    assert [rule["port"] for rule in rules] == [22, 7078]


def test_converge_runs_mitogens_free_strategy_from_the_pinned_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANSIBLE_STRATEGY", raising=False)
    env = ansible_env(Path("/venv/bin"))
    assert env["ANSIBLE_STRATEGY"] == "mitogen_free"
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_free.py").is_file()
    assert env["ANSIBLE_CONFIG"].endswith("ansible.cfg")
    assert env["PATH"].startswith("/venv/bin")


def test_the_environment_can_choose_ansibles_own_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_STRATEGY", "free")
    assert ansible_env(Path("/venv/bin"))["ANSIBLE_STRATEGY"] == "free"


STATS_CSV = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status\n"
    "cloud-drive,FRONTEND,,,0,0,0,0,0,0,0,0,0,,,,,OPEN\n"
    "cloud-drive,app1_8002,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP\n"
    "cloud-drive,app2_8002,0,0,0,0,,0,0,0,,0,,0,0,0,0,{app2}\n"
    "cloud-drive,BACKEND,0,0,0,0,0,0,0,0,0,0,,0,0,0,0,UP\n"
)


def _stats(monkeypatch: pytest.MonkeyPatch, app2: str) -> None:
    def exec_(name: str, command: list[str], *, check: bool = True) -> object:
        assert name == "tierstack-lb" and command[-1].endswith("/stats;csv")
        return argparse.Namespace(stdout=STATS_CSV.format(app2=app2), returncode=0)

    monkeypatch.setattr(podman, "exec_", exec_)


def test_backend_states_read_haproxy_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    _stats(monkeypatch, "DOWN")
    target = LocalTarget(apps=["cloud-drive"])
    assert target.backend_states() == {"cloud-drive": {"app1_8002": "UP", "app2_8002": "DOWN"}}


def test_serving_waits_for_every_server_and_names_the_one_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stats(monkeypatch, "UP")
    LocalTarget(apps=["cloud-drive"]).wait_until_serving(timeout=1)  # returns at once
    _stats(monkeypatch, "DOWN 1/2")
    with pytest.raises(TargetError) as error:
        LocalTarget(apps=["cloud-drive"]).wait_until_serving(timeout=1)
    assert "cloud-drive/app2_8002 (DOWN 1/2)" in str(error.value)


def test_a_multi_line_message_is_joined_into_the_line(tmp_path: Path) -> None:
    text = (
        "TASK [worker : Validating arguments against arg spec 'main'] ****\n"
        "fatal: [worker]: FAILED! =>\n"
        "    changed: false\n"
        "    msg: |-\n"
        "        Validation of arguments failed:\n"
        "        missing required arguments: module found in worker_units\n"
        "\n"
        "PLAY RECAP ****\n"
    )
    assert describe_failure(text, tmp_path / "c.log") == (
        "converge failed on host worker at task 'worker : Validating arguments against arg "
        "spec 'main'': Validation of arguments failed: missing required arguments: module "
        f"found in worker_units (log: {tmp_path / 'c.log'})"
    )


def test_a_json_result_gives_its_message(tmp_path: Path) -> None:
    text = (
        "TASK [common : Enable nftables] ****\n"
        'fatal: [app1]: FAILED! => {"changed": false, "msg": "Unit \\"nft\\" not found"}\n'
    )
    assert describe_failure(text, tmp_path / "c.log").endswith(
        f"""at task 'common : Enable nftables': Unit "nft" not found (log: {tmp_path / "c.log"})"""
    )


def test_a_rescued_failure_gives_way_to_the_rescue_message(tmp_path: Path) -> None:
    text = (
        "TASK [load_balancer : Install the provided certificate] ****\n"
        "fatal: [lb]: FAILED! =>\n"
        "    censored: 'the output has been hidden'\n"
        "    changed: false\n"
        "\n"
        "TASK [load_balancer : Explain the refused certificate] ****\n"
        "fatal: [lb]: FAILED! =>\n"
        "    changed: false\n"
        "    msg: the key is not the certificate's own\n"
        "\n"
        "PLAY RECAP ****\n"
    )
    assert describe_failure(text, tmp_path / "c.log") == (
        "converge failed on host lb at task 'load_balancer : Explain the refused certificate': "
        f"the key is not the certificate's own (log: {tmp_path / 'c.log'})"
    )


def test_an_ignored_failure_is_not_the_reason(tmp_path: Path) -> None:
    text = (
        "TASK [common : Probe] ****\n"
        "fatal: [app1]: FAILED! =>\n    msg: probe failed\n...ignoring\n"
        "ERROR! unexpected end of run\n"
    )
    assert describe_failure(text, tmp_path / "c.log").startswith(
        "converge failed: ERROR! unexpected end of run"
    )


# -- status and logs against the running session target (tests/conftest.py's `target`) -----

TIERSTACK = Path(sys.executable).parent / "tierstack"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TIERSTACK), *args], capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.hosts
def test_status_shows_hosts_services_health_urls_and_commit(target: LocalTarget) -> None:
    done = _cli("status", "local", "--name", target.name, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(done.stdout)
    assert [host["name"] for host in status["hosts"]] == [
        "services",
        "app1",
        "app2",
        "worker",
        "lb",
        "gateway",
    ]
    for host in status["hosts"]:
        assert (host["state"], host["address"]) == ("running", target.ip(host["name"]))
        assert host["services"] and set(host["services"].values()) == {"active"}, host
    assert "postgresql@15-main" in status["hosts"][0]["services"]
    assert "haproxy" in status["hosts"][4]["services"]
    assert set(target.apps) <= set(status["hosts"][1]["services"])
    for app in status["apps"]:
        port = APPS[app["name"]].port
        assert app["servers"] == {f"app1_{port}": "UP", f"app2_{port}": "UP"}
        assert app["url"] == f"https://{app['name']}.localhost:{target.https_port}/"
    assert [app["name"] for app in status["apps"]] == target.apps
    # The commit the hosts were converged from (HEAD then; `verify` may run after HEAD moved).
    assert status["commit"] == target.commit
    commit = status["commit"].removesuffix("+changes")
    found = subprocess.run(["git", "cat-file", "-t", commit], cwd=REPO, capture_output=True)
    assert (len(commit), found.stdout) == (12, b"commit\n")
    text = _cli("status", "local", "--name", target.name)
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].endswith(", healthy")
    for app in status["apps"]:
        assert app["url"] in text.stdout


@pytest.mark.hosts
def test_logs_show_a_units_journal(target: LocalTarget) -> None:
    app = target.apps[0]
    done = _cli("logs", "local", "app1", app, "--name", target.name, "-n", "20")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert 0 < len(lines) <= 20
    # The load balancer's health checks reach every app server, and only this unit's lines show.
    assert any("GET /healthz" in line for line in lines), lines
    assert all(" app1 " in line for line in lines if not line.startswith("--"))
    unknown = _cli("logs", "local", "app1", "no-such-unit", "--name", target.name)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        f"tierstack: host app1 has no unit 'no-such-unit': its services are ssh, nftables, "
        f"{', '.join(target.apps)}"
    ]


@pytest.mark.hosts
def test_logs_follow_prints_new_entries(target: LocalTarget) -> None:
    probe = f"tierstack-follow-probe-{uuid.uuid4().hex}"
    follow = subprocess.Popen(
        [str(TIERSTACK), "logs", "local", "worker", "--name", target.name, "-n", "0", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(follow.stdout.readline, "")))
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any(probe in line for line in seen) and time.monotonic() < deadline:
            podman.exec_(target.container("worker"), ["logger", probe])
            time.sleep(0.5)  # journalctl -f polls the journal; the probe is re-sent until seen
        assert any(probe in line for line in seen), seen
    finally:
        os.killpg(follow.pid, signal.SIGTERM)
        follow.wait(timeout=10)
        reader.join(timeout=10)
    # Nothing is left following in the host once the command is gone.
    left = podman.exec_(target.container("worker"), ["pgrep", "-a", "journalctl"], check=False)
    assert left.stdout == ""
