"""The contract tables of stacks/<cloud>/README.md are generated from the code and current."""

import subprocess
import sys

import pytest

from stacks.common.contract_docs import BEGIN, END, STACKS, table
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
