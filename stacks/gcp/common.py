"""Small helpers shared by the GCP components: names that fit GCP's limits, labels, and the
Google-owned address ranges that firewall rules admit."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

import pulumi
import pulumi_gcp as gcp

from stacks.blueprints.model import Access
from stacks.common.args import StackContext
from stacks.common.contracts import Principal

LB_SOURCE_RANGES = ("130.211.0.0/22", "35.191.0.0/16")
"""Google Front Ends: the load balancers' proxies and health checkers connect from here."""
IAP_TCP_RANGE = "35.235.240.0/20"
"""Identity-Aware Proxy TCP forwarding: the only source allowed to reach SSH."""
HOST_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")
"""What every VM's own service account needs to ship its logs and metrics (Ops Agent)."""


GCP_TIME_SERVER = "metadata.google.internal"
"""Compute Engine's own NTP server (the metadata server), always reachable from a VM."""


def host_role_vars(app_port: int | None) -> dict[str, object]:
    """Google's front ends and health checkers connect from outside the VPC range: the host
    firewall admits them to the app port, and IAP to SSH, or every backend stays UNHEALTHY."""
    sources: list[dict[str, object]] = [{"port": 22, "sources": [IAP_TCP_RANGE]}]
    if app_port is not None:
        sources.append({"port": app_port, "sources": list(LB_SOURCE_RANGES)})
    return {"common_ntp_servers": [GCP_TIME_SERVER], "common_firewall_extra_sources": sources}


def fit(name: str, limit: int = 63) -> str:
    """A lowercase, hyphenated name of at most `limit` characters. A name that is too long keeps
    its start plus a short hash of the whole, so two long names never collide."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if len(cleaned) <= limit:
        return cleaned
    digest = hashlib.sha256(cleaned.encode()).hexdigest()[:6]
    return f"{cleaned[: limit - 7].rstrip('-')}-{digest}"


def physical(context: StackContext, name: str, limit: int = 63) -> str:
    """The cloud name of a resource: `<app>-<env>-<name>`, so stacks never collide."""
    return fit(f"{context.prefix}-{name}", limit)


def labels(context: StackContext, **extra: str) -> dict[str, str]:
    """The governance labels (project, app, env, owner, cost-center) plus any extra ones."""
    return {**context.tags, **extra}


def service_agent(context: StackContext, agent: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The IAM member of a Google-managed service agent (e.g. gcp-sa-pubsub), whose address
    contains the project number; the only invoke these components make."""
    project = gcp.organizations.get_project_output(
        project_id=context.settings.gcp_project, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    return project.number.apply(
        lambda number: f"serviceAccount:service-{number}@{agent}.iam.gserviceaccount.com"
    )


def host_env(context: StackContext) -> dict[str, str]:
    """The external Application Load Balancer appends '<client>, <load balancer>' to
    X-Forwarded-For: the app trusts two hops to find the client (rate limits key on it). The
    client libraries read the project from the metadata server."""
    return {"PROXY_HOPS": "2"}


class BindingGrants:
    """The contract's `grant` on GCP: IAM bindings of the principal's member on this one
    resource, named `<tier>-<component>-<access>`. `bind` is the same with a free name, for a
    component granting its own service account (a cluster's nodes, the IoT bridge)."""

    logical_name: str

    def bind(
        self, name: str, member: pulumi.Input[str], access: Access, parent: pulumi.Resource
    ) -> list[pulumi.CustomResource]:
        raise NotImplementedError

    def require_access(self, kind: str, access: Access, offered: Collection[str]) -> None:
        """Refuses an access this kind of component does not offer (no binding at all rather
        than a wrong one)."""
        if access not in offered:
            raise ValueError(f"{kind} {self.logical_name}: access {access!r} does not apply")

    def grant(self, principal: Principal, access: Access) -> list[pulumi.CustomResource]:
        """The bindings for `access`, under the principal's identity in the tree."""
        return self.bind(
            f"{principal.name}-{self.logical_name}-{access}", principal.id, access, principal.parent
        )
