"""Fixtures for the Azure stack tests. The outputs azure-native, random and tls would compute,
and the one invoke the program may call, live in tierstack/mocks/azure.py, shared with
`tierstack boot-script`; anything else raises, so no value silently resolves to None."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.stacks.harness import Run, run_pulumi, run_stack
from tierstack.mocks.azure import (  # noqa: F401  (re-exported for the tests)
    FROM_DOMAIN,
    INVOKES,
    SUBSCRIPTION,
    TENANT,
    computed,
)


@pytest.fixture
def run_azure() -> Callable[..., Run]:
    """Runs a small program under the Azure mocks."""

    def run(program: Callable[[], Any], **kwargs: Any) -> Run:
        return run_pulumi(program, computed=computed, invokes=INVOKES, **kwargs)

    return run


@pytest.fixture
def run_azure_stack() -> Callable[..., Run]:
    """Runs the real program for an Azure stack file under the Azure mocks."""

    def run(stack: str, **kwargs: Any) -> Run:
        return run_stack(stack, computed=computed, invokes=INVOKES, **kwargs)

    return run


def make_context(app: str = "image-processing", stack: str = "azure-test", **config: Any):
    """A StackContext from tierstack config keys (camelCase, without the namespace)."""
    from stacks.blueprints.settings import parse_settings
    from stacks.common.args import StackContext

    raw = {"tierstack:cloud": "azure", "tierstack:app": app, "azure-native:location": "westeurope"}
    raw |= {f"tierstack:{key}": value for key, value in config.items()}
    return StackContext(settings=parse_settings(raw), stack=stack)


PROD = {
    "env": "prod",
    "certificate": "https://example-kv.vault.azure.net/secrets/web-cert",
    "repoRef": "0123456789abcdef0123456789abcdef01234567",  # prod pulls an exact commit
}


def with_network(context, build):
    """A program that creates the stack's Network and hands it to `build` (Azure components
    take it in their Args)."""
    from stacks.azure import Network
    from stacks.common.args import NetworkArgs

    def program():
        return build(Network("network", NetworkArgs(context, "10.40.0.0/16")))

    return program
