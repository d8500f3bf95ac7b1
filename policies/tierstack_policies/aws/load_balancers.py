"""AWS load balancers: HTTPS listeners, HTTP to HTTPS redirects, TLS policies."""

from __future__ import annotations

from typing import Any

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import uncovered
from ..values import UNKNOWN, elements, value
from .types import LISTENERS, LOAD_BALANCERS

family = Family("aws", "load-balancers")
MODERN_SSL_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
]


def _protocol(props: Props) -> Any:
    """The listener's protocol as AWS stores it: the provider upper-cases what it is given
    ("http" is HTTP), and a listener on a port without one listens on HTTP (the ALB default;
    gateway load balancer listeners have neither)."""
    found = value(props, "protocol")
    if found is None and value(props, "port") is not None:
        return "HTTP"
    return _upper(found)


def _upper(found: Any) -> Any:
    return found.upper() if isinstance(found, str) else found


def _https(props: Props) -> bool:
    return _protocol(props) in ("HTTPS", UNKNOWN)


@family.stack(
    "aws-lb-https-listener",
    severity="high",
    level="mandatory",
    description="Every application load balancer has an HTTPS listener.",
    remediation="Add aws.lb.Listener(load_balancer_arn=lb.arn, protocol='HTTPS', port=443, "
    "certificate_arn=..., ssl_policy=...).",
)
def _check_https_listener(resources: Resources, _config: Config) -> StackFindings:
    for balancer in uncovered(resources, LOAD_BALANCERS, LISTENERS, "loadBalancerArn", _https):
        if value(balancer.props, "loadBalancerType") in (None, "application"):
            yield f"load balancer {balancer.name} has no HTTPS listener", balancer.urn


@family.resource(
    "aws-lb-http-redirects-to-https",
    severity="high",
    level="mandatory",
    types=LISTENERS,
    description="HTTP listeners only redirect to HTTPS.",
    remediation="Make the HTTP listener's default action {'type': 'redirect', 'redirect': "
    "{'protocol': 'HTTPS', 'port': '443', 'status_code': 'HTTP_301'}}.",
)
def _check_http_redirect(props: Props, _config: Config, _type: str) -> Findings:
    if _protocol(props) != "HTTP":
        return
    actions = elements(props, "defaultActions")
    if actions is UNKNOWN:
        return
    redirects = [
        action
        for action in actions
        if value(action, "type") == "redirect"
        and _upper(value(action, "redirect", "protocol")) in ("HTTPS", UNKNOWN)
    ]
    if not actions or len(redirects) != len(actions):
        yield "HTTP listener does not only redirect to HTTPS"


@family.resource(
    "aws-lb-modern-tls-policy",
    severity="medium",
    level="mandatory",
    types=LISTENERS,
    description="HTTPS listeners use a TLS 1.2+ security policy.",
    remediation="Set ssl_policy='ELBSecurityPolicy-TLS13-1-2-2021-06' (or another allowed policy).",
    config={
        "allowedSslPolicies": {
            "type": "array",
            "items": {"type": "string"},
            "default": MODERN_SSL_POLICIES,
            "description": "ELB security policies allowed on HTTPS.",
        }
    },
)
def _check_tls_policy(props: Props, config: Config, _type: str) -> Findings:
    if _protocol(props) != "HTTPS":
        return
    ssl_policy = value(props, "sslPolicy")
    if ssl_policy is UNKNOWN or ssl_policy in config["allowedSslPolicies"]:
        return
    shown = ssl_policy or "unset (defaults to ELBSecurityPolicy-2016-08, TLS 1.0)"
    yield f"sslPolicy {shown} is not a TLS 1.2+ policy"
