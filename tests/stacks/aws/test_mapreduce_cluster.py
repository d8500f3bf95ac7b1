"""MapReduceCluster: the cluster, its streaming job and the submit grant."""

from __future__ import annotations

import json

import pytest

from stacks.aws import MapReduceCluster, ObjectStore, TierIdentity
from stacks.blueprints import model
from stacks.blueprints.mapreduce import INVERTED_INDEX
from stacks.common.args import Grant, MapReduceClusterArgs, ObjectStoreArgs, TierIdentityArgs
from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.aws.support import document, network, user_data
from tests.stacks.harness import run_pulumi, run_stack

CODE = "image-processing-dev-job-data-20260101abcdef"
LOGS = "image-processing-dev-cluster-logs-20260101abcdef"


def _cluster(context):
    def program():
        net = network(context)
        code = ObjectStore("job-data", ObjectStoreArgs(context, model.ObjectStore("job-data", "t")))
        logs = ObjectStore(
            "cluster-logs", ObjectStoreArgs(context, model.ObjectStore("cluster-logs", "t"))
        )
        spec = model.MapReduceCluster("hadoop", "t", "job-data", "cluster-logs", (INVERTED_INDEX,))
        MapReduceCluster("hadoop", MapReduceClusterArgs(context, spec, net, code, logs))

    return run_pulumi(program, computed=computed)


def test_cluster_runs_the_inverted_index_streaming_step_from_the_bucket(context):
    run = _cluster(context)
    scripts = run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    assert sorted((s.inputs["bucket"], s.inputs["key"]) for s in scripts) == [
        # The deploy-time step's input: an empty input prefix would end the step FAILED.
        (CODE, "input/deploy-check.txt"),
        (CODE, "jobs/inverted-index/mapper.py"),
        (CODE, "jobs/inverted-index/reducer.py"),
    ]
    cluster = run.one("aws:emr/cluster:Cluster").inputs
    [step] = cluster["steps"]
    assert step["hadoopJarStep"]["jar"] == "command-runner.jar"
    assert step["hadoopJarStep"]["args"] == [
        "hadoop-streaming",
        "-files",
        f"s3://{CODE}/jobs/inverted-index/mapper.py,s3://{CODE}/jobs/inverted-index/reducer.py",
        "-mapper",
        "python3 mapper.py",
        "-reducer",
        "python3 reducer.py",
        "-input",
        f"s3://{CODE}/input/",
        "-output",
        f"s3://{CODE}/output/inverted-index/",
    ]
    assert cluster["applications"] == ["Hadoop"]
    assert cluster["logUri"] == f"s3://{LOGS}/emr/"
    assert cluster["ec2Attributes"]["subnetId"] == "network-private-0-id"
    assert cluster["coreInstanceGroup"]["instanceCount"] == 2
    # No idle auto-termination: the job runner keeps this cluster's id for every later job.
    assert "autoTerminationPolicy" not in cluster
    assert cluster["keepJobFlowAliveWhenNoSteps"] is True
    assert cluster["terminationProtection"] is False


def test_cluster_nodes_may_touch_only_their_buckets_and_use_imdsv2(context):
    run = _cluster(context)
    statements = {
        s["Sid"]: s
        for s in document(run.one("aws:iam/rolePolicy:RolePolicy", "hadoop-nodes"))["Statement"]
    }
    assert statements["WriteJobOutput"]["Resource"] == [
        f"arn:aws:s3:::{CODE}/output/inverted-index/*"
    ]
    assert statements["WriteClusterLogs"]["Resource"] == [f"arn:aws:s3:::{LOGS}/emr/*"]
    assert statements["ReadJobCodeAndInput"]["Resource"] == [
        f"arn:aws:s3:::{CODE}/*",
        f"arn:aws:s3:::{REGION}.elasticmapreduce/*",
    ]
    security = json.loads(
        run.one("aws:emr/securityConfiguration:SecurityConfiguration").inputs["configuration"]
    )
    assert (
        security["InstanceMetadataServiceConfiguration"]["MinimumInstanceMetadataServiceVersion"]
        == 2
    )
    at_rest = security["EncryptionConfiguration"]
    assert at_rest["EnableAtRestEncryption"] is True
    disks = at_rest["AtRestEncryptionConfiguration"]["LocalDiskEncryptionConfiguration"]
    assert disks["EnableEbsEncryption"] is True
    service = document(run.one("aws:iam/rolePolicy:RolePolicy", "hadoop-service"))["Statement"]
    assert service[0] == {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": f"arn:aws:iam::{ACCOUNT}:role/image-processing-dev-hadoop-nodes",
    }


