"""The offline preview engine's two entry points.

`record_resources` runs a small program in this process (tests and policy unit tests);
`preview` runs a whole Pulumi project's program in a child process, because the Pulumi SDK keeps
process-global state and a crashing or hanging program must not take the caller with it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import tierstack
from tierstack.preview.project import ProjectError, load_project, load_stack_config
from tierstack.records import ResourceRecord

DEFAULT_POLICY_PACK = tierstack.REPO_ROOT / "policies"
DEFAULT: Any = DEFAULT_POLICY_PACK  # the default for `policy_pack` in `preview`
CHILD_TIMEOUT_SECONDS = 600

# Credentials never reach the program: the preview must work (and be safe) without them.
_CREDENTIAL_ENV = re.compile(
    r"^(AWS_|GOOGLE_|GCLOUD_|CLOUDSDK_|ARM_|AZURE_|PULUMI_|GITHUB_TOKEN|ACTIONS_)"
    r"|TOKEN|SECRET|PASSWORD|CREDENTIAL"
)

LIMITS = [
    "offline preview: the program ran under a mock engine with no cloud account",
    "every resource is shown as new: there is no diff against real state",
    "provider defaults and computed values (ids, ARNs, IPs) are unknown until a real deployment",
]


def record_resources(
    program: Callable[[], None],
    *,
    project: str = "test",
    stack: str = "test",
    config: dict[str, str] | None = None,
    preview: bool = True,
) -> list[ResourceRecord]:
    """Runs `program` in this process under the recording mock monitor and returns every
    resource it registered (the root stack, components and custom resources)."""
    from tierstack.preview.monitor import run_program

    recording = run_program(program, project=project, stack=stack, config=config, preview=preview)
    if recording.error is not None:
        raise recording.error
    return recording.resources


def _child_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not _CREDENTIAL_ENV.search(key)}


def _failure(stack: str, project: str, message: str) -> dict[str, Any]:
    return {
        "stack": stack,
        "project": project,
        "resources": [],
        "outputs": {},
        "policy": [],
        "summary": summarize([], []),
        "limits": list(LIMITS),
        "diagnostics": [],
        "error": message,
        "errorKind": "program",
    }


def summarize(resources: list[ResourceRecord], policy: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by type and by kind, and policy results by level."""
    by_type: dict[str, int] = {}
    for record in resources:
        by_type[record["type"]] = by_type.get(record["type"], 0) + 1
    return {
        "resources": len(resources),
        "custom": sum(1 for r in resources if r["custom"]),
        "components": sum(1 for r in resources if not r["custom"]),
        "byType": dict(sorted(by_type.items())),
        "policy": {
            level: sum(1 for result in policy if result["level"] == level)
            for level in ("mandatory", "advisory")
        },
    }


def preview(
    project_dir: Path,
    stack: str,
    *,
    policy_pack: Path | None = DEFAULT,
    policy_config: Path | None = None,
) -> dict[str, Any]:
    """Previews one stack of the Pulumi Python project in `project_dir` in a child process.

    Raises ProjectError for usage errors (no project, unknown stack, missing policy pack); a
    failing program is not an exception: the result carries `error` with its trimmed message.
    """
    project = load_project(Path(project_dir))
    config = load_stack_config(project, stack)
    if policy_pack is not None and policy_pack != DEFAULT_POLICY_PACK and not policy_pack.is_dir():
        raise ProjectError(f"policy pack {policy_pack} is not a directory")
    if policy_config is not None and not policy_config.is_file():
        raise ProjectError(f"policy config {policy_config} does not exist")
    request = {
        "project": project.name,
        "project_dir": str(project.directory),
        "main": str(project.main),
        "program_dir": str(project.program_dir),
        "stack": stack,
        "config": config.values,
        "secret_keys": config.secret_keys,
        "undecryptable": config.undecryptable,
        "policy_pack": str(policy_pack) if policy_pack and policy_pack.is_dir() else None,
        "policy_config": str(policy_config) if policy_config else None,
        "limits": LIMITS,
    }
    try:
        child = subprocess.run(
            [sys.executable, "-m", "tierstack.preview.runner"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=project.program_dir,
            env=_child_env(),
            timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failure(
            stack, project.name, f"the program did not finish within {CHILD_TIMEOUT_SECONDS} s"
        )
    diagnostics = child.stderr.splitlines()
    try:
        result = json.loads(child.stdout)
    except json.JSONDecodeError:
        tail = "\n".join(diagnostics[-20:]) or f"exit status {child.returncode}"
        return _failure(stack, project.name, f"the preview process crashed:\n{tail}")
    result["diagnostics"] = diagnostics
    return result


def preview_many(
    project_dir: Path,
    stacks: list[str],
    *,
    jobs: int | None = None,
    policy_pack: Path | None = DEFAULT,
    policy_config: Path | None = None,
) -> list[dict[str, Any]]:
    """Previews several stacks, each in its own process, `jobs` at a time (default: one per
    core). Usage errors are raised before any program runs."""
    project = load_project(Path(project_dir))
    for stack in stacks:
        load_stack_config(project, stack)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(stacks) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(
                lambda stack: preview(
                    project.directory, stack, policy_pack=policy_pack, policy_config=policy_config
                ),
                stacks,
            )
        )


__all__ = ["DEFAULT", "ProjectError", "preview", "preview_many", "record_resources", "summarize"]
