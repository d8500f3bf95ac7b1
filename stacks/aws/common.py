"""Small helpers every AWS component shares: tags, child options, ARN parts, policy JSON,
service roles."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from stacks.blueprints.model import Access
from stacks.common.args import StackContext
from stacks.common.contracts import Principal

AMAZON_TIME_SYNC = "169.254.169.123"
"""Amazon Time Sync Service: link-local, reachable without a security group rule (the hosts'
groups allow only HTTP(S) out, so the Debian pool's UDP 123 never gets through)."""


def host_role_vars(app_port: int | None) -> dict[str, object]:
    """The ALB and its health checks connect from inside the VPC: the network CIDR the hosts
    already admit covers them. Time comes from the Amazon Time Sync Service."""
    return {"common_ntp_servers": [AMAZON_TIME_SYNC]}


def child(parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
    """Every child hangs under its component, so the tree reads like the architecture."""
    return pulumi.ResourceOptions(parent=parent, **extra)


def tags(context: StackContext, name: str) -> dict[str, str]:
    """Governance tags plus a Name tag (what the console shows) prefixed with the stack's prefix."""
    return {**context.tags, "Name": f"{context.prefix}-{name}"}


def asg_tags(context: StackContext, name: str) -> list[dict[str, Any]]:
    """Autoscaling groups take tags as a list and copy them onto the instances they launch."""
    return [
        {"key": key, "value": value, "propagate_at_launch": True}
        for key, value in sorted(tags(context, name).items())
    ]


def arn_part(arn: str, index: int) -> str:
    """arn:partition:service:region:account:resource -> one part (3 = region, 4 = account)."""
    return arn.split(":")[index]


def policy_json(statements: list[dict[str, Any]]) -> str:
    """An IAM/resource policy document, with stable key order so diffs stay quiet."""
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def allow(actions: str | list[str], resources: str | list[str]) -> dict[str, Any]:
    """An IAM statement allowing `actions` on `resources`."""
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def assume_role_policy(service: str) -> str:
    """A trust policy that lets exactly one AWS service assume the role."""
    return policy_json(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def service_role(
    parent: pulumi.Resource,
    context: StackContext,
    name: str,
    *,
    service: str,
    policy_name: str,
    policy: pulumi.Input[str],
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role `<prefix>-<name>` that only `service` may assume, with its one inline policy
    (inline: it cannot be attached to anything else, and goes with the role)."""
    role = aws.iam.Role(
        name,
        name=f"{context.prefix}-{name}",
        assume_role_policy=assume_role_policy(service),
        tags=tags(context, name),
        opts=child(parent),
    )
    inline = aws.iam.RolePolicy(
        name, name=policy_name, role=role.id, policy=policy, opts=child(parent)
    )
    return role, inline


def deny_insecure_transport(resources: list[str]) -> dict[str, Any]:
    """The statement that refuses any request made without TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "*",
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


class StatementGrants:
    """The contract's `grant` on AWS: a tier's role holds one inline policy, so granting a
    component returns that component's IAM statements (on its own ARNs) for the policy."""

    def policy_statements(self, access: str) -> pulumi.Output[list[dict[str, Any]]]:
        raise NotImplementedError

    def grant(self, principal: Principal, access: Access) -> pulumi.Output[list[dict[str, Any]]]:
        """The statements for `access`; the role (principal.id) lists them in its policy."""
        return self.policy_statements(access)
