"""MapReduceCluster: an EMR Hadoop cluster in a private subnet running the blueprint's streaming
jobs (mapper/reducer scripts uploaded to the code store), logs to the log store, IMDSv2 and
at-rest encryption from a security configuration, roles scoped to the two buckets. A tier granted
"submit" may add, watch and cancel steps on this cluster only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from stacks.aws.common import (
    StatementGrants,
    allow,
    child,
    policy_json,
    service_role,
    tags,
)
from stacks.aws.network import EMR_MANAGED_TAG
from stacks.aws.sizes import EMR_INSTANCE_TYPE
from stacks.blueprints.model import StreamingJob
from stacks.common.args import MapReduceClusterArgs, StackContext

RELEASE = "emr-7.5.0"
SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
"""AWS's least-privilege EMR service policy: it acts only on resources tagged EMR_MANAGED_TAG."""
SUBMIT_ACTIONS = [
    "elasticmapreduce:AddJobFlowSteps",
    "elasticmapreduce:DescribeStep",
    "elasticmapreduce:ListSteps",
    "elasticmapreduce:DescribeCluster",
    "elasticmapreduce:CancelSteps",
]
"""What the job runner needs to run a job and follow it; all accept the cluster ARN as resource."""
SAMPLE_INPUT = "to be or not to be\nthat is the question\n"
"""The deploy-time step's input: without it the step reads an empty prefix and ends FAILED."""
CORE_VOLUME_GB = 64
LOG_PREFIX = "emr/"
REPO_ROOT = Path(__file__).resolve().parents[2]


def script_key(job: StreamingJob, script: str) -> str:
    """Where a job script lives in the code store: jobs/<job>/<file>."""
    return f"jobs/{job.name}/{Path(script).name}"


def streaming_step(job: StreamingJob, bucket: str) -> dict[str, Any]:
    """A Hadoop streaming step: mapper | sort | reducer over s3://bucket/<input_prefix>."""
    mapper, reducer = Path(job.mapper).name, Path(job.reducer).name
    files = ",".join(f"s3://{bucket}/{script_key(job, s)}" for s in (job.mapper, job.reducer))
    return {
        "name": job.name,
        "action_on_failure": "CONTINUE",
        "hadoop_jar_step": {
            "jar": "command-runner.jar",
            "args": [
                "hadoop-streaming",
                "-files",
                files,
                "-mapper",
                f"python3 {mapper}",
                "-reducer",
                f"python3 {reducer}",
                "-input",
                f"s3://{bucket}/{job.input_prefix}",
                "-output",
                f"s3://{bucket}/{job.output_prefix}{job.name}/",
            ],
        },
    }


