"""The cloud boot path, run for real: each stack's user data, as `tierstack boot-script` prints
it, booted on a fresh host of the cloud VM image (the host image plus cloud-init, as a Debian
cloud image has it) the way its cloud runs it:

- AWS and Azure: cloud-init with the NoCloud data source reads the cloud-config at first boot
  (EC2 and Azure hand it over through their own data sources; the document is the same);
- GCP: the startup script run as root by a unit after the network is up, as the guest agent's
  `google-startup-scripts.service` does.

The boot script installs git and python3-venv from Debian, clones this repository over the git
protocol from a git daemon on the test network (a snapshot of the working tree, pinned by its
commit id), installs ansible-core with --require-hashes and runs `ansible-pull` through the
converge service. Nothing is converged over SSH or from the development environment.

What stands in for the cloud, and why: PyPI is replaced by the wheelhouse the local target
already uses (an /etc/pip.conf with --no-index), because the hosts cannot verify PyPI's TLS chain
here; the hashes pip checks are PyPI's own. On AWS, a moto server on the test network serves the
APIs (Secrets Manager, S3, SQS, DynamoDB) with the stack's own queues, tables, buckets and
secrets, reached through an endpoint drop-in for every unit: AWS app servers are checked up to
`/readyz` (cloud-drive's RDS database alone has no stand-in). GCP's Secret Manager and Azure's
Key Vault have no emulator here: those app servers are checked up to the point where they ask
for their session key, and must wait for it with 503s, not exit; the stack <-> backend contracts
of all three clouds are tested against the emulators in tests/reference_apps/backends/.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from moto.server import ThreadedMotoServer

from tests.browser import ARTIFACTS
from tests.e2e import aws_stand_in
from tierstack.boot_script import CLOUD_CONFIG, STARTUP_SCRIPT, TierUserData
from tierstack.local import podman, testing
from tierstack.local.target import HOST_WHEELHOUSE, REPO, WHEELHOUSE, ensure_wheelhouse

# Adds hosts of its own: it runs after the local target's tests and stays out of `verify`.
pytestmark = [pytest.mark.hosts, pytest.mark.reconverges]

VM_IMAGE = "localhost/tierstack-vm:bookworm"
NETWORK = "tierstack-boot-net"
SUBNET = "10.232.0.0/24"
GATEWAY = "10.232.0.1"
STACK_CIDR = "10.232.0.0/16"  # the stacks' networkCidr: the hosts' firewalls admit it
GIT_PORT = 9418
MOTO_PORT = 4566  # the AWS APIs, served by moto on the test network (tests/e2e/aws_stand_in.py)
LABEL = "tierstack.target=boot-path"
ANCHOR = "tsboot-anchor"  # keeps the network's bridge (and the gateway address) up between waves
ANCHOR_IP = "10.232.0.2"
BOOT_TIMEOUT = 1800.0  # generous: a loaded 2-core machine boots a cloud's tiers at once


@dataclass(frozen=True)
class Boot:
    """One tier of one stack, booted on its own host."""

    stack: str
    tier: str
    """The tier component's name in the stack (web, listener, device-ingest...)."""
    octet: int

    @property
    def cloud(self) -> str:
        return self.stack.split("-", 1)[0]

    @property
    def app(self) -> str:
        return self.stack.split("-", 1)[1]

    @property
    def host(self) -> str:
        return f"tsboot-{self.stack}-{self.tier}"

    @property
    def kind(self) -> str:
        """app, worker or gateway: what the role catalog and GATEWAYS say this tier is."""
        if self.tier in GATEWAYS.get(self.stack, []):
            return "gateway"
        workers = {unit["tier"] for unit in CATALOG[self.app]["workers"]}
        return "worker" if self.tier in workers else "app"

    @property
    def ip(self) -> str:
        return f"10.232.0.{self.octet}"


