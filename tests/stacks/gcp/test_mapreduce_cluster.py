"""MapReduceCluster: the Dataproc cluster, its job and the submit grant."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.blueprints.mapreduce import blueprint as mapreduce_blueprint
from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.common.args import MapReduceClusterArgs, NetworkArgs, ObjectStoreArgs
from stacks.gcp import MapReduceCluster, Network, ObjectStore
from stacks.gcp.common import fit
from tests.playbook_check import boot_vars
from tests.stacks.gcp.conftest import context_for, run
from tests.stacks.gcp.support import stack
from tests.stacks.harness import REPO_ROOT, Registered

TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
FIREWALL = "gcp:compute/firewall:Firewall"
JOB_SUBMITTER_ROLE = "projects/tierstack-dev/roles/mapreduce_dev_hadoop_job_submitter"


def account(app: str, tier: str) -> str:
    """The IAM member of a tier's service account in the dev stack of `app`."""
    return f"serviceAccount:{fit(f'{app}-dev-{tier}', 30)}@tierstack-dev.iam.gserviceaccount.com"


def startup_vars(template: Registered) -> dict[str, Any]:
    """The vars.yml the bootstrap writes, parsed back out of the startup script."""
    script = template.inputs["metadata"]["startup-script"]
    return boot_vars(script)


def test_job_runner_may_submit_to_this_cluster_only() -> None:
    result = stack("mapreduce")
    runner = "serviceAccount:mapreduce-dev-job-runner@tierstack-dev.iam.gserviceaccount.com"
    cluster_grants = result.of_type("gcp:dataproc/clusterIAMMember:ClusterIAMMember")
    assert [
        (g.inputs["member"], g.inputs["project"], g.inputs["region"], g.inputs["cluster"])
        for g in cluster_grants
    ] == [(runner, "tierstack-dev", "europe-west1", "mapreduce-dev-hadoop")]
    assert cluster_grants[0].inputs["role"] == "roles/dataproc.editor"
    assert cluster_grants[0].parent_urn.endswith("::job-runner-identity")
    role = result.one("gcp:projects/iAMCustomRole:IAMCustomRole").inputs
    assert (role["project"], role["roleId"]) == (
        "tierstack-dev",
        "mapreduce_dev_hadoop_job_submitter",
    )
    assert sorted(role["permissions"]) == [
        "dataproc.jobs.cancel",
        "dataproc.jobs.create",
        "dataproc.jobs.get",
        "dataproc.jobs.list",
    ]
    dataproc_project_grants = [
        (b.inputs["member"], b.inputs["role"])
        for b in result.of_type("gcp:projects/iAMMember:IAMMember")
        if "dataproc" in b.inputs["role"] or "job_submitter" in b.inputs["role"]
    ]
    cluster_account = "serviceAccount:mapreduce-dev-hadoop@tierstack-dev.iam.gserviceaccount.com"
    assert sorted(dataproc_project_grants) == [
        (cluster_account, "roles/dataproc.worker"),
        (runner, JOB_SUBMITTER_ROLE),
    ]
    runner_env = startup_vars(result.one(TEMPLATE, "job-runner-template"))["python_app_env"]
    assert runner_env["MAPREDUCE_CLUSTER_URL"] == (
        "dataproc://tierstack-dev/europe-west1/mapreduce-dev-hadoop"
    )
    web_env = startup_vars(result.one(TEMPLATE, "web-template"))["python_app_env"]
    assert "MAPREDUCE_CLUSTER_URL" not in web_env


def test_cluster_refuses_any_access_but_submit() -> None:
    context = context_for("mapreduce")
    spec = mapreduce_blueprint().mapreduce
    assert spec is not None

    def program() -> None:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        code = ObjectStore("job-data", ObjectStoreArgs(context, StoreSpec("job-data", "code")))
        logs = ObjectStore("logs", ObjectStoreArgs(context, StoreSpec("logs", "logs")))
        cluster = MapReduceCluster(
            "hadoop", MapReduceClusterArgs(context, spec, network, code, logs)
        )
        cluster.bind(
            "bad", "serviceAccount:x@tierstack-dev.iam.gserviceaccount.com", "read", cluster
        )

    with pytest.raises(Exception, match="mapreduce cluster hadoop: access 'read' does not apply"):
        run(program)


def test_dataproc_cluster_is_internal_with_its_own_account_and_runs_the_job() -> None:
    result = stack("mapreduce")
    cluster = result.one("gcp:dataproc/cluster:Cluster").inputs
    config = cluster["clusterConfig"]
    account = "mapreduce-dev-hadoop@tierstack-dev.iam.gserviceaccount.com"
    assert config["gceClusterConfig"]["internalIpOnly"] is True
    assert config["gceClusterConfig"]["serviceAccount"] == account
    assert config["gceClusterConfig"]["subnetwork"] == "hosts-id"
    assert config["stagingBucket"] == "tierstack-dev-mapreduce-dev-cluster-logs"
    assert config["masterConfig"]["numInstances"] == 1
    assert config["workerConfig"]["numInstances"] == 2
    job = result.one("gcp:dataproc/job:Job").inputs
    data = "gs://tierstack-dev-mapreduce-dev-job-data"
    assert job["placement"] == {"clusterName": "mapreduce-dev-hadoop"}
    assert job["hadoopConfig"]["fileUris"] == [
        f"{data}/jobs/inverted-index/mapper.py",
        f"{data}/jobs/inverted-index/reducer.py",
    ]
    assert job["hadoopConfig"]["args"] == [
        "-mapper", "python3 mapper.py",
        "-reducer", "python3 reducer.py",
        "-input", f"{data}/input/",
        "-output", f"{data}/output/inverted-index",
    ]  # fmt: skip
    mapper = result.one("gcp:storage/bucketObject:BucketObject", "inverted-index-mapper")
    expected = (REPO_ROOT / "stacks/blueprints/jobs/inverted_index/mapper.py").read_text()
    assert mapper.inputs["source"].text == expected
    internal = result.one(FIREWALL, "hadoop-internal").inputs
    assert internal["sourceTags"] == internal["targetTags"] == ["mapreduce-dev-hadoop-node"]
    assert "sourceRanges" not in internal
    buckets = {
        (b.inputs["bucket"], b.inputs["role"])
        for b in result.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if b.inputs["member"] == f"serviceAccount:{account}"
    }
    assert buckets == {
        ("tierstack-dev-mapreduce-dev-job-data", "roles/storage.objectUser"),
        ("tierstack-dev-mapreduce-dev-job-data", "roles/storage.legacyBucketReader"),
        ("tierstack-dev-mapreduce-dev-cluster-logs", "roles/storage.objectUser"),
        ("tierstack-dev-mapreduce-dev-cluster-logs", "roles/storage.legacyBucketReader"),
    }
    prod = stack("mapreduce", "prod").one("gcp:dataproc/cluster:Cluster").inputs["clusterConfig"]
    assert (prod["masterConfig"]["numInstances"], prod["workerConfig"]["numInstances"]) == (3, 4)
