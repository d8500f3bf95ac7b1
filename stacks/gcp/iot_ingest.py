"""IoTIngest: Google retired Cloud IoT Core on 2023-08-16, so devices reach a managed group of
MQTT broker VMs (configured by the mqtt_broker role) through a global TCP proxy load balancer on
8883; the brokers bridge the topic filter to the Pub/Sub queue."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.common.args import AppSecretArgs, IoTIngestArgs
from stacks.common.bootstrap import bootstrap_script
from stacks.gcp.app_secret import AppSecret
from stacks.gcp.common import HOST_ROLES, LB_SOURCE_RANGES, fit, labels, physical
from stacks.gcp.instances import instance_template, regional_group
from stacks.gcp.network import FIREWALL_LOGS

MQTTS_PORT = 8883
GATEWAY_TIER = "gateway"
"""The bootstrap's tier; the playbooks apply the mqtt_broker role to it."""


class IoTIngest(pulumi.ComponentResource):
    """TLS is not terminated at the proxy: it passes through to mosquitto, which checks the
    devices' client certificates, so device identity reaches the broker intact. Brokers hold
    sessions, so the group has a fixed size (one per zone in prod) instead of an autoscaler.
    Their service account may publish to the queue's topic (the bridge) and read the device
    passwords (the mqtt_broker role), nothing else. The boot vars carry
    MQTT_DEVICE_PASSWORD_REFS (`name=<secret reference>;…`), never a password."""

    def __init__(
        self, name: str, args: IoTIngestArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:IoTIngest", name, None, opts)
        self.logical_name = name
        context, spec, network = args.context, args.spec, args.network
        settings = context.settings
        child = pulumi.ResourceOptions(parent=self)
        self.broker_tag = physical(context, f"{name}-broker")

        self.account = gcp.serviceaccount.Account(
            f"{name}-account",
            account_id=fit(f"{context.prefix}-{name}", 30),
            display_name=f"{context.prefix} {name} MQTT brokers",
            opts=child,
        )
        for role in HOST_ROLES:
            gcp.projects.IAMMember(
                f"{name}-{role.rsplit('.', 1)[-1]}",
                project=settings.gcp_project,
                role=role,
                member=self.account.member,
                opts=child,
            )
        args.queue.bind(f"{name}-bridge", self.account.member, "publish", self)
        # One account per device (fog gateway): a generated password in Secret Manager that only
        # the brokers' account may read; the hosts get references, the role reads the values.
        self.device_passwords: dict[str, AppSecret] = {}
        for device in settings.iot_devices:
            secret = AppSecret(
                f"{name}-{device}-password",
                AppSecretArgs(context, f"MQTT password of device {device}", length=32),
                opts=child,
            )
            secret.bind(f"{name}-{device}-password-read", self.account.member, "read", self)
            self.device_passwords[device] = secret
        device_refs = pulumi.Output.all(
            *(self.device_passwords[d].ref for d in settings.iot_devices)
        ).apply(
            lambda refs: ";".join(
                f"{device}={ref}" for device, ref in zip(settings.iot_devices, refs, strict=True)
            )
        )
        script = bootstrap_script(
            context,
            GATEWAY_TIER,
            {
                "QUEUE_URL": args.queue.backend_url,
                "MQTT_TOPIC_FILTER": spec.topic_filter,
                "MQTT_DEVICE_PASSWORD_REFS": device_refs,
            },
        )
        self.template = instance_template(
            context,
            tier=GATEWAY_TIER,
            size=settings.sizing.app_size,
            subnet=network.subnet,
            service_account_email=self.account.email,
            startup_script=script,
            tags=[network.vm_tag, self.broker_tag],
            parent=self,
        )
        self.health_check = gcp.compute.HealthCheck(
            f"{name}-health",
            name=physical(context, f"{name}-health"),
            check_interval_sec=10,
            timeout_sec=5,
            tcp_health_check={"port": MQTTS_PORT},
            log_config={"enable": True},
            opts=child,
        )
        self.group = regional_group(
            context,
            tier=GATEWAY_TIER,
            template=self.template,
            named_ports=[{"name": "mqtts", "port": MQTTS_PORT}],
            health_check=self.health_check,
            target_size=len(settings.zones) if settings.is_prod else 1,
            egress=[network.nat],
            parent=self,
        )
        gcp.compute.Firewall(
            f"{name}-allow-front-ends",
            name=physical(context, f"{name}-allow-front-ends"),
            network=network.vpc.id,
            direction="INGRESS",
            source_ranges=list(LB_SOURCE_RANGES),
            target_tags=[self.broker_tag],
            allows=[{"protocol": "tcp", "ports": [str(MQTTS_PORT)]}],
            log_config=FIREWALL_LOGS,
            description="only the TCP proxy and its health checks reach the brokers",
            opts=child,
        )
        backend = gcp.compute.BackendService(
            f"{name}-backend",
            name=physical(context, f"{name}-backend"),
            protocol="TCP",
            port_name="mqtts",
            load_balancing_scheme="EXTERNAL_MANAGED",
            timeout_sec=300,
            health_checks=self.health_check.id,
            backends=[
                {
                    "group": self.group.instance_group,
                    "balancing_mode": "CONNECTION",
                    "max_connections_per_instance": 10_000,
                }
            ],
            log_config={"enable": True, "sample_rate": 1.0},
            opts=child,
        )
        proxy = gcp.compute.TargetTCPProxy(
            f"{name}-proxy",
            name=physical(context, f"{name}-proxy"),
            backend_service=backend.id,
            proxy_header="NONE",
            opts=child,
        )
        self.address = gcp.compute.GlobalAddress(
            f"{name}-address",
            name=physical(context, f"{name}-ip"),
            address_type="EXTERNAL",
            labels=labels(context),
            opts=child,
        )
        gcp.compute.GlobalForwardingRule(
            f"{name}-mqtts",
            name=physical(context, f"{name}-mqtts"),
            ip_address=self.address.address,
            ip_protocol="TCP",
            port_range=str(MQTTS_PORT),
            target=proxy.id,
            load_balancing_scheme="EXTERNAL_MANAGED",
            labels=labels(context),
            opts=child,
        )
        self.endpoint: pulumi.Output[str] = self.address.address.apply(
            lambda ip: f"mqtts://{ip}:{MQTTS_PORT}"
        )
        self.register_outputs({"endpoint": self.endpoint})
