"""Small Pulumi Python projects written into temporary directories (not this repository), the
way a user's project would look: Pulumi.yaml, a program directory, stack files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TIERSTACK = Path(sys.executable).parent / "tierstack"

PROGRAM = """
import os

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from storage import Store

config = pulumi.Config()
aws_config = pulumi.Config("aws")
store = Store("media", size=config.require("size"))
password = random.RandomPassword("db-password", length=24, special=False)
zones = aws.get_availability_zones()
for index in range(config.require_int("subnets")):
    aws.ec2.Subnet(f"subnet-{index}", vpc_id="vpc-0123", cidr_block=f"10.0.{index}.0/24",
                   availability_zone=zones.names[index])
db = aws.rds.Instance(
    "db",
    engine="postgres",
    instance_class=config.require_object("db")["class"],
    allocated_storage=20,
    username="app",
    password=config.require_secret("dbPassword"),
    storage_encrypted=config.require_bool("encrypted"),
)
print("program says hello")
pulumi.export("bucketName", store.bucket.bucket)
pulumi.export("dbEndpoint", db.endpoint)
pulumi.export("region", aws_config.require("region"))
pulumi.export("dbPassword", config.require_secret("dbPassword"))
pulumi.export("sawCredentials", os.environ.get("AWS_SECRET_ACCESS_KEY", "none"))
"""

STORAGE = """
import pulumi
import pulumi_aws as aws


class Store(pulumi.ComponentResource):
    def __init__(self, name, size, opts=None):
        super().__init__("demo:storage:Store", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", tags={"size": size}, opts=child)
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=self.bucket.id,
                                versioning_configuration={"status": "Enabled"}, opts=child)
        self.register_outputs({"bucket": self.bucket.bucket})
"""

FAILING = """
import pulumi_aws as aws


def sizing(name):
    raise ValueError(f"unknown size {name!r}: use small or large")


aws.s3.Bucket("before-failure")
sizing("huge")
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with its program in app/, stack files in config/, project-level defaults,
    a `secure:` value, typed values, and a stack whose program fails."""
    root = tmp_path_factory.mktemp("demo-project")
    write(
        root / "Pulumi.yaml",
        """
        name: demo
        runtime:
          name: python
          options:
            virtualenv: venv
        main: app/
        stackConfigDir: config
        config:
          size:
            type: string
            default: small
          subnets: 1
    """,
    )
    write(root / "app" / "__main__.py", PROGRAM)
    write(root / "app" / "storage.py", STORAGE)
    write(
        root / "config" / "Pulumi.dev.yaml",
        """
        config:
          aws:region: eu-west-1
          demo:subnets: 2
          encrypted: true
          db:
            class: db.t3.micro
          dbPassword:
            secure: AAABAKcipherTextThatCannotBeDecryptedOffline
    """,
    )
    write(
        root / "config" / "Pulumi.prod.yaml",
        """
        config:
          aws:region: us-east-2
          size: large
          encrypted: false
          db: {"class": "db.r6g.large"}
          dbPassword:
            secure: AAABAKanotherCipherText
    """,
    )
    return root


@pytest.fixture(scope="session")
def failing_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flat project (program in the project directory, stack file beside it) that fails."""
    root = tmp_path_factory.mktemp("failing-project")
    write(root / "Pulumi.yaml", "name: broken\nruntime: python\n")
    write(root / "__main__.py", FAILING)
    write(root / "Pulumi.test.yaml", "config: {}\n")
    return root


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    return subprocess.run(
        [str(TIERSTACK), *args], capture_output=True, text=True, check=False, timeout=300, env=env
    )
