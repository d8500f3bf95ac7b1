"""Azure load balancers: Application Gateway HTTPS listeners, redirects and TLS policy."""

from __future__ import annotations

from typing import Any

from ..registry import Config, Family, Findings, Props
from ..values import UNKNOWN, elements, value
from .types import APP_GATEWAY

family = Family("azure", "load-balancers")
MODERN_PREDEFINED = ["AppGwSslPolicy20220101", "AppGwSslPolicy20220101S"]


def _protocol(listener: Any) -> Any:
    """ARM compares enum values case-insensitively: "HTTP" is Http."""
    found = value(listener, "protocol")
    return found.lower() if isinstance(found, str) else found


def _named(props: Props, collection: str, reference: Any) -> Any:
    """The sub-resource of the gateway that an `{id: .../<collection>/<name>}` reference names."""
    ref = value(reference, "id")
    if not isinstance(ref, str):
        return ref  # UNKNOWN or absent
    items = elements(props, collection)
    for item in items if isinstance(items, list) else []:
        if ref.endswith(f"/{collection}/{value(item, 'name')}"):
            return item
    return None


def _redirects_to_https(props: Props, rule: Any) -> bool:
    """The rule's redirect goes to an Https listener of this gateway or to an https:// URL."""
    redirect = _named(props, "redirectConfigurations", value(rule, "redirectConfiguration"))
    if redirect is UNKNOWN:
        return True
    if redirect is None:
        return False
    url = value(redirect, "targetUrl")
    if isinstance(url, str):
        return url.lower().startswith("https://")
    target = _named(props, "httpListeners", value(redirect, "targetListener"))
    return target is UNKNOWN or (target is not None and _protocol(target) in ("https", UNKNOWN))


@family.resource(
    "azure-app-gateway-https-listener",
    severity="high",
    level="mandatory",
    types=[APP_GATEWAY],
    description="Application Gateways have an HTTPS listener.",
    remediation="Add an http_listener with protocol 'Https' and an ssl_certificate.",
)
def _check_gateway_https(props: Props, _config: Config, _type: str) -> Findings:
    listeners = elements(props, "httpListeners")
    if listeners is UNKNOWN:
        return
    if not any(_protocol(listener) in ("https", UNKNOWN) for listener in listeners):
        yield "no HTTPS listener"


@family.resource(
    "azure-app-gateway-http-redirects-to-https",
    severity="high",
    level="mandatory",
    types=[APP_GATEWAY],
    description="Application Gateway HTTP listeners only redirect to HTTPS (a redirect "
    "configuration targeting an Https listener or an https:// URL).",
    remediation="Route each Http listener with a request_routing_rule whose "
    "redirect_configuration targets the Https listener.",
)
def _check_gateway_redirect(props: Props, _config: Config, _type: str) -> Findings:
    """Every HTTP listener is routed by a rule that has a redirect configuration."""
    listeners = elements(props, "httpListeners")
    rules = elements(props, "requestRoutingRules")
    if listeners is UNKNOWN or rules is UNKNOWN:
        return
    for listener in listeners:
        name = value(listener, "name")
        if _protocol(listener) != "http" or not isinstance(name, str):
            continue
        routed = [
            rule
            for rule in rules
            if isinstance(value(rule, "httpListener", "id"), str)
            and value(rule, "httpListener", "id").endswith(f"/httpListeners/{name}")
        ]
        if any(value(rule, "httpListener", "id") is UNKNOWN for rule in rules):
            continue
        if not routed or not all(_redirects_to_https(props, rule) for rule in routed):
            yield f"HTTP listener {name} is not routed to a redirect to HTTPS"


@family.resource(
    "azure-app-gateway-modern-tls-policy",
    severity="medium",
    level="mandatory",
    types=[APP_GATEWAY],
    description="Application Gateways use a TLS 1.2+ SSL policy.",
    remediation="Set ssl_policy={'policy_type': 'Predefined', 'policy_name': "
    "'AppGwSslPolicy20220101'}.",
    config={
        "allowedPolicies": {
            "type": "array",
            "items": {"type": "string"},
            "default": MODERN_PREDEFINED,
            "description": "Predefined SSL policies allowed.",
        }
    },
)
def _check_gateway_tls(props: Props, config: Config, _type: str) -> Findings:
    policy = value(props, "sslPolicy")
    if policy is UNKNOWN:
        return
    kind = value(policy, "policyType")
    if kind == "Predefined" and value(policy, "policyName") in config["allowedPolicies"]:
        return
    if kind in ("Custom", "CustomV2") and value(policy, "minProtocolVersion") in (
        "TLSv1_2",
        "TLSv1_3",
    ):
        return
    yield "sslPolicy is not a TLS 1.2+ policy (use AppGwSslPolicy20220101 or CustomV2)"