# Every tier of every stack (a test in tests/tierstack/test_boot_script.py keeps this list equal
# to what the stacks declare).
TIERS = {
    "image-processing": ["web", "filter-worker"],
    "cloud-drive": ["web"],
    "mapreduce": ["web", "job-runner"],
    "social-analytics": ["dashboard", "listener", "sentiment-consumer"],
    "iot-gateway": ["fog-api", "telemetry-consumer"],
}
GATEWAYS = {"gcp-iot-gateway": ["device-ingest"]}  # AWS and Azure ingest MQTT in IoT Core / Hub
BOOTS = [
    Boot(stack, tier, 10 + index)
    for index, (stack, tier) in enumerate(
        (f"{cloud}-{app}", tier)
        for cloud in ("aws", "gcp", "azure")
        for app, tiers in TIERS.items()
        for tier in tiers + GATEWAYS.get(f"{cloud}-{app}", [])
    )
]
# `make test` boots every one of them (31 hosts), one wave per cloud (about 10 at a time: all 31
# at once thrash a 2-core machine), the next wave booting while the last one's tests run.
WAVES = ("aws", "gcp", "azure")
# Every tier's second converge (idempotence) runs on one cloud, the clouds taken in turn: each
# tier's variables are converged twice once, and each cloud's own tasks (its secret store, its
# queue SDK, its agents) twice on web and worker tiers alike; GCP's gateway, the one of its kind,
# twice too. The first converge, from the user data, runs on all of them.
RECONVERGE_ON = {
    app_tier: WAVES[index % len(WAVES)]
    for index, app_tier in enumerate((app, tier) for app, tiers in TIERS.items() for tier in tiers)
}
RECONVERGED = {
    boot for boot in BOOTS if RECONVERGE_ON.get((boot.app, boot.tier), boot.cloud) == boot.cloud
}
CATALOG = yaml.safe_load((REPO / "roles/blueprint_host/vars/main.yml").read_text())[
    "blueprint_host_catalog"
]

GCP_STARTUP_UNIT = """[Unit]
Description=Google Compute Engine startup scripts (as the guest agent runs them)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/bash /var/lib/google/startup-script
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
"""


@dataclass
class Booted:
    """What one host did at boot: the user data it got and the logs to assert on."""

    boot: Boot
    user_data: str
    variables: dict
    boot_ok: bool = False
    boot_log: str = ""
    first_recap: dict[str, int] = field(default_factory=dict)
    converge_log: str = ""
    second_recap: dict[str, int] = field(default_factory=dict)
    second_log: str = ""
    first_seconds: float = 0.0
    second_seconds: float = 0.0

    def exec_(self, command: str) -> subprocess.CompletedProcess[str]:
        return podman.run(["exec", self.boot.host, "bash", "-c", command], check=False)


