"""Programs that only run in their own virtualenv, as the Pulumi CLI runs them: one pinned to an
older provider major version (pulumi-tls 4, where tierstack ships 5), one using a provider
tierstack does not ship (pulumi-command, uv toolchain), and the oldest Pulumi SDK the engine
claims (runner.MIN_PULUMI_VERSION). `--install` creates each venv with uv from PyPI, once per
test session (uv's cache makes a re-run take seconds); policies are evaluated back in
tierstack's own process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tierstack.preview.runner import MIN_PULUMI_VERSION

from .conftest import run_cli, write

pytestmark = pytest.mark.skipif(shutil.which("uv") is None, reason="--install needs uv")

TLS4_PROGRAM = """
import pulumi
import pulumi_tls as tls

key = tls.PrivateKey("key", algorithm="RSA", rsa_bits=2048)
cert = tls.SelfSignedCert(
    "cert",
    key_algorithm="RSA",  # removed in pulumi-tls 5
    private_key_pem=key.private_key_pem,
    validity_period_hours=24,
    allowed_uses=["server_auth"],
    subject={"common_name": "example.com"},
)
pulumi.export("certificate", cert.cert_pem)
"""

# pulumi-tls 4 imports pkg_resources, which setuptools 81 removed.
TLS4_REQUIREMENTS = "pulumi>=3.100,<4\npulumi-tls>=4.10,<5\nsetuptools<81\n"

COMMAND_PROGRAM = """
import pulumi
from pulumi_command import local

config = pulumi.Config()
for index in range(config.require_int("hosts")):
    local.Command(f"ping-{index}", create=f"ping -c1 host-{index}")
"""

COMMAND_PYPROJECT = """
[project]
name = "command-demo"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["pulumi>=3.150,<4", "pulumi-command>=1,<2"]
"""

COMMAND_PACK = """
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def no_local_commands(args, report_violation):
    if args.resource_type == "command:local:Command":
        report_violation("local commands run on the deployer: " + args.props["create"])


PolicyPack(
    name="commands",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name="no-local-commands", description="no commands",
                                       validate=no_local_commands)],
)
"""

OLDEST_PROGRAM = """
import pulumi
import pulumi_random as random

config = pulumi.Config()


