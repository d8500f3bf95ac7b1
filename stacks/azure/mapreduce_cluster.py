"""MapReduceCluster: an HDInsight cluster (kind spark: YARN, Hadoop streaming and Livy) inside
the VNet (outbound-only resource provider connection, private link, TLS 1.2, encryption in
transit), whose default file system is
a dedicated ADLS Gen2 account reached with the cluster's managed identity (secure transfer, no
shared keys), plus the streaming jobs.

A streaming job is not an ARM resource: each job is its mapper and reducer uploaded to the
cluster's file system with Entra ID (`upload_commands[job]`: azure-native's Blob resource signs
with the account key, which this account refuses) and a submit command (`submit_commands[job]`)
that the job-runner worker — or an operator on the head node — runs with `hadoop jar
hadoop-streaming.jar`. The
blueprint's code store stays the apps' upload store; its log store is not used on Azure: YARN
keeps the job logs in the cluster file system (`/app-logs`).

The cluster is of kind "spark": it keeps YARN and Hadoop streaming (the submit commands above
run unchanged) and adds Livy, the REST gateway (`https://<cluster>.azurehdinsight.net/livy`) the
job runner submits each job through, as a Spark batch running the same mapper and reducer.

The job runner reaches the gateway through a private endpoint (sub-resource "gateway") in the
endpoints subnet, registered in the private DNS zone `privatelink.azurehdinsight.net` linked to
the VNet: with private link on, the public name `<cluster>.azurehdinsight.net` is a CNAME to
`<cluster>.privatelink.azurehdinsight.net`, which only that zone answers ("Enable Private Link on
an HDInsight cluster", steps 5 and 6, learn.microsoft.com/azure/hdinsight/hdinsight-private-link).
The cluster's subnet has private-link service network policies disabled (stacks/azure/network.py).

Tiers granted "submit" (the job-runner) get the built-in HDInsight Cluster Operator role on this
cluster only (HDInsight has no finer Azure role), Storage Blob Data Contributor on the cluster's
file system (the job runner uploads programs and inputs and collects the outputs there with its
identity: shared keys are off) and Key Vault Secrets User on the gateway password's secret.
`backend_url` names all three: `hdinsight://admin@<cluster>?storage=azblob://<account>/cluster
&gateway_password_ref=azure-keyvault://<vault>.vault.azure.net/<secret>`."""

from __future__ import annotations

import pulumi
import pulumi_random as random
import pulumi_tls as tls
from pulumi_azure_native import (
    authorization,
    hdinsight,
    keyvault,
    managedidentity,
    storage,
)

from stacks.azure.app_secret import SECRETS_USER_ROLE, keyvault_ref
from stacks.azure.common import (
    child,
    compact_name,
    component_opts,
    dashed_name,
    grant_role,
    role_definition_id,
    stable_guid,
)
from stacks.azure.hdinsight_jobs import FILE_SYSTEM, submit_command, upload_command
from stacks.azure.object_store import SOFT_DELETE_DAYS
from stacks.azure.private_endpoint import PrivateEndpoint, PrivateEndpointArgs
from stacks.azure.sizes import (
    HDINSIGHT_HEAD_NODE,
    HDINSIGHT_WORKER_NODE,
    HDINSIGHT_ZOOKEEPER_NODE,
)
from stacks.blueprints.model import Access
from stacks.common.args import MapReduceClusterArgs
from stacks.common.contracts import Principal

CLUSTER_VERSION = "5.1"
SPARK_VERSION = "3.3"  # the Spark of HDInsight 5.1
GATEWAY_USER = "admin"
FILE_SYSTEM_WRITER_ROLE = "storage-blob-data-contributor"
PRIVATE_DNS_ZONE = "privatelink.azurehdinsight.net"
"""The zone Azure documents for HDInsight private endpoints (gateway and headnode)."""
GATEWAY_GROUP = "gateway"
"""The private-link sub-resource behind Ambari, Livy and WebHCat: what the job runner calls."""
SSH_USER = "sshuser"
# Built-in "HDInsight Cluster Operator" (the same GUID in every tenant): read the cluster, read
# and rotate its gateway settings, read/modify its configurations; no create, scale or delete.
CLUSTER_OPERATOR_ROLE = "61ed4efc-fab3-44fd-b111-e24485cc132a"


