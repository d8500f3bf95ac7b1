"""The child process of `tierstack preview`: runs one stack's program and prints one JSON result.

Reads the request (built by `engine.preview`) from stdin. The program's own prints and logs go
to stderr; the result is the only thing written to stdout.
"""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import json
import logging
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

import tierstack
from tierstack.preview.summary import summarize

_OWN_CODE = (Path(tierstack.__file__).resolve().parent,)

# The oldest Pulumi Python SDK the engine runs under (tested: tests/tierstack/test_environments.py).
MIN_PULUMI_VERSION = "3.100.0"


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(char for char in part if char.isdigit()) or "0"
        parts.append(int(digits))
    return tuple(parts)


def sdk_problem() -> str | None:
    """Why this interpreter cannot run the engine (no or too old a Pulumi SDK), if it cannot."""
    try:
        version = importlib.metadata.version("pulumi")
    except importlib.metadata.PackageNotFoundError:
        return f"the program's environment ({sys.prefix}) has no pulumi package: pass --install"
    if _version_tuple(version) < _version_tuple(MIN_PULUMI_VERSION):
        return (
            f"the program's environment has pulumi {version}; the offline preview needs "
            f"{MIN_PULUMI_VERSION} or newer: upgrade pulumi in its requirements"
        )
    return None


def _is_user_frame(filename: str, project_dir: Path) -> bool:
    if filename.startswith("<"):  # <frozen runpy>, <string>: never the user's file
        return False
    path = Path(filename).resolve()
    if "site-packages" in path.parts or any(path.is_relative_to(own) for own in _OWN_CODE):
        return False
    return path.is_relative_to(project_dir)


