"""Runs Pulumi code under the SDK's mocks with preview=False, so every `.apply` runs and values
resolve: the tests assert on them, and `tierstack boot-script` prints the user data a stack
renders (with preview=True, an `.apply` on an unknown output never runs).

Each cloud's conftest supplies `computed(type, name, inputs)` — the outputs a provider would
compute (arn, id, selfLink, ...) — and the invokes it answers; an invoke nobody answers raises,
so a program never runs on silent Nones.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import MockMonitor

Computed = Callable[[str, str, dict[str, Any]], dict[str, Any]]
Invoke = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownInvoke(RuntimeError):
    """The program called a data source the test's mocks do not answer."""


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent_urn: str
    urn: str
    custom: bool
    ignore_changes: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    """The URNs its aliases name (where it was before a move), computed as the mocks make URNs."""


@dataclass
class Run:
    """Everything one program run registered, plus the values it returned, resolved."""

    resources: list[Registered] = field(default_factory=list)
    result: Any = None

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {len(found)}"
        return found[0]

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def children_of(self, urn: str) -> list[Registered]:
        return [r for r in self.resources if r.parent_urn == urn]

    def walk(self) -> Iterator[Registered]:
        yield from self.resources


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, computed: Computed, invokes: Mapping[str, Invoke]) -> None:
        self.computed = computed
        self.invokes = invokes

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = {**args.inputs, **self.computed(args.typ, args.name, dict(args.inputs))}
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        answer = self.invokes.get(args.token)
        if answer is None:
            raise UnknownInvoke(f"no mock answers the invoke {args.token}")
        return answer(dict(args.args)), []


class _RecordingMonitor(MockMonitor):
    """Sees each RegisterResource request, so tests can check parents as well as inputs."""

    def __init__(self, mocks: _Mocks, run: Run) -> None:
        super().__init__(mocks)
        self.run = run

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources.get(response.urn)
            self.run.resources.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    inputs=dict(pulumi.runtime.rpc.deserialize_properties(request.object)),
                    outputs=dict(registration.state) if registration else {},
                    parent_urn=request.parent,
                    urn=response.urn,
                    custom=bool(request.custom),
                    ignore_changes=list(request.ignoreChanges),
                    aliases=[self._alias_urn(alias, request) for alias in request.aliases],
                )
            )
        return response

    def _alias_urn(self, alias: Any, request: Any) -> str:
        """The engine's reading of an alias spec: unset fields default to the resource's own."""
        if alias.urn:
            return str(alias.urn)
        spec = alias.spec
        if spec.stack or spec.project:
            raise NotImplementedError("aliases across stacks or projects are not recorded")
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)


def run_pulumi(
    program: Callable[[], Any],
    *,
    computed: Computed,
    invokes: Mapping[str, Invoke] | None = None,
    config: Mapping[str, Any] | None = None,
    project: str = "tierstack",
    stack: str = "test",
    secret_keys: Sequence[str] = (),
) -> Run:
    """Runs `program` (which declares resources and may return outputs) and waits for
    everything; `Run.result` holds what it returned, fully resolved."""
    run = Run()
    mocks = _Mocks(computed, invokes or {})
    pulumi.runtime.set_all_config(
        {k: _config_value(v) for k, v in (config or {}).items()}, secret_keys=list(secret_keys)
    )
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, monitor=_RecordingMonitor(mocks, run)
    )

    @pulumi.runtime.test
    def execute() -> pulumi.Output[Any]:
        returned = program()
        return pulumi.Output.from_input(returned).apply(lambda value: setattr(run, "result", value))

    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    execute()
    return run


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_CONFIG_DIR = REPO_ROOT / "stacks" / "config"


def stack_names(cloud: str | None = None) -> list[str]:
    """Stacks that have a config file, optionally only one cloud's."""
    names = sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in STACK_CONFIG_DIR.glob("Pulumi.*.yaml")
    )
    return [n for n in names if cloud is None or n.startswith(f"{cloud}-")]


def stack_config(stack: str) -> dict[str, Any]:
    """The stack file's config map, as the Pulumi CLI would hand it to the program."""
    document = yaml.safe_load((STACK_CONFIG_DIR / f"Pulumi.{stack}.yaml").read_text()) or {}
    return dict(document.get("config") or {})


def run_stack(
    stack: str,
    *,
    computed: Computed,
    invokes: Mapping[str, Invoke] | None = None,
    overrides: Mapping[str, Any] | None = None,
    secret_keys: Sequence[str] = (),
) -> Run:
    """Runs the real program (stacks.program.deploy) for a stack file; Run.result = its outputs."""
    from stacks.blueprints.settings import parse_settings
    from stacks.program import deploy

    config = {**stack_config(stack), **(overrides or {})}

    def program() -> Any:
        return deploy(parse_settings(config), stack)

    return run_pulumi(
        program,
        computed=computed,
        invokes=invokes,
        config=config,
        stack=stack,
        secret_keys=secret_keys,
    )


def inventory(run: Run, key_properties: Mapping[str, list[str]]) -> dict[str, Any]:
    """Resource counts by type plus the key values per resource (cloud-foundation-fabric style).

    key_properties maps a resource type to dotted input paths worth pinning (e.g.
    "aws:ec2/launchTemplate:LaunchTemplate": ["metadataOptions.httpTokens"])."""
    values: dict[str, dict[str, Any]] = {}
    for resource in run.resources:
        paths = key_properties.get(resource.type)
        if not paths:
            continue
        picked = {path: _dig(resource.inputs, path) for path in paths}
        values[f"{resource.type}::{resource.name}"] = picked
    return {
        "counts": run.counts(),
        "total": len(run.resources),
        "values": dict(sorted(values.items())),
    }


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value
