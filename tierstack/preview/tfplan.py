"""A preview result as a Terraform plan JSON document, so that scanners written for Terraform
(Checkov above all) can read a Pulumi program.

Only the Terraform-bridged providers are exported (pulumi-aws, pulumi-gcp, pulumi-random,
pulumi-tls): their resources are Terraform resources under another name. The names are derived
from the installed SDKs, not from a hand list: the Terraform type from the provider, the SDK
module and the class's own module file (`pulumi_aws.ec2.security_group` → `aws_security_group`),
and the attribute names and nesting from each resource's input types (`httpTokens` →
`http_tokens`; an object typed by an Args class is a Terraform block, a list of one; a map such
as `tags` keeps its keys). `TYPE_EXCEPTIONS` holds the few types whose Terraform name follows
no rule. azure-native is not bridged: its resources are listed under `tierstack.notExported`.

Unknown values (ids, ARNs) go to `after_unknown`; the resources they come from, read from the
preview's property dependencies, become `configuration` references, which is how Checkov
connects a bucket to its public access block or a security group to its launch template.
"""

from __future__ import annotations

import functools
import importlib
import re
import typing
from typing import Any

from tierstack.records import SECRET, UNKNOWN, ResourceRecord

FORMAT_VERSION = "1.2"
TERRAFORM_VERSION = "1.9.8"  # the plan format this document follows

# Pulumi package → (Python SDK, Terraform provider prefix, registry name).
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "aws": ("pulumi_aws", "aws", "registry.terraform.io/hashicorp/aws"),
    "gcp": ("pulumi_gcp", "google", "registry.terraform.io/hashicorp/google"),
    "random": ("pulumi_random", "random", "registry.terraform.io/hashicorp/random"),
    "tls": ("pulumi_tls", "tls", "registry.terraform.io/hashicorp/tls"),
}

# SDK modules whose Terraform types carry no module part (aws:ec2/vpc:Vpc → aws_vpc), or another
# spelling of it (gcp:secretmanager/… → google_secret_manager_…).
MODULE_PREFIX: dict[tuple[str, str], str] = {
    ("aws", "ec2"): "",
    ("aws", "index"): "",
    ("gcp", "index"): "",
    ("random", "index"): "",
    ("tls", "index"): "",
    ("gcp", "secretmanager"): "secret_manager",
    ("gcp", "servicenetworking"): "service_networking",
    ("gcp", "projects"): "project",
}

# Types whose Terraform name the rule above does not give.
TYPE_EXCEPTIONS: dict[str, str] = {
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:s3/bucketObjectv2:BucketObjectv2": "aws_s3_object",
    "gcp:serviceaccount/account:Account": "google_service_account",
}

NOT_BRIDGED = "not a Terraform-bridged provider: no Terraform type to export it as"


class NotExportable(Exception):
    """The resource's provider has no Terraform counterpart, or its SDK is not installed."""


def _snake(name: str) -> str:
    """camelCase → snake_case, for names the SDK's tables do not know."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _split(token: str) -> tuple[str, str, str]:
    package, module_path, class_name = token.split(":")
    return package, module_path.split("/")[0], class_name


@functools.cache
def resource_class(token: str) -> type:
    """The SDK's resource class for a type token (`aws:ec2/vpc:Vpc` → pulumi_aws.ec2.Vpc)."""
    package, module, class_name = _split(token)
    if package not in PROVIDERS:
        raise NotExportable(NOT_BRIDGED)
    sdk = PROVIDERS[package][0]
    try:
        namespace = importlib.import_module(sdk if module == "index" else f"{sdk}.{module}")
        return getattr(namespace, class_name)
    except (ImportError, AttributeError) as error:
        raise NotExportable(f"{sdk} has no {token}: {error}") from error


@functools.cache
def terraform_type(token: str) -> str:
    """The Terraform resource type of a bridged Pulumi type token."""
    if token in TYPE_EXCEPTIONS:
        return TYPE_EXCEPTIONS[token]
    package, module, _ = _split(token)
    prefix = PROVIDERS[package][1] if package in PROVIDERS else ""
    snake = resource_class(token).__module__.rsplit(".", 1)[1]  # the class's own file
    middle = MODULE_PREFIX.get((package, module), module)
    if middle and not snake.startswith(middle + "_"):
        snake = f"{middle}_{snake}"
    return snake if snake.startswith(prefix + "_") else f"{prefix}_{snake}"


_Attribute = tuple[str, "type | None"]


def _args_class(hint: Any) -> type | None:
    """The Args (input type) class inside a property's type hint, if it is an object."""
    import pulumi._types as pulumi_types

    if isinstance(hint, type) and pulumi_types.is_input_type(hint):
        return hint
    for inner in typing.get_args(hint):
        found = _args_class(inner)
        if found is not None:
            return found
    return None


