"""Every stack in stacks/config passes every mandatory policy of the pack (offline preview).

Parametrized over the stack files present: each cloud's stacks join as they land."""

import pytest

from tierstack import REPO_ROOT
from tierstack.preview.engine import preview

STACK_FILES = sorted((REPO_ROOT / "stacks" / "config").glob("Pulumi.*.yaml"))
STACKS = [path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in STACK_FILES]


@pytest.mark.slow
@pytest.mark.parametrize(
    "stack",
    STACKS
    or [pytest.param(None, marks=pytest.mark.skip(reason="no stack files in stacks/config yet"))],
)
def test_stack_passes_every_mandatory_policy(stack):
    result = preview(REPO_ROOT, stack)
    assert result.get("error") is None, result.get("error")
    mandatory = [
        f"{r['policy']} on {r['resource']}: {r['message']}"
        for r in result["policy"]
        if r["level"] == "mandatory"
    ]
    assert mandatory == []


def test_every_stack_file_is_checked():
    """The parametrization covers exactly the stack files on disk (states how many there are)."""
    on_disk = {path.name for path in (REPO_ROOT / "stacks" / "config").glob("Pulumi.*.yaml")}
    assert {f"Pulumi.{stack}.yaml" for stack in STACKS} == on_disk
