"""AWS load balancers: HTTPS listeners, HTTP to HTTPS redirects, TLS policies."""

from __future__ import annotations

from typing import Any

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import linked_urns, of_type, uncovered
from ..values import UNKNOWN, elements, value
from .types import LISTENER_RULES, LISTENERS, LOAD_BALANCERS

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


def _only_redirects(actions: Any) -> bool:
    """Every action redirects to HTTPS (unknown actions are given the benefit of the doubt)."""
    if actions is UNKNOWN:
        return True
    return bool(actions) and all(
        value(action, "type") == "redirect"
        and _upper(value(action, "redirect", "protocol")) in ("HTTPS", UNKNOWN)
        for action in actions
    )


@family.stack(
    "aws-lb-http-redirects-to-https",
    severity="high",
    level="mandatory",
    description="HTTP listeners, and listener rules on them, only redirect to HTTPS.",
    remediation="Make the HTTP listener's default action {'type': 'redirect', 'redirect': "
    "{'protocol': 'HTTPS', 'port': '443', 'status_code': 'HTTP_301'}} and put forwarding rules "
    "on the HTTPS listener.",
)
def _check_http_redirect(resources: Resources, _config: Config) -> StackFindings:
    http_listeners: set[str] = set()
    for listener in of_type(resources, *LISTENERS):
        if _protocol(listener.props) != "HTTP":
            continue
        http_listeners.add(listener.urn)
        if not _only_redirects(elements(listener.props, "defaultActions")):
            yield f"HTTP listener {listener.name} does not only redirect to HTTPS", listener.urn
    # a rule as its own resource serves its paths over HTTP whatever the default action says
    for rule in of_type(resources, *LISTENER_RULES):
        on_http = linked_urns(rule, "listenerArn") & http_listeners
        if on_http and not _only_redirects(elements(rule.props, "actions")):
            yield f"listener rule {rule.name} on an HTTP listener does not redirect", rule.urn


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
