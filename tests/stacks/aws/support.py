"""Shared bits of the AWS component tests: small programs around real components."""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml

from stacks.aws import Network
from stacks.common.args import NetworkArgs, StackContext
from tests.playbook_check import boot_vars
from tests.stacks.harness import Registered

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def network(context: StackContext) -> Network:
    return Network("network", NetworkArgs(context, context.settings.network_cidr))


def document(resource: Registered, key: str = "policy") -> dict[str, Any]:
    """A JSON policy input, parsed."""
    return json.loads(resource.inputs[key])


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


def user_data(template: Registered) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Launch template user data -> (cloud-config document, boot script, vars.yml)."""
    text = base64.b64decode(template.inputs["userData"]).decode()
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    script = config["write_files"][0]["content"]
    return config, script, boot_vars(script)