CLUSTER_ARN = f"arn:aws:elasticmapreduce:{REGION}:{ACCOUNT}:cluster/hadoop-id"
SUBMIT_ACTIONS = [
    "elasticmapreduce:AddJobFlowSteps",
    "elasticmapreduce:DescribeStep",
    "elasticmapreduce:ListSteps",
    "elasticmapreduce:DescribeCluster",
    "elasticmapreduce:CancelSteps",
]


def test_cluster_exposes_its_id_and_emr_url_and_grants_submit_on_itself_only(context):
    def program():
        net = network(context)
        code = ObjectStore("job-data", ObjectStoreArgs(context, model.ObjectStore("job-data", "t")))
        logs = ObjectStore(
            "cluster-logs", ObjectStoreArgs(context, model.ObjectStore("cluster-logs", "t"))
        )
        spec = model.MapReduceCluster("hadoop", "t", "job-data", "cluster-logs", (INVERTED_INDEX,))
        cluster = MapReduceCluster("hadoop", MapReduceClusterArgs(context, spec, net, code, logs))
        TierIdentity(
            "runner-identity",
            TierIdentityArgs(context, "runner", [Grant(cluster, "submit")]),
        )
        return {"name": cluster.physical_name, "url": cluster.backend_url}

    run = run_pulumi(program, computed=computed)
    assert run.result == {"name": "hadoop-id", "url": "emr://hadoop-id"}
    [statement] = document(run.one("aws:iam/rolePolicy:RolePolicy", "runner-identity-grants"))[
        "Statement"
    ]
    assert statement == {
        "Sid": "Grant0",
        "Effect": "Allow",
        "Action": SUBMIT_ACTIONS,
        "Resource": [CLUSTER_ARN],
    }


def test_mapreduce_runner_alone_may_submit_to_the_cluster_and_is_told_its_url():
    run = run_stack("aws-mapreduce", computed=computed)
    cluster_arn = run.one("aws:emr/cluster:Cluster").outputs["arn"]
    assert cluster_arn == CLUSTER_ARN
    runner = document(run.one("aws:iam/rolePolicy:RolePolicy", "job-runner-identity-grants"))
    emr = [s for s in runner["Statement"] if s["Action"][0].startswith("elasticmapreduce:")]
    assert [(s["Action"], s["Resource"]) for s in emr] == [(SUBMIT_ACTIONS, [CLUSTER_ARN])]
    web = document(run.one("aws:iam/rolePolicy:RolePolicy", "web-identity-grants"))
    assert not [s for s in web["Statement"] if "elasticmapreduce" in json.dumps(s)]
    runner_vars = user_data(run.one("aws:ec2/launchTemplate:LaunchTemplate", "job-runner"))[2]
    web_vars = user_data(run.one("aws:ec2/launchTemplate:LaunchTemplate", "web"))[2]
    assert runner_vars["python_app_env"]["MAPREDUCE_CLUSTER_URL"] == "emr://hadoop-id"
    assert "MAPREDUCE_CLUSTER_URL" not in web_vars["python_app_env"]


def test_cluster_refuses_any_access_but_submit(context):
    def program():
        net = network(context)
        code = ObjectStore("job-data", ObjectStoreArgs(context, model.ObjectStore("job-data", "t")))
        spec = model.MapReduceCluster("hadoop", "t", "job-data", "job-data", (INVERTED_INDEX,))
        cluster = MapReduceCluster("hadoop", MapReduceClusterArgs(context, spec, net, code, code))
        cluster.policy_statements("read-write")

    with pytest.raises(ValueError, match="grants only 'submit', not 'read-write'"):
        run_pulumi(program, computed=computed)
