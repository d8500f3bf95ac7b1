"""What a converge is given: the generated secrets, each app's environment and the Ansible
inventory of the hosts."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierstack.local import ca
from tierstack.local.catalog import (
    APPS,
    IOT_DEVICES,
    IOT_SIMULATOR_INTERVAL,
    LOCAL_SETTINGS,
    SPARK_DRIVER_BLOCK_MANAGER_PORT,
    SPARK_DRIVER_PORT,
    SPARK_EXECUTOR_BLOCK_MANAGER_PORT,
    SPARK_MASTER_PORT,
    SPARK_PYTHONPATH,
    SPARK_WORKER_PORT,
    AppSpec,
)
from tierstack.local.errors import TargetError
from tierstack.local.wheelhouse import HOST_WHEELHOUSE

if TYPE_CHECKING:
    from tierstack.local.target import LocalTarget


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


def device_secret(device: str) -> str:
    """The key of a simulated device's broker password among the generated secrets."""
    return "mqtt_" + device.replace("-", "_")


def generated_secrets(target: LocalTarget) -> dict[str, str]:
    """Passwords and keys, generated once and kept (mode 0600) with the target's state."""
    path = target.state_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    wanted = ["mqtt_gateway", "mqtt_fogapi"]
    wanted += [device_secret(device) for device in IOT_DEVICES]
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
        target.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, json.dumps(stored, indent=2))
    return stored


HOST_DATABASE_CA = "/etc/tierstack/database-ca.pem"
"""Where app and worker hosts keep the CA that signed PostgreSQL's certificate
(blueprint_host_database_ca_file)."""
ADMIN_USER = "admin"
"""The hosts' administrator account (common_admin_users), logged in with the target's key."""
DATABASE_HOST = "services"
"""The name the apps reach PostgreSQL by: its certificate carries it, verify-full checks it."""


