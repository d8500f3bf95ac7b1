"""The zygote behind `preview_many`: imports the heavy modules once, then forks one process per
stack, so several stacks share the 2-3 s that importing pulumi and a provider SDK costs.

Each stack's program still runs in its own forked process, with fresh Pulumi runtime state and
nothing of another stack's program: the zygote itself never runs a program and never imports
the project's own modules (they may declare resources when imported). It learns what to import:
when a stack's process ends, it reports the third-party modules (site-packages only) it
imported, and the zygote imports those before the next fork, so later stacks start warm.

Protocol (with `engine.preview_many`): a JSON job on stdin, `{"jobs", "timeout", "workdir",
"requests": [runner requests]}`; stack i writes its result to `<workdir>/<i>.json` and everything
its program prints to `<workdir>/<i>.log`. The zygote prints one JSON object on stdout: for each
index, "ok", "timeout", or how the process ended ("exit 3", "signal 9").
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import logging
import os
import signal
import site
import sys
import sysconfig
import time
import traceback
import types
from pathlib import Path
from typing import Any

from tierstack.preview import runner

POLL_SECONDS = 0.01


class _Stop(Exception):
    """SIGTERM from the parent: stop every stack process, reap it, exit."""


def _third_party_roots() -> tuple[str, ...]:
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    with contextlib.suppress(AttributeError):  # virtualenv's old site.py lacks it
        paths.update(site.getsitepackages())
    return tuple(str(Path(path).resolve()) + os.sep for path in paths)


def third_party_modules(names: list[str], roots: tuple[str, ...]) -> list[str]:
    """The names (in import order) of the modules loaded from site-packages: safe to import
    ahead of time. The project's own modules never qualify, even if it lives around the venv.
    Neither do modules only registered for lazy loading (pulumi SDKs register every service
    module that way) and never used: their type is a ModuleType subclass until loaded."""
    chosen = []
    for name in names:
        module = sys.modules.get(name)
        if type(module) is not types.ModuleType or name == "__main__":
            continue
        origin = getattr(module, "__file__", None)
        if origin and os.path.realpath(origin).startswith(roots):
            chosen.append(name)
    return chosen


def load_module(name: str) -> None:
    """Imports `name` as `import a.b.c` would, and finishes loading lazily registered packages
    on the way first: importing a submodule under a still-lazy package makes the package load
    in the middle of it and star-import a half-initialised module (losing its names)."""
    parts = name.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        module = sys.modules.get(prefix) or importlib.import_module(prefix)
        if type(module) is not types.ModuleType:
            hasattr(module, "__tierstack_load__")  # any attribute read loads a lazy module


class Zygote:
    """Forks at most `jobs` stack processes at a time and learns imports from each one."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.requests: list[dict[str, Any]] = job["requests"]
        self.jobs = max(1, int(job["jobs"]))
        self.timeout = float(job["timeout"])
        self.workdir = Path(job["workdir"])
        self.roots = _third_party_roots()
        self.failed_imports: set[str] = set()
        self.outcomes: dict[int, str] = {}
        self.running: dict[int, tuple[int, float]] = {}  # pid -> (index, deadline)
        self.learned: set[frozenset[str]] = set()  # provider sets a finished stack taught
        self.to_learn: list[int] = []  # finished stacks whose imports are not learned yet

    def providers(self, index: int) -> frozenset[str]:
        """The stack's provider set, from its config namespaces (aws:, gcp:, azure-native:):
        stacks with the same set import about the same provider modules."""
        request = self.requests[index]
        return frozenset(
            key.split(":", 1)[0]
            for key in request["config"]
            if ":" in key and not key.startswith(request["project"] + ":")
        )

    def next_stack(self, pending: list[int], *, cold_only: bool = False) -> int | None:
        """Which pending stack to fork. A stack whose providers nobody has imported yet goes
        first (its cold import overlaps the others' work); then stacks whose providers the
        zygote has learned; a second stack importing the same providers cold only rather than
        leave a core idle. `cold_only` while lessons are waiting to be learned: only stacks
        those lessons cannot help."""
        busy = {self.providers(index) for index, _ in self.running.values()}
        busy |= {self.providers(index) for index in self.to_learn}
        untouched = [i for i in pending if self.providers(i) not in busy | self.learned]
        warm = [i for i in pending if self.providers(i) in self.learned]
        choice = untouched[:1] or ([] if cold_only else warm[:1] or pending[:1])
        if not choice:
            return None
        pending.remove(choice[0])
        return choice[0]

    def fill(self, pending: list[int], *, cold_only: bool = False) -> None:
        while pending and len(self.running) < self.jobs:
            index = self.next_stack(pending, cold_only=cold_only)
            if index is None:
                return
            self.fork(index)

    def warm_up(self) -> None:
        """What every stack needs: pulumi's runtime (the monitor) and the policy pack."""
        importlib.import_module("tierstack.preview.monitor")
        packs = {request["policy_pack"] for request in self.requests if request["policy_pack"]}
        if not packs:
            return
        policy_engine = importlib.import_module("tierstack.policy_engine")
        for pack in packs:
            with contextlib.suppress(Exception):  # a broken pack is reported by each stack
                policy_engine.load_pack(Path(pack))

    def learn(self, index: int) -> None:
        """Imports what stack `index` imported from site-packages and the zygote has not."""
        listing = self.workdir / f"{index}.modules"
        if not listing.is_file():
            return
        for name in listing.read_text(encoding="utf-8").split():
            module = sys.modules.get(name)
            if type(module) is types.ModuleType or name in self.failed_imports:
                continue
            try:
                load_module(name)
            except Exception:  # a module that only imports in context: skip it
                self.failed_imports.add(name)

    def fork(self, index: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # keep the shared pages shared: the child's collector never touches them
        pid = os.fork()
        if pid == 0:
            _stack_process(self.requests[index], self.workdir, index, self.roots)
        self.running[pid] = (index, time.monotonic() + self.timeout)

    def reap(self) -> None:
        """Collects finished processes and kills the ones past their deadline."""
        while self.running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            index, _ = self.running.pop(pid)
            self.outcomes.setdefault(index, _describe(status))
            self.to_learn.append(index)
        now = time.monotonic()
        for pid, (index, deadline) in list(self.running.items()):
            if now > deadline:
                self.outcomes[index] = "timeout"
                os.kill(pid, signal.SIGKILL)

    def run(self) -> dict[int, str]:
        pending = list(range(len(self.requests)))
        try:
            while pending or self.running:
                self.reap()
                self.fill(pending, cold_only=True)  # free cores first, then learn
                while self.to_learn:
                    index = self.to_learn.pop(0)
                    self.learn(index)
                    self.learned.add(self.providers(index))
                self.fill(pending)
                if self.running:
                    time.sleep(POLL_SECONDS)
        finally:
            self.stop_all()
        return self.outcomes

    def stop_all(self) -> None:
        """Leaves no process behind: kills and reaps whatever still runs."""
        for pid in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in list(self.running):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.running.pop(pid)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    code = os.waitstatus_to_exitcode(status)
    return "ok" if code == 0 else f"exit {code}"


def _stack_process(request: dict[str, Any], workdir: Path, index: int, roots: tuple) -> None:
    """The forked process of one stack: runs it like `runner.main` and never returns."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(request["program_dir"])  # one zygote may serve two trees (report: base, head)
        before = set(sys.modules)
        log = os.open(workdir / f"{index}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)  # the program's prints are diagnostics, as in the one-process path
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        result = runner.run(request)
        partial = workdir / f"{index}.json.partial"
        partial.write_text(json.dumps(result), encoding="utf-8")
        partial.rename(workdir / f"{index}.json")
        new = [name for name in sys.modules if name not in before]
        (workdir / f"{index}.modules").write_text(
            "\n".join(third_party_modules(new, roots)), encoding="utf-8"
        )
        code = 0
    except BaseException:  # the traceback is this stack's diagnostics
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # no atexit handlers or thread joins inherited from the zygote


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise _Stop


def main() -> int:
    job = json.load(sys.stdin)
    signal.signal(signal.SIGTERM, _on_sigterm)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("tierstack.preview").setLevel(logging.INFO)
    runner.tune_gc()
    zygote = Zygote(job)
    problem = runner.sdk_problem()
    if problem is not None:  # the program's environment cannot run the engine: say so per stack
        for index, request in enumerate(zygote.requests):
            result = json.dumps(runner.unusable(request, problem))
            (zygote.workdir / f"{index}.json").write_text(result, encoding="utf-8")
        json.dump({str(index): "ok" for index in range(len(zygote.requests))}, sys.stdout)
        return 0
    try:
        zygote.warm_up()
        outcomes = zygote.run()
    except _Stop:
        return 143
    json.dump({str(index): outcome for index, outcome in outcomes.items()}, sys.stdout)
    return 0


if __name__ == "__main__":
    runner.exit_now(main())  # no teardown of every provider SDK imported
