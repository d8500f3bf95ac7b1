"""The generated tables of stacks/<cloud>/README.md (contract; component → resources) are
current and say what the code does."""

import subprocess
import sys

import pytest

from stacks.common.contract_docs import (
    BEGIN,
    END,
    RESOURCES_BEGIN,
    RESOURCES_END,
    STACKS,
    table,
)
from stacks.common.contracts import COMPONENTS
from tests.stacks.harness import REPO_ROOT


def test_readme_tables_are_current():
    check = subprocess.run(
        [sys.executable, "-m", "stacks.common.contract_docs", "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_table_lists_every_component_with_its_file_and_grant(cloud):
    block = table(cloud)
    readme = (STACKS / cloud / "README.md").read_text()
    assert block in readme and readme.count(BEGIN) == readme.count(END) == 1
    for name, args_name in COMPONENTS.items():
        assert f"| {name} | `{args_name}` |" in block
    # The grant column quotes the cloud's own grant docstring, not a shared text.
    queue_row = next(line for line in block.splitlines() if line.startswith("| Queue |"))
    word = {"aws": "dead-letter queue", "gcp": "subscription", "azure": "Sender or Receiver"}
    assert word[cloud] in queue_row


def _resource_rows(cloud: str) -> dict[str, str]:
    readme = (STACKS / cloud / "README.md").read_text()
    block = readme.split(RESOURCES_BEGIN, 1)[1].split(RESOURCES_END, 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("| ")][1:]  # past the header
    return {line.split(" | ")[0].removeprefix("| "): line for line in rows}


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_every_component_lists_the_resources_its_stacks_create(cloud):
    """The README is current (above), so its rows are what the stacks create under the mocks."""
    rows = _resource_rows(cloud)
    assert list(rows) == list(COMPONENTS)
    for name, row in rows.items():
        assert row.endswith("` |"), f"{cloud} {name} creates no resource in any stack"
    # Each tier joins the load balancer itself: the part that names the group is the tier's.
    joins = {
        "aws": "`autoscaling.Group`",
        "gcp": "`compute.BackendService`",
        "azure": "`compute.VirtualMachineScaleSet`",
    }
    assert joins[cloud] in rows["AppTier"]
    assert joins[cloud] not in rows["LoadBalancer"]
