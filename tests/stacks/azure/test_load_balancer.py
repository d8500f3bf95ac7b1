"""LoadBalancer: the Application Gateway, its listeners, probe and certificates."""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.stacks.azure.conftest import PROD, SUBSCRIPTION

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def plain(value):
    """A secret input is recorded in Pulumi's secret envelope; the test reads what is inside."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return value["value"]
    return value


def _gateway(run):
    return run.one("azure-native:network:ApplicationGateway").inputs


def test_gateway_redirects_http_probes_health_and_requires_tls12(dev):
    gateway = _gateway(dev)
    base = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/image-processing-dev-rg/providers/"
        "Microsoft.Network/applicationGateways/image-processing-dev-agw"
    )
    listeners = {listener["name"]: listener for listener in gateway["httpListeners"]}
    assert listeners["http"]["protocol"] == "Http"
    assert listeners["https"]["protocol"] == "Https"
    assert listeners["https"]["sslCertificate"] == {"id": f"{base}/sslCertificates/listener"}
    assert gateway["redirectConfigurations"] == [
        {
            "name": "http-to-https",
            "redirectType": "Permanent",
            "targetListener": {"id": f"{base}/httpListeners/https"},
            "includePath": True,
            "includeQueryString": True,
        }
    ]
    rules = {rule["name"]: rule for rule in gateway["requestRoutingRules"]}
    assert rules["http-redirect"]["redirectConfiguration"] == {
        "id": f"{base}/redirectConfigurations/http-to-https"
    }
    assert "backendAddressPool" not in rules["http-redirect"]
    assert rules["https-app"]["backendAddressPool"] == {"id": f"{base}/backendAddressPools/app"}
    probe = gateway["probes"][0]
    assert (probe["path"], probe["protocol"]) == ("/healthz", "Http")
    assert gateway["backendHttpSettingsCollection"][0]["port"] == 8000
    assert gateway["sslPolicy"] == {
        "policyType": "Predefined",
        "policyName": "AppGwSslPolicy20220101S",
    }
    assert gateway["zones"] == ["1", "2"]
    assert gateway["sku"]["name"] == "Standard_v2" and "firewallPolicy" not in gateway
    assert dev.result["url"].startswith("https://image-processing-dev-")
    assert dev.result["url"].endswith(".westeurope.cloudapp.azure.com")


def test_dev_certificate_is_a_real_pfx_for_the_gateway_name(dev):
    certificate = plain(_gateway(dev)["sslCertificates"])[0]
    blob = base64.b64decode(certificate["data"])
    _, cert, _ = pkcs12.load_key_and_certificates(blob, certificate["password"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [dev.result["url"][len("https://") :]]


def test_prod_gateway_uses_waf_and_the_key_vault_certificate(prod):
    gateway = _gateway(prod)
    assert gateway["sku"] == {"name": "WAF_v2", "tier": "WAF_v2"}
    assert gateway["firewallPolicy"] == {"id": "web-lb-waf-id"}
    waf = prod.one("azure-native:network:WebApplicationFirewallPolicy").inputs
    assert waf["policySettings"]["mode"] == "Prevention"
    assert {"ruleSetType": "OWASP", "ruleSetVersion": "3.2"} in waf["managedRules"][
        "managedRuleSets"
    ]
    assert gateway["sslCertificates"] == [
        {"name": "listener", "keyVaultSecretId": PROD["certificate"]}
    ]
    assert gateway["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": ["web-lb-mi-id"],
    }
    assert gateway["autoscaleConfiguration"] == {"minCapacity": 2, "maxCapacity": 10}
