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
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

import tierstack
from tierstack.preview.environment import Environment, program_environment
from tierstack.preview.project import Project, ProjectError, load_project, load_stack_config
from tierstack.preview.summary import summarize
from tierstack.records import ResourceRecord

DEFAULT_POLICY_PACK = tierstack.REPO_ROOT / "policies"
DEFAULT: Any = DEFAULT_POLICY_PACK  # the default for `policy_pack` in `preview`
CHILD_TIMEOUT_SECONDS = 120  # a stack previews in seconds; a program that loops must end too

# `status` of a result, and the exit code `tierstack preview` gives it. With several stacks the
# worst wins, in this order: usage error, program failed, policy failed, ok.
EXIT_CODES = {"ok": 0, "policy-failed": 1, "usage-error": 2, "program-failed": 3}
_SEVERITY = ["ok", "policy-failed", "program-failed", "usage-error"]

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
        "offlineAnswers": {},
        "summary": summarize([], []),
        "limits": list(LIMITS),
        "diagnostics": [],
        "error": message,
        "errorKind": "program",
    }


def status_of(result: dict[str, Any]) -> str:
    """ok, policy-failed (a mandatory policy), usage-error, or program-failed (the program,
    its environment's process or the policy pack failed: the preview is incomplete)."""
    if result.get("error"):
        return "usage-error" if result.get("errorKind") == "usage" else "program-failed"
    return "policy-failed" if result["summary"]["policy"]["mandatory"] else "ok"


def exit_code(results: list[dict[str, Any]]) -> int:
    """The worst status among `results`, as `tierstack preview` exits with it."""
    worst = max((_SEVERITY.index(status_of(r)) for r in results), default=0)
    return EXIT_CODES[_SEVERITY[worst]]


def load_invoke_answers(path: Path) -> dict[str, dict[str, Any]]:
    """The `--invoke-answers` file: JSON or YAML mapping each invoke token to its result."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except OSError as error:
        raise ProjectError(f"invoke answers {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ProjectError(f"invoke answers {path}: not valid JSON or YAML ({error})") from error
    if not isinstance(data, dict) or not all(
        isinstance(token, str) and isinstance(result, dict) for token, result in data.items()
    ):
        raise ProjectError(
            f"invoke answers {path}: expected a mapping of invoke tokens to results, e.g. "
            "'aws:ec2/getVpc:getVpc: {id: vpc-123, cidrBlock: 10.0.0.0/16}'"
        )
    return data


def _request(
    project: Project,
    stack: str,
    policy_pack: Path | None,
    policy_config: Path | None,
    invoke_answers: dict[str, Any] | None = None,
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
        "invoke_answers": invoke_answers or {},
    }


def _parse(stack: str, project: str, output: str, diagnostics: list[str], exit_text: str):
    try:
        result = json.loads(output)
    except json.JSONDecodeError:
        tail = "\n".join(diagnostics[-20:]) or exit_text
        return _failure(stack, project, f"the preview process crashed:\n{tail}")
    result["diagnostics"] = diagnostics
    return result


def _timed_out(stack: str, project: str, timeout: float) -> dict[str, Any]:
    return _failure(stack, project, f"the program did not finish within {timeout:g} s")


def _child_request(request: dict[str, Any], environment: Environment) -> dict[str, Any]:
    """In the program's own environment there is no policy engine: the parent evaluates."""
    return {**request, "policy_pack": None} if environment.foreign else request


def _finish(
    request: dict[str, Any], result: dict[str, Any], environment: Environment
) -> dict[str, Any]:
    """Policies (when the program ran in its own environment), environment and status."""
    if environment.foreign and request["policy_pack"] and not result.get("error"):
        from tierstack.preview.runner import apply_policy

        apply_policy(request, result)
    result["environment"] = environment.as_json()
    if environment.note and environment.note not in result["limits"]:
        result["limits"].append(environment.note)
    result["status"] = status_of(result)
    return result


def _env_for_child(environment: Environment) -> dict[str, str]:
    env = _child_env()
    if environment.foreign:  # nothing of tierstack's interpreter may leak into the program's
        for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(key, None)
    return env