class MapReduceCluster(StatementGrants, pulumi.ComponentResource):
    """The cluster's nodes may read the code store, write job output, and write logs — no more."""

    cluster_id: pulumi.Output[str]
    arn: pulumi.Output[str]
    physical_name: pulumi.Output[str]
    backend_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: MapReduceClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:MapReduceCluster", name, None, opts)
        self.logical_name = name
        context, spec, network = args.context, args.spec, args.network
        settings = context.settings
        code_bucket, log_bucket = args.code_store.physical_name, args.log_store.physical_name

        scripts = [
            aws.s3.BucketObjectv2(
                f"{name}-{job.name}-{Path(script).stem}",
                bucket=code_bucket,
                key=script_key(job, script),
                source=pulumi.FileAsset(str(REPO_ROOT / script)),
                content_type="text/x-python",
                tags=tags(context, f"{name}-{job.name}"),
                opts=child(self),
            )
            for job in spec.jobs
            for script in (job.mapper, job.reducer)
        ]

        disk_key = aws.kms.Key(
            f"{name}-disks",
            description=f"EMR local disk encryption of {context.prefix}-{name}",
            enable_key_rotation=True,
            deletion_window_in_days=7 if not settings.is_prod else 30,
            tags=tags(context, f"{name}-disks"),
            opts=child(self),
        )
        node_role, node_policy = service_role(
            self,
            context,
            f"{name}-nodes",
            service="ec2.amazonaws.com",
            policy_name="cluster-data",
            policy=pulumi.Output.all(args.code_store.arn, args.log_store.arn, disk_key.arn).apply(
                lambda arns: _node_policy(spec.jobs, settings.region, *arns)
            ),
        )
        profile = aws.iam.InstanceProfile(
            f"{name}-nodes",
            name=f"{context.prefix}-{name}-nodes",
            role=node_role.name,
            tags=tags(context, f"{name}-nodes"),
            opts=child(self),
        )
        service, service_policy = service_role(
            self,
            context,
            f"{name}-service",
            service="elasticmapreduce.amazonaws.com",
            policy_name="pass-node-role-and-disk-key",
            policy=pulumi.Output.all(node_role.arn, disk_key.arn).apply(
                lambda arns: _service_policy(*arns)
            ),
        )
        service_attachment = aws.iam.RolePolicyAttachment(
            f"{name}-service", role=service.name, policy_arn=SERVICE_POLICY, opts=child(self)
        )
        security = aws.emr.SecurityConfiguration(
            name,
            name=f"{context.prefix}-{name}",
            configuration=disk_key.arn.apply(_security_configuration),
            opts=child(self),
        )
        groups = {
            role: aws.ec2.SecurityGroup(
                f"{name}-{role}",
                name=f"{context.prefix}-{name}-{role}",
                description=f"EMR-managed {role} group (EMR adds its own rules)",
                vpc_id=network.vpc_id,
                revoke_rules_on_delete=True,
                tags={**tags(context, f"{name}-{role}"), **EMR_MANAGED_TAG},
                opts=child(self),
            )
            for role in ("primary", "core", "service")
        }
        egress = _egress_rules(self, name, context, groups)
        samples = [
            aws.s3.BucketObjectv2(
                f"{name}-{job.name}-sample",
                bucket=code_bucket,
                key=f"{job.input_prefix}deploy-check.txt",
                content=SAMPLE_INPUT,
                content_type="text/plain",
                tags=tags(context, f"{name}-{job.name}"),
                opts=child(self),
            )
            for job in spec.jobs
        ]
        cluster = aws.emr.Cluster(
            name,
            name=f"{context.prefix}-{name}",
            release_label=RELEASE,
            applications=["Hadoop"],
            service_role=service.arn,
            security_configuration=security.name,
            log_uri=log_bucket.apply(lambda bucket: f"s3://{bucket}/{LOG_PREFIX}"),
            ec2_attributes={
                "subnet_id": network.private_subnet_ids[0],
                "instance_profile": profile.arn,
                "emr_managed_master_security_group": groups["primary"].id,
                "emr_managed_slave_security_group": groups["core"].id,
                "service_access_security_group": groups["service"].id,
            },
            master_instance_group={"instance_type": EMR_INSTANCE_TYPE, "instance_count": 1},
            core_instance_group={
                "instance_type": EMR_INSTANCE_TYPE,
                "instance_count": settings.sizing.mapreduce_workers,
                "ebs_configs": [{"size": CORE_VOLUME_GB, "type": "gp3", "volumes_per_instance": 1}],
            },
            # No idle auto-termination, even in dev: the job runner is told this cluster's id, so
            # a terminated cluster would fail every later job. Destroy the stack to stop paying.
            keep_job_flow_alive_when_no_steps=True,
            termination_protection=settings.is_prod,
            steps=code_bucket.apply(
                lambda bucket: [streaming_step(job, bucket) for job in spec.jobs]
            ),
            tags={**tags(context, name), **EMR_MANAGED_TAG},
            opts=child(
                self,
                # EMR validates its roles at creation: they must carry their policies already.
                # The nodes bootstrap over the NAT route and download through their egress rules.
                depends_on=[
                    *scripts,
                    *samples,
                    node_policy,
                    service_attachment,
                    service_policy,
                    *egress,
                    *network.egress_ready,
                ],
                # The job runner adds steps; they are not drift.
                ignore_changes=["steps"],
            ),
        )
        self.cluster_id = cluster.id
        self.arn = cluster.arn
        self.physical_name = cluster.id
        self.backend_url = cluster.id.apply(lambda cluster_id: f"emr://{cluster_id}")
        self.register_outputs(
            {
                "cluster_id": self.cluster_id,
                "arn": self.arn,
                "physical_name": self.physical_name,
                "backend_url": self.backend_url,
            }
        )

    def policy_statements(self, access: str) -> pulumi.Output[list[dict[str, Any]]]:
        """submit: add, describe, list and cancel steps of this cluster — no other cluster."""
        if access != "submit":
            raise ValueError(f"a MapReduce cluster grants only 'submit', not {access!r}")
        return self.arn.apply(lambda arn: [allow(SUBMIT_ACTIONS, [arn])])


