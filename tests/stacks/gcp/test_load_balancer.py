"""LoadBalancer: the global HTTPS load balancer, resolved."""

from __future__ import annotations

import pytest

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


def test_load_balancer_serves_one_group_only() -> None:
    context = context_for("image-processing")

    def program() -> None:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        balancer = LoadBalancer("web-lb", LoadBalancerArgs(context, network, 8000, "/healthz"))
        balancer.serve("group-a")
        balancer.serve("group-b")

    with pytest.raises(Exception, match="already serves an instance group"):
        run(program)
