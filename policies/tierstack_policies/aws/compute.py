"""AWS compute: instance metadata (IMDSv2) and disk encryption of instances and templates."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props
from ..values import UNKNOWN, elements, switched_off, value
from .types import EBS_VOLUME, EC2_INSTANCE, LAUNCH_TEMPLATE

family = Family("aws", "compute")


@family.resource(
    "aws-ec2-imdsv2-required",
    severity="high",
    level="mandatory",
    types=(LAUNCH_TEMPLATE, EC2_INSTANCE),
    description="Instances and launch templates require IMDSv2 (session tokens).",
    remediation="Set metadata_options={'http_tokens': 'required', 'http_endpoint': 'enabled'}.",
)
def _check_imdsv2(props: Props, _config: Config, _type: str) -> Findings:
    tokens = value(props, "metadataOptions", "httpTokens")
    if tokens not in ("required", UNKNOWN):
        yield f"metadataOptions.httpTokens is {tokens!r}, not 'required' (IMDSv2)"


@family.resource(
    "aws-ec2-disk-encrypted",
    severity="high",
    level="mandatory",
    types=(LAUNCH_TEMPLATE, EC2_INSTANCE, EBS_VOLUME),
    description="EBS volumes of instances and launch templates are encrypted.",
    remediation="Declare block_device_mappings with ebs.encrypted 'true' (launch templates), "
    "root_block_device.encrypted True (instances), encrypted=True (volumes).",
)
def _check_disks(props: Props, _config: Config, type_: str) -> Findings:
    if type_ == EBS_VOLUME:
        if switched_off(props, "encrypted"):
            yield "volume is not encrypted"
        return
    if type_ == EC2_INSTANCE:
        disks = [value(props, "rootBlockDevice")]
        extra = elements(props, "ebsBlockDevices")
        disks += extra if isinstance(extra, list) else []
        for disk in disks:
            if switched_off(disk, "encrypted"):
                yield "a block device is not encrypted (set encrypted: true)"
        return
    mappings = elements(props, "blockDeviceMappings")
    if mappings is UNKNOWN:
        return
    if not mappings:
        yield "no blockDeviceMappings: the root volume is not declared encrypted"
    for mapping in mappings:
        if switched_off(mapping, "ebs", "encrypted"):
            yield f"block device {value(mapping, 'deviceName')} is not encrypted"