def exception_chain(error: BaseException) -> list[BaseException]:
    """`error` and the exceptions it was raised from, each once. The chain can loop: the
    Pulumi SDK re-raises a failed invoke `from` itself, so its `__cause__` is itself."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _user_frames(error: BaseException, project_dir: Path) -> list[traceback.FrameSummary]:
    frames: list[traceback.FrameSummary] = []
    seen: set[tuple[str, int | None]] = set()
    for current in exception_chain(error):
        for frame in traceback.extract_tb(current.__traceback__):
            key = (frame.filename, frame.lineno)
            if key not in seen and _is_user_frame(frame.filename, project_dir):
                seen.add(key)
                frames.append(frame)
    for frame in frames:
        frame.filename = os.path.relpath(frame.filename, project_dir)
    return frames


def trim_error(error: BaseException, project_dir: Path) -> str:
    """The exception's message with only the program's own frames (not the SDK's, not ours):
    what a user needs to find the failing line of their program."""
    frames = _user_frames(error, project_dir)
    lines = traceback.format_exception_only(type(error), error)
    message = "".join(lines).strip().removeprefix(type(error).__module__ + ".")
    if not frames:
        return message
    return "".join(traceback.format_list(frames)).rstrip() + "\n" + message


def error_location(error: BaseException, project_dir: Path) -> str | None:
    """`file:line` of the program's innermost frame in the failure, if any."""
    frames = _user_frames(error, project_dir)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None


def _evaluate_policy(request: dict[str, Any], resources: list[Any]) -> tuple[list, str | None]:
    """Policy results, or why none were computed (a note, not an error)."""
    if request["policy_pack"] is None:
        return [], None
    try:
        policy_engine = importlib.import_module("tierstack.policy_engine")
    except ModuleNotFoundError as missing:
        if missing.name != "tierstack.policy_engine":
            raise
        return [], "policy engine not installed: no policy results"
    config = Path(request["policy_config"]) if request["policy_config"] else None
    results = policy_engine.evaluate(
        resources,
        stack=request["stack"],
        project=request["project"],
        pack_dir=Path(request["policy_pack"]),
        config_file=config,
    )
    return list(results), None


def apply_policy(request: dict[str, Any], result: dict[str, Any]) -> None:
    """Adds the policy results (or the pack's failure) to a program's successful result. Runs
    where tierstack's own packages are: in the preview process, or in the parent when the
    program ran in its own environment (which has no policy engine)."""
    limits = result["limits"]
    try:
        result["policy"], note = _evaluate_policy(request, result["resources"])
    except Exception as error:  # a broken pack or config fails the preview, saying so
        is_config = type(error).__name__ == "PolicyConfigError"
        result["errorKind"] = "usage" if is_config else "policy"
        where = "policy config" if is_config else "policy pack"
        result["error"] = f"{where}: " + trim_error(error, Path(request["policy_pack"]))
        note = None
    if note:
        limits.append(note)
    result["summary"] = summarize(result["resources"], result["policy"])


def _answers_note(invokes: dict[str, str]) -> str:
    answered = ", ".join(f"{token} ({source})" for token, source in sorted(invokes.items()))
    return f"offline answers (fake, stable values) stand in for provider functions: {answered}"


def run(request: dict[str, Any]) -> dict[str, Any]:
    from tierstack.preview.monitor import run_program  # pulumi: imported after tune_gc()

    project_dir = Path(request["project_dir"])
    sys.path.insert(0, request["program_dir"])
    main = request["main"]
    recording = run_program(
        lambda: runpy.run_path(main, run_name="__main__"),
        project=request["project"],
        stack=request["stack"],
        config=request["config"],
        secret_keys=request["secret_keys"],
        preview=True,
        root_directory=str(project_dir),
        invoke_answers=request.get("invoke_answers"),
    )
    limits = list(request["limits"])
    if request["undecryptable"]:
        limits.append(
            "secure config values cannot be decrypted offline; the program saw the "
            f"placeholder as a secret: {', '.join(request['undecryptable'])}"
        )
    if recording.reads:
        reads = ", ".join(f"{r['type']} {r['name']}" for r in recording.reads)
        limits.append(f"existing resources read by the program have no state offline: {reads}")
    if recording.invokes:
        limits.append(_answers_note(recording.invokes))
    result: dict[str, Any] = {
        "stack": request["stack"],
        "project": request["project"],
        "resources": recording.resources,
        "outputs": recording.outputs,
        "policy": [],
        "offlineAnswers": dict(sorted(recording.invokes.items())),
        "limits": limits,
        "sources": recording.sources,
    }
    if recording.error is not None:
        result["error"] = trim_error(recording.error, project_dir)
        result["errorKind"] = "program"
        result["errorAt"] = error_location(recording.error, project_dir)
        site = recording.call_sites.get(getattr(recording.error, "token", None) or "")
        if result["errorAt"] is None and site is not None and site.lineno is not None:
            site.filename = os.path.relpath(site.filename, project_dir)
            result["errorAt"] = f"{site.filename}:{site.lineno}"
            result["error"] = "".join(traceback.format_list([site])) + result["error"]
        result["summary"] = summarize(recording.resources, [])
    else:
        apply_policy(request, result)
    return result


def unusable(request: dict[str, Any], problem: str) -> dict[str, Any]:
    return {
        "stack": request["stack"],
        "project": request["project"],
        "resources": [],
        "outputs": {},
        "policy": [],
        "offlineAnswers": {},
        "limits": list(request["limits"]),
        "summary": summarize([], []),
        "error": problem,
        "errorKind": "usage",
    }


def tune_gc() -> None:
    """A preview process is short-lived and allocates millions of long-lived objects (mostly
    the classes of provider SDKs while importing them); the default collector thresholds spend
    ~20 % of its CPU walking them. Collections stay on, only far rarer."""
    gc.set_threshold(200_000, 100, 100)


def main() -> int:
    tune_gc()
    request = json.load(sys.stdin)
    problem = sdk_problem()
    if problem is not None:
        json.dump(unusable(request, problem), sys.stdout)
        return 0
    result_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything the program prints (even from C) goes to stderr
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("tierstack.preview").setLevel(logging.INFO)  # the program's pulumi.log
    result = run(request)
    with result_stream:
        json.dump(result, result_stream)
    return 0


def exit_now(code: int) -> None:
    """Ends the process without the interpreter's teardown: after a provider SDK is imported,
    freeing its hundreds of thousands of objects one by one takes ~0.5 s, and nothing is left
    to clean up (the result is written, the program's threads are the SDK's)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
