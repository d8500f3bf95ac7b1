"""What app and worker hosts share: a private security group, the launch template (Debian 12,
IMDSv2, encrypted root disk, no public IP, cloud-init running ansible-pull) and database access
opened only for tiers that use a database."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from stacks.aws.common import child, tags
from stacks.aws.network import SSH_PORT
from stacks.aws.relational_db import RelationalDb
from stacks.aws.sizes import DEBIAN_12_IMAGE, INSTANCE_TYPES, ROOT_VOLUME_GB
from stacks.blueprints.model import SizeClass
from stacks.common.args import StackContext
from stacks.common.bootstrap import cloud_config_base64

ROOT_DEVICE = "/dev/xvda"
"""The root device name of Debian's AMIs."""
EGRESS_PORTS = {80: "Debian mirrors", 443: "AWS APIs, git and PyPI for ansible-pull"}


def host_env(context: StackContext) -> dict[str, str]:
    """boto3 does not read the region from instance metadata: without this, every SQS, DynamoDB
    and Secrets Manager client on the hosts fails with NoRegionError. The ALB appends the client
    to X-Forwarded-For: one trusted hop."""
    return {"AWS_DEFAULT_REGION": context.settings.region, "PROXY_HOPS": "1"}


def host_security_group(
    parent: pulumi.Resource,
    name: str,
    context: StackContext,
    network: pulumi.ComponentResource,
    description: str,
) -> aws.ec2.SecurityGroup:
    """Egress to HTTP(S) only. The one ingress here is SSH from the network's EC2 Instance
    Connect Endpoint, when the stack has one (`sshKeyPair`); the tiers add their own."""
    group = aws.ec2.SecurityGroup(
        name,
        name=f"{context.prefix}-{name}",
        description=description,
        vpc_id=network.vpc_id,
        revoke_rules_on_delete=True,
        tags=tags(context, name),
        opts=child(parent),
    )
    for port, purpose in EGRESS_PORTS.items():
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-out-{port}",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4="0.0.0.0/0",
            description=purpose,
            tags=tags(context, f"{name}-out-{port}"),
            opts=child(parent),
        )
    operator_group = getattr(network, "operator_access_group_id", None)
    if operator_group is not None:
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-in-ssh",
            security_group_id=group.id,
            referenced_security_group_id=operator_group,
            ip_protocol="tcp",
            from_port=SSH_PORT,
            to_port=SSH_PORT,
            description="SSH from the EC2 Instance Connect Endpoint only",
            tags=tags(context, f"{name}-in-ssh"),
            opts=child(parent),
        )
    return group


def open_database_access(
    parent: pulumi.Resource,
    name: str,
    context: StackContext,
    identity: pulumi.ComponentResource,
    group: aws.ec2.SecurityGroup,
) -> None:
    """For each database the tier is granted, a rule pair from this group to the database's."""
    for grant in getattr(identity, "grants", []):
        database = grant.component
        if not isinstance(database, RelationalDb):
            continue
        label = f"{name}-to-{database.logical_name}"
        aws.vpc.SecurityGroupIngressRule(
            label,
            security_group_id=database.security_group_id,
            referenced_security_group_id=group.id,
            ip_protocol="tcp",
            from_port=database.port,
            to_port=database.port,
            description=f"PostgreSQL from the {name} tier",
            tags=tags(context, label),
            opts=child(parent),
        )
        aws.vpc.SecurityGroupEgressRule(
            label,
            security_group_id=group.id,
            referenced_security_group_id=database.security_group_id,
            ip_protocol="tcp",
            from_port=database.port,
            to_port=database.port,
            description=f"PostgreSQL to {database.logical_name}",
            tags=tags(context, label),
            opts=child(parent),
        )


def launch_template(
    parent: pulumi.Resource,
    name: str,
    context: StackContext,
    size: SizeClass,
    identity: pulumi.ComponentResource,
    group: aws.ec2.SecurityGroup,
    bootstrap: pulumi.Input[str],
) -> aws.ec2.LaunchTemplate:
    """Every instance of the tier boots from this template and converges with ansible-pull."""
    host_tags = tags(context, name)
    return aws.ec2.LaunchTemplate(
        name,
        name_prefix=f"{context.prefix}-{name}-",
        description=f"{name} hosts of {context.prefix}",
        image_id=DEBIAN_12_IMAGE,
        instance_type=INSTANCE_TYPES[size],
        iam_instance_profile={"arn": identity.instance_profile_arn},
        # Debian's cloud-init authorises the key pair for the `admin` user; without one, no key.
        key_name=context.settings.ssh_key_pair or None,
        metadata_options={
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": 1,
            "instance_metadata_tags": "disabled",
        },
        block_device_mappings=[
            {
                "device_name": ROOT_DEVICE,
                "ebs": {
                    "volume_size": ROOT_VOLUME_GB,
                    "volume_type": "gp3",
                    "encrypted": "true",
                    "delete_on_termination": "true",
                },
            }
        ],
        network_interfaces=[
            {
                "device_index": 0,
                "associate_public_ip_address": "false",
                "delete_on_termination": "true",
                "security_groups": [group.id],
            }
        ],
        monitoring={"enabled": True},
        user_data=cloud_config_base64(bootstrap),
        update_default_version=True,
        tag_specifications=[
            {"resource_type": "instance", "tags": host_tags},
            {"resource_type": "volume", "tags": host_tags},
        ],
        tags=host_tags,
        opts=child(parent),
    )


def template_version(template: aws.ec2.LaunchTemplate) -> pulumi.Output[str]:
    """Pinning the group to the latest version makes a template change roll the instances."""
    return template.latest_version.apply(lambda version: str(int(version)))
