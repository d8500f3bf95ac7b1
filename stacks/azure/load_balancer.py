"""LoadBalancer: an Application Gateway v2 in its own subnet — HTTPS listener (certificate from
Key Vault, or a self-signed one in dev), HTTP→HTTPS redirect, a health probe on the app's health
path, TLS 1.2+ policy, autoscaling, and a WAF policy in prevention mode in prod."""

from __future__ import annotations

import base64

import pulumi
import pulumi_random as random
import pulumi_tls as tls
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pulumi_azure_native import authorization, managedidentity, monitor, network

from stacks.azure.common import child, component_opts, role_definition_id, short_hash, stable_guid
from stacks.common.args import LoadBalancerArgs

SSL_POLICY = "AppGwSslPolicy20220101S"  # TLS 1.2 minimum, strong ciphers only
DEV_CERT_HOURS = 24 * 365


def pfx_base64(cert_pem: str, key_pem: str, password: str) -> str:
    """Application Gateway takes a password-protected PFX; tls gives PEM."""
    certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    blob = pkcs12.serialize_key_and_certificates(
        b"tierstack-dev",
        key,  # type: ignore[arg-type]
        certificate,
        None,
        serialization.BestAvailableEncryption(password.encode()),
    )
    return base64.b64encode(blob).decode()


ZONE_REDUNDANT = ("1", "2", "3")
"""The zones of a zone-redundant public IP ("Public IP addresses", Availability zone)."""