def _service_policy(node_role_arn: str, key_arn: str) -> str:
    """EMR passes the node role to the instances it starts and uses the disk key for them."""
    return policy_json(
        [
            allow("iam:PassRole", node_role_arn),
            allow(
                [
                    "kms:CreateGrant",
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncrypt*",
                ],
                key_arn,
            ),
        ]
    )


def _node_policy(
    jobs: tuple[StreamingJob, ...], region: str, code_arn: str, log_arn: str, key_arn: str
) -> str:
    outputs = [f"{code_arn}/{job.output_prefix}{job.name}/*" for job in jobs]
    emr_artifacts = f"arn:aws:s3:::{region}.elasticmapreduce"
    return policy_json(
        [
            {
                "Sid": "ListJobBuckets",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [code_arn, log_arn, emr_artifacts],
            },
            {
                "Sid": "ReadJobCodeAndInput",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{code_arn}/*", f"{emr_artifacts}/*"],
            },
            {
                "Sid": "WriteJobOutput",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": outputs,
            },
            {
                "Sid": "WriteClusterLogs",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [f"{log_arn}/{LOG_PREFIX}*"],
            },
            {
                "Sid": "UseDiskKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": [key_arn],
            },
        ]
    )


def _security_configuration(key_arn: str) -> str:
    """At-rest encryption (S3 and local disks incl. EBS) and IMDSv2 on every node."""
    return json.dumps(
        {
            "EncryptionConfiguration": {
                "EnableInTransitEncryption": False,
                "EnableAtRestEncryption": True,
                "AtRestEncryptionConfiguration": {
                    "S3EncryptionConfiguration": {"EncryptionMode": "SSE-S3"},
                    "LocalDiskEncryptionConfiguration": {
                        "EncryptionKeyProviderType": "AwsKms",
                        "AwsKmsKey": key_arn,
                        "EnableEbsEncryption": True,
                    },
                },
            },
            "InstanceMetadataServiceConfiguration": {
                "MinimumInstanceMetadataServiceVersion": 2,
                "HttpPutResponseHopLimit": 1,
            },
        },
        sort_keys=True,
    )


def _egress_rules(
    parent: pulumi.Resource,
    name: str,
    context: StackContext,
    groups: dict[str, aws.ec2.SecurityGroup],
) -> list[aws.vpc.SecurityGroupEgressRule]:
    """The provider removes a new group's default allow-all egress: without these the nodes
    cannot reach S3 or the EMR service, and the service group cannot reach the nodes (TCP 8443,
    "Amazon EMR-managed security groups", EMR management guide)."""
    rules = [
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-{role}-out-https",
            security_group_id=groups[role].id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            description="S3, EMR and AWS APIs over the NAT gateway",
            tags=tags(context, f"{name}-{role}-out-https"),
            opts=child(parent),
        )
        for role in ("primary", "core")
    ]
    rules += [
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-service-to-{role}",
            security_group_id=groups["service"].id,
            referenced_security_group_id=groups[role].id,
            ip_protocol="tcp",
            from_port=8443,
            to_port=8443,
            description=f"EMR service access to the {role} nodes",
            tags=tags(context, f"{name}-service-to-{role}"),
            opts=child(parent),
        )
        for role in ("primary", "core")
    ]
    return rules
