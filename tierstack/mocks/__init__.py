"""What each cloud's provider would compute, for running the stacks under Pulumi's mocks with
every value resolved: shared by the stack tests and `tierstack boot-script`.

These values are plausible and clearly fake (account 123456789012, project tierstack-dev,
subscription 11111111-...): never a real deployment's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from tierstack.mocks import aws, azure, gcp
from tierstack.mocks.harness import Run, run_stack, stack_config

CLOUDS: dict[str, ModuleType] = {"aws": aws, "gcp": gcp, "azure": azure}


def run_stack_resolved(stack: str, overrides: Mapping[str, Any] | None = None) -> Run:
    """Runs the real program of a stack file under its cloud's mocks (preview=False)."""
    cloud = CLOUDS.get(stack.split("-", 1)[0])
    if cloud is None:
        raise LookupError(f"stack {stack!r} is not named <cloud>-<app> (clouds: aws, gcp, azure)")
    computed: Callable[..., dict[str, Any]] = cloud.computed
    return run_stack(
        stack,
        computed=computed,
        invokes=cloud.INVOKES,
        # The mocks' defaults (region, project) only where the stack file does not say.
        overrides={
            **{k: v for k, v in cloud.CONFIG.items() if k not in stack_config(stack)},
            **(overrides or {}),
        },
    )