# Pulumi names a repeated block in the plural (default_action → default_actions); Terraform's
# own name is the singular that the block's Args class spells (ListenerDefaultActionArgs), except
# for the blocks Terraform itself names in the plural, listed here.
PLURAL_BLOCKS: dict[str, set[str]] = {
    "aws_autoscaling_policy": {"metrics", "dimensions"},
    "aws_launch_template": {"block_device_mappings", "network_interfaces", "tag_specifications"},
    "google_firestore_index": {"fields"},
    "google_monitoring_alert_policy": {"conditions", "aggregations"},
    "google_secret_manager_secret": {"replicas"},
    "google_sql_database_instance": {"database_flags"},
}


def _block_name(tf_type: str, py_name: str, prefix: str, nested: type) -> str:
    """Terraform's name of a repeated block: the singular from its Args class's name."""
    singular = _snake(nested.__name__.removesuffix("Args").removeprefix(prefix))
    if py_name in PLURAL_BLOCKS.get(tf_type, ()) or not py_name.startswith(singular):
        return py_name
    return singular


@functools.cache
def _schema(args_class: type, prefix: str, tf_type: str) -> dict[str, _Attribute]:
    """Wire name → (Terraform attribute name, Args class of a nested block or None, whether
    the block repeats), from the SDK's property tables and type hints."""
    import pulumi._types as pulumi_types

    py_names = pulumi_types.input_type_py_to_pulumi_names(args_class)
    hints = pulumi_types.input_type_types(args_class)
    schema: dict[str, _Attribute] = {}
    for py_name, wire in py_names.items():
        nested = _args_class(hints.get(wire))
        name = py_name
        if nested is not None and _is_sequence(hints.get(wire)):
            name = _block_name(tf_type, py_name, prefix, nested)
        schema[wire] = (name, nested)
    return schema


def _is_sequence(hint: Any) -> bool:
    """Whether a type hint is (or wraps) a list."""
    import collections.abc

    if typing.get_origin(hint) in (list, collections.abc.Sequence):
        return True
    return any(_is_sequence(inner) for inner in typing.get_args(hint))


def _nested_schema(nested: type, tf_type: str) -> dict[str, _Attribute]:
    return _schema(nested, nested.__name__.removesuffix("Args"), tf_type)


def _resource_schema(token: str) -> dict[str, _Attribute]:
    """The resource's own input table (its InitArgs where a nested type took the Args name)."""
    cls = resource_class(token)
    namespace = importlib.import_module(cls.__module__)
    args_class = getattr(namespace, f"{cls.__name__}InitArgs", None) or getattr(
        namespace, f"{cls.__name__}Args", None
    )
    if args_class is None:
        return {}
    return _schema(args_class, cls.__name__, terraform_type(token))


class _Converter:
    """One resource's inputs → Terraform `after`, `after_unknown`, `after_sensitive` and the
    `expressions` of its configuration (references where a value comes from another resource)."""

    def __init__(self, addresses: dict[str, str], tf_type: str) -> None:
        self.addresses = addresses  # urn → Terraform address
        self.tf_type = tf_type

    def _is_unknown(self, value: Any) -> bool:
        return value == UNKNOWN or (isinstance(value, str) and value in self.addresses)

    def block(
        self, inputs: dict[str, Any], schema: dict[str, _Attribute], refs: list[str]
    ) -> tuple[dict, dict, dict, dict]:
        after: dict[str, Any] = {}
        unknown: dict[str, Any] = {}
        sensitive: dict[str, Any] = {}
        expressions: dict[str, Any] = {}
        for wire, value in inputs.items():
            name, nested = schema.get(wire, (_snake(wire), None))
            a, u, s, e = self.value(value, nested, refs)
            if a is not _OMIT:
                after[name] = a
            if u:
                unknown[name] = u
            if s:
                sensitive[name] = s
            if e:
                expressions[name] = e
        return after, unknown, sensitive, expressions

    def value(self, value: Any, nested: type | None, refs: list[str]) -> tuple[Any, Any, Any, Any]:
        """(after, after_unknown, after_sensitive, expression) of one attribute value."""
        reference = {"references": refs} if refs else None
        if value == SECRET:
            return _OMIT, None, True, None
        if self._is_unknown(value):
            own = self.addresses.get(value)
            return _OMIT, True, None, {"references": [f"{own}.id", own]} if own else reference
        if isinstance(value, dict) and nested is not None:  # a block: a list of one
            a, u, s, e = self.block(value, _nested_schema(nested, self.tf_type), refs)
            return [a], [u] if u else None, [s] if s else None, [e] if e else None
        if isinstance(value, list) and nested is not None:
            parts = [self.block(item, _nested_schema(nested, self.tf_type), refs) for item in value]
            unknown = [u for _, u, _, _ in parts]
            sensitive = [s for _, _, s, _ in parts]
            expressions = [e for _, _, _, e in parts]
            return (
                [a for a, _, _, _ in parts],
                unknown if any(unknown) else None,
                sensitive if any(sensitive) else None,
                expressions if any(expressions) else None,
            )
        if isinstance(value, list):  # a list of scalars: unknown elements are null
            marks = [self._is_unknown(item) for item in value]
            after = [None if mark else item for item, mark in zip(value, marks, strict=True)]
            own = [self.addresses[i] for i in value if isinstance(i, str) and i in self.addresses]
            refs = refs or [ref for address in own for ref in (f"{address}.id", address)]
            if any(marks):
                return after, marks, None, {"references": refs} if refs else None
            return after, None, None, reference
        # A scalar, or a map (tags, labels) kept as it is; a value computed from another
        # resource keeps the reference, as Terraform's configuration does.
        return value, None, None, reference


