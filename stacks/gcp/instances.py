"""The VM building blocks shared by AppTier, WorkerTier and IoTIngest: a hardened instance
template and a regional managed instance group spread over the stack's zones; `tier_hosts`
puts the two together the way both tiers run them."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from stacks.blueprints.model import SizeClass
from stacks.common.args import AppTierArgs, StackContext, WorkerTierArgs
from stacks.gcp.common import fit, labels, physical
from stacks.gcp.sizes import BOOT_IMAGE, MACHINE_TYPES

FIRST_BOOT_SECONDS = 900
"""Auto-healing waits this long before judging a new VM: a first boot installs packages,
ansible-core and converges (several minutes); 300 s recreated VMs that were still converging."""


def instance_template(
    context: StackContext,
    *,
    tier: str,
    size: SizeClass,
    subnet: gcp.compute.Subnetwork,
    service_account_email: pulumi.Input[str],
    startup_script: pulumi.Input[str],
    tags: Sequence[str],
    parent: pulumi.Resource,
) -> gcp.compute.InstanceTemplate:
    """Shielded VM, no external IP, OS Login (no metadata SSH keys), the tier's own service
    account, and the bootstrap as startup script (it is idempotent, so every boot re-converges).
    Templates are immutable: a name prefix lets Pulumi create the new one before deleting the
    old one."""
    tier_labels = labels(context, tier=tier)
    return gcp.compute.InstanceTemplate(
        f"{tier}-template",
        name_prefix=fit(f"{context.prefix}-{tier}", 36) + "-",
        machine_type=MACHINE_TYPES[size],
        region=context.settings.region,
        disks=[
            {
                "source_image": BOOT_IMAGE,
                "boot": True,
                "auto_delete": True,
                "disk_size_gb": 20,
                "disk_type": "pd-balanced",
                "labels": tier_labels,
            }
        ],
        network_interfaces=[{"subnetwork": subnet.id}],
        service_account={"email": service_account_email, "scopes": ["cloud-platform"]},
        shielded_instance_config={
            "enable_secure_boot": True,
            "enable_vtpm": True,
            "enable_integrity_monitoring": True,
        },
        metadata={
            "enable-oslogin": "TRUE",
            "block-project-ssh-keys": "TRUE",
            "serial-port-enable": "FALSE",
            "startup-script": startup_script,
        },
        scheduling={"automatic_restart": True, "on_host_maintenance": "MIGRATE"},
        can_ip_forward=False,
        tags=list(tags),
        labels=tier_labels,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def regional_group(
    context: StackContext,
    *,
    tier: str,
    template: gcp.compute.InstanceTemplate,
    named_ports: Sequence[dict[str, object]] = (),
    health_check: gcp.compute.HealthCheck | None = None,
    target_size: int | None = None,
    egress: Sequence[pulumi.Resource] = (),
    parent: pulumi.Resource,
) -> gcp.compute.RegionInstanceGroupManager:
    """A MIG over every zone of the stack; rolling updates surge one VM per zone and never take
    a serving VM away before its replacement is up."""
    zones = list(context.settings.zones)
    return gcp.compute.RegionInstanceGroupManager(
        f"{tier}-group",
        name=physical(context, tier),
        base_instance_name=physical(context, tier, 54),
        region=context.settings.region,
        distribution_policy_zones=zones,
        distribution_policy_target_shape="EVEN",
        versions=[{"name": "primary", "instance_template": template.self_link_unique}],
        named_ports=list(named_ports),
        auto_healing_policies=(
            {"health_check": health_check.id, "initial_delay_sec": FIRST_BOOT_SECONDS}
            if health_check
            else None
        ),
        update_policy={
            "type": "PROACTIVE",
            "minimal_action": "REPLACE",
            "instance_redistribution_type": "PROACTIVE",
            "max_surge_fixed": len(zones),
            "max_unavailable_fixed": 0,
        },
        target_size=target_size,
        wait_for_instances=False,
        # VMs boot straight into apt and ansible-pull through Cloud NAT (no public IPs).
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(egress)),
    )


def tier_hosts(
    parent: pulumi.Resource,
    tier: str,
    args: AppTierArgs | WorkerTierArgs,
    *,
    size: SizeClass,
    extra_tags: Sequence[str] = (),
    named_ports: Sequence[dict[str, object]] = (),
    health_check: gcp.compute.HealthCheck | None = None,
    target_size: int | None = None,
) -> tuple[gcp.compute.InstanceTemplate, gcp.compute.RegionInstanceGroupManager]:
    """A tier's VMs on the stack's subnet with the tier's own service account, booting its
    bootstrap; the group waits for Cloud NAT, without which a first boot cannot converge."""
    context, network = args.context, args.network
    template = instance_template(
        context,
        tier=tier,
        size=size,
        subnet=network.subnet,
        service_account_email=args.identity.email,
        startup_script=args.bootstrap,
        tags=[network.vm_tag, *extra_tags],
        parent=parent,
    )
    group = regional_group(
        context,
        tier=tier,
        template=template,
        named_ports=named_ports,
        health_check=health_check,
        target_size=target_size,
        egress=[network.nat],
        parent=parent,
    )
    return template, group
