"""The recording mock monitor: runs a Pulumi Python program in this process with the SDK's own
mock machinery and keeps every RegisterResource request as a ResourceRecord.

The SDK's `MockMonitor` deserialises inputs before handing them to `Mocks.new_resource`, which
turns unknown values into None and unwraps secrets. This monitor reads the raw request instead,
so unknowns and secrets keep their markers, and in preview mode it echoes the inputs back as the
resource's state: inputs stay known, computed outputs (ids, ARNs…) stay unknown, as in a real
`pulumi preview` of a new stack.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi.runtime
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockCallArgs, MockEngine, MockMonitor, Mocks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from tierstack.preview.invokes import UnknownInvokeError, resolve_invoke
from tierstack.records import SECRET, UNKNOWN, ResourceRecord

STACK_TYPE = "pulumi:pulumi:Stack"

_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig
_ASSET_SIG = rpc._special_asset_sig
_ARCHIVE_SIG = rpc._special_archive_sig
_OUTPUT_VALUE_SIG = rpc._special_output_value_sig


@dataclass
class Recording:
    """What one program run registered: resources in registration order, stack outputs, and
    the resources it only read (`Resource.get`, stack references), which offline cannot see."""

    resources: list[ResourceRecord] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    reads: list[dict[str, str]] = field(default_factory=list)
    invokes: dict[str, str] = field(default_factory=dict)  # token -> who answered it offline
    call_sites: dict[str, traceback.FrameSummary] = field(default_factory=dict)  # output form
    unanswered: list[UnknownInvokeError] = field(default_factory=list)
    # (type, name, parent type, parent name) → the program's file and line that declared it
    declared_at: dict[tuple[str, str, str | None, str | None], tuple[str, int]] = field(
        default_factory=dict
    )
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # urn → {file, line}
    error: BaseException | None = None  # what the program raised, if it failed


def tree_order(records: list[ResourceRecord]) -> list[ResourceRecord]:
    """Parents before children, siblings by (type, name): registrations arrive from the SDK's
    worker threads in no fixed order, and snapshots and diffs need a stable one."""
    children: dict[str | None, list[ResourceRecord]] = {}
    urns = {record["urn"] for record in records}
    for record in records:
        parent = record["parent"] if record["parent"] in urns else None
        children.setdefault(parent, []).append(record)
    ordered: list[ResourceRecord] = []
    stack = sorted(children.get(None, []), key=lambda r: (r["type"], r["name"]), reverse=True)
    while stack:
        record = stack.pop()
        ordered.append(record)
        kids = children.get(record["urn"], [])
        stack.extend(sorted(kids, key=lambda r: (r["type"], r["name"]), reverse=True))
    return ordered


def to_plain(value: Any) -> Any:
    """Turns a wire value (from a protobuf Struct) into plain JSON-able data with tierstack's
    UNKNOWN and SECRET markers; resource references become the referenced urn."""
    if isinstance(value, str):
        return UNKNOWN if value == rpc.UNKNOWN else value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if not isinstance(value, dict):
        return value
    signature = value.get(_SIG)
    if signature == _SECRET_SIG:
        return SECRET
    if signature == _RESOURCE_SIG:
        return value.get("urn", UNKNOWN)
    if signature == _ASSET_SIG:
        return {"asset": {k: to_plain(v) for k, v in value.items() if k != _SIG}}
    if signature == _ARCHIVE_SIG:
        return {"archive": {k: to_plain(v) for k, v in value.items() if k != _SIG}}
    if signature == _OUTPUT_VALUE_SIG:
        if value.get("secret"):
            return SECRET
        return to_plain(value["value"]) if "value" in value else UNKNOWN
    return {key: to_plain(value[key]) for key in sorted(value)}  # wire maps have no order


def _struct_to_plain(struct: Any) -> dict[str, Any]:
    return to_plain(json_format.MessageToDict(struct, preserving_proto_field_name=True))


class _InvokeMocks(Mocks):
    """Answers invokes from the answers file or the built-in offline table, noting which;
    `new_resource` serves only non-preview runs and reads, where the inputs are returned as
    the state."""

    def __init__(self, recording: Recording, answers: dict[str, Any] | None) -> None:
        self.recording = recording
        self.answers = answers or {}

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        try:
            result, source = resolve_invoke(args.token, args.args, self.answers)
        except UnknownInvokeError as error:
            # Answered as the provider's own failure, so that the SDK raises it in the
            # program's frame (its file and line), not in a worker thread of the runtime.
            self.recording.unanswered.append(error)
            return {}, [("", str(error))]
        self.recording.invokes.setdefault(args.token, source)
        return result, []

    def new_resource(self, args: Any) -> tuple[str, dict]:
        return f"{args.name}-id", dict(args.inputs)


class RecordingMonitor(MockMonitor):
    """A MockMonitor that records every registration and the stack's outputs."""

    def __init__(
        self,
        *,
        preview: bool,
        invoke_answers: dict[str, Any] | None = None,
        project: str | None = None,
        stack: str | None = None,
    ) -> None:
        self.recording = Recording()
        super().__init__(_InvokeMocks(self.recording, invoke_answers))
        self.preview = preview
        # Kept here, not read from the SDK's settings: before pulumi 3.1xx those were context
        # variables, unset in the worker threads that call the monitor.
        self.project = project
        self.stack = stack
        self._lock = threading.Lock()
        self._stack_urn = ""

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the real engine builds them: children of the root stack carry no parent
        type (the SDK's mock prefixes `pulumi:pulumi:Stack$`), deeper ones do."""
        if parent and parent != self._stack_urn:
            type_ = parent.split("::")[2] + "$" + type_
        stack = self.stack or settings.get_stack()
        project = self.project or settings.get_project()
        return "urn:pulumi:" + "::".join([stack, project, type_, name])

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        record: ResourceRecord = {
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "parent": request.parent or None,
            "custom": bool(request.custom),
            "inputs": _struct_to_plain(request.object),
            "dependencies": list(request.dependencies),
            "propertyDependencies": {
                key: list(request.propertyDependencies[key].urns)
                for key in sorted(request.propertyDependencies)
            },
        }
        parent_type, parent_name = None, None
        if request.parent and request.parent != self._stack_urn:
            parent_type = request.parent.split("::")[2].split("$")[-1]
            parent_name = request.parent.rsplit("::", 1)[1]
        key = (request.type, request.name, parent_type, parent_name)
        with self._lock:
            self.recording.resources.append(record)
            where = self.recording.declared_at.get(key)
            if where is not None:
                self.recording.sources[urn] = {"file": where[0], "line": where[1]}
        if request.type == STACK_TYPE:
            self._stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        if not self.preview:
            return super().RegisterResource(request)
        # Preview: a new resource has no id yet, and its state is what the program asked for.
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, "", {})
        state = _state_shaped_like_outputs(request.type, request.object)
        return resource_pb2.RegisterResourceResponse(urn=urn, id="", object=state)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self._stack_urn:
            with self._lock:
                self.recording.outputs = _struct_to_plain(request.outputs)
        return super().RegisterResourceOutputs(request)

    def ReadResource(self, request: Any) -> Any:
        with self._lock:
            self.recording.reads.append({"type": request.type, "name": request.name})
        return super().ReadResource(request)


