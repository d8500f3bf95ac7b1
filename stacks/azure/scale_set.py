"""The VM scale set both tiers use: Debian 12 with Trusted Launch, no public IPs, SSH keys only,
the tier's user-assigned identity, spread and balanced over the stack's zones, and cloud-init
user data that runs the repository's Ansible roles (stacks/common/bootstrap.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls
from pulumi_azure_native import compute, monitor

from stacks.azure.common import child
from stacks.azure.sizes import DEBIAN_IMAGE, VM_SIZES
from stacks.blueprints.model import SizeClass
from stacks.common.args import AppTierArgs, StackContext, WorkerTierArgs
from stacks.common.bootstrap import cloud_config_base64
from stacks.common.tier import TierComponent

ADMIN_USER = "azureuser"


@dataclass
class ScaleSetSpec:
    """What differs between the app and worker tiers' scale sets."""

    name: str
    tier: str
    subnet_id: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    bootstrap: pulumi.Input[str]
    size: SizeClass
    instances: int
    backend_pool_id: pulumi.Input[str] | None = None
    health_port: int | None = None
    health_path: str | None = None


def scale_set(
    parent: pulumi.Resource,
    context: StackContext,
    network: pulumi.ComponentResource,
    spec: ScaleSetSpec,
) -> compute.VirtualMachineScaleSet:
    """Declares the scale set (and its break-glass SSH key, kept only in the stack's state)."""
    settings = context.settings
    # Password logins are off; the key is for break-glass access through a bastion only.
    ssh_key = tls.PrivateKey(
        f"{spec.name}-ssh-key", algorithm="RSA", rsa_bits=4096, opts=child(parent)
    )
    health_checked = spec.health_port is not None
    extensions = []
    if health_checked:
        extensions.append(
            {
                "name": "health",
                "publisher": "Microsoft.ManagedServices",
                "type": "ApplicationHealthLinux",
                "type_handler_version": "2.0",
                "auto_upgrade_minor_version": True,
                "settings": {
                    "protocol": "http",
                    "port": spec.health_port,
                    "requestPath": spec.health_path,
                },
            }
        )
    ip_configuration: dict = {
        "name": "internal",
        "primary": True,
        "subnet": {"id": spec.subnet_id},
    }
    if spec.backend_pool_id is not None:
        ip_configuration["application_gateway_backend_address_pools"] = [
            {"id": spec.backend_pool_id}
        ]
    return compute.VirtualMachineScaleSet(
        f"{spec.name}-vmss",
        vm_scale_set_name=f"{context.prefix}-{spec.tier}",
        resource_group_name=network.resource_group_name,
        location=network.location,
        zones=list(settings.zones),
        zone_balance=True,
        platform_fault_domain_count=1,
        orchestration_mode="Uniform",
        overprovision=False,
        single_placement_group=False,
        sku={"name": VM_SIZES[spec.size], "tier": "Standard", "capacity": spec.instances},
        identity={"type": "UserAssigned", "user_assigned_identities": [spec.identity_id]},
        upgrade_policy=(
            {
                "mode": "Rolling",
                "rolling_upgrade_policy": {
                    "max_batch_instance_percent": 50,
                    "max_unhealthy_instance_percent": 50,
                    "max_unhealthy_upgraded_instance_percent": 50,
                    "pause_time_between_batches": "PT30S",
                },
            }
            if health_checked
            else {"mode": "Manual"}
        ),
        automatic_repairs_policy=(
            {"enabled": True, "grace_period": "PT30M"} if health_checked else None
        ),
        virtual_machine_profile={
            "os_profile": {
                "computer_name_prefix": spec.tier[:9],
                "admin_username": ADMIN_USER,
                "custom_data": cloud_config_base64(spec.bootstrap),
                "linux_configuration": {
                    "disable_password_authentication": True,
                    "provision_vm_agent": True,
                    "ssh": {
                        "public_keys": [
                            {
                                "path": f"/home/{ADMIN_USER}/.ssh/authorized_keys",
                                "key_data": ssh_key.public_key_openssh,
                            }
                        ]
                    },
                },
            },
            "storage_profile": {
                "image_reference": DEBIAN_IMAGE,
                "os_disk": {
                    "create_option": "FromImage",
                    "caching": "ReadWrite",
                    "managed_disk": {
                        "storage_account_type": "Premium_LRS"
                        if settings.is_prod
                        else "StandardSSD_LRS"
                    },
                },
            },
            "security_profile": {
                # Needs the subscription feature Microsoft.Compute/EncryptionAtHost (once).
                "encryption_at_host": True,
                "security_type": "TrustedLaunch",
                "uefi_settings": {"secure_boot_enabled": True, "v_tpm_enabled": True},
            },
            "network_profile": {
                "network_interface_configurations": [
                    {
                        "name": "nic",
                        "primary": True,
                        "enable_ip_forwarding": False,
                        "ip_configurations": [ip_configuration],
                    }
                ]
            },
            "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},
            "extension_profile": {"extensions": extensions} if extensions else None,
        },
        tags={**context.tags, "tier": spec.tier},
        opts=child(parent),
    )