def preview(
    project_dir: Path,
    stack: str,
    *,
    policy_pack: Path | None = DEFAULT,
    policy_config: Path | None = None,
    invoke_answers: dict[str, Any] | None = None,
    install: bool = False,
    timeout: float | None = None,
    environment: Environment | None = None,
) -> dict[str, Any]:
    """Previews one stack of the Pulumi Python project in `project_dir` in a child process,
    in the environment its Pulumi.yaml names (see `environment`); `install` creates it first.

    Raises ProjectError for usage errors (no project, unknown stack, missing policy pack); a
    failing program is not an exception: the result carries `error` with its trimmed message,
    and `status` says which of ok / policy-failed / program-failed / usage-error it is.
    """
    project = load_project(Path(project_dir))
    request = _request(project, stack, policy_pack, policy_config, invoke_answers)
    if environment is None:
        environment = program_environment(project, install_requirements=install)
    limit = timeout or CHILD_TIMEOUT_SECONDS
    try:
        child = subprocess.run(
            environment.command("tierstack.preview.runner"),
            input=json.dumps(_child_request(request, environment)),
            capture_output=True,
            text=True,
            cwd=project.program_dir,
            env=_env_for_child(environment),
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _finish(request, _timed_out(stack, project.name, limit), environment)
    result = _parse(
        stack,
        project.name,
        child.stdout,
        child.stderr.splitlines(),
        f"exit status {child.returncode}",
    )
    return _finish(request, result, environment)


def preview_many(
    project_dir: Path,
    stacks: list[str],
    *,
    jobs: int | None = None,
    policy_pack: Path | None = DEFAULT,
    policy_config: Path | None = None,
    invoke_answers: dict[str, Any] | None = None,
    install: bool = False,
    timeout: float | None = None,
    on_done: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Previews several stacks, in the order given, each program in its own process, `jobs` at
    a time (default: one per core). Usage errors are raised before any program runs.
    `on_done` hears each stack's name as its preview ends (for the progress display).

    Where the OS can fork, one zygote process imports pulumi and the providers once and forks
    a process per stack (see `zygote`); elsewhere each stack starts its own interpreter."""
    project = load_project(Path(project_dir))
    requests = [
        _request(project, stack, policy_pack, policy_config, invoke_answers) for stack in stacks
    ]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(stacks) or 1))
    if not requests:
        return []
    environment = program_environment(project, install_requirements=install)
    limit = timeout or CHILD_TIMEOUT_SECONDS
    if len(requests) > 1 and hasattr(os, "fork"):
        results = _preview_in_zygote(project, requests, workers, environment, limit, on_done)
        pairs = zip(requests, results, strict=True)
        return [_finish(request, result, environment) for request, result in pairs]

    def one(stack: str) -> dict[str, Any]:
        result = preview(
            project.directory,
            stack,
            policy_pack=policy_pack,
            policy_config=policy_config,
            invoke_answers=invoke_answers,
            timeout=limit,
            environment=environment,
        )
        if on_done:
            on_done(stack)
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, stacks))


def _preview_in_zygote(
    project: Project,
    requests: list[dict[str, Any]],
    workers: int,
    environment: Environment,
    timeout: float,
    on_done: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Runs the zygote; reads each stack's result and diagnostics from its own files."""
    with (
        tempfile.TemporaryDirectory(prefix="tierstack-preview-") as workdir,
        _watch_results(Path(workdir), [r["stack"] for r in requests], on_done),
    ):
        job = {
            "jobs": workers,
            "timeout": timeout,
            "workdir": workdir,
            "requests": [_child_request(request, environment) for request in requests],
        }
        zygote = subprocess.Popen(
            environment.command("tierstack.preview.zygote"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=project.program_dir,
            env=_env_for_child(environment),
            start_new_session=True,  # its stack processes share its group: one kill ends all
        )
        rounds = -(-len(requests) // workers)
        try:
            output, errors = zygote.communicate(json.dumps(job), timeout=timeout * rounds + 60)
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
                results.append(_timed_out(stack, name, timeout))
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


@contextlib.contextmanager
def _watch_results(workdir: Path, stacks: list[str], on_done: Callable[[str], None] | None) -> Any:
    """Calls `on_done` as the zygote's children write their results (`<index>.json`)."""
    if on_done is None:
        yield
        return
    stop = threading.Event()
    seen: set[int] = set()

    def scan() -> None:
        for index, stack in enumerate(stacks):
            if index not in seen and (workdir / f"{index}.json").is_file():
                seen.add(index)
                on_done(stack)

    def watch() -> None:
        while not stop.wait(0.2):
            scan()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        scan()


def _stop_group(zygote: subprocess.Popen) -> None:
    """SIGTERM lets the zygote kill and reap its stack processes; SIGKILL the group if not."""
    zygote.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        zygote.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(zygote.pid, signal.SIGKILL)
    zygote.wait()


__all__ = [
    "DEFAULT",
    "EXIT_CODES",
    "ProjectError",
    "exit_code",
    "load_invoke_answers",
    "preview",
    "preview_many",
    "record_resources",
    "status_of",
    "summarize",
]
