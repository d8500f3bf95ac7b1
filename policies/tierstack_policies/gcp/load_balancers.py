"""GCP load balancers: HTTPS proxies, HTTP to HTTPS redirects, SSL policies."""

from __future__ import annotations

from ..registry import Config, Family, Props, Resources, StackFindings
from ..shared import linked_urns, of_type
from ..values import UNKNOWN, elements, value
from .types import HTTP_PROXIES, HTTPS_PROXIES, SSL_POLICIES, URL_MAPS

family = Family("gcp", "load-balancers")


@family.stack(
    "gcp-lb-https-proxy",
    severity="high",
    level="mandatory",
    description="A load balancer with an HTTP proxy also has an HTTPS proxy.",
    remediation="Add gcp.compute.TargetHttpsProxy with a managed certificate and a forwarding "
    "rule on port 443.",
)
def _check_https_proxy(resources: Resources, _config: Config) -> StackFindings:
    if of_type(resources, *HTTP_PROXIES, *URL_MAPS) and not of_type(resources, *HTTPS_PROXIES):
        for proxy in of_type(resources, *HTTP_PROXIES):
            yield f"HTTP proxy {proxy.name} exists but the stack has no HTTPS proxy", proxy.urn


def _only_redirects(props: Props) -> bool:
    """The default redirects, and no path matcher serves a path over HTTP instead."""
    if value(props, "defaultUrlRedirect", "httpsRedirect") not in (True, UNKNOWN):
        return False
    matchers = elements(props, "pathMatchers")
    if matchers is UNKNOWN:
        return True
    return all(
        value(matcher, "defaultUrlRedirect", "httpsRedirect") in (True, UNKNOWN)
        and not elements(matcher, "pathRules")
        and not elements(matcher, "routeRules")
        for matcher in matchers
    )


@family.stack(
    "gcp-lb-http-redirects-to-https",
    severity="high",
    level="mandatory",
    description="HTTP proxies only serve a URL map that redirects to HTTPS (no path matcher "
    "serving a path over HTTP).",
    remediation="Point the HTTP proxy at a URLMap with default_url_redirect="
    "{'https_redirect': True}.",
)
def _check_http_redirect(resources: Resources, _config: Config) -> StackFindings:
    redirecting = {
        url_map.urn for url_map in of_type(resources, *URL_MAPS) if _only_redirects(url_map.props)
    }
    for proxy in of_type(resources, *HTTP_PROXIES):
        if not linked_urns(proxy, "urlMap") <= redirecting or not linked_urns(proxy, "urlMap"):
            yield (
                f"HTTP proxy {proxy.name} does not point at a URL map whose "
                "defaultUrlRedirect.httpsRedirect is true",
                proxy.urn,
            )


@family.stack(
    "gcp-lb-modern-tls-policy",
    severity="medium",
    level="mandatory",
    description="HTTPS proxies use an SSL policy with TLS 1.2+ and a MODERN or RESTRICTED profile.",
    remediation="Add gcp.compute.SSLPolicy(min_tls_version='TLS_1_2', profile='MODERN') and set "
    "ssl_policy=policy.id on the proxy.",
    config={
        "allowedProfiles": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["MODERN", "RESTRICTED"],
            "description": "SSL policy profiles allowed.",
        }
    },
)
def _check_tls_policy(resources: Resources, config: Config) -> StackFindings:
    modern: set[str] = set()
    for ssl_policy in of_type(resources, *SSL_POLICIES):
        version = value(ssl_policy.props, "minTlsVersion")
        profile = value(ssl_policy.props, "profile")
        if version in ("TLS_1_2", "TLS_1_3", UNKNOWN) and profile in (
            *config["allowedProfiles"],
            UNKNOWN,
        ):
            modern.add(ssl_policy.urn)
        else:
            yield (
                f"SSL policy {ssl_policy.name} allows {version or 'TLS_1_0'} with profile "
                f"{profile or 'COMPATIBLE'}",
                ssl_policy.urn,
            )
    for proxy in of_type(resources, *HTTPS_PROXIES):
        if not linked_urns(proxy, "sslPolicy") & modern:
            yield (
                f"HTTPS proxy {proxy.name} has no sslPolicy with TLS 1.2+ from this stack "
                "(the default allows TLS 1.0)",
                proxy.urn,
            )
