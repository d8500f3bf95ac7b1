"""Which input changes replace a resource instead of updating it: an estimate.

Two sources, both offline: the provider SDKs installed here (terraform-bridged SDKs say
"Changing this forces a new resource" or "will trigger recreation" in a property's docs), and
`replace_on_change.yaml`, the properties the providers' own docs mark as create-only for the
resource types the blueprints use. Neither sees the provider's real plan, so the report labels
every replacement as an estimate.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import re
from pathlib import Path

import yaml

_TABLE = Path(__file__).with_name("replace_on_change.yaml")
_PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native"}
_PARAM = re.compile(r":param [^\]]*\]+ (\w+): (.*?)(?=\n\s*:param |\n\s*\"\"\"|\Z)", re.S)
_FORCES = re.compile(
    r"forces a new resource|forces? (?:the )?recreation|trigger recreation|"
    r"requires? (?:a )?replacement|cannot be changed after creation",
    re.I,
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _sdk_file(type_: str) -> Path | None:
    """The SDK module that defines `type_` (e.g. aws:s3/bucket:Bucket -> pulumi_aws/s3/bucket.py),
    found without importing it."""
    package, _, rest = type_.partition(":")
    module, _, klass = rest.partition(":")
    if package not in _PACKAGES or not klass:
        return None
    spec = importlib.util.find_spec(_PACKAGES[package])
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    folder = module.split("/", 1)[0]
    candidates = [_snake(klass)]
    if "/" in module:
        candidates.insert(0, _snake(module.split("/", 1)[1]))
    for name in candidates:
        path = root / folder / f"{name}.py"
        if path.is_file():
            return path
    return None


@functools.cache
def _table() -> dict[str, frozenset[str]]:
    data = yaml.safe_load(_TABLE.read_text(encoding="utf-8")) or {}
    return {pattern: frozenset(entry["properties"]) for pattern, entry in data.items()}


@functools.cache
def replace_properties(type_: str) -> frozenset[str]:
    """Top-level input names (wire camelCase) whose change replaces a `type_` resource."""
    found: set[str] = set()
    for pattern, properties in _table().items():
        if fnmatch.fnmatchcase(type_, pattern):
            found |= properties
    path = _sdk_file(type_)
    if path is not None:
        text = path.read_text(encoding="utf-8", errors="replace")
        for name, doc in _PARAM.findall(text):
            if _FORCES.search(doc):
                found.add(_camel(name))
    return frozenset(found)


def replaces(type_: str, changed_keys: list[str]) -> list[str]:
    """The changed keys (dotted paths) that force a replacement, by their top-level property."""
    properties = replace_properties(type_)
    if "*" in properties:
        return list(changed_keys)
    return [key for key in changed_keys if key.split(".", 1)[0].split("[", 1)[0] in properties]
