"""The offline preview engine's two entry points.

`record_resources` runs a small program in this process (tests and policy unit tests);
`preview` runs a whole Pulumi project's program in a child process, because the Pulumi SDK keeps
process-global state and a crashing or hanging program must not take the caller with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import tierstack
from tierstack.preview.project import Project, ProjectError, load_project, load_stack_config
from tierstack.preview.summary import summarize
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


def _request(
    project: Project, stack: str, policy_pack: Path | None, policy_config: Path | None
) -> dict[str, Any]:
    """What the runner needs for one stack; raises ProjectError for usage errors."""
    config = load_stack_config(project, stack)
    if policy_pack is not None and policy_pack != DEFAULT_POLICY_PACK and not policy_pack.is_dir():
        raise ProjectError(f"policy pack {policy_pack} is not a directory")
    if policy_config is not None and not policy_config.is_file():
        raise ProjectError(f"policy config {policy_config} does not exist")
    return {
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


def _parse(stack: str, project: str, output: str, diagnostics: list[str], exit_text: str):
    try:
        result = json.loads(output)
    except json.JSONDecodeError:
        tail = "\n".join(diagnostics[-20:]) or exit_text
        return _failure(stack, project, f"the preview process crashed:\n{tail}")
    result["diagnostics"] = diagnostics
    return result


def _timed_out(stack: str, project: str) -> dict[str, Any]:
    return _failure(stack, project, f"the program did not finish within {CHILD_TIMEOUT_SECONDS} s")


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
    request = _request(project, stack, policy_pack, policy_config)
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
        return _timed_out(stack, project.name)
    return _parse(
        stack,
        project.name,
        child.stdout,
        child.stderr.splitlines(),
        f"exit status {child.returncode}",
    )


def preview_many(
    project_dir: Path,
    stacks: list[str],
    *,
    jobs: int | None = None,
    policy_pack: Path | None = DEFAULT,
    policy_config: Path | None = None,
) -> list[dict[str, Any]]:
    """Previews several stacks, in the order given, each program in its own process, `jobs` at
    a time (default: one per core). Usage errors are raised before any program runs.

    Where the OS can fork, one zygote process imports pulumi and the providers once and forks
    a process per stack (see `zygote`); elsewhere each stack starts its own interpreter."""
    project = load_project(Path(project_dir))
    requests = [_request(project, stack, policy_pack, policy_config) for stack in stacks]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(stacks) or 1))
    if not requests:
        return []
    if len(requests) > 1 and hasattr(os, "fork"):
        return _preview_in_zygote(project, requests, workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(
                lambda stack: preview(
                    project.directory, stack, policy_pack=policy_pack, policy_config=policy_config
                ),
                stacks,
            )
        )


def _preview_in_zygote(
    project: Project, requests: list[dict[str, Any]], workers: int
) -> list[dict[str, Any]]:
    """Runs the zygote; reads each stack's result and diagnostics from its own files."""
    with tempfile.TemporaryDirectory(prefix="tierstack-preview-") as workdir:
        job = {
            "jobs": workers,
            "timeout": CHILD_TIMEOUT_SECONDS,
            "workdir": workdir,
            "requests": requests,
        }
        zygote = subprocess.Popen(
            [sys.executable, "-m", "tierstack.preview.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=project.program_dir,
            env=_child_env(),
            start_new_session=True,  # its stack processes share its group: one kill ends all
        )
        rounds = -(-len(requests) // workers)
        try:
            output, errors = zygote.communicate(
                json.dumps(job), timeout=CHILD_TIMEOUT_SECONDS * rounds + 60
            )
        except subprocess.TimeoutExpired:
            _stop_group(zygote)
            output, errors = "", "the preview processes did not finish in time"
        try:
            outcomes = json.loads(output)
        except json.JSONDecodeError:
            outcomes = {}
        zygote_tail = "\n".join(errors.splitlines()[-20:]) or f"exit status {zygote.returncode}"
        results = []
        for index, request in enumerate(requests):
            stack, name = request["stack"], request["project"]
            outcome = outcomes.get(str(index))
            if outcome == "timeout":
                results.append(_timed_out(stack, name))
                continue
            if outcome is None:
                crash = f"the preview process crashed:\n{zygote_tail}"
                results.append(_failure(stack, name, crash))
                continue
            log = Path(workdir, f"{index}.log")
            diagnostics = log.read_text(errors="replace").splitlines() if log.is_file() else []
            result_file = Path(workdir, f"{index}.json")
            output = result_file.read_text() if result_file.is_file() else ""
            results.append(_parse(stack, name, output, diagnostics, outcome))
        return results


def _stop_group(zygote: subprocess.Popen) -> None:
    """SIGTERM lets the zygote kill and reap its stack processes; SIGKILL the group if not."""
    zygote.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        zygote.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(zygote.pid, signal.SIGKILL)
    zygote.wait()


__all__ = ["DEFAULT", "ProjectError", "preview", "preview_many", "record_resources", "summarize"]
