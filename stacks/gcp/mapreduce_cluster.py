"""MapReduceCluster: a Dataproc cluster on internal IPs only, with its own service account, the
log store as staging bucket, and the blueprint's Hadoop streaming jobs. A tier granted "submit"
may run jobs on this cluster and no other."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from stacks.blueprints.model import Access, StreamingJob
from stacks.common.args import MapReduceClusterArgs, StackContext
from stacks.gcp.common import BindingGrants, fit, labels, physical
from stacks.gcp.network import FIREWALL_LOGS
from stacks.gcp.sizes import DATAPROC_IMAGE, DATAPROC_MACHINE_TYPES

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_INPUT = "to be or not to be\nthat is the question\n"
"""The deploy-time job's input: over an empty prefix Hadoop fails the job ("Input path does not
exist") and the cluster's first job ends in ERROR."""
STREAMING_JAR = "file:///usr/lib/hadoop-mapreduce/hadoop-streaming.jar"
"""Where Dataproc images ship Hadoop streaming."""
CLUSTER_SUBMIT_ROLE = "roles/dataproc.editor"
"""On the cluster itself, the only predefined role with `dataproc.clusters.use` (what submitting
a job to it takes); it also lets the holder stop, update or delete this one cluster."""
JOB_PERMISSIONS = (
    "dataproc.jobs.create",
    "dataproc.jobs.get",
    "dataproc.jobs.list",
    "dataproc.jobs.cancel",
)
"""Submit, poll, list and cancel jobs. Dataproc checks these on the project and IAM conditions
cannot name a Dataproc resource, so they come as a custom role without cluster permissions: a
job can still only be submitted where the holder has `dataproc.clusters.use`, this cluster."""


def streaming_args(job: StreamingJob, bucket: str) -> list[str]:
    """`mapper | sort | reducer` over gs://bucket/<input_prefix>, output under the job's name."""
    return [
        "-mapper",
        f"python3 {Path(job.mapper).name}",
        "-reducer",
        f"python3 {Path(job.reducer).name}",
        "-input",
        f"gs://{bucket}/{job.input_prefix}",
        "-output",
        f"gs://{bucket}/{job.output_prefix}{job.name}",
    ]


