"""Loading a policy pack the way the Pulumi CLI runs it, minus the gRPC server: the pack's
`__main__.py` runs with `pulumi_policy.PolicyPack` intercepted, which hands over the policy
objects instead of serving them and blocking."""

from __future__ import annotations

import runpy
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from inspect import signature
from pathlib import Path
from typing import Any

import pulumi_policy
import pulumi_policy.policy as policy_module
import yaml
from pulumi_policy import EnforcementLevel, Policy, StackValidationPolicy

_LOAD_LOCK = threading.Lock()
_POLICY_PACK_SIGNATURE = signature(policy_module.PolicyPack.__init__)


class PolicyPackError(Exception):
    """The pack cannot be loaded, or one of its policies raised while validating."""


class PolicyConfigError(ValueError):
    """The policy config file does not match the pack's schema."""


@dataclass(frozen=True)
class PolicyPackInfo:
    """What `PolicyPack(...)` was called with."""

    name: str
    policies: list[Policy]
    enforcement_level: EnforcementLevel = EnforcementLevel.ADVISORY
    initial_config: Mapping[str, Any] = field(default_factory=dict)


class _PackBuilt(Exception):
    """Raised by the stand-in PolicyPack to stop the pack's __main__ where the real one blocks."""

    def __init__(self, info: PolicyPackInfo) -> None:
        super().__init__(info.name)
        self.info = info


def _stand_in_pack(*args: Any, **kwargs: Any) -> None:
    bound = _POLICY_PACK_SIGNATURE.bind(None, *args, **kwargs)
    values = bound.arguments
    raise _PackBuilt(
        PolicyPackInfo(
            name=values.get("name") or "",
            policies=list(values.get("policies") or []),
            enforcement_level=values.get("enforcement_level") or EnforcementLevel.ADVISORY,
            initial_config=values.get("initial_config") or {},
        )
    )


_PACKS: dict[Path, PolicyPackInfo] = {}


def load_pack(pack_dir: Path) -> PolicyPackInfo:
    """Runs the pack's __main__.py with PolicyPack intercepted; cached per directory."""
    pack_dir = Path(pack_dir).resolve()
    with _LOAD_LOCK:
        if pack_dir not in _PACKS:
            _PACKS[pack_dir] = _load_pack_uncached(pack_dir)
        return _PACKS[pack_dir]


def _load_pack_uncached(pack_dir: Path) -> PolicyPackInfo:
    manifest = pack_dir / "PulumiPolicy.yaml"
    if not manifest.is_file():
        raise PolicyPackError(f"{pack_dir} is not a policy pack: it has no PulumiPolicy.yaml")
    runtime = (yaml.safe_load(manifest.read_text()) or {}).get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise PolicyPackError(f"{manifest}: runtime is {runtime_name!r}; only python packs run")
    entry = pack_dir / "__main__.py"
    if not entry.is_file():
        raise PolicyPackError(f"{pack_dir} has no __main__.py")
    modules_before = set(sys.modules)
    saved = (pulumi_policy.PolicyPack, policy_module.PolicyPack)
    pulumi_policy.PolicyPack = policy_module.PolicyPack = _stand_in_pack  # type: ignore[assignment]
    sys.path.insert(0, str(pack_dir))
    try:
        runpy.run_path(str(entry), run_name="__main__")
    except _PackBuilt as built:
        info = built.info
    else:
        raise PolicyPackError(f"{entry} finished without calling PolicyPack(...)")
    finally:
        pulumi_policy.PolicyPack, policy_module.PolicyPack = saved  # type: ignore[misc]
        sys.path.remove(str(pack_dir))
        _forget_modules_under(pack_dir, modules_before)
    _check_pack(info, entry)
    return info


def _forget_modules_under(pack_dir: Path, keep: set[str]) -> None:
    """Drop the pack's own modules so that another pack with the same module names loads its own."""
    for name in set(sys.modules) - keep:
        origin = getattr(sys.modules[name], "__file__", None)
        if origin and Path(origin).resolve().is_relative_to(pack_dir):
            del sys.modules[name]


def _check_pack(info: PolicyPackInfo, entry: Path) -> None:
    if not info.policies:
        raise PolicyPackError(f"{entry}: PolicyPack has no policies")
    seen: set[str] = set()
    for item in info.policies:
        if not isinstance(item, Policy):
            raise PolicyPackError(f"{entry}: {item!r} is not a pulumi_policy Policy")
        if item.name in seen:
            raise PolicyPackError(f"{entry}: policy name {item.name!r} is used twice")
        seen.add(item.name)


def describe(pack_dir: Path) -> list[dict[str, Any]]:
    """The pack's policies as plain data (id, kind, default level, severity, tags, remediation)."""
    pack = load_pack(pack_dir)
    return [
        {
            "policy": item.name,
            "kind": "stack" if isinstance(item, StackValidationPolicy) else "resource",
            "level": (item.enforcement_level or pack.enforcement_level).value,
            "severity": item.severity.value if item.severity else None,
            "description": item.description,
            "remediation": item.remediation_steps,
            "tags": list(item.tags or []),
        }
        for item in pack.policies
    ]
