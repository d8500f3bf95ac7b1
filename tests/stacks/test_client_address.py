"""Each cloud's load balancer writes X-Forwarded-For its own way; the app servers learn how from
the environment their stack gives them (reference_apps/web.py reads PROXY_HOPS and
PROXY_ADDRESS_FORMAT). Wrong values lock every user out together (GCP) or give each connection
its own rate-limit bucket (Azure)."""

from __future__ import annotations

import pytest

from tierstack.boot_script import stack_user_data

# AWS ALB: appends the client address (one hop). GCP external Application LB: appends
# "<client>, <load balancer>" (two). Azure Application Gateway: "ip:port" (one, port dropped).
EXPECTED = {
    "aws-cloud-drive": {"PROXY_HOPS": "1"},
    "gcp-cloud-drive": {"PROXY_HOPS": "2"},
    "azure-cloud-drive": {"PROXY_HOPS": "1", "PROXY_ADDRESS_FORMAT": "ip:port"},
}


@pytest.mark.parametrize("stack", sorted(EXPECTED))
def test_app_servers_trust_their_load_balancers_hops(stack: str) -> None:
    (app,) = [tier for tier in stack_user_data(stack) if tier.kind == "app"]
    env = app.variables["python_app_env"]
    assert {key: env.get(key) for key in EXPECTED[stack]} == EXPECTED[stack]
    if "PROXY_ADDRESS_FORMAT" not in EXPECTED[stack]:
        assert "PROXY_ADDRESS_FORMAT" not in env
