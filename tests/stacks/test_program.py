"""The program's entry point: bad config stops it with one line, before any resource."""

import pulumi
import pytest

from stacks.program import main
from tests.stacks.harness import run_pulumi


def test_bad_config_stops_with_the_key_named() -> None:
    with pytest.raises(pulumi.RunError, match="tierstack:app must be one of") as caught:
        run_pulumi(
            main, computed=lambda *_: {}, config={"tierstack:cloud": "aws", "tierstack:app": "blog"}
        )
    assert "\n" not in str(caught.value)


def test_unknown_key_stops_before_any_resource() -> None:
    config = {"tierstack:cloud": "aws", "tierstack:app": "cloud-drive", "tierstack:sizeing": "{}"}
    with pytest.raises(pulumi.RunError, match="tierstack:sizeing is not a tierstack setting"):
        run_pulumi(main, computed=lambda *_: {}, config=config)