def _state_shaped_like_outputs(type_: str, inputs: struct_pb2.Struct) -> struct_pb2.Struct:
    """Echoed inputs must still fit the output types. azure-native takes
    identity.userAssignedIdentities as a list of ids but returns a map keyed by id (the provider
    converts it); without the same conversion the SDK rejects the echoed state."""
    if not type_.startswith("azure-native:") or "identity" not in inputs.fields:
        return inputs
    identity = inputs.fields["identity"]
    if identity.WhichOneof("kind") != "struct_value":
        return inputs
    assigned = identity.struct_value.fields.get("userAssignedIdentities")
    if assigned is None or assigned.WhichOneof("kind") != "list_value":
        return inputs
    state = struct_pb2.Struct()
    state.CopyFrom(inputs)
    by_id = state.fields["identity"].struct_value.fields["userAssignedIdentities"].struct_value
    by_id.Clear()
    for value in assigned.list_value.values:
        if value.WhichOneof("kind") == "string_value":
            by_id.fields[value.string_value].struct_value.SetInParent()
    return state


def qualify_config(config: dict[str, Any] | None, project: str) -> dict[str, str]:
    """Gives keys without a namespace the project's (Pulumi's rule for project config)."""
    return {
        (key if ":" in key else f"{project}:{key}"): value for key, value in (config or {}).items()
    }


def _reset_runtime(
    monitor: Any, *, project: str, stack: str, preview: bool, root_directory: str | None
) -> None:
    """Puts the SDK's process-global state (settings, root stack, config) into a fresh state.

    Built with the public `Settings` constructor, passing only the arguments this SDK version
    takes, so that one engine serves every supported Pulumi SDK (see MIN_PULUMI_VERSION)."""
    engine = MockEngine(logging.getLogger("tierstack.preview")) if monitor else None
    wanted = {
        "project": project,
        "stack": stack,
        "monitor": monitor,
        "engine": engine,
        "dry_run": preview,
        "organization": "organization",
        "root_directory": root_directory,
    }
    accepted = inspect.signature(settings.Settings.__init__).parameters
    fresh = settings.Settings(**{key: value for key, value in wanted.items() if key in accepted})
    if hasattr(monitor, "GetDeploymentInfo") and hasattr(fresh, "monitor_features"):
        fresh.monitor_features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
    settings.configure(fresh)
    settings.ROOT.set(None)


