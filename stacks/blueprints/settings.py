"""Stack settings: which cloud and blueprint, environment sizing, tags — validated up front.

Every key lives in the `tierstack:` config namespace of a stack file
(stacks/config/Pulumi.<cloud>-<app>.yaml). Invalid config stops the program with one message that
names the key, before any resource is declared.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, get_args

from stacks.blueprints.model import SizeClass

CLOUDS = ("aws", "gcp", "azure")
APPS = ("image-processing", "cloud-drive", "mapreduce", "social-analytics", "iot-gateway")
ENVS = ("dev", "prod")


class SettingsError(ValueError):
    """Invalid stack config; the message names the key and says what to fix."""


@dataclass(frozen=True)
class Sizing:
    """Environment sizing. Defaults per env below; any field can be overridden under
    `tierstack:sizing` with its camelCase name (appMax, dbHighAvailability, ...)."""

    app_size: SizeClass = "small"
    app_min: int = 1
    app_max: int = 3
    worker_size: SizeClass = "small"
    worker_min: int = 1
    worker_max: int = 3
    db_size: SizeClass = "small"
    db_storage_gb: int = 20
    db_high_availability: bool = False
    """Multi-AZ / regional / zone-redundant HA database."""
    backup_retention_days: int = 7
    log_retention_days: int = 14
    deletion_protection: bool = False
    mapreduce_workers: int = 2


DEFAULT_SIZING: dict[str, Sizing] = {
    "dev": Sizing(),
    "prod": Sizing(
        app_size="medium",
        app_min=2,
        app_max=8,
        worker_size="medium",
        worker_min=2,
        worker_max=10,
        db_size="medium",
        db_storage_gb=100,
        db_high_availability=True,
        backup_retention_days=14,
        log_retention_days=90,
        deletion_protection=True,
        mapreduce_workers=4,
    ),
}


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from config, typed and checked."""

    cloud: str
    app: str
    env: str = "dev"
    owner: str = "platform-team"
    cost_center: str = "unassigned"
    network_cidr: str = "10.40.0.0/16"
    region: str = ""
    """Cloud region/location; taken from the provider's own config key when not set here."""
    zones: tuple[str, ...] = ()
    """Zones to spread over; derived from the region when empty."""
    certificate: str = ""
    """AWS: ACM certificate ARN; GCP: a domain for a managed certificate; Azure: a Key Vault
    secret id. Empty: a self-signed dev certificate (refused in prod)."""
    alert_email: str = ""
    repo_url: str = "https://github.com/tierstack/tierstack.git"
    """The git repository that hosts run ansible-pull from (your fork)."""
    repo_ref: str = "main"
    gcp_project: str = ""
    ssh_key_pair: str = ""
    """AWS: the name of an EC2 key pair for operators. Set, the hosts accept SSH from an EC2
    Instance Connect Endpoint in the private subnets and nowhere else; empty, nothing admits SSH."""
    smtp_app_id: str = ""
    """Azure: the Entra application id the Communication Services SMTP relay authenticates;
    its client secret is the secret config value `smtpPassword` (never held here)."""
    sizing: Sizing = field(default_factory=Sizing)
    iot_devices: tuple[str, ...] = ("gateway-01",)
    """Device accounts of an IoT ingest that has its own MQTT brokers (GCP): one per fog gateway,
    each with a generated password in the secret store and the topics devices/<name>/#."""

    @property
    def tags(self) -> dict[str, str]:
        """Required governance tags on every taggable resource."""
        return {
            "project": "tierstack",
            "app": self.app,
            "env": self.env,
            "owner": self.owner,
            "cost-center": self.cost_center,
        }

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"