def autoscale(
    parent: pulumi.Resource,
    context: StackContext,
    network: pulumi.ComponentResource,
    name: str,
    target: compute.VirtualMachineScaleSet,
    minimum: int,
    maximum: int,
    rules: list[dict],
) -> monitor.AutoscaleSetting:
    """Azure Monitor autoscale for a scale set, between the sizing's min and max."""
    return monitor.AutoscaleSetting(
        f"{name}-autoscale",
        autoscale_setting_name=f"{context.prefix}-{name}-autoscale",
        resource_group_name=network.resource_group_name,
        location=network.location,
        target_resource_uri=target.id,
        enabled=True,
        profiles=[
            {
                "name": "default",
                "capacity": {
                    "minimum": str(minimum),
                    "maximum": str(maximum),
                    "default": str(minimum),
                },
                "rules": rules,
            }
        ],
        tags=context.tags,
        opts=child(parent),
    )


def scale_rule(
    metric_name: str,
    resource_uri: pulumi.Input[str],
    operator: str,
    threshold: float,
    direction: str,
    *,
    namespace: str | None = None,
    dimensions: list[dict] | None = None,
    per_instance: bool = False,
    cooldown: str = "PT5M",
) -> dict:
    """One autoscale rule: change the count by one when the metric crosses the threshold."""
    trigger: dict = {
        "metric_name": metric_name,
        "metric_resource_uri": resource_uri,
        "operator": operator,
        "statistic": "Average",
        "threshold": threshold,
        "time_aggregation": "Average",
        "time_grain": "PT1M",
        "time_window": "PT5M",
    }
    if namespace:
        trigger["metric_namespace"] = namespace
    if dimensions:
        trigger["dimensions"] = dimensions
    if per_instance:
        trigger["divide_per_instance"] = True
    return {
        "metric_trigger": trigger,
        "scale_action": {
            "direction": direction,
            "type": "ChangeCount",
            "value": "1",
            "cooldown": cooldown,
        },
    }


class ScaleSetTier(TierComponent):
    """An Azure tier (registered with `component_opts`): one scale set, exposed as scale_set_id,
    scale_set_name and group_name (the name whose CPU the Alarms component watches)."""

    scale_set: compute.VirtualMachineScaleSet
    scale_set_id: pulumi.Output[str]
    scale_set_name: pulumi.Output[str]

    def declare_scale_set(
        self,
        args: AppTierArgs | WorkerTierArgs,
        subnet: str,
        size: SizeClass,
        instances: int,
        health: tuple[pulumi.Input[str], int, str] | None = None,
    ) -> None:
        """The tier's scale set in its `subnet` of the network, running as the tier's identity;
        `health`: (backend pool id, port, path) of a tier behind the gateway."""
        pool, port, path = health or (None, None, None)
        spec = ScaleSetSpec(
            name=self.logical_name,
            tier=args.spec.name,
            subnet_id=args.network.subnet_ids[subnet],
            identity_id=args.identity.identity_id,
            bootstrap=args.bootstrap,
            size=size,
            instances=instances,
            backend_pool_id=pool,
            health_port=port,
            health_path=path,
        )
        self.scale_set = scale_set(self, args.context, args.network, spec)
        self.scale_set_id = self.scale_set.id
        self.scale_set_name = self.scale_set.name
        self.group_name = self.scale_set.name
