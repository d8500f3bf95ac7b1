"""Fixtures for the AWS component tests. The outputs AWS would compute for each resource type
(a type not known there raises, so no resource slips in with silent None outputs) live in
tierstack/mocks/aws.py, shared with `tierstack boot-script`."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.blueprints.settings import Settings, parse_settings
from stacks.common.args import StackContext
from tierstack.mocks.aws import (  # noqa: F401  (re-exported for the tests)
    ACCOUNT,
    COMPUTED,
    MOCK_APP_SECRET_SEED,
    MOCK_DB_APP_PASSWORD,
    MOCK_DB_PASSWORD,
    NO_COMPUTED,
    REGION,
    _arn,
    computed,
)


def make_context(**config: Any) -> StackContext:
    """A StackContext from tierstack: config keys (dev image-processing unless overridden)."""
    raw = {"tierstack:cloud": "aws", "tierstack:app": "image-processing", "aws:region": REGION}
    raw.update({f"tierstack:{key}": value for key, value in config.items()})
    settings: Settings = parse_settings(raw)
    return StackContext(settings=settings, stack="test")


@pytest.fixture
def context() -> StackContext:
    return make_context()


@pytest.fixture
def prod_context() -> StackContext:
    return make_context(
        env="prod",
        certificate=_arn("acm", "certificate/prod-cert-0001"),
        alertEmail="ops@x.io",
        repoRef="0123456789abcdef0123456789abcdef01234567",
    )
