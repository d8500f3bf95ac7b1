"""The child process of `tierstack preview`: runs one stack's program and prints one JSON result.

Reads the request (built by `engine.preview`) from stdin. The program's own prints and logs go
to stderr; the result is the only thing written to stdout.
"""

from __future__ import annotations

import gc
import importlib
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


def _is_user_frame(filename: str, project_dir: Path) -> bool:
    if filename.startswith("<"):  # <frozen runpy>, <string>: never the user's file
        return False
    path = Path(filename).resolve()
    if "site-packages" in path.parts or any(path.is_relative_to(own) for own in _OWN_CODE):
        return False
    return path.is_relative_to(project_dir)


def trim_error(error: BaseException, project_dir: Path) -> str:
    """The exception's message with only the program's own frames (not the SDK's, not ours):
    what a user needs to find the failing line of their program."""
    frames: list[traceback.FrameSummary] = []
    seen: set[tuple[str, int | None]] = set()
    current: BaseException | None = error
    while current is not None:
        for frame in traceback.extract_tb(current.__traceback__):
            key = (frame.filename, frame.lineno)
            if key not in seen and _is_user_frame(frame.filename, project_dir):
                seen.add(key)
                frames.append(frame)
        current = current.__cause__ or current.__context__
    for frame in frames:
        frame.filename = os.path.relpath(frame.filename, project_dir)
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    if not frames:
        return message
    return "".join(traceback.format_list(frames)).rstrip() + "\n" + message


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
    result: dict[str, Any] = {
        "stack": request["stack"],
        "project": request["project"],
        "resources": recording.resources,
        "outputs": recording.outputs,
        "policy": [],
    }
    if recording.error is not None:
        result["error"] = trim_error(recording.error, project_dir)
        result["errorKind"] = "program"
    else:
        try:
            result["policy"], note = _evaluate_policy(request, recording.resources)
        except Exception as error:  # a broken pack or config fails the preview, saying so
            is_config = type(error).__name__ == "PolicyConfigError"
            result["errorKind"] = "usage" if is_config else "policy"
            where = "policy config" if is_config else "policy pack"
            result["error"] = f"{where}: " + trim_error(error, Path(request["policy_pack"]))
            note = None
        if note:
            limits.append(note)
    result["summary"] = summarize(recording.resources, result["policy"])
    result["limits"] = limits
    return result


def tune_gc() -> None:
    """A preview process is short-lived and allocates millions of long-lived objects (mostly
    the classes of provider SDKs while importing them); the default collector thresholds spend
    ~20 % of its CPU walking them. Collections stay on, only far rarer."""
    gc.set_threshold(200_000, 100, 100)


def main() -> int:
    tune_gc()
    request = json.load(sys.stdin)
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
