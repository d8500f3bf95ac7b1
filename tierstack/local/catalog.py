"""The apps the local target deploys: which package, which port, which backing services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AppSpec:
    """A reference app as the local target deploys it."""

    name: str
    package: str
    port: int
    backends: tuple[str, ...]  # which services it uses: s3, queue, kv, db
    tier: str = ""  # the blueprint's app tier (LOCAL_SETTINGS keys)
    workers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Each worker tier of the blueprint with the settings its `uses` name (QUEUE_URL...)."""

    @property
    def db_name(self) -> str:
        return self.package


LOCAL_APPS = ("image-processing", "cloud-drive", "mapreduce", "social-analytics", "iot-gateway")
"""The blueprints the local target deploys: all five (mapreduce's jobs run on the target's Spark
standalone cluster)."""

LOCAL_SETTINGS: dict[str, dict[str, dict[str, str]]] = {
    # Live charts from the bundled replay at a rate two shared cores carry beside everything else:
    # the listener replays, nothing else reads it.
    "social-analytics": {"listener": {"REPLAY_RATE": "2"}},
    # Jobs on the target's Spark cluster. A job may take longer than the other apps' 30 s
    # visibility timeout (a Spark driver alone starts in about 10 s); the runner refuses a time
    # limit above the visibility timeout. A lost cluster fails the job after 30 s, not 60.
    "mapreduce": {
        "web": {"QUEUE_VISIBILITY_TIMEOUT": "300", "JOB_TIME_LIMIT": "240"},
        "job-runner": {
            "QUEUE_VISIBILITY_TIMEOUT": "300",
            "JOB_TIME_LIMIT": "240",
            "SPARK_NO_WORKER_GRACE": "30",
            "SPARK_STARTUP_GRACE": "120",
            "MAPREDUCE_REDUCERS": "2",
        },
    },
    # The fog API's live gateway status and commands: the gateway host's broker, as the fog API
    # account, verified against the target's CA (the file the app hosts already hold). Only the
    # app tier gets it: the telemetry consumer never talks to the broker.
    "iot-gateway": {
        "fog-api": {
            "BROKER_URL": "mqtts://fogapi:{mqtt_fogapi}@gateway:8883",
            "BROKER_CA_FILE": "/etc/tierstack/database-ca.pem",
        }
    },
}
"""Settings one tier of an app (app -> blueprint tier name -> settings) gets on the local target
only, on top of its backend URLs; `{key}` names a generated secret."""

SPARK_MASTER_PORT = 7077
SPARK_WORKER_PORT = 7078
SPARK_DRIVER_PORT = 7079
"""The job runner's Spark driver on the worker host: the master connects to it."""
SPARK_DRIVER_BLOCK_MANAGER_PORT = 7080
SPARK_EXECUTOR_BLOCK_MANAGER_PORT = 7081
"""Block managers: the driver's and the executors' (all on the worker host, reached from that
host only)."""
SPARK_PYTHONPATH = "/opt/spark/site-packages"
"""Where the spark role links its pyspark (spark_root/site-packages): the job runner's driver
imports it from there, so the apps' own virtualenv stays without Spark."""

IOT_DEVICES = tuple(f"sensor-{n:02d}" for n in range(10))
"""The simulated devices on the gateway host, one broker account each (the simulator's names)."""

IOT_SIMULATOR_INTERVAL = "5"
"""Seconds between two readings of one simulated device: 10 devices make 2 readings/s, which two
shared cores carry beside everything else."""


def _from_blueprint(name: str) -> AppSpec:
    """The app as its blueprint declares it (stacks/blueprints): the one catalog of modules and
    ports, which roles/blueprint_host/vars/main.yml also follows (a test checks both)."""
    from stacks.blueprints import BLUEPRINTS  # plain dataclasses, no cloud SDK

    blueprint = BLUEPRINTS[name]()
    assert blueprint.app is not None, f"{name} has no app tier"
    package = blueprint.app.wsgi.split(":")[0].split(".")[1]
    uses = (
        ("s3", bool(blueprint.object_stores)),
        ("queue", bool(blueprint.queues)),
        ("kv", bool(blueprint.tables)),
        ("db", bool(blueprint.databases)),
    )
    workers = tuple(
        (worker.name, tuple(use.env_var for use in worker.uses if use.env_var))
        for worker in blueprint.workers
    )
    return AppSpec(
        name,
        package,
        blueprint.app.port,
        tuple(kind for kind, used in uses if used),
        blueprint.app.name,
        workers,
    )


APPS: dict[str, AppSpec] = {name: _from_blueprint(name) for name in LOCAL_APPS}


def available_apps() -> list[str]:
    """The apps whose WSGI module exists in this checkout, in a stable order."""
    return [
        name
        for name, spec in APPS.items()
        if (REPO / "reference_apps" / spec.package / "wsgi.py").is_file()
    ]
