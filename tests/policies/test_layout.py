"""The pack's layout: one module per cloud and family, each holding exactly the policies tagged
with that cloud and family, loaded in a fixed order; a misplaced, duplicated or missing
declaration stops the pack from loading instead of silently dropping or doubling a policy."""

import importlib
import shutil
import sys
from pathlib import Path

import pytest

from tests.policies.helpers import PACK
from tierstack.policy_engine import describe, load_pack

PACKAGE = PACK / "tierstack_policies"


@pytest.fixture
def pack():
    """The pack's package imported directly (and forgotten afterwards, as the engine does)."""
    before = set(sys.modules)
    sys.path.insert(0, str(PACK))
    try:
        yield importlib.import_module("tierstack_policies")
    finally:
        sys.path.remove(str(PACK))
        for name in set(sys.modules) - before:
            if name.partition(".")[0] == "tierstack_policies":
                del sys.modules[name]


def test_each_family_module_holds_exactly_its_cloud_and_family(pack):
    registry = importlib.import_module("tierstack_policies.registry")
    in_modules = []
    for cloud in registry.CLOUDS:
        for family, module_name in registry.FAMILY_MODULES.items():
            module = importlib.import_module(f"tierstack_policies.{cloud}.{module_name}")
            policies = module.family.policies
            assert policies, f"{cloud}/{module_name}.py declares no policy"
            for item in policies:
                assert list(item.tags) == [cloud, family], item.name
                assert item.name.startswith(f"{cloud}-"), item.name
            in_modules += [item.name for item in policies]
    assert in_modules == [item["policy"] for item in describe(PACK)]
    assert len(in_modules) == len(set(in_modules)) == 86


def test_every_cloud_has_the_same_modules(pack):
    registry = importlib.import_module("tierstack_policies.registry")
    expected = {*registry.FAMILY_MODULES.values(), "__init__", "types"}
    for cloud in registry.CLOUDS:
        assert {path.stem for path in (PACKAGE / cloud).glob("*.py")} == expected


def test_no_module_is_over_400_lines():
    sizes = {
        str(path.relative_to(PACK)): len(path.read_text().splitlines())
        for path in PACK.rglob("*.py")
    }
    assert len(sizes) > 40
    assert {name: size for name, size in sizes.items() if size > 400} == {}


def _broken_copy(tmp_path: Path, module: str, edit) -> Path:
    copy = tmp_path / "pack"
    shutil.copytree(PACK, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "tierstack_policies" / module
    edit(target)
    return copy


def _append(text: str):
    return lambda path: path.write_text(path.read_text() + text)


def _replace(old: str, new: str):
    def edit(path: Path) -> None:
        source = path.read_text()
        assert old in source
        path.write_text(source.replace(old, new))

    return edit


DUPLICATE = """
family.resource(
    "aws-ec2-instance-type-allowed",
    severity="low",
    level="advisory",
    types=[],
    description="again",
    remediation="none",
)(lambda props, config, type_: [])
"""


@pytest.mark.parametrize(
    ("module", "edit", "error", "message"),
    [
        (
            "aws/cost.py",
            _append(DUPLICATE),
            ValueError,
            "aws-ec2-instance-type-allowed is declared twice",
        ),
        (
            "aws/cost.py",
            _replace('Family("aws", "cost")', 'Family("aws", "reliability")'),
            ValueError,
            "tierstack_policies.aws.cost declares aws/reliability, not aws/cost",
        ),
        (
            "gcp/identity.py",
            _replace('"gcp-iam-no-primitive-roles"', '"aws-iam-no-primitive-roles"'),
            ValueError,
            "aws-iam-no-primitive-roles does not start with gcp-",
        ),
        ("azure/queues.py", Path.unlink, ModuleNotFoundError, "tierstack_policies.azure.queues"),
    ],
    ids=["duplicate-id", "wrong-family", "wrong-cloud", "missing-module"],
)
def test_a_misdeclared_policy_stops_the_pack(tmp_path, module, edit, error, message):
    broken = _broken_copy(tmp_path, module, edit)
    with pytest.raises(error, match=message):
        load_pack(broken)
