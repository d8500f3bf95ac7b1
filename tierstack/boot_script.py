"""`tierstack boot-script`: the user data a stack gives one of its tiers, exactly as its VMs get
it (cloud-config for AWS and Azure, the startup script for GCP), with every value resolved under
the same provider mocks the stack tests use — to read, diff and test what a VM will run."""

from __future__ import annotations

import argparse
import base64
import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

import yaml

from stacks.blueprints.settings import SettingsError

CLOUD_CONFIG = "cloud-config"
STARTUP_SCRIPT = "startup-script"


@dataclass(frozen=True)
class TierUserData:
    """One host group's user data: the tier component's name, its kind, the format, the text."""

    name: str
    kind: str
    format: str
    text: str

    @property
    def script(self) -> str:
        """The bootstrap script itself (inside the cloud-config's write_files for AWS/Azure)."""
        if self.format == STARTUP_SCRIPT:
            return self.text
        document = yaml.safe_load(self.text)
        return str(document["write_files"][0]["content"])

    @property
    def variables(self) -> dict[str, Any]:
        """The playbook variables the script writes to /etc/tierstack/vars.yml."""
        block = self.script.split("<<'TIERSTACK_VARS'\n", 1)[1].split("TIERSTACK_VARS\n", 1)[0]
        return dict(yaml.safe_load(block))


def _user_data(resource: Any) -> tuple[str, str] | None:
    """(format, text) of a resource that boots VMs, None for any other resource."""
    inputs = resource.inputs
    if resource.type == "aws:ec2/launchTemplate:LaunchTemplate":
        return CLOUD_CONFIG, base64.b64decode(inputs["userData"]).decode()
    if resource.type == "gcp:compute/instanceTemplate:InstanceTemplate":
        return STARTUP_SCRIPT, str(inputs["metadata"]["startup-script"])
    if resource.type == "azure-native:compute:VirtualMachineScaleSet":
        custom = inputs["virtualMachineProfile"]["osProfile"]["customData"]
        return CLOUD_CONFIG, base64.b64decode(custom).decode()
    return None


def stack_user_data(stack: str, overrides: dict[str, str] | None = None) -> list[TierUserData]:
    """Every host group's user data in a stack, in declaration order."""
    from tierstack.mocks import run_stack_resolved

    run = run_stack_resolved(stack, overrides)
    found = []
    for resource in run.resources:
        boot = _user_data(resource)
        if boot is None:
            continue
        tier = TierUserData(
            name=resource.parent_urn.rsplit("::", 1)[-1], kind="", format=boot[0], text=boot[1]
        )
        found.append(dataclasses.replace(tier, kind=str(tier.variables["tierstack_tier"])))
    return found


def pick(tiers: list[TierUserData], wanted: str) -> TierUserData:
    """A tier by its component name, or by its kind (app, worker, gateway) when only one has it."""
    by_name = [t for t in tiers if t.name == wanted]
    by_kind = [t for t in tiers if t.kind == wanted]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_kind) == 1:
        return by_kind[0]
    listing = ", ".join(f"{t.name} ({t.kind})" for t in tiers)
    if by_kind:
        raise LookupError(f"several tiers are {wanted!r} hosts: name one of {listing}")
    raise LookupError(f"no tier {wanted!r} in this stack: name one of {listing}")


def _parse_set(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, not {pair!r}")
        overrides[key if ":" in key else f"tierstack:{key}"] = value
    return overrides


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "boot-script",
        help="print the user data a stack gives one tier's VMs",
        description="Prints the user data that STACK gives the VMs of TIER (cloud-config on "
        "AWS and Azure, the startup script on GCP), values resolved under the test mocks. "
        "Example: tierstack boot-script --stack gcp-cloud-drive --tier app "
        "--set repoRef=0123456789abcdef0123456789abcdef01234567",
    )
    parser.add_argument("--stack", required=True, help="a stack file's name, e.g. aws-cloud-drive")
    parser.add_argument(
        "--tier", required=True, help="a tier's name (e.g. web, listener) or kind (app, worker)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a stack setting (tierstack: is implied), e.g. repoUrl=https://...",
    )
    parser.add_argument(
        "--vars", action="store_true", help="print only the playbook variables (YAML)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tierstack.mocks.harness import STACK_CONFIG_DIR

    if not (STACK_CONFIG_DIR / f"Pulumi.{args.stack}.yaml").is_file():
        print(
            f"tierstack: error: no stack file stacks/config/Pulumi.{args.stack}.yaml",
            file=sys.stderr,
        )
        return 2
    try:
        tier = pick(stack_user_data(args.stack, _parse_set(args.set)), args.tier)
    except (LookupError, ValueError, SettingsError) as error:
        print(f"tierstack: error: {error}", file=sys.stderr)
        return 2
    text = yaml.safe_dump(tier.variables, sort_keys=True) if args.vars else tier.text
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