class MapReduceCluster(BindingGrants, pulumi.ComponentResource):
    """Prod runs three masters (Dataproc HA mode). The job scripts are uploaded from this
    repository into the code store; the cluster's service account may use the code and log
    stores and nothing else (plus roles/dataproc.worker, which Dataproc VMs require)."""

    def __init__(
        self, name: str, args: MapReduceClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:MapReduceCluster", name, None, opts)
        context, spec, network = args.context, args.spec, args.network
        settings = context.settings
        child = pulumi.ResourceOptions(parent=self)
        machine_type = DATAPROC_MACHINE_TYPES[settings.env]
        self.cluster_tag = physical(context, f"{name}-node")

        self.account = gcp.serviceaccount.Account(
            f"{name}-account",
            account_id=fit(f"{context.prefix}-{name}", 30),
            display_name=f"{context.prefix} {name} Dataproc cluster",
            opts=child,
        )
        bindings: list[pulumi.Resource] = [
            gcp.projects.IAMMember(
                f"{name}-dataproc-worker",
                project=settings.gcp_project,
                role="roles/dataproc.worker",
                member=self.account.member,
                opts=child,
            )
        ]
        bindings += args.code_store.bind(f"{name}-code", self.account.member, "read-write", self)
        bindings += args.log_store.bind(f"{name}-logs", self.account.member, "read-write", self)
        internal = gcp.compute.Firewall(
            f"{name}-internal",
            name=physical(context, f"{name}-internal"),
            network=network.vpc.id,
            direction="INGRESS",
            source_tags=[self.cluster_tag],
            target_tags=[self.cluster_tag],
            allows=[
                {"protocol": "tcp", "ports": ["0-65535"]},
                {"protocol": "udp", "ports": ["0-65535"]},
                {"protocol": "icmp"},
            ],
            log_config=FIREWALL_LOGS,
            description="Dataproc nodes talk to each other, and only to each other",
            opts=child,
        )
        node_disk = {"boot_disk_type": "pd-balanced", "boot_disk_size_gb": 100}
        self.cluster = gcp.dataproc.Cluster(
            "cluster",
            name=physical(context, name, 51),
            region=settings.region,
            labels=labels(context),
            cluster_config={
                "staging_bucket": args.log_store.physical_name,
                "temp_bucket": args.log_store.physical_name,
                "gce_cluster_config": {
                    "zone": settings.zones[0],
                    "subnetwork": network.subnet.id,
                    "internal_ip_only": True,
                    "service_account": self.account.email,
                    "service_account_scopes": ["cloud-platform"],
                    "tags": [self.cluster_tag, network.vm_tag],
                    "metadata": {"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE"},
                    "shielded_instance_config": {
                        "enable_secure_boot": True,
                        "enable_vtpm": True,
                        "enable_integrity_monitoring": True,
                    },
                },
                "master_config": {
                    "num_instances": 3 if settings.is_prod else 1,
                    "machine_type": machine_type,
                    "disk_config": node_disk,
                },
                "worker_config": {
                    "num_instances": settings.sizing.mapreduce_workers,
                    "machine_type": machine_type,
                    "disk_config": node_disk,
                },
                "software_config": {"image_version": DATAPROC_IMAGE},
                "endpoint_config": {"enable_http_port_access": False},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*bindings, internal]),
        )
        self.jobs = [self._job(context, job, args.code_store) for job in spec.jobs]
        self.job_submitter = gcp.projects.IAMCustomRole(
            f"{name}-job-submitter",
            project=settings.gcp_project,
            role_id=f"{context.prefix}-{name}-job-submitter".replace("-", "_")[:64],
            title=f"{context.prefix} {name} job submitter"[:100],
            description="Submit, watch and cancel Dataproc jobs; no cluster permissions",
            permissions=list(JOB_PERMISSIONS),
            opts=child,
        )
        self.logical_name = name
        self.project = settings.gcp_project
        self.region = settings.region
        self.physical_name: pulumi.Output[str] = self.cluster.name
        project, region = self.project, self.region
        self.backend_url: pulumi.Output[str] = self.cluster.name.apply(
            lambda cluster: f"dataproc://{project}/{region}/{cluster}"
        )
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def bind(
        self, name: str, member: pulumi.Input[str], access: Access, parent: pulumi.Resource
    ) -> list[pulumi.CustomResource]:
        """submit: use this cluster (a cluster-level binding) plus the project-level job
        permissions, which without `dataproc.clusters.use` reach no other cluster."""
        self.require_access("mapreduce cluster", access, ["submit"])
        child = pulumi.ResourceOptions(parent=parent)
        return [
            gcp.dataproc.ClusterIAMMember(
                name,
                project=self.project,
                region=self.region,
                cluster=self.cluster.name,
                role=CLUSTER_SUBMIT_ROLE,
                member=member,
                opts=child,
            ),
            gcp.projects.IAMMember(
                f"{name}-jobs",
                project=self.project,
                role=self.job_submitter.name,
                member=member,
                opts=child,
            ),
        ]

    def _job(
        self, context: StackContext, job: StreamingJob, code_store: pulumi.ComponentResource
    ) -> gcp.dataproc.Job:
        """Uploads the job's scripts and a sample input, then runs it once on the cluster."""
        child = pulumi.ResourceOptions(parent=self)
        scripts = [
            gcp.storage.BucketObject(
                f"{job.name}-{role}",
                bucket=code_store.physical_name,
                name=f"jobs/{job.name}/{Path(path).name}",
                source=pulumi.StringAsset((REPO_ROOT / path).read_text()),
                content_type="text/x-python",
                opts=child,
            )
            for role, path in (("mapper", job.mapper), ("reducer", job.reducer))
        ]
        sample = gcp.storage.BucketObject(
            f"{job.name}-sample-input",
            bucket=code_store.physical_name,
            name=f"{job.input_prefix}deploy-check.txt",
            content=SAMPLE_INPUT,
            content_type="text/plain",
            opts=child,
        )
        return gcp.dataproc.Job(
            job.name,
            region=context.settings.region,
            placement={"cluster_name": self.cluster.name},
            hadoop_config={
                "main_jar_file_uri": STREAMING_JAR,
                "file_uris": [
                    pulumi.Output.concat("gs://", s.bucket, "/", s.name) for s in scripts
                ],
                "args": code_store.physical_name.apply(lambda b: streaming_args(job, b)),
            },
            labels=labels(context, job=fit(job.name)),
            force_delete=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*scripts, sample]),
        )