class Names(pulumi.ComponentResource):
    def __init__(self, name, length, opts=None):
        super().__init__("oldsdk:index:Names", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.pet = random.RandomPet(f"{name}-pet", length=length, prefix="app", opts=child)
        self.suffix = random.RandomString(
            f"{name}-suffix", length=6, special=False, keepers={"pet": self.pet.id}, opts=child
        )
        self.register_outputs({})


vpc = pulumi.runtime.invoke("aws:ec2/getVpc:getVpc", {"default": True}).value
names = Names("web", length=config.require_int("petLength"))
pulumi.export("vpc", vpc["id"])
pulumi.export("token", config.require_secret("token"))
pulumi.export("pet", names.pet.id)
"""

VENV_PROJECT = "name: {name}\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n"
UV_PROJECT = "name: {name}\nruntime:\n  name: python\n  options:\n    toolchain: uv\n"


def project(root: Path, settings: str, program: str, stacks: dict[str, str]) -> Path:
    write(root / "Pulumi.yaml", settings)
    write(root / "__main__.py", program)
    for stack, config in stacks.items():
        write(root / f"Pulumi.{stack}.yaml", config)
    return root


def preview_json(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    done = run_cli("preview", "--cwd", str(root), "--json", *args)
    return done, json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture(scope="session")
def tls4(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = project(
        tmp_path_factory.mktemp("tls4"),
        VENV_PROJECT.format(name="tls4"),
        TLS4_PROGRAM,
        {"dev": "config: {}\n"},
    )
    write(root / "requirements.txt", TLS4_REQUIREMENTS)
    done, result = preview_json(root, "-s", "dev", "--no-policy", "--install")
    assert done.returncode == 0, done.stderr
    return root, result


@pytest.fixture(scope="session")
def command_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = project(
        tmp_path_factory.mktemp("command"),
        UV_PROJECT.format(name="command-demo"),
        COMMAND_PROGRAM,
        {"dev": "config:\n  command-demo:hosts: 2\n", "prod": "config:\n  command-demo:hosts: 3\n"},
    )
    write(root / "pyproject.toml", COMMAND_PYPROJECT)
    return root


@pytest.fixture(scope="session")
def command_installed(command_project: Path) -> Path:
    done = run_cli("preview", "--cwd", str(command_project), "-s", "dev", "--install", "--json")
    assert done.returncode in (0, 1), done.stderr
    return command_project


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {record["name"]: record for record in result["resources"]}


def test_older_provider_major_previews_in_its_own_venv(tls4: tuple[Path, Any]) -> None:
    root, result = tls4
    assert result["status"] == "ok" and "error" not in result
    assert result["summary"]["byType"] == {
        "pulumi:pulumi:Stack": 1,
        "tls:index/privateKey:PrivateKey": 1,
        "tls:index/selfSignedCert:SelfSignedCert": 1,
    }
    cert = by_name(result)["cert"]["inputs"]
    assert (cert["keyAlgorithm"], cert["subject"]) == ("RSA", {"commonName": "example.com"})
    environment = result["environment"]
    assert environment["own"] is True
    assert environment["python"] == str(root / "venv" / "bin" / "python")
    version = subprocess.run(
        [
            environment["python"],
            "-c",
            "import importlib.metadata as m; print(m.version('pulumi_tls'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.startswith("4.")


def test_the_venv_is_reused_without_install(tls4: tuple[Path, Any]) -> None:
    root, first = tls4
    done, result = preview_json(root, "-s", "dev", "--no-policy")
    assert done.returncode == 0, done.stderr
    assert "installing" not in done.stderr
    assert result["resources"] == first["resources"]


def test_the_same_program_fails_with_tierstacks_sdks(
    tls4: tuple[Path, Any], tmp_path: Path
) -> None:
    """Without its venv the program meets pulumi-tls 5, where key_algorithm is gone: exit 3."""
    root, _ = tls4
    plain = project(
        tmp_path, "name: tls4\nruntime: python\n", TLS4_PROGRAM, {"dev": "config: {}\n"}
    )
    done, result = preview_json(plain, "-s", "dev", "--no-policy")
    assert done.returncode == 3
    assert result["status"] == "program-failed" and result["environment"]["own"] is False
    assert result["errorAt"] == "__main__.py:5"
    assert "unexpected keyword argument 'key_algorithm'" in done.stderr
    assert (root / "venv").is_dir()


def test_a_provider_tierstack_does_not_ship_with_policies_in_tierstack(
    command_installed: Path, tmp_path: Path
) -> None:
    write(tmp_path / "pack" / "PulumiPolicy.yaml", "runtime: python\n")
    write(tmp_path / "pack" / "__main__.py", COMMAND_PACK)
    pack = ("--policy-pack", str(tmp_path / "pack"))
    done, result = preview_json(command_installed, "-s", "dev", *pack)
    assert done.returncode == 1, done.stderr
    assert result["status"] == "policy-failed"
    assert result["environment"]["python"] == str(command_installed / ".venv" / "bin" / "python")
    assert result["summary"]["byType"] == {"command:local:Command": 2, "pulumi:pulumi:Stack": 1}
    messages = sorted(p["message"] for p in result["policy"])
    assert messages == [
        "local commands run on the deployer: ping -c1 host-0",
        "local commands run on the deployer: ping -c1 host-1",
    ]
    done, result = preview_json(command_installed, "-s", "dev", "--no-policy")
    assert (done.returncode, result["status"], result["policy"]) == (0, "ok", [])


def test_all_stacks_run_in_the_programs_own_venv(command_installed: Path) -> None:
    done, results = preview_json(command_installed, "--all", "--no-policy")
    assert done.returncode == 0, done.stderr
    counts = {r["stack"]: r["summary"]["byType"]["command:local:Command"] for r in results}
    assert counts == {"dev": 2, "prod": 3}
    assert {r["environment"]["own"] for r in results} == {True}


def test_a_named_venv_that_is_missing_falls_back_with_a_note(
    command_project: Path, tmp_path: Path
) -> None:
    root = project(
        tmp_path,
        UV_PROJECT.format(name="command-demo"),
        COMMAND_PROGRAM,
        {"dev": "config:\n  command-demo:hosts: 1\n"},
    )
    done, result = preview_json(root, "-s", "dev", "--no-policy")
    assert done.returncode == 3
    note, failure = done.stderr.strip().splitlines()
    assert note.startswith("tierstack: note: the uv toolchain (.venv) named by Pulumi.yaml")
    assert "pass --install" in note
    assert failure.endswith("ModuleNotFoundError: No module named 'pulumi_command'")
    assert result["environment"]["own"] is False
    assert any("does not exist" in limit for limit in result["limits"])


def test_install_without_requirements_is_a_usage_error(tmp_path: Path) -> None:
    root = project(
        tmp_path, VENV_PROJECT.format(name="bare"), "import pulumi\n", {"dev": "config: {}\n"}
    )
    done = run_cli("preview", "--cwd", str(root), "-s", "dev", "--install")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "--install: no requirements.txt or pyproject.toml" in line


@pytest.fixture(scope="session")
def oldest_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = project(
        tmp_path_factory.mktemp("oldest-sdk"),
        VENV_PROJECT.format(name="oldsdk"),
        OLDEST_PROGRAM,
        {
            "dev": "config:\n  aws:region: ap-south-1\n  oldsdk:petLength: '3'\n"
            "  oldsdk:token:\n    secure: AAABAcipherText\n"
        },
    )
    write(
        root / "requirements.txt",
        f"pulumi=={MIN_PULUMI_VERSION}\npulumi-random==4.15.0\nsetuptools<81\n",
    )
    return root


def test_the_engine_runs_under_the_oldest_pulumi_sdk_it_claims(oldest_sdk: Path) -> None:
    done, result = preview_json(oldest_sdk, "-s", "dev", "--install")
    assert done.returncode == 0, done.stderr
    python = result["environment"]["python"]
    version = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('pulumi'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == MIN_PULUMI_VERSION
    stack = "urn:pulumi:dev::oldsdk::pulumi:pulumi:Stack::oldsdk-dev"
    names = "urn:pulumi:dev::oldsdk::oldsdk:index:Names::web"
    pet = "urn:pulumi:dev::oldsdk::oldsdk:index:Names$random:index/randomPet:RandomPet::web-pet"
    records = by_name(result)
    assert [r["urn"] for r in result["resources"]][:2] == [stack, names]
    assert (records["web-pet"]["urn"], records["web-pet"]["parent"]) == (pet, names)
    assert records["web-pet"]["inputs"] == {"length": 3, "prefix": "app"}
    suffix = records["web-suffix"]
    assert suffix["inputs"] == {"keepers": {"pet": "<unknown>"}, "length": 6, "special": False}
    assert suffix["propertyDependencies"]["keepers"] == [pet]
    assert result["outputs"] == {
        "pet": "<unknown>",
        "token": "[secret]",
        "vpc": "vpc-0ff11e00000000d",
    }
    assert result["offlineAnswers"] == {"aws:ec2/getVpc:getVpc": "built-in"}


def test_an_sdk_older_than_claimed_is_a_usage_error(oldest_sdk: Path, tmp_path: Path) -> None:
    root = project(tmp_path, VENV_PROJECT.format(name="older"), "import pulumi\n", {"dev": ""})
    write(root / "requirements.txt", "pulumi==3.99.0\n")
    done = run_cli("preview", "--cwd", str(root), "-s", "dev", "--install", "--no-policy")
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert f"has pulumi 3.99.0; the offline preview needs {MIN_PULUMI_VERSION} or newer" in last