def app_env(app: AppSpec, keys: dict[str, str]) -> dict[str, str]:
    """The environment of one app: backend URLs pointing at the services host. The database is
    reached as the app's own login role, over TLS, with the server's name verified against the
    target's CA."""
    db_url = (
        f"postgresql://{app.db_name}:{keys[f'{app.package}_db']}@{DATABASE_HOST}:5432/"
        f"{app.db_name}?sslmode=verify-full&sslrootcert={HOST_DATABASE_CA}"
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
        env["QUEUE_URL"] = f"{db_url}&table=jobs"
        # A job whose worker died is handed out again after this many seconds.
        env["QUEUE_VISIBILITY_TIMEOUT"] = "30"
    if "kv" in app.backends:
        env["KV_URL"] = f"{db_url}&table=kv"
    if "db" in app.backends:
        env["DATABASE_URL"] = db_url
    return env | local_settings(app, app.tier, keys)


def local_settings(app: AppSpec, tier: str, keys: dict[str, str]) -> dict[str, str]:
    """The target-only settings of one tier of the app (LOCAL_SETTINGS), secrets filled in."""
    settings = LOCAL_SETTINGS.get(app.name, {}).get(tier, {})
    return {key: value.format(**keys) for key, value in settings.items()}


COMPANIONS = {
    "QUEUE_URL": ("QUEUE_VISIBILITY_TIMEOUT",),
    "OBJECT_STORE_URL": (
        "AWS_ENDPOINT_URL_S3",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    ),
}
"""What a backend URL needs beside it on the local target (the object store's credentials)."""


def worker_envs(app: AppSpec, keys: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each worker tier's environment: only the backends its blueprint tier uses (as a cloud
    worker VM's user data holds, stacks/program.py), plus that tier's own local settings. No
    session key and nothing of the app tier's (the fog API's broker password): each unit holds
    the credentials of its own work only."""
    full = app_env(app, keys)
    envs: dict[str, dict[str, str]] = {}
    for tier, uses in app.workers:
        names = ["APP_ENV", *uses, *(c for use in uses for c in COMPANIONS.get(use, ()))]
        env = {name: full[name] for name in names if name in full}
        envs[tier] = env | local_settings(app, tier, keys)
    return envs


GATEWAY_HOST = "gateway"
"""iot-gateway's fog gateway host: the broker's certificate carries this name."""
GATEWAY_ID = "gateway-1"
"""The fog gateway's id: its broker session, status topic and batches."""
GATEWAY_UNIT = "iot-gateway-gateway"
SIMULATOR_UNIT = "iot-gateway-simulator"
SIMULATOR_PASSWORDS = f"/etc/tierstack/{SIMULATOR_UNIT}.passwords"
"""The simulated devices' passwords (`name:password` lines), readable by the simulator only."""
BROKER_CA = "/etc/mosquitto/ca.crt"
"""The broker's CA as the mqtt_broker role publishes it for the host's own clients."""


def gateway_vars(target: LocalTarget, keys: dict[str, str]) -> dict[str, Any]:
    """The gateway host: mosquitto with the target's certificate, one account per simulated
    device, the gateway's and the fog API's accounts; the fog gateway forwarding to the services
    host's queue (the app's QUEUE_URL) and the simulator publishing at a gentle rate."""
    app = APPS["iot-gateway"]
    env = app_env(app, keys)
    cert, key = ca.server_certificate(
        target, "mqtt", [GATEWAY_HOST, "localhost"], [target.ip(GATEWAY_HOST)]
    )
    # Neither signs sessions nor reaches the object store: no SECRET_KEY, no S3 settings.
    common = {"APP_ENV": env["APP_ENV"]}
    broker = "mqtts://{user}@localhost:8883"
    return {
        "mqtt_broker_server_names": [GATEWAY_HOST, "localhost"],
        "mqtt_broker_tls_cert": cert,
        "mqtt_broker_tls_key": key,
        "mqtt_broker_tls_ca": ca.ca_pem(target),
        "mqtt_broker_devices": [
            {"name": device, "password": keys[device_secret(device)]} for device in IOT_DEVICES
        ],
        "mqtt_broker_users": [
            {
                "name": "gateway",
                "password": keys["mqtt_gateway"],
                "read": ["devices/+/telemetry"],
                "write": ["devices/+/commands", f"gateways/{GATEWAY_ID}/#"],
            },
            {
                "name": "fogapi",
                "password": keys["mqtt_fogapi"],
                "read": ["gateways/+/status"],
                "write": ["devices/+/commands"],
            },
        ],
        "local_gateway_passwords": "".join(
            f"{device}:{keys[device_secret(device)]}\n" for device in IOT_DEVICES
        ),
        "local_gateway_units": [
            {
                "name": GATEWAY_UNIT,
                "module": "reference_apps.iot_gateway.gateway",
                "env": {
                    **common,
                    "GATEWAY_ID": GATEWAY_ID,
                    "BROKER_URL": broker.format(user=f"gateway:{keys['mqtt_gateway']}"),
                    "BROKER_CA_FILE": BROKER_CA,
                    "UPLINK_URL": env["QUEUE_URL"],
                    "DATA_DIR": f"/var/lib/{GATEWAY_UNIT}",
                },
            },
            {
                "name": SIMULATOR_UNIT,
                "module": "reference_apps.iot_gateway.simulator",
                "env": {
                    **common,
                    "BROKER_URL": "mqtts://localhost:8883",
                    "BROKER_CA_FILE": BROKER_CA,
                    "DEVICE_PASSWORDS_FILE": SIMULATOR_PASSWORDS,
                    "SIM_DEVICES": str(len(IOT_DEVICES)),
                    "SIM_INTERVAL": IOT_SIMULATOR_INTERVAL,
                    "DATA_DIR": f"/var/lib/{SIMULATOR_UNIT}",
                },
            },
        ],
    }


def mapreduce_env(target: LocalTarget) -> dict[str, str]:
    """mapreduce's job runner on the worker host: the Spark master on services, its driver on
    the worker host's private address with pinned ports (the firewall admits the master to the
    driver's), the e-mailed links pointing at the load balancer."""
    return {
        "MAPREDUCE_CLUSTER_URL": f"spark://{target.ip('services')}:{SPARK_MASTER_PORT}",
        "SPARK_DRIVER_HOST": target.ip("worker"),
        "SPARK_CONF": ";".join(
            [
                f"spark.driver.port={SPARK_DRIVER_PORT}",
                f"spark.driver.blockManager.port={SPARK_DRIVER_BLOCK_MANAGER_PORT}",
                f"spark.blockManager.port={SPARK_EXECUTOR_BLOCK_MANAGER_PORT}",
                # No hunting for a free port: a taken port is an error, not a hole elsewhere.
                "spark.port.maxRetries=0",
                # Spark's floor (450 MB of heap): the driver inside the job runner's unit
                # (MemoryMax 1G); the executor takes the whole of the Spark worker's memory.
                "spark.driver.memory=512m",
                "spark.executor.memory=512m",
            ]
        ),
        "PYTHONPATH": SPARK_PYTHONPATH,
        "PUBLIC_URL": target.urls().get("mapreduce", "").rstrip("/"),
    }


def connection_vars(target: LocalTarget) -> dict[str, str]:
    """How Ansible reaches this target's hosts: SSH as root with the target's own key,
    host keys checked against the ones pinned by `authorize`."""
    return {
        "ansible_connection": "ssh",
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(target.ssh_key),
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={target.state_dir / 'known_hosts'}"
            " -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
        ),
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def inventory(target: LocalTarget) -> dict[str, Any]:
    """The Ansible inventory of this target: hosts, their tiers, firewall and role inputs."""
    keys = generated_secrets(target)
    apps = [APPS[name] for name in target.apps]
    cidr = target.subnet
    ssh = {"port": 22, "source": cidr}

    def host(name: str, **hostvars: Any) -> dict[str, Any]:
        return {name: {"ansible_host": target.ip(name), **hostvars}}

    app_ports = [{"port": app.port, "source": cidr} for app in apps]
    services_ports = [{"port": port, "source": cidr} for port in (5432, 8333, 1025)]
    db_cert, db_key = ca.server_certificate(
        target, "postgres", [DATABASE_HOST], [target.ip(DATABASE_HOST)]
    )
    # Spark: the master's cluster port from the private network; on the worker host the Spark
    # worker's RPC port and the job runner's driver port from the master only (executors and the
    # driver share the worker host: their block managers are reached from that host only).
    spark_master = {"port": SPARK_MASTER_PORT, "source": cidr}
    from_master = f"{target.ip('services')}/32"
    spark_worker = [{"port": SPARK_WORKER_PORT, "source": from_master}]
    if "mapreduce" in target.apps:
        spark_worker.append({"port": SPARK_DRIVER_PORT, "source": from_master})
    envs = {app.name: app_env(app, keys) for app in apps}
    worker_env_sets = {app.name: worker_envs(app, keys) for app in apps}
    if "mapreduce" in worker_env_sets:
        worker_env_sets["mapreduce"]["job-runner"].update(mapreduce_env(target))
    return {
        "all": {
            "vars": {
                **connection_vars(target),
                "tierstack_env": "dev",
                "tierstack_network_cidr": cidr,
                "tierstack_local_apps": list(target.apps),
                "tierstack_app_envs": envs,
                "tierstack_worker_envs": worker_env_sets,
                "python_app_pip_find_links": HOST_WHEELHOUSE,
                "python_app_forwarded_allow_ips": target.ip("lb"),
                "object_store_pip_find_links": HOST_WHEELHOUSE,
                "blueprint_host_database_ca": ca.ca_pem(target),
                # An administrator who logs in with the target's key and uses sudo, as on a VM.
                "common_admin_users": [
                    {
                        "name": ADMIN_USER,
                        "authorized_keys": [target.ssh_key.with_suffix(".pub").read_text().strip()],
                    }
                ],
                "spark_pip_find_links": HOST_WHEELHOUSE,
                "spark_master_host": target.ip("services"),
            },
            "children": {
                "tier_services": {
                    "hosts": host(
                        "services",
                        tierstack_firewall_allow=[ssh, *services_ports, spark_master],
                        spark_roles=["master"],
                        postgres_databases=[
                            {
                                "name": app.db_name,
                                "owner": app.db_name,
                                "password": keys[f"{app.package}_db"],
                                "allowed_networks": [cidr],
                            }
                            for app in APPS.values()
                        ],
                        postgres_tls_cert=db_cert,
                        postgres_tls_key=db_key,
                        object_store_buckets=list(APPS),
                        # SeaweedFS counts its volume slots from the free space of its data
                        # volume (4 GiB here): 64 MB volumes leave room for every bucket's.
                        object_store_volume_size_limit_mb=64,
                        object_store_identities=[
                            {
                                "name": app.name,
                                "access_key": keys[f"{app.package}_s3_access"],
                                "secret_key": keys[f"{app.package}_s3_secret"],
                                "buckets": [app.name],
                            }
                            for app in APPS.values()
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
                        "worker",
                        tierstack_tier="worker",
                        tierstack_firewall_allow=[ssh, *spark_worker],
                        spark_roles=["worker"],
                        spark_local_host=target.ip("worker"),
                    )
                },
                "tier_gateway": {
                    "hosts": host(
                        GATEWAY_HOST,
                        tierstack_firewall_allow=[ssh, {"port": 8883, "source": cidr}],
                        **(
                            {
                                # A worker host of no app's consumers: the gateway's own units.
                                "tierstack_tier": "worker",
                                "local_blueprint_apps": [],
                                **gateway_vars(target, keys),
                            }
                            if "iot-gateway" in target.apps
                            else {}
                        ),
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
                        load_balancer_public_https_port=target.https_port,
                        load_balancer_tls_ips=["127.0.0.1"],
                    )
                },
            },
        }
    }
