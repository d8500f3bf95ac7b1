"""Shared by the policy tests: run a small Pulumi program under the preview's recording mocks,
then evaluate the repo's pack over the records it registered (no hand-made dicts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tierstack import REPO_ROOT
from tierstack.policy_engine import describe, evaluate
from tierstack.preview.engine import record_resources
from tierstack.records import PolicyResult

PACK = REPO_ROOT / "policies"


def tags(env: str = "prod") -> dict[str, str]:
    return {"project": "tierstack", "env": env, "owner": "platform", "cost-center": "cc-42"}


def run(
    program: Callable[[], None], *, config: Path | None = None, stack: str = "test"
) -> list[PolicyResult]:
    records = record_resources(program, stack=stack)
    return evaluate(records, stack=stack, project="test", pack_dir=PACK, config_file=config)


def fired(results: list[PolicyResult], policy_id: str) -> list[PolicyResult]:
    return [result for result in results if result["policy"] == policy_id]


@dataclass(frozen=True)
class Violation:
    """A program that breaks `policy` on the resource named `resource`."""

    policy: str
    program: Callable[[], None]
    resource: str | None  # None for a stack-level result
    case: str = ""

    @property
    def id(self) -> str:
        return f"{self.policy}{'-' + self.case if self.case else ''}"


def assert_violation(violation: Violation) -> None:
    hits = fired(run(violation.program), violation.policy)
    assert hits, f"{violation.policy} did not fire"
    default_level = {item["policy"]: item["level"] for item in describe(PACK)}[violation.policy]
    assert {hit["level"] for hit in hits} == {default_level}
    if violation.resource is None:
        assert any(hit["resource"] is None for hit in hits)
    else:
        suffix = "::" + violation.resource
        assert any((hit["resource"] or "").endswith(suffix) for hit in hits), hits