class MapReduceCluster(pulumi.ComponentResource):
    """Exposes cluster_name, file_system_url (abfs://...), submit_commands, and like a data
    component physical_name (the cluster name) and backend_url (the gateway login, the cluster, its
    file system and the gateway password's reference; see above)."""

    def __init__(
        self, name: str, args: MapReduceClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:MapReduceCluster", name, None, component_opts(opts))
        self.logical_name = name
        context, spec, net = args.context, args.spec, args.network
        settings = context.settings
        tags = context.tags
        self.spec_name = spec.name
        self.subscription_id = net.subscription_id
        self.cluster_name = dashed_name(context, spec.name, max_length=59)

        identity = managedidentity.UserAssignedIdentity(
            f"{name}-mi",
            resource_name_=f"{context.prefix}-{spec.name}-id",
            resource_group_name=net.resource_group_name,
            location=net.location,
            tags=tags,
            opts=child(self),
        )
        self.account_name = compact_name(context, f"{spec.name}fs")
        account = storage.StorageAccount(
            f"{name}-fs-account",
            account_name=self.account_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            kind="StorageV2",
            sku={"name": "Standard_LRS"},
            is_hns_enabled=True,  # ADLS Gen2: the cluster authenticates with its identity
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            tags=tags,
            opts=child(self),
        )
        # Soft delete works with a hierarchical namespace; blob versioning does not (ARM refuses).
        blob_service = storage.BlobServiceProperties(
            f"{name}-fs-blob-service",
            account_name=account.name,
            resource_group_name=net.resource_group_name,
            blob_services_name="default",
            delete_retention_policy={"enabled": True, "days": SOFT_DELETE_DAYS},
            container_delete_retention_policy={"enabled": True, "days": SOFT_DELETE_DAYS},
            opts=child(self),
        )
        file_system = storage.BlobContainer(
            f"{name}-fs",
            container_name=FILE_SYSTEM,
            account_name=account.name,
            resource_group_name=net.resource_group_name,
            public_access="None",
            opts=child(self, depends_on=[blob_service]),
        )
        role = "storage-blob-data-owner"
        data_owner = authorization.RoleAssignment(
            f"{name}-fs-owner",
            role_assignment_name=stable_guid(self.cluster_name, self.account_name, role),
            scope=account.id,
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(net.subscription_id, role),
            opts=child(self),
        )
        self.file_system_url = f"abfs://{FILE_SYSTEM}@{self.account_name}.dfs.core.windows.net"
        self.submit_commands: dict[str, str] = {}
        self.upload_commands: dict[str, str] = {}
        for job in spec.jobs:
            # Not storage.Blob: azure-native uploads with the account key, and this account
            # has shared keys off (KeyBasedAuthenticationNotPermitted; pulumi-azure-native #2015).
            self.upload_commands[job.name] = upload_command(job, self.account_name)
            self.submit_commands[job.name] = submit_command(job, self.file_system_url)

        gateway_password = random.RandomPassword(
            f"{name}-gateway-password",
            length=24,
            special=True,
            override_special="!#%*-_",
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            min_special=1,
            opts=child(self),
        )
        gateway_secret = keyvault.Secret(
            f"{name}-gateway-secret",
            secret_name=f"{spec.name}-gateway-password",
            vault_name=net.vault.name,
            resource_group_name=net.resource_group_name,
            properties={"value": gateway_password.result, "content_type": "text/plain"},
            tags=tags,
            opts=child(self),
        )
        ssh_key = tls.PrivateKey(
            f"{name}-ssh-key", algorithm="RSA", rsa_bits=4096, opts=child(self)
        )
        os_profile = {
            "linux_operating_system_profile": {
                "username": SSH_USER,
                "ssh_profile": {"public_keys": [{"certificate_data": ssh_key.public_key_openssh}]},
            }
        }
        in_vnet = {"id": net.vnet_id, "subnet": net.subnet_ids["mapreduce"]}
        # The zone is linked to the VNet before the cluster exists, so the endpoint's records
        # land in a zone the VNet already resolves.
        net.private_dns_zone(PRIVATE_DNS_ZONE)
        zone_link = net.dns_zone_links[PRIVATE_DNS_ZONE]

        def role_profile(role_name: str, size: str, count: int) -> dict:
            return {
                "name": role_name,
                "target_instance_count": count,
                "hardware_profile": {"vm_size": size},
                "os_profile": os_profile,
                "virtual_network_profile": in_vnet,
            }

        self.cluster = hdinsight.Cluster(
            f"{name}-cluster",
            cluster_name=self.cluster_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            identity={
                "type": "UserAssigned",
                "user_assigned_identities": identity.id.apply(lambda i: {i: {}}),
            },
            properties={
                "cluster_version": CLUSTER_VERSION,
                "os_type": "Linux",
                "tier": "Standard",
                "min_supported_tls_version": "1.2",
                "encryption_in_transit_properties": {"is_encryption_in_transit_enabled": True},
                "network_properties": {
                    "resource_provider_connection": "Outbound",
                    "private_link": "Enabled",
                },
                "cluster_definition": {
                    "kind": "spark",
                    "component_version": {"Spark": SPARK_VERSION},
                    "configurations": {
                        "gateway": {
                            "restAuthCredential.isEnabled": True,
                            "restAuthCredential.username": GATEWAY_USER,
                            "restAuthCredential.password": gateway_password.result,
                        }
                    },
                },
                "compute_profile": {
                    "roles": [
                        role_profile("headnode", HDINSIGHT_HEAD_NODE, 2),
                        role_profile(
                            "workernode",
                            HDINSIGHT_WORKER_NODE,
                            settings.sizing.mapreduce_workers,
                        ),
                        role_profile("zookeepernode", HDINSIGHT_ZOOKEEPER_NODE, 3),
                    ]
                },
                "storage_profile": {
                    "storageaccounts": [
                        {
                            "name": f"{self.account_name}.dfs.core.windows.net",
                            "is_default": True,
                            "file_system": FILE_SYSTEM,
                            "resource_id": account.id,
                            "msi_resource_id": identity.id,
                            "enable_secure_channel": True,
                        }
                    ]
                },
            },
            tags=tags,
            opts=child(
                self,
                depends_on=[data_owner, file_system, net.subnets["mapreduce"], zone_link],
            ),
        )
        self.gateway_endpoint = PrivateEndpoint(
            f"{name}-gateway-endpoint",
            PrivateEndpointArgs(
                network=net,
                endpoint_name=f"{context.prefix}-{spec.name}-gateway-pe",
                target_id=self.cluster.id,
                sub_resource=GATEWAY_GROUP,
                connection_name=GATEWAY_GROUP,
                dns_zone=PRIVATE_DNS_ZONE,
                tags=tags,
            ),
            opts=child(self),
        )
        self.gateway_dns = self.gateway_endpoint.dns_zone_group
        self.physical_name: pulumi.Output[str] = self.cluster.name
        self.network = net
        self.file_system_id: pulumi.Output[str] = file_system.id
        self.gateway_secret_name = f"{spec.name}-gateway-password"
        self.gateway_secret_id: pulumi.Output[str] = pulumi.Output.concat(
            net.vault_id, "/secrets/", gateway_secret.name
        )
        # What the job runner needs, by reference: the gateway login, the file system it
        # uploads to, the Key Vault secret holding the gateway password (never the value). Built
        # from the DNS records' own output: the job runner boots only once the gateway's private
        # name resolves in the VNet.
        self.backend_url: pulumi.Output[str] = pulumi.Output.all(
            self.cluster.name,
            self.gateway_dns.id,
            keyvault_ref(net.vault.name, gateway_secret.name),
        ).apply(
            lambda values: (
                f"hdinsight://{GATEWAY_USER}@{values[0]}"
                f"?storage=azblob://{self.account_name}/{FILE_SYSTEM}"
                f"&gateway_password_ref={values[2]}"
            )
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "submit_commands": self.submit_commands,
                "upload_commands": self.upload_commands,
                "physical_name": self.physical_name,
                "backend_url": self.backend_url,
            }
        )

    def grant(self, principal: Principal, access: Access) -> list[pulumi.Resource]:
        """For access "submit": HDInsight Cluster Operator on this cluster, Storage Blob Data
        Contributor on its file system (container scope) and Key Vault Secrets User on the
        gateway password's secret; nothing wider."""
        if access != "submit":
            raise ValueError(
                f"{principal.name}: a MapReduce cluster grants only 'submit' access, not {access!r}"
            )
        return [
            authorization.RoleAssignment(
                f"{principal.name}-{self.spec_name}-submit",
                role_assignment_name=stable_guid(
                    principal.name, self.cluster_name, CLUSTER_OPERATOR_ROLE
                ),
                scope=self.cluster.id,
                principal_id=principal.id,
                principal_type="ServicePrincipal",
                role_definition_id=pulumi.Output.concat(
                    "/subscriptions/",
                    self.subscription_id,
                    "/providers/Microsoft.Authorization/roleDefinitions/",
                    CLUSTER_OPERATOR_ROLE,
                ),
                opts=child(principal.parent),
            ),
            grant_role(
                f"{principal.name}-{self.spec_name}-fs-write",
                role=FILE_SYSTEM_WRITER_ROLE,
                scope=self.file_system_id,
                principal_id=principal.id,
                subscription_id=self.subscription_id,
                guid_parts=(
                    principal.name,
                    self.account_name,
                    FILE_SYSTEM,
                    FILE_SYSTEM_WRITER_ROLE,
                ),
                parent=principal.parent,
            ),
            grant_role(
                f"{principal.name}-{self.spec_name}-gateway-read",
                role=SECRETS_USER_ROLE,
                scope=self.gateway_secret_id,
                principal_id=principal.id,
                subscription_id=self.subscription_id,
                guid_parts=(
                    principal.name,
                    self.network.vault_name,
                    self.gateway_secret_name,
                    SECRETS_USER_ROLE,
                ),
                parent=principal.parent,
            ),
        ]
