"""policies/README.md's table is generated from the policy objects and must be current."""

import subprocess
import sys

from tests.policies.helpers import PACK
from tierstack.policy_engine import describe


def test_readme_table_is_current():
    check = subprocess.run(
        [sys.executable, str(PACK / "generate_readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_readme_lists_every_policy():
    readme = (PACK / "README.md").read_text()
    for item in describe(PACK):
        assert f"| `{item['policy']}` |" in readme


def test_every_policy_has_the_required_metadata():
    for item in describe(PACK):
        cloud = item["tags"][0]
        assert item["policy"].startswith(f"{cloud}-"), item["policy"]
        assert item["severity"] in {"low", "medium", "high", "critical"}
        assert item["level"] in {"advisory", "mandatory"}
        assert item["description"] and item["remediation"]
        assert len(item["tags"]) == 2