def _as_unknown_invoke(error: BaseException, unanswered: list[UnknownInvokeError]) -> BaseException:
    """The SDK reports an unanswered invoke as a plain `Exception("invoke of T failed: …")`;
    the program failed because of our UnknownInvokeError, which says how to answer it. Raised
    from the SDK's exception, which keeps the program's frames."""
    for unknown in unanswered:
        if str(unknown) in str(error):
            unknown.__cause__ = error
            return unknown
    return error


def _program_frame() -> traceback.FrameSummary | None:
    """The innermost caller outside the SDKs and tierstack: the program's line."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename
        if not name.startswith("<") and "site-packages" not in name and _OWN not in name:
            return frame
    return None


_OWN = str(Path(__file__).resolve().parent.parent)


@contextlib.contextmanager
def _noting_call_sites(recording: Recording) -> Iterator[None]:
    """An output-form invoke (`get_vpc_output`) runs after the program's line has returned, so
    its failure has no frame of the program: note where each token was called instead."""
    originals = {}
    for name in ("invoke_output", "invoke_output_single"):
        original = getattr(pulumi.runtime, name, None)
        if original is None:
            continue

        @functools.wraps(original)
        def noting(tok: str, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            frame = _program_frame()
            if frame is not None:
                recording.call_sites.setdefault(tok, frame)
            return __original(tok, *args, **kwargs)

        originals[name] = original
        setattr(pulumi.runtime, name, noting)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(pulumi.runtime, name, original)


@contextlib.contextmanager
def _noting_sources(recording: Recording, root: str | None) -> Iterator[None]:
    """Registration is asynchronous: the monitor never sees the program's frame. A resource's
    constructor runs in it, so note there the innermost frame inside the project (the line of
    the component that declared the resource), for SARIF results and the like."""
    if root is None:
        yield
        return
    project = Path(root).resolve()
    original = pulumi.Resource.__init__

    @functools.wraps(original)
    def noting(self: Any, t: str, name: str, *args: Any, **kwargs: Any) -> None:
        opts = kwargs.get("opts", args[2] if len(args) > 2 else None)
        parent = getattr(opts, "parent", None)
        key = (t, name, getattr(parent, "_type", None), getattr(parent, "_name", None))
        frame = sys._getframe(1)
        while frame is not None:
            filename = frame.f_code.co_filename
            path = Path(filename)
            # A component's own constructor is not where it was declared: its caller is.
            inside = not (filename.startswith("<") or "site-packages" in path.parts)
            inside = inside and _OWN not in filename and frame.f_locals.get("self") is not self
            if inside and path.resolve().is_relative_to(project):
                relative = path.resolve().relative_to(project).as_posix()
                recording.declared_at.setdefault(key, (relative, frame.f_lineno))
                break
            frame = frame.f_back
        original(self, t, name, *args, **kwargs)

    pulumi.Resource.__init__ = noting  # type: ignore[method-assign]
    try:
        yield
    finally:
        pulumi.Resource.__init__ = original  # type: ignore[method-assign]


def run_program(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = True,
    root_directory: str | None = None,
    invoke_answers: dict[str, Any] | None = None,
) -> Recording:
    """Runs `program` like the Python language host does (inside a new root Stack) against a
    RecordingMonitor. A failing program does not raise: its exception is in `.error`, next to
    what it registered before failing."""
    monitor = RecordingMonitor(
        preview=preview, invoke_answers=invoke_answers, project=project, stack=stack
    )
    _reset_runtime(
        monitor, project=project, stack=stack, preview=preview, root_directory=root_directory
    )
    pulumi_config.set_all_config(
        {key: str(value) for key, value in qualify_config(config, project).items()},
        list(secret_keys or []),
    )
    recording = monitor.recording
    try:
        with _noting_call_sites(recording), _noting_sources(recording, root_directory):
            _sync_await(run_in_stack(program))
    except (Exception, SystemExit) as error:
        recording.error = _as_unknown_invoke(error, recording.unanswered)
    finally:
        _reset_runtime(None, project="project", stack="stack", preview=False, root_directory=None)
        pulumi_config.set_all_config({}, [])
    recording.resources = tree_order(recording.resources)
    return recording
