"""The cross-cloud contract (stacks/common/contracts.py): every cloud exports the same component
classes with the same Args, and each component, built by the real program under the cloud's
mocks (preview=False), exposes what its contract declares, as resolved values, and registers
every declared output under the same name. A cloud that renames a method, drops an attribute or
forgets an output fails here, whichever cloud it is."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pulumi
import pytest

import stacks.common.args as args_module
from stacks.blueprints.settings import parse_settings
from stacks.common.contracts import (
    COMPONENTS,
    CONTRACTS,
    Grantable,
    Principal,
    declared_attributes,
    declared_outputs,
)
from stacks.program import deploy
from tests.stacks.harness import run_pulumi, stack_config
from tierstack.mocks import aws as aws_mocks
from tierstack.mocks import azure as azure_mocks
from tierstack.mocks import gcp as gcp_mocks

CLOUDS = ("aws", "gcp", "azure")
MOCKS: dict[str, ModuleType] = {"aws": aws_mocks, "gcp": gcp_mocks, "azure": azure_mocks}
APPS = ("mapreduce", "cloud-drive", "iot-gateway")
"""Together these blueprints use every component kind (a test below checks it)."""
MISSING = "<not registered>"


@dataclass
class Built:
    """One component the program built: the instance, its declared values and what it
    registered with register_outputs, both resolved."""

    component: pulumi.ComponentResource
    declared: dict[str, Any]
    registered: dict[str, Any]


@pytest.fixture(scope="module")
def built() -> Callable[[str], list[Built]]:
    """Runs the real program for each cloud's APPS stacks once (per test process)."""
    cache: dict[str, list[Built]] = {}

    def build(cloud: str) -> list[Built]:
        if cloud not in cache:
            cache[cloud] = [item for app in APPS for item in _run(cloud, f"{cloud}-{app}")]
        return cache[cloud]

    return build


def _run(cloud: str, stack: str) -> list[Built]:
    components: list[tuple[pulumi.ComponentResource, dict[str, Any]]] = []
    original = pulumi.ComponentResource.register_outputs

    def recording(self: pulumi.ComponentResource, outputs: Any) -> None:
        if type(self).__module__.startswith(f"stacks.{cloud}."):  # not the root Stack
            components.append((self, dict(outputs)))
        original(self, outputs)

    mocks = MOCKS[cloud]
    config = {**stack_config(stack)}

    def program() -> Any:
        deploy(parse_settings(config), stack)
        snapshot = []
        for component, registered in components:
            contract = CONTRACTS.get(type(component).__name__)
            if contract is None:
                snapshot.append({"declared": {}, "registered": {}})
                continue
            names = declared_outputs(contract)
            snapshot.append(
                {
                    "declared": {name: getattr(component, name, MISSING) for name in names},
                    "registered": {name: registered.get(name, MISSING) for name in names},
                }
            )
        return snapshot

    pulumi.ComponentResource.register_outputs = recording  # type: ignore[method-assign]
    try:
        run = run_pulumi(
            program,
            computed=mocks.computed,
            invokes=getattr(mocks, "INVOKES", {}),
            config=config,
            stack=stack,
        )
    finally:
        pulumi.ComponentResource.register_outputs = original  # type: ignore[method-assign]
    return [
        Built(component, values["declared"], values["registered"])
        for (component, _), values in zip(components, run.result, strict=True)
    ]


def _of_kind(items: list[Built], kind: str) -> Iterator[Built]:
    return (item for item in items if type(item.component).__name__ == kind)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_component_class_exists_with_its_args(cloud: str) -> None:
    module = importlib.import_module(f"stacks.{cloud}")
    exported = {
        name
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, pulumi.ComponentResource)
    }
    assert exported == set(COMPONENTS), f"{cloud} exports {sorted(exported ^ set(COMPONENTS))}"
    for name, args_name in COMPONENTS.items():
        cls = getattr(module, name)
        assert issubclass(cls, pulumi.ComponentResource), name
        parameters = list(inspect.signature(cls.__init__).parameters)
        assert parameters == ["self", "name", "args", "opts"], f"{cloud} {name}: {parameters}"
        hints = typing.get_type_hints(cls.__init__)
        assert hints["args"] is getattr(args_module, args_name), f"{cloud} {name}"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_grant_has_one_signature_on_every_cloud(cloud: str) -> None:
    module = importlib.import_module(f"stacks.{cloud}")
    expected = inspect.signature(Grantable.grant)
    for name, contract in CONTRACTS.items():
        if Grantable not in contract.__mro__:
            continue
        grant = getattr(getattr(module, name), "grant", None)
        assert grant is not None, f"{cloud} {name} has no grant"
        assert list(inspect.signature(grant).parameters) == list(expected.parameters), (
            f"{cloud} {name}.grant{inspect.signature(grant)} differs from the contract's "
            f"grant{expected}"
        )
        hints = typing.get_type_hints(grant)
        assert (hints["principal"], hints["access"]) == (Principal, args_module.Access), name


HELPER_COMPONENTS: dict[str, set[str]] = {"azure": {"PrivateEndpoint"}}
"""Components a cloud builds inside its contract components (no contract of their own)."""


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_stacks_build_every_component_kind(cloud: str, built) -> None:
    kinds = {type(item.component).__name__ for item in built(cloud)}
    expected = set(COMPONENTS) | HELPER_COMPONENTS.get(cloud, set())
    assert kinds == expected, sorted(expected ^ kinds)


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("kind", sorted(CONTRACTS))
def test_component_conforms_to_its_contract(cloud: str, kind: str, built) -> None:
    contract = CONTRACTS[kind]
    items = list(_of_kind(built(cloud), kind))
    assert items, f"no {kind} built on {cloud}"
    for item in items:
        component = item.component
        where = f"{cloud} {kind} {component.pulumi_resource_name}"
        missing = [a for a in declared_attributes(contract) if not hasattr(component, a)]
        assert not missing, f"{where} lacks {missing}"
        assert isinstance(component, contract), where
        assert component.logical_name == component.pulumi_resource_name, where
        for name, value in item.declared.items():
            optional = type(None) in typing.get_args(typing.get_type_hints(contract)[name])
            assert value is not None or optional, f"{where}.{name} resolved to None"
            if value is not None:
                assert isinstance(value, str) and value, f"{where}.{name} = {value!r}"


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("kind", sorted(CONTRACTS))
def test_component_registers_its_declared_outputs(cloud: str, kind: str, built) -> None:
    for item in _of_kind(built(cloud), kind):
        where = f"{cloud} {kind} {item.component.pulumi_resource_name}"
        assert item.registered == item.declared, f"{where} registers other outputs"
        assert MISSING not in item.registered.values(), where


def test_backend_urls_name_the_cloud_service(built) -> None:
    """The same kind yields the cloud's own URL scheme: the values are real, not placeholders."""
    schemes = {
        "aws": {"ObjectStore": "s3://", "Queue": "sqs://", "KeyValueTable": "dynamodb://"},
        "gcp": {"ObjectStore": "gs://", "Queue": "pubsub://", "KeyValueTable": "firestore://"},
        "azure": {
            "ObjectStore": "azblob://",
            "Queue": "servicebus://",
            "KeyValueTable": "aztable://",
        },
    }
    for cloud, expected in schemes.items():
        for kind, scheme in expected.items():
            urls = [item.declared["backend_url"] for item in _of_kind(built(cloud), kind)]
            assert urls and all(url.startswith(scheme) for url in urls), (cloud, kind, urls)