RECAP = re.compile(r"^\S+\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def last_recap(log: str) -> dict[str, int]:
    found = RECAP.findall(log)
    if not found:
        return {}
    ok, changed, unreachable, failed = (int(n) for n in found[-1])
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


def snapshot_repository(workdir: Path) -> str:
    """A bare repository holding the working tree as one commit (what CI or a user would push);
    returns the commit id the hosts pin."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    tree = workdir / "tree"
    for name in filter(None, files):
        source = REPO / name.decode()
        if source.is_file():
            target = tree / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=tierstack", "-c", "user.email=ci@tierstack.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=tree, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tree, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], cwd=tree, check=True)
    bare = workdir / "served" / "tierstack.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(tree), str(bare)], check=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True, text=True, check=True
    ).stdout.strip()


def render(boot: Boot, commit: str) -> tuple[str, dict]:
    """The user data, through the CLI a user runs, and the vars it writes."""
    command = [
        str(Path(sys.executable).parent / "tierstack"),
        "boot-script",
        "--stack",
        boot.stack,
        "--tier",
        boot.tier,
        "--set",
        f"repoUrl=git://{GATEWAY}:{GIT_PORT}/tierstack.git",
        "--set",
        f"repoRef={commit}",
        "--set",
        f"networkCidr={STACK_CIDR}",
    ]
    user_data = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    fmt = STARTUP_SCRIPT if boot.cloud == "gcp" else CLOUD_CONFIG
    return user_data, TierUserData(boot.tier, boot.tier, fmt, user_data).variables


def instance_files(boot: Boot, user_data: str, root: Path) -> None:
    """What the cloud hands the VM before its first boot, as files in its root."""
    pip_conf = root / "etc" / "pip.conf"
    pip_conf.parent.mkdir(parents=True)
    pip_conf.write_text(f"[global]\nno-index = true\nfind-links = {HOST_WHEELHOUSE}\n")
    if boot.cloud == "gcp":
        units = root / "etc" / "systemd" / "system"
        (units / "multi-user.target.wants").mkdir(parents=True)
        (units / "google-startup-scripts.service").write_text(GCP_STARTUP_UNIT)
        (units / "multi-user.target.wants" / "google-startup-scripts.service").symlink_to(
            "/etc/systemd/system/google-startup-scripts.service"
        )
        script = root / "var" / "lib" / "google" / "startup-script"
        script.parent.mkdir(parents=True)
        script.write_text(user_data)
        return
    if boot.cloud == "aws":
        drop_in = root / "etc" / "systemd" / "system" / "service.d" / "50-aws-stand-in.conf"
        drop_in.parent.mkdir(parents=True)
        drop_in.write_text(aws_stand_in.service_drop_in(f"http://{GATEWAY}:{MOTO_PORT}"))
    seed = root / "var" / "lib" / "cloud" / "seed" / "nocloud"
    seed.mkdir(parents=True)
    (seed / "meta-data").write_text(f"instance-id: i-{boot.host}\nlocal-hostname: {boot.host}\n")
    (seed / "user-data").write_text(user_data)


def create_vm(boot: Boot, root: Path) -> None:
    podman.run(["rm", "-f", "-t", "2", boot.host], check=False)
    podman.run(
        [
            "create",
            "--name",
            boot.host,
            "--hostname",
            boot.host,
            "--label",
            LABEL,
            "--systemd=always",
            "--cap-add=SYS_ADMIN",
            "--cap-add=NET_ADMIN",
            "--network",
            NETWORK,
            "--ip",
            boot.ip,
            "-v",
            f"{WHEELHOUSE}:{HOST_WHEELHOUSE}:ro",
            VM_IMAGE,
        ]
    )
    podman.run(["cp", f"{root}/.", f"{boot.host}:/"])


def wait_for_boot(booted: Booted) -> None:
    """Waits for the cloud's boot step to finish, then collects the logs."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    if booted.boot.cloud == "gcp":
        while time.monotonic() < deadline:
            state = booted.exec_("systemctl is-active google-startup-scripts").stdout.strip()
            if state in ("active", "failed"):
                break
            time.sleep(3)
        booted.boot_ok = state == "active"
        booted.boot_log = booted.exec_("journalctl -o cat -u google-startup-scripts").stdout
    else:
        status = podman.run(
            [
                "exec",
                booted.boot.host,
                "timeout",
                str(int(BOOT_TIMEOUT)),
                "cloud-init",
                "status",
                "--wait",
                "--long",
            ],
            check=False,
        )
        booted.boot_ok = status.returncode == 0 and "status: done" in status.stdout
        output = booted.exec_("cat /var/log/cloud-init-output.log").stdout
        booted.boot_log = (
            f"{output}\ncloud-init status (exit {status.returncode}):\n{status.stdout}"
        )
    booted.converge_log = booted.exec_("journalctl -o cat -u tierstack-converge").stdout
    booted.first_recap = last_recap(booted.converge_log)
    booted.first_seconds = converge_seconds(booted)


def converge_seconds(booted: Booted) -> float:
    """How long the converge service's last run took (systemd's own timestamps)."""
    shown = booted.exec_(
        "systemctl show -p InactiveExitTimestampMonotonic -p InactiveEnterTimestampMonotonic"
        " --value tierstack-converge.service"
    ).stdout.split()
    if len(shown) != 2 or not all(value.isdigit() for value in shown):
        return 0.0
    started, ended = (int(value) for value in shown)
    return max(ended - started, 0) / 1e6


def converge_again(booted: Booted) -> None:
    if not booted.first_recap:
        return
    before = booted.exec_("journalctl -o cat -u tierstack-converge | wc -l").stdout.strip()
    booted.exec_("systemctl start tierstack-converge.service")
    log = booted.exec_(f"journalctl -o cat -u tierstack-converge | tail -n +{int(before) + 1}")
    booted.second_log = log.stdout
    booted.second_recap = last_recap(log.stdout)
    booted.second_seconds = converge_seconds(booted)


def selected_boots(session: pytest.Session) -> list[Boot]:
    """The boots the selected tests ask for (every tier unless `-k` narrows the run)."""
    wanted = {
        item.callspec.params["boot"]
        for item in session.items
        if hasattr(item, "callspec") and "boot" in item.callspec.params
    }
    return [boot for boot in BOOTS if boot in wanted] or BOOTS


@dataclass
class Stand:
    """What every wave shares: the served repository, the rendered user data, the test network
    (held up by an idle anchor container between waves), the git daemon and the AWS stand-in."""

    workdir: Path
    rendered: dict[Boot, tuple[str, dict]]


@pytest.fixture(scope="session")
def stand(request: pytest.FixtureRequest) -> Iterator[Stand]:
    chosen = selected_boots(request.session)
    podman.require_podman()
    if podman.run(["image", "exists", VM_IMAGE], check=False).returncode != 0:
        pytest.fail(f"the VM image {VM_IMAGE} is missing: run `make setup` to build it")
    ensure_wheelhouse()
    workdir = Path(tempfile.mkdtemp(prefix="tierstack-boot-"))
    RECAPS.unlink(missing_ok=True)
    daemon = None
    moto = None
    try:
        commit = snapshot_repository(workdir)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            rendered = dict(zip(chosen, pool.map(lambda b: render(b, commit), chosen), strict=True))
        podman.run(["rm", "-f", "-t", "0", ANCHOR], check=False)
        podman.run(["network", "rm", "-f", NETWORK], check=False)
        podman.run(["network", "create", "--subnet", SUBNET, "--label", LABEL, NETWORK])
        podman.run(
            [
                "run", "-d", "--name", ANCHOR, "--label", LABEL, "--systemd=false",
                "--network", NETWORK, "--ip", ANCHOR_IP, VM_IMAGE, "sleep", "infinity",
            ]
        )  # fmt: skip
        daemon = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--listen={GATEWAY}",
                f"--port={GIT_PORT}",
                f"--base-path={workdir / 'served'}",
                str(workdir / "served"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        if daemon.poll() is not None:
            pytest.fail(f"git daemon cannot listen on {GATEWAY}:{GIT_PORT}: a stale one running?")
        moto = ThreadedMotoServer(ip_address=GATEWAY, port=MOTO_PORT)
        moto.start()
        for stack in sorted({boot.stack for boot in chosen if boot.cloud == "aws"}):
            environments = [
                rendered[boot][1]["python_app_env"] for boot in chosen if boot.stack == stack
            ]
            aws_stand_in.seed(stack, f"http://{GATEWAY}:{MOTO_PORT}", environments)
        yield Stand(workdir, rendered)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=10)
        if moto is not None:
            moto.stop()
        podman.run(["rm", "-f", "-t", "0", ANCHOR], check=False)
        podman.run(["network", "rm", "-f", NETWORK], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


RECAPS = ARTIFACTS / "boot-recaps.txt"


def record_recaps(booted: Iterable[Booted]) -> None:
    """Each host's two recaps, kept with the run's other artifacts for the reader of a CI log."""
    RECAPS.parent.mkdir(parents=True, exist_ok=True)
    with RECAPS.open("a") as out:
        for host in booted:
            out.write(
                f"{_id(host.boot)}\n"
                f"  first:  {host.first_recap or 'no recap'} {_took(host.first_seconds)}\n"
                f"  second: {host.second_recap or 'no recap'} {_took(host.second_seconds)}\n"
            )


def _took(seconds: float) -> str:
    # 0: the timer had started its own run when the time was read (it fires 5 min after boot).
    return f"in {seconds:.0f} s" if seconds else "(time not known)"


class Waves:
    """One cloud's selected hosts at a time, booted at once and converged a second time when a
    test first asks for one of them (the suite orders the tests by their ``wave`` mark, so each
    wave boots once). While a wave's tests run (a few commands per host, little CPU), the next
    wave boots in the background; a wave's hosts are removed when the next wave's tests start."""

    def __init__(self, stand: Stand) -> None:
        self.stand = stand
        self.cloud = ""
        self.booted: dict[Boot, Booted] = {}
        self.background = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.booting: dict[str, concurrent.futures.Future[dict[Boot, Booted]]] = {}

    def up(self, cloud: str) -> dict[Boot, Booted]:
        if cloud == self.cloud:
            return self.booted
        self.down()
        pending = self.booting.pop(cloud, None)
        self.booted = pending.result() if pending else self.boot(cloud)
        self.cloud = cloud
        following = self.following(cloud)
        if following and following not in self.booting:
            self.booting[following] = self.background.submit(self.boot, following)
        return self.booted

    def following(self, cloud: str) -> str | None:
        clouds = [name for name in WAVES if any(b.cloud == name for b in self.stand.rendered)]
        later = clouds[clouds.index(cloud) + 1 :] if cloud in clouds else []
        return later[0] if later else None

    def boot(self, cloud: str) -> dict[Boot, Booted]:
        booted: dict[Boot, Booted] = {}
        chosen = [boot for boot in self.stand.rendered if boot.cloud == cloud]
        for boot in chosen:
            user_data, variables = self.stand.rendered[boot]
            root = self.stand.workdir / "instances" / boot.host
            instance_files(boot, user_data, root)
            create_vm(boot, root)
            booted[boot] = Booted(boot, user_data, variables)
        started = time.monotonic()
        podman.run(["start", *(boot.host for boot in chosen)])
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(chosen)) as pool:
            list(pool.map(wait_for_boot, booted.values()))
            list(pool.map(converge_again, [b for b in booted.values() if b.boot in RECONVERGED]))
        record_recaps(booted.values())
        with RECAPS.open("a") as out:
            out.write(
                f"{cloud}: {len(chosen)} hosts booted and converged,"
                f" {sum(boot in RECONVERGED for boot in chosen)} of them twice"
                f" in {time.monotonic() - started:.0f} s\n"
            )
        return booted

    def down(self) -> None:
        remove_vms(self.booted)
        self.booted, self.cloud = {}, ""

    def close(self) -> None:
        """Removes every wave's hosts, a wave still booting in the background included."""
        for pending in self.booting.values():
            pending.cancel()
        self.background.shutdown(wait=True)
        self.booting.clear()
        remove_vms(self.stand.rendered)
        self.booted, self.cloud = {}, ""


def remove_vms(boots: Iterable[Boot]) -> None:
    hosts = [boot.host for boot in boots]
    if hosts:
        podman.run(["rm", "-f", "--ignore", "-t", "2", *hosts], check=False)


@pytest.fixture(scope="session")
def waves(stand: Stand) -> Iterator[Waves]:
    # The waves run after every test of the local target (tests/conftest.py orders them last):
    # its hosts go now, or their idle services take CPU from the boots.
    testing.release()
    waves = Waves(stand)
    try:
        yield waves
    finally:
        waves.close()


@pytest.fixture
def wave(waves: Waves, boot: Boot) -> dict[Boot, Booted]:
    """The hosts of the boot's wave (its cloud), booted if they are not up yet."""
    return waves.up(boot.cloud)


# Tiers this test shows not working yet, each with the reason: strict, so the day one works the
# suite says so and the entry goes.
NOT_WORKING_YET: dict[tuple[str, str], str] = {}


def marks(boot: Boot, service_must_run: bool) -> list[pytest.MarkDecorator]:
    found = [pytest.mark.wave(WAVES.index(boot.cloud) + 1)]
    reason = NOT_WORKING_YET.get((boot.stack, boot.tier))
    if service_must_run and reason:
        found.append(pytest.mark.xfail(strict=True, reason=reason))
    return found


def hosts(
    kind: str | None = None,
    cloud: str | None = None,
    not_cloud: str | None = None,
    service_must_run: bool = False,
    reconverged: bool = False,
):
    """Parametrizes a test over the selected boots (of a kind, a cloud), marked with their
    cloud's wave; a test that needs the tier's service running expects the failure of a tier
    in NOT_WORKING_YET."""
    return pytest.mark.parametrize(
        "boot",
        [
            pytest.param(boot, id=_id(boot), marks=marks(boot, service_must_run))
            for boot in BOOTS
            if (kind is None or boot.kind == kind)
            and (cloud is None or boot.cloud == cloud)
            and (not_cloud is None or boot.cloud != not_cloud)
            and (not reconverged or boot in RECONVERGED)
        ],
    )


def _id(boot: Boot) -> str:
    return f"{boot.stack}:{boot.tier}"


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


# ansible-core 2.19 calls every strategy plugin outside ansible.builtin deprecated, Mitogen's
# included; the pin holds ansible-core and Mitogen together, and the roles do not depend on it
# (dropping the unit's two ANSIBLE_STRATEGY* variables goes back to the built-in strategy).
MITOGEN_NOTICE = (
    "[DEPRECATION WARNING]: Use of strategy plugins not included in ansible.builtin are deprecated",
    "[WARNING]: Deprecation warnings can be disabled by setting `deprecation_warnings=False`",
)


@hosts()
def test_user_data_boots_and_converges_cleanly(wave: dict[Boot, Booted], boot: Boot) -> None:
    booted = wave[boot]
    assert booted.boot_ok, f"the boot step failed:\n{_tail(booted.boot_log)}"
    recap = booted.first_recap
    assert recap, f"no converge recap:\n{_tail(booted.converge_log + booted.boot_log)}"
    assert recap["failed"] == 0 and recap["unreachable"] == 0, _tail(booted.converge_log)
    assert recap["changed"] > 0
    state = booted.exec_("systemctl show -p Result --value tierstack-converge.service")
    assert state.stdout.strip() == "success"
    # With Mitogen's strategy, from the pinned virtualenv (half the CPU of every timer run).
    environment = dict(
        pair.split("=", 1)
        for pair in booted.exec_(
            "systemctl show -p Environment --value tierstack-converge.service"
        ).stdout.split()
    )
    assert environment.get("ANSIBLE_STRATEGY") == "mitogen_free"
    plugins = environment.get("ANSIBLE_STRATEGY_PLUGINS", "")
    assert plugins.startswith("/opt/ansible/")
    assert booted.exec_(f"test -f {plugins}/mitogen_free.py").returncode == 0
    # A clean converge warns about nothing (host patterns, interpreter discovery, deprecations)
    # but the one notice that comes with Mitogen's strategy (see MITOGEN_NOTICE).
    warnings = [
        line
        for line in booted.converge_log.splitlines()
        if ("[WARNING]" in line or "[DEPRECATION WARNING]" in line)
        and not line.startswith(MITOGEN_NOTICE)
    ]
    assert warnings == []


@hosts(reconverged=True)
def test_a_second_converge_changes_nothing(wave: dict[Boot, Booted], boot: Boot) -> None:
    booted = wave[boot]
    assert booted.second_recap, f"no second recap:\n{_tail(booted.second_log)}"
    assert booted.second_recap["failed"] == 0
    assert booted.second_recap["changed"] == 0, _tail(booted.second_log, 80)


@hosts()
def test_the_reconverge_timer_runs(wave: dict[Boot, Booted], boot: Boot) -> None:
    booted = wave[boot]
    enabled = booted.exec_("systemctl is-enabled tierstack-converge.timer").stdout.strip()
    active = booted.exec_("systemctl is-active tierstack-converge.timer").stdout.strip()
    assert (enabled, active) == ("enabled", "active")


@hosts(not_cloud="gcp")
def test_cloud_init_accepts_the_document(wave: dict[Boot, Booted], boot: Boot) -> None:
    booted = wave[boot]
    assert booted.user_data.startswith("#cloud-config\n")
    schema = booted.exec_("cloud-init schema --system")
    assert schema.returncode == 0, schema.stdout + schema.stderr
    assert "Valid cloud-config" in schema.stdout


def assert_imports_as(booted: Booted, unit: str, module: str) -> None:
    """The unit's own user, in the unit's folder and virtualenv, can import the code it runs."""
    user = booted.exec_(f"systemctl show -p User --value {unit}").stdout.strip()
    assert user, f"{unit} runs as root"
    imported = booted.exec_(
        f"cd /opt/tierstack/src && runuser -u {user} -- /opt/tierstack/venv/bin/python"
        f" -c 'import {module}'"
    )
    assert imported.returncode == 0, imported.stderr


def assert_memory_ceiling(booted: Booted, unit: str) -> None:
    """A runaway request is stopped by its unit's memory ceiling, not by the kernel's OOM
    killer."""
    memory = [
        booted.exec_(f"systemctl show -p {name} --value {unit}").stdout.strip()
        for name in ("MemoryMax", "MemoryHigh")
    ]
    assert memory == [str(1024**3), str(768 * 1024**2)]


def unit_installed(booted: Booted, unit: str) -> bool:
    listed = booted.exec_(f"systemctl list-unit-files --no-legend {unit}.service").stdout
    return f"{unit}.service" in listed


def test_the_tiers_are_what_the_stacks_render(stand: Stand) -> None:
    """The kinds this test checks each host for are the ones the user data says."""
    rendered = {boot: found["tierstack_tier"] for boot, (_, found) in stand.rendered.items()}
    assert rendered
    assert rendered == {boot: boot.kind for boot in stand.rendered}


def http_get(booted: Booted, port: int, path: str) -> tuple[int, str, str]:
    """Status, Retry-After and body of a GET from inside the VM."""
    answer = booted.exec_(
        "python3 -c 'import urllib.request as u, urllib.error as e\n"
        f'try: r = u.urlopen("http://127.0.0.1:{port}{path}", timeout=10)\n'
        "except e.HTTPError as x: r = x\n"
        'print(r.status, r.headers["Retry-After"]); print(r.read().decode())\''
    )
    head, _, body = answer.stdout.partition("\n")
    assert head, answer.stderr
    status, retry_after = head.split()
    return int(status), retry_after, body


@hosts("app")
def test_the_app_server_runs_its_code(wave: dict[Boot, Booted], boot: Boot) -> None:
    """gunicorn binds the app's port and boots the app's code as the unit's user, under its
    memory ceiling, with no consumer beside it, and never restarted."""
    booted = wave[boot]
    entry = CATALOG[boot.app]
    unit, package = boot.app, entry["module"].split(":")[0].rsplit(".", 1)[0]
    assert booted.exec_(f"systemctl is-enabled {unit}").stdout.strip() == "enabled"
    assert_memory_ceiling(booted, unit)
    journal = booted.exec_(f"journalctl -o cat -u {unit}").stdout
    assert f"Listening at: http://0.0.0.0:{entry['port']}" in journal, _tail(journal)
    assert "Booting worker" in journal
    assert "Control server error" not in journal
    assert_imports_as(booted, unit, package)
    assert booted.exec_(f"systemctl show -p NRestarts --value {unit}").stdout.strip() == "0"
    for consumer in entry["workers"]:  # no consumer runs on an app server
        assert not unit_installed(booted, consumer["name"]), f"{consumer['name']} on {boot.tier}"


# What has no stand-in here: RDS. cloud-drive's server waits for its database with 503s.
AWS_WAITING = {"aws-cloud-drive": "DATABASE_URL: cannot create the schema"}


@hosts("app", cloud="aws")
def test_an_aws_app_reads_its_secret_and_reaches_its_backends(
    wave: dict[Boot, Booted], boot: Boot
) -> None:
    """The session key read by the ARN the user data names; /readyz answers for the queue,
    table and bucket the stack declared, reached with the region the stack wrote."""
    booted = wave[boot]
    journal = booted.exec_(f"journalctl -o cat -u {boot.app}").stdout
    assert "cannot read the secret" not in journal, _tail(journal)
    status, retry_after, body = http_get(booted, CATALOG[boot.app]["port"], "/readyz")
    waiting_for = AWS_WAITING.get(boot.stack)
    if waiting_for:
        assert waiting_for in journal, _tail(journal)
        assert status == 503 and int(retry_after) >= 1, body
        return
    assert status == 200, body
    assert json.loads(body)["status"] == "ready"


@hosts("app", not_cloud="aws")
def test_an_app_without_its_secret_waits_with_503s(wave: dict[Boot, Booted], boot: Boot) -> None:
    """The app needs its session key from the cloud's secret store (SECRET_KEY_REF), which has
    no stand-in here, and says so in one line: that is the only thing between this VM and
    serving. Meanwhile it answers 503 with Retry-After and keeps trying instead of exiting."""
    booted = wave[boot]
    journal = booted.exec_(f"journalctl -o cat -u {boot.app}").stdout
    reference = booted.variables["python_app_env"]["SECRET_KEY_REF"]
    assert f"SECRET_KEY_REF={reference}: cannot read the secret" in journal, _tail(journal)
    status, retry_after, _ = http_get(booted, CATALOG[boot.app]["port"], "/healthz")
    assert status == 503 and int(retry_after) >= 1


@hosts("worker", service_must_run=True)
def test_the_worker_runs_its_tiers_consumer_and_no_other(
    wave: dict[Boot, Booted], boot: Boot
) -> None:
    booted = wave[boot]
    consumers = CATALOG[boot.app]["workers"]
    own = next(unit for unit in consumers if unit["tier"] == boot.tier)
    unit = own["name"]
    assert booted.exec_(f"systemctl is-enabled {unit}").stdout.strip() == "enabled"
    exec_start = booted.exec_(f"systemctl show -p ExecStart --value {unit}").stdout
    assert f"-m {own['module']}" in exec_start
    assert_imports_as(booted, unit, own["module"])
    assert_memory_ceiling(booted, unit)
    # Without its cloud (GCP, Azure here) it waits with backoff; it never exits into restarts.
    assert booted.exec_(f"systemctl is-active {unit}").stdout.strip() == "active"
    assert booted.exec_(f"systemctl show -p NRestarts --value {unit}").stdout.strip() == "0"
    environment = booted.exec_(f"cat /etc/tierstack/{unit}.env").stdout
    for key, value in booted.variables["python_app_env"].items():
        assert f'{key}="{value}"' in environment
    for other in consumers:
        if other is not own:
            assert not unit_installed(booted, other["name"]), f"{other['name']} on {boot.tier}"


@hosts("gateway")
def test_the_gateway_serves_mqtt_over_tls(wave: dict[Boot, Booted], boot: Boot) -> None:
    booted = wave[boot]
    assert booted.exec_("systemctl is-active mosquitto").stdout.strip() == "active"
    handshake = booted.exec_(
        "openssl s_client -connect 127.0.0.1:8883 -CAfile /etc/mosquitto/certs/ca.crt"
        " -verify_return_error -brief </dev/null"
    )
    assert "Verification: OK" in handshake.stdout + handshake.stderr