_OMIT = object()


def _addresses(records: list[ResourceRecord]) -> tuple[dict[str, str], dict[str, str]]:
    """urn → Terraform address for every exportable resource, and urn → why not for the rest.
    Names keep Pulumi's (valid Terraform names), made unique within a type."""
    addresses: dict[str, str] = {}
    skipped: dict[str, str] = {}
    taken: set[str] = set()
    for record in records:
        if not record["custom"]:
            continue
        try:
            tf_type = terraform_type(record["type"])
        except NotExportable as why:
            skipped[record["urn"]] = str(why)
            continue
        name = re.sub(r"[^A-Za-z0-9_-]", "_", record["name"])
        if not re.match(r"[A-Za-z_]", name):
            name = f"r_{name}"
        base, suffix = name, 2
        while f"{tf_type}.{name}" in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(f"{tf_type}.{name}")
        addresses[record["urn"]] = f"{tf_type}.{name}"
    return addresses, skipped


def to_tfplan(result: dict[str, Any]) -> dict[str, Any]:
    """The Terraform plan JSON document of one preview result."""
    records: list[ResourceRecord] = result["resources"]
    addresses, skipped = _addresses(records)
    planned, changes, configured = [], [], []
    providers: dict[str, dict[str, str]] = {}
    for record in records:
        address = addresses.get(record["urn"])
        if address is None:
            continue
        tf_type, name = address.split(".", 1)
        package = record["type"].split(":")[0]
        provider_key = PROVIDERS[package][1]
        provider = PROVIDERS[package][2]
        providers[provider_key] = {"name": provider_key, "full_name": provider}
        schema = _resource_schema(record["type"])
        converter = _Converter(addresses, tf_type)
        inputs = record["inputs"]
        deps = record["propertyDependencies"]
        after, unknown, sensitive, expressions = {}, {}, {}, {}
        for wire, value in inputs.items():
            refs = [
                ref
                for urn in deps.get(wire, [])
                if urn in addresses
                for ref in (f"{addresses[urn]}.id", addresses[urn])
            ]
            a, u, s, e = converter.block({wire: value}, schema, refs)
            after.update(a)
            unknown.update(u)
            sensitive.update(s)
            expressions.update(e)
        for attr, value in after.items():
            if attr not in expressions:
                expressions[attr] = {"constant_value": value}
        common = {"address": address, "mode": "managed", "type": tf_type, "name": name}
        planned.append(
            {
                **common,
                "provider_name": provider,
                "schema_version": 0,
                "values": after,
                "sensitive_values": sensitive,
            }
        )
        changes.append(
            {
                **common,
                "provider_name": provider,
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": after,
                    "after_unknown": unknown,
                    "before_sensitive": False,
                    "after_sensitive": sensitive,
                },
            }
        )
        depends_on = sorted({addresses[u] for u in record["dependencies"] if u in addresses})
        configured.append(
            {
                **common,
                "provider_config_key": provider_key,
                "expressions": expressions,
                "schema_version": 0,
                **({"depends_on": depends_on} if depends_on else {}),
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": dict(sorted(providers.items())),
            "root_module": {"resources": configured},
        },
        "tierstack": {
            "stack": result["stack"],
            "project": result["project"],
            "addresses": {address: urn for urn, address in addresses.items()},
            "notExported": [
                {"urn": urn, "type": r["type"], "reason": skipped[urn]}
                for r in records
                if (urn := r["urn"]) in skipped
            ],
        },
    }