class LoadBalancer(pulumi.ComponentResource):
    """Exposes url (https://<label>.<region>.cloudapp.azure.com), backend_pool_id, gateway_id."""

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:LoadBalancer", name, None, component_opts(opts))
        self.logical_name = name
        context, net = args.context, args.network
        settings = context.settings
        tags = context.tags
        self.gateway_name = f"{context.prefix}-agw"
        label = f"{context.prefix}-{short_hash(context.stack, name)}"
        self.fqdn = f"{label}.{settings.region}.cloudapp.azure.com"
        self.url: pulumi.Output[str] = pulumi.Output.from_input(f"https://{self.fqdn}")
        self.dns_target: pulumi.Output[str] = pulumi.Output.from_input(self.fqdn)
        """What a CNAME for the app's domain points at (the gateway's public IP's DNS label)."""

        public_ip = network.PublicIPAddress(
            f"{name}-ip",
            public_ip_address_name=f"{context.prefix}-agw-ip",
            resource_group_name=net.resource_group_name,
            location=net.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            # A Standard public IP is zonal (one zone) or zone-redundant (all three): a list of
            # two is refused, and a zone-redundant gateway needs a zone-redundant address.
            zones=list(ZONE_REDUNDANT),
            dns_settings={"domain_name_label": label},
            tags=tags,
            opts=child(self),
        )
        base_id = pulumi.Output.concat(
            "/subscriptions/",
            net.subscription_id,
            "/resourceGroups/",
            net.resource_group_name,
            "/providers/Microsoft.Network/applicationGateways/",
            self.gateway_name,
        )

        def sub_id(kind: str, item: str) -> pulumi.Output[str]:
            return base_id.apply(lambda base: f"{base}/{kind}/{item}")

        ssl_certificate, identity = self._certificate(name, args)
        waf_policy = None
        if settings.is_prod:
            waf_policy = network.WebApplicationFirewallPolicy(
                f"{name}-waf",
                policy_name=f"{context.prefix}-waf".replace("-", ""),
                resource_group_name=net.resource_group_name,
                location=net.location,
                policy_settings={
                    "state": "Enabled",
                    "mode": "Prevention",
                    "request_body_check": True,
                },
                managed_rules={
                    "managed_rule_sets": [
                        {"rule_set_type": "OWASP", "rule_set_version": "3.2"},
                        {"rule_set_type": "Microsoft_BotManagerRuleSet", "rule_set_version": "1.0"},
                    ]
                },
                tags=tags,
                opts=child(self),
            )

        self.gateway = network.ApplicationGateway(
            f"{name}-agw",
            application_gateway_name=self.gateway_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            zones=list(settings.zones),
            sku={
                "name": "WAF_v2" if waf_policy else "Standard_v2",
                "tier": "WAF_v2" if waf_policy else "Standard_v2",
            },
            autoscale_configuration={
                "min_capacity": 2 if settings.is_prod else 1,
                "max_capacity": 10 if settings.is_prod else 3,
            },
            firewall_policy={"id": waf_policy.id} if waf_policy else None,
            identity=identity,
            enable_http2=True,
            ssl_policy={"policy_type": "Predefined", "policy_name": SSL_POLICY},
            gateway_ip_configurations=[
                {"name": "gateway", "subnet": {"id": net.subnet_ids["gateway"]}}
            ],
            frontend_ip_configurations=[
                {"name": "public", "public_ip_address": {"id": public_ip.id}}
            ],
            frontend_ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}],
            ssl_certificates=[ssl_certificate],
            backend_address_pools=[{"name": "app"}],
            probes=[
                {
                    "name": "health",
                    "protocol": "Http",
                    "host": "127.0.0.1",
                    "path": args.health_path,
                    "interval": 15,
                    "timeout": 10,
                    "unhealthy_threshold": 3,
                    "match": {"status_codes": ["200-399"]},
                }
            ],
            backend_http_settings_collection=[
                {
                    "name": "app",
                    "port": args.app_port,
                    "protocol": "Http",  # TLS ends at the gateway; the hop stays in the VNet
                    "cookie_based_affinity": "Disabled",
                    "request_timeout": 60,
                    "probe": {"id": sub_id("probes", "health")},
                }
            ],
            http_listeners=[
                {
                    "name": "http",
                    "protocol": "Http",
                    "frontend_ip_configuration": {
                        "id": sub_id("frontendIPConfigurations", "public")
                    },
                    "frontend_port": {"id": sub_id("frontendPorts", "http")},
                },
                {
                    "name": "https",
                    "protocol": "Https",
                    "frontend_ip_configuration": {
                        "id": sub_id("frontendIPConfigurations", "public")
                    },
                    "frontend_port": {"id": sub_id("frontendPorts", "https")},
                    "ssl_certificate": {"id": sub_id("sslCertificates", "listener")},
                },
            ],
            redirect_configurations=[
                {
                    "name": "http-to-https",
                    "redirect_type": "Permanent",
                    "target_listener": {"id": sub_id("httpListeners", "https")},
                    "include_path": True,
                    "include_query_string": True,
                }
            ],
            request_routing_rules=[
                {
                    "name": "http-redirect",
                    "rule_type": "Basic",
                    "priority": 100,
                    "http_listener": {"id": sub_id("httpListeners", "http")},
                    "redirect_configuration": {
                        "id": sub_id("redirectConfigurations", "http-to-https")
                    },
                },
                {
                    "name": "https-app",
                    "rule_type": "Basic",
                    "priority": 200,
                    "http_listener": {"id": sub_id("httpListeners", "https")},
                    "backend_address_pool": {"id": sub_id("backendAddressPools", "app")},
                    "backend_http_settings": {"id": sub_id("backendHttpSettingsCollection", "app")},
                },
            ],
            tags=tags,
            opts=child(
                self,
                # The dev certificate's PFX is re-encrypted on every run; keep the first one.
                ignore_changes=None if settings.certificate else ["sslCertificates[0].data"],
                # ARM checks at create that the identity can read the certificate secret
                # (UserAssignedIdentityDoesNotGetPermissionOnKeyVault otherwise).
                depends_on=self._certificate_grants,
            ),
        )
        self.gateway_id: pulumi.Output[str] = self.gateway.id
        # The same id, but carrying the gateway as a dependency: ARM refuses a scale set that
        # names a backend pool of a gateway not yet created (all scale sets behind it wait).
        self.backend_pool_id = pulumi.Output.all(
            self.gateway.id, sub_id("backendAddressPools", "app")
        ).apply(lambda ids: ids[1])
        monitor.DiagnosticSetting(
            f"{name}-diagnostics",
            name="to-log-analytics",
            resource_uri=self.gateway.id,
            workspace_id=net.workspace_id,
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=child(self),
        )
        self.register_outputs(
            {"url": self.url, "dns_target": self.dns_target, "gateway_id": self.gateway_id}
        )

    def _certificate(self, name: str, args: LoadBalancerArgs) -> tuple[dict, dict | None]:
        """The listener certificate: the configured Key Vault secret, read by the gateway's own
        identity, or (dev only — settings refuse prod without one) a self-signed certificate."""
        context, net = args.context, args.network
        secret_id = context.settings.certificate
        self._certificate_grants: list[pulumi.Resource] = []
        if secret_id:
            identity = managedidentity.UserAssignedIdentity(
                f"{name}-mi",
                resource_name_=f"{context.prefix}-agw-id",
                resource_group_name=net.resource_group_name,
                location=net.location,
                tags=context.tags,
                opts=child(self),
            )
            if secret_id.startswith(f"{net.vault_uri}secrets/"):
                secret_name = secret_id[len(f"{net.vault_uri}secrets/") :].split("/")[0]
                role = "key-vault-secrets-user"
                reader = authorization.RoleAssignment(
                    f"{name}-certificate-reader",
                    role_assignment_name=stable_guid(self.gateway_name, secret_name, role),
                    scope=pulumi.Output.concat(net.vault_id, "/secrets/", secret_name),
                    principal_id=identity.principal_id,
                    principal_type="ServicePrincipal",
                    role_definition_id=role_definition_id(net.subscription_id, role),
                    opts=child(self),
                )
                self._certificate_grants.append(reader)
            else:
                pulumi.log.warn(
                    f"certificate {secret_id} is not in the stack's vault {net.vault_uri}: grant "
                    f"the gateway identity {context.prefix}-agw-id Key Vault Secrets User on it",
                    self,
                )
            return (
                {"name": "listener", "key_vault_secret_id": secret_id},
                {"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            )
        key = tls.PrivateKey(f"{name}-dev-key", algorithm="RSA", rsa_bits=2048, opts=child(self))
        certificate = tls.SelfSignedCert(
            f"{name}-dev-cert",
            private_key_pem=key.private_key_pem,
            subject={"common_name": self.fqdn, "organization": "tierstack dev"},
            dns_names=[self.fqdn],
            validity_period_hours=DEV_CERT_HOURS,
            early_renewal_hours=24 * 30,
            allowed_uses=["key_encipherment", "digital_signature", "server_auth"],
            opts=child(self),
        )
        pfx_password = random.RandomPassword(
            f"{name}-dev-pfx-password", length=24, special=False, opts=child(self)
        )
        data = pulumi.Output.all(
            certificate.cert_pem, key.private_key_pem, pfx_password.result
        ).apply(lambda parts: pfx_base64(*parts))
        return (
            {
                "name": "listener",
                "data": pulumi.Output.secret(data),
                "password": pulumi.Output.secret(pfx_password.result),
            },
            None,
        )