# config key (camelCase) -> Settings field; everything else in the namespace is an error.
_KEYS = {
    "cloud": "cloud",
    "app": "app",
    "env": "env",
    "owner": "owner",
    "costCenter": "cost_center",
    "networkCidr": "network_cidr",
    "region": "region",
    "zones": "zones",
    "certificate": "certificate",
    "alertEmail": "alert_email",
    "repoUrl": "repo_url",
    "repoRef": "repo_ref",
    "sshKeyPair": "ssh_key_pair",
    "smtpAppId": "smtp_app_id",
    "sizing": "sizing",
    "iotDevices": "iot_devices",
}
_SECRET_ONLY_KEYS = {"smtpPassword"}
"""Keys the program reads as Pulumi secrets where they are used, never into Settings."""
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_REGION_KEYS = {"aws": "aws:region", "gcp": "gcp:region", "azure": "azure-native:location"}
_DEFAULT_REGION = {"aws": "eu-west-1", "gcp": "europe-west1", "azure": "westeurope"}
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DEVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
"""An MQTT user name that also fits in a secret id and a Pulumi name."""
RESERVED_ACCOUNTS = ("bridge",)
"""Broker accounts the role creates for the hosts' own services."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _parse_sizing(env: str, raw: Any) -> Sizing:
    base = DEFAULT_SIZING[env]
    if raw in (None, ""):
        return base
    if not isinstance(raw, Mapping):
        raise SettingsError("tierstack:sizing must be an object of sizing keys")
    by_key = {_camel(f.name): f for f in fields(Sizing)}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        spec = by_key.get(key)
        if spec is None:
            known = ", ".join(sorted(by_key))
            raise SettingsError(f"tierstack:sizing.{key} is not a sizing key (known: {known})")
        changes[spec.name] = _coerce(f"tierstack:sizing.{key}", spec.type, value)
    sizing = dataclasses.replace(base, **changes)
    for tier in ("app", "worker"):
        low, high = getattr(sizing, f"{tier}_min"), getattr(sizing, f"{tier}_max")
        if low < 0 or high < 1 or low > high:
            raise SettingsError(
                f"tierstack:sizing.{tier}Min ({low}) and {tier}Max ({high}): "
                "need 0 <= min <= max and max >= 1"
            )
    if sizing.backup_retention_days < 1 or sizing.backup_retention_days > 35:
        raise SettingsError("tierstack:sizing.backupRetentionDays must be between 1 and 35")
    return sizing


def _coerce(key: str, type_name: Any, value: Any) -> Any:
    """Config values arrive as strings or parsed JSON; accept both, refuse the wrong type."""
    type_name = str(type_name)
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise SettingsError(f"{key} must be true or false, not {value!r}")
    if type_name == "int":
        if isinstance(value, bool):
            raise SettingsError(f"{key} must be a whole number, not {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{key} must be a whole number, not {value!r}") from None
        if not number.is_integer():
            raise SettingsError(f"{key} must be a whole number, not {value!r}")
        return int(number)
    if type_name == "SizeClass":
        sizes = get_args(SizeClass)
        if value not in sizes:
            raise SettingsError(f"{key} must be one of {', '.join(sizes)}, not {value!r}")
        return value
    raise AssertionError(f"no coercion for {type_name}")


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """Builds Settings from the flat stack config ({"tierstack:cloud": "aws", ...})."""
    ours = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("tierstack:")}
    unknown = sorted(set(ours) - set(_KEYS) - _SECRET_ONLY_KEYS)
    if unknown:
        raise SettingsError(
            f"tierstack:{unknown[0]} is not a tierstack setting (known: {', '.join(sorted(_KEYS))})"
        )
    cloud = ours.get("cloud")
    if cloud not in CLOUDS:
        raise SettingsError(f"tierstack:cloud must be one of {', '.join(CLOUDS)}, not {cloud!r}")
    app = ours.get("app")
    if app not in APPS:
        raise SettingsError(f"tierstack:app must be one of {', '.join(APPS)}, not {app!r}")
    env = ours.get("env", "dev")
    if env not in ENVS:
        raise SettingsError(f"tierstack:env must be one of {', '.join(ENVS)}, not {env!r}")

    values: dict[str, Any] = {"cloud": cloud, "app": app, "env": env}
    for key in ("owner", "costCenter"):
        if key in ours:
            value = str(ours[key])
            if not _LABEL.match(value):
                raise SettingsError(
                    f"tierstack:{key} must be lowercase letters, digits, '-' or '_' (a valid label)"
                )
            values[_KEYS[key]] = value
    for key in ("certificate", "alertEmail", "repoUrl", "repoRef"):
        if key in ours:
            values[_KEYS[key]] = str(ours[key])

    cidr = str(ours.get("networkCidr", Settings.network_cidr))
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError as error:
        raise SettingsError(
            f"tierstack:networkCidr {cidr!r} is not a valid CIDR: {error}"
        ) from None
    if network.version != 4 or not network.is_private or not 16 <= network.prefixlen <= 20:
        raise SettingsError(
            f"tierstack:networkCidr {cidr!r} must be a private IPv4 range from /16 to /20"
        )
    values["network_cidr"] = cidr

    region = str(ours.get("region") or config.get(_REGION_KEYS[cloud]) or _DEFAULT_REGION[cloud])
    values["region"] = region
    zones = ours.get("zones")
    if zones in (None, ""):
        values["zones"] = _default_zones(cloud, region)
    elif isinstance(zones, list | tuple) and all(isinstance(z, str) and z for z in zones):
        if len(zones) < 2:
            raise SettingsError("tierstack:zones needs at least two zones for high availability")
        values["zones"] = tuple(zones)
    else:
        raise SettingsError("tierstack:zones must be a list of zone names")
    values["gcp_project"] = str(config.get("gcp:project", "tierstack-dev"))
    if "iotDevices" in ours:
        values["iot_devices"] = _parse_devices(ours["iotDevices"])
    if ours.get("sshKeyPair"):
        if cloud != "aws":
            raise SettingsError("tierstack:sshKeyPair is an EC2 key pair name: AWS stacks only")
        values["ssh_key_pair"] = str(ours["sshKeyPair"])
    if ours.get("smtpAppId") or ours.get("smtpPassword"):
        if cloud != "azure":
            raise SettingsError(
                "tierstack:smtpAppId and tierstack:smtpPassword are the Communication Services "
                "SMTP credentials: Azure stacks only"
            )
        app_id = str(ours.get("smtpAppId") or "").lower()
        if not _GUID.match(app_id) or not ours.get("smtpPassword"):
            raise SettingsError(
                "tierstack:smtpAppId (the Entra application id, a GUID) and tierstack:smtpPassword "
                "(its client secret, set with --secret) go together"
            )
        values["smtp_app_id"] = app_id
    values["sizing"] = _parse_sizing(env, ours.get("sizing"))

    settings = Settings(**values)
    _check_repo(settings)
    if settings.is_prod and not settings.certificate:
        raise SettingsError(
            "tierstack:certificate is required in prod (the self-signed fallback is for dev only)"
        )
    return settings


def _parse_devices(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(d, str) for d in raw):
        raise SettingsError("tierstack:iotDevices must be a list of device names")
    for device in raw:
        if not _DEVICE.match(device) or device in RESERVED_ACCOUNTS:
            raise SettingsError(
                f"tierstack:iotDevices: {device!r} must be 1-30 lowercase letters, digits or '-'"
                f" (not {', '.join(RESERVED_ACCOUNTS)})"
            )
    if len(set(raw)) != len(raw):
        raise SettingsError("tierstack:iotDevices names a device twice")
    return tuple(raw)


_REPO_SCHEMES = ("https://", "git://", "ssh://", "file://")
_PROD_REPO_SCHEMES = ("https://", "ssh://")  # authenticated transports only
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # a full SHA-1 or SHA-256 commit id


def _check_repo(settings: Settings) -> None:
    """Hosts run what they pull as root: never from a plain-HTTP URL or an option-like ref, and
    in prod only an exact commit over an authenticated transport (a branch or tag can be moved
    under a running fleet; git:// and file:// prove nothing about the server)."""
    url, ref = settings.repo_url, settings.repo_ref
    if not url.startswith(_REPO_SCHEMES):
        raise SettingsError(
            f"tierstack:repoUrl {url!r} must be an https:// (or git://, ssh://, file://) URL"
        )
    if not ref or ref.startswith("-") or any(c.isspace() for c in ref):
        raise SettingsError(f"tierstack:repoRef {ref!r} is not a git branch, tag or commit")
    if not settings.is_prod:
        return
    if not url.startswith(_PROD_REPO_SCHEMES):
        raise SettingsError(f"tierstack:repoUrl {url!r} must be https:// or ssh:// in prod")
    if not _COMMIT.match(ref):
        raise SettingsError(
            f"tierstack:repoRef {ref!r} must be a full commit id in prod"
            " (pulumi config set tierstack:repoRef $(git rev-parse HEAD))"
        )


def _default_zones(cloud: str, region: str) -> tuple[str, ...]:
    if cloud == "aws":
        return (f"{region}a", f"{region}b")
    if cloud == "gcp":
        return (f"{region}-b", f"{region}-c")
    return ("1", "2")
