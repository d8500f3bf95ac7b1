"""LoadBalancer: the global HTTPS load balancer, resolved."""

from __future__ import annotations

from stacks.common.args import LoadBalancerArgs, NetworkArgs
from stacks.gcp import LoadBalancer, Network
from tests.stacks.gcp.conftest import context_for, run
from tests.stacks.gcp.support import stack

LB_RANGES = ["130.211.0.0/22", "35.191.0.0/16"]
MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
FIREWALL = "gcp:compute/firewall:Firewall"


def test_load_balancer_is_https_only_with_modern_tls_and_logging() -> None:
    result = stack("image-processing")
    group = result.one(MIG, "web-group")
    backend = result.one("gcp:compute/backendService:BackendService").inputs
    assert backend["backends"][0]["group"] == group.outputs["instanceGroup"]
    assert backend["healthChecks"] == "health-check-id"
    assert backend["logConfig"] == {"enable": True, "sampleRate": 1.0}
    assert backend["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    assert backend["securityPolicy"] == "edge-policy-id"
    armor = result.one("gcp:compute/securityPolicy:SecurityPolicy").inputs["rules"]
    throttle = next(rule for rule in armor if rule["action"] == "throttle")
    assert throttle["rateLimitOptions"]["exceedAction"] == "deny(429)"
    assert throttle["rateLimitOptions"]["rateLimitThreshold"] == {"count": 600, "intervalSec": 60}
    assert {rule["priority"] for rule in armor} == {1000, 2147483647}
    health = result.one("gcp:compute/healthCheck:HealthCheck").inputs["httpHealthCheck"]
    assert health == {"port": 8001, "requestPath": "/healthz"}
    proxy = result.one("gcp:compute/targetHttpsProxy:TargetHttpsProxy").inputs
    assert proxy["sslPolicy"] == "tls-policy-id"
    assert proxy["sslCertificates"] == ["certificate-id"]
    assert proxy["urlMap"] == "https-routes-id"
    tls = result.one("gcp:compute/sSLPolicy:SSLPolicy").inputs
    assert (tls["profile"], tls["minTlsVersion"]) == ("MODERN", "TLS_1_2")
    certificate = result.one("gcp:compute/managedSslCertificate:ManagedSslCertificate").inputs
    assert certificate["managed"] == {"domains": ["203.0.113.10.sslip.io"]}
    redirect = result.one("gcp:compute/uRLMap:URLMap", "http-redirect").inputs
    assert redirect["defaultUrlRedirect"]["httpsRedirect"] is True
    assert result.one("gcp:compute/targetHttpProxy:TargetHttpProxy").inputs["urlMap"] == (
        "http-redirect-id"
    )
    rules = {
        r.inputs["portRange"]: r.inputs["target"]
        for r in result.of_type("gcp:compute/globalForwardingRule:GlobalForwardingRule")
    }
    assert rules == {"443": "https-proxy-id", "80": "http-proxy-id"}
    front_ends = result.one(FIREWALL, "allow-front-ends").inputs
    assert front_ends["sourceRanges"] == LB_RANGES
    assert front_ends["allows"] == [{"protocol": "tcp", "ports": ["8001"]}]
    assert front_ends["targetTags"] == ["image-processing-dev-web-lb-backend"]
    assert result.result["app_url"] == "https://203.0.113.10.sslip.io"


def test_the_balancer_alone_redirects_http_and_routes_no_https() -> None:
    """Without an app tier there is no backend service to route HTTPS to: the balancer's own
    children stop at the redirect (the HTTPS route is the AppTier's)."""
    context = context_for("image-processing")

    def program() -> None:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        LoadBalancer("web-lb", LoadBalancerArgs(context, network, 8000, "/healthz"))

    result = run(program)
    balancer = result.one("tierstack:gcp:LoadBalancer")
    children = {(r.type.split(":")[-1], r.name) for r in result.children_of(balancer.urn)}
    assert children == {
        ("GlobalAddress", "address"),
        ("ManagedSslCertificate", "certificate"),
        ("SSLPolicy", "tls-policy"),
        ("SecurityPolicy", "edge-policy"),
        ("HealthCheck", "health-check"),
        ("Firewall", "allow-front-ends"),
        ("URLMap", "http-redirect"),
        ("TargetHttpProxy", "http-proxy"),
        ("GlobalForwardingRule", "http"),
    }
    assert result.of_type("gcp:compute/backendService:BackendService") == []
    rule = result.one("gcp:compute/globalForwardingRule:GlobalForwardingRule", "http").inputs
    assert (rule["portRange"], rule["target"]) == ("80", "http-proxy-id")
