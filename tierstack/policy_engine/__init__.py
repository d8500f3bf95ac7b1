"""Offline CrossGuard: evaluates any Python policy pack against preview records, no Pulumi CLI.

The pack's `__main__.py` runs as the CLI would run it, except that `pulumi_policy.PolicyPack` is
intercepted: instead of serving gRPC and blocking, it hands over the policy objects (`pack`).
They are then called through pulumi-policy's public argument classes (`ResourceValidationArgs`,
`StackValidationArgs`), with the inputs deserialized and proxied exactly as the analyzer does, so
a pack behaves the same here and under `pulumi preview --policy-pack` (`evaluation`).

Policy config is the JSON accepted by `pulumi preview --policy-pack-config`, validated strictly,
plus tierstack's per-environment block (`config`).
"""

from __future__ import annotations

from .config import (
    ENVIRONMENTS,
    ENVIRONMENTS_KEY,
    LEVELS,
    PolicySettings,
    environment,
    load_config,
    resolve_settings,
    validate_config,
)
from .evaluation import evaluate
from .pack import PolicyConfigError, PolicyPackError, PolicyPackInfo, describe, load_pack

__all__ = [
    "ENVIRONMENTS",
    "ENVIRONMENTS_KEY",
    "LEVELS",
    "PolicyConfigError",
    "PolicyPackError",
    "PolicyPackInfo",
    "PolicySettings",
    "describe",
    "environment",
    "evaluate",
    "load_config",
    "load_pack",
    "resolve_settings",
    "validate_config",
]
