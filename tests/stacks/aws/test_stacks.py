"""The five AWS stacks end to end: the real program, outputs resolved, inventory snapshots.

Update the snapshots after an intended change with `make snapshots`
(= `pytest tests/stacks --update-snapshots`) and review the YAML diff."""

from __future__ import annotations

import json

import pytest

from tests.playbook_check import assert_boot_script_converges_its_tier
from tests.stacks.aws.conftest import ACCOUNT, MOCK_APP_SECRET_SEED, MOCK_DB_PASSWORD, computed
from tests.stacks.aws.support import is_secret, user_data
from tests.stacks.harness import inventory, run_stack, stack_names
from tests.stacks.snapshots import check_snapshot

STACKS = stack_names("aws")
PROD = {
    "tierstack:env": "prod",
    "tierstack:certificate": f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/p",
    "tierstack:repoRef": "0123456789abcdef0123456789abcdef01234567",  # prod pulls an exact commit
}
KEY_PROPERTIES = {
    "aws:ec2/vpc:Vpc": ["cidrBlock"],
    "aws:ec2/subnet:Subnet": ["cidrBlock", "availabilityZone", "mapPublicIpOnLaunch"],
    "aws:ec2/flowLog:FlowLog": ["trafficType"],
    "aws:s3/bucketVersioning:BucketVersioning": ["versioningConfiguration.status"],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
        "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm"
    ],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": [
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ],
    "aws:sqs/queue:Queue": ["name", "sqsManagedSseEnabled", "redrivePolicy"],
    "aws:dynamodb/table:Table": ["name", "pointInTimeRecovery.enabled", "hashKey", "rangeKey"],
    "aws:rds/instance:Instance": [
        "engineVersion",
        "instanceClass",
        "multiAz",
        "storageEncrypted",
        "publiclyAccessible",
        "deletionProtection",
        "backupRetentionPeriod",
    ],
    "aws:lb/listener:Listener": ["port", "protocol", "sslPolicy", "defaultActions.0.type"],
    "aws:ec2/launchTemplate:LaunchTemplate": [
        "instanceType",
        "imageId",
        "metadataOptions.httpTokens",
        "blockDeviceMappings.0.ebs.encrypted",
        "networkInterfaces.0.associatePublicIpAddress",
    ],
    "aws:autoscaling/group:Group": ["minSize", "maxSize", "healthCheckType"],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        "fromPort",
        "toPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
    ],
    "aws:iam/rolePolicy:RolePolicy": ["policy"],
    "aws:emr/cluster:Cluster": ["releaseLabel", "steps.0.hadoopJarStep.args"],
    "aws:iot/topicRule:TopicRule": ["sql"],
    "aws:cloudwatch/metricAlarm:MetricAlarm": ["metricName", "threshold"],
}
UNTAGGABLE = {"tierstack", "random", "tls"}  # components and providers without tags
WITHOUT_TAGS = {
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:autoscaling/policy:Policy",
    "aws:autoscaling/group:Group",  # tagged through its list-shaped `tags`, checked below
    "aws:kms/keyPolicy:KeyPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:emr/securityConfiguration:SecurityConfiguration",
}
GOVERNANCE = {"project", "app", "env", "owner", "cost-center"}


def test_there_are_five_aws_stacks():
    assert STACKS == [
        "aws-cloud-drive",
        "aws-image-processing",
        "aws-iot-gateway",
        "aws-mapreduce",
        "aws-social-analytics",
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_runs_and_matches_its_snapshot(stack, update_snapshots):
    run = run_stack(stack, computed=computed)
    outputs = run.result
    app = stack.removeprefix("aws-")
    assert outputs["app_url"] == f"https://{app}-dev-web-lb-1234567890.eu-west-1.elb.amazonaws.com"
    names = [*outputs["object_stores"].values(), *outputs["queues"].values()]
    assert names and all(name.startswith(f"{app}-dev-") for name in names)
    assert all(name == f"{app}-dev-{key}" for key, name in outputs["tables"].items())
    check_snapshot(stack, inventory(run, KEY_PROPERTIES), update_snapshots)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_is_secure_by_default(stack):
    run = run_stack(stack, computed=computed)
    for rule in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        if rule.inputs.get("cidrIpv4") == "0.0.0.0/0":
            assert rule.name in ("web-lb-in-80", "web-lb-in-443"), rule.name
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            assert statement["Action"] != "*" and "*" not in statement["Action"], policy.name
            # No agent's calls that name no resource: Session Manager is not used.
            assert statement["Resource"] != "*", policy.name
            assert not any(a.startswith(("ssm:", "ssmmessages:")) for a in statement["Action"])
    for resource in run.resources:
        if resource.type.split(":")[0] in UNTAGGABLE or resource.type in WITHOUT_TAGS:
            continue
        assert set(resource.inputs.get("tags") or {}) >= GOVERNANCE, resource.type
    for group in run.of_type("aws:autoscaling/group:Group"):
        assert {tag["key"] for tag in group.inputs["tags"]} >= GOVERNANCE
    for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert MOCK_DB_PASSWORD not in user_data(template)[1]
    buckets = run.of_type("aws:s3/bucket:Bucket")
    assert len(run.of_type("aws:s3/bucketPolicy:BucketPolicy")) == len(buckets)
    assert len(run.of_type("aws:s3/bucketVersioning:BucketVersioning")) == len(buckets)


def _grants(run, tier: str) -> list[dict]:
    policies = run.of_type("aws:iam/rolePolicy:RolePolicy")
    found = [p for p in policies if p.name == f"{tier}-identity-grants"]
    return json.loads(found[0].inputs["policy"])["Statement"] if found else []


@pytest.mark.parametrize("stack", STACKS)
def test_app_tier_boots_in_production_mode_with_a_session_key_reference(stack):
    run = run_stack(stack, computed=computed)
    app = run.one("tierstack:aws:AppTier").name
    key = run.one("aws:secretsmanager/secret:Secret", f"{app}-session-key")
    key_arn = key.outputs["arn"]
    assert key.inputs["name"] == f"tierstack/{stack.removeprefix('aws-')}-dev/{app}-session-key"
    app_env = user_data(run.one("aws:ec2/launchTemplate:LaunchTemplate", app))[2]["python_app_env"]
    assert app_env["APP_ENV"] == "production"
    assert app_env["SECRET_KEY_REF"] == f"aws-secretsmanager://{key_arn}"
    workers = [w.name for w in run.of_type("tierstack:aws:WorkerTier")]
    for worker in workers:
        worker_env = user_data(run.one("aws:ec2/launchTemplate:LaunchTemplate", worker))[2][
            "python_app_env"
        ]
        assert worker_env["APP_ENV"] == "production"
        assert "SECRET_KEY_REF" not in worker_env
    for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        script = user_data(template)[1]
        assert MOCK_APP_SECRET_SEED not in script and MOCK_DB_PASSWORD not in script
    reads_key = [
        {k: v for k, v in s.items() if k != "Sid"}
        for s in _grants(run, app)
        if key_arn in s["Resource"]
    ]
    assert reads_key == [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": [key_arn],
        }
    ]
    for worker in workers:
        assert key_arn not in json.dumps(_grants(run, worker)), worker


@pytest.mark.parametrize("stack", STACKS)
def test_session_key_value_is_generated_and_stored_as_a_secret(stack):
    run = run_stack(stack, computed=computed)
    app = run.one("tierstack:aws:AppTier").name
    generated = run.one("random:index/randomPassword:RandomPassword", f"{app}-session-key")
    assert (generated.inputs["length"], generated.inputs["special"]) == (48, False)
    value = generated.outputs["result"]
    assert len(value) == 48 and value.isalnum()
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion", f"{app}-session-key")
    assert is_secret(version.inputs["secretString"])
    assert version.inputs["secretString"]["value"] == value
    assert value not in json.dumps(run.result)


@pytest.mark.parametrize("stack", STACKS)
def test_only_tiers_with_a_database_get_its_password_reference(stack):
    run = run_stack(stack, computed=computed)
    for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        app_env = user_data(template)[2]["python_app_env"]
        assert ("DATABASE_PASSWORD_REF" in app_env) == ("DATABASE_URL" in app_env), template.name


def test_cloud_drive_app_reads_the_db_password_by_reference():
    run = run_stack("aws-cloud-drive", computed=computed)
    db_secret = run.one("aws:secretsmanager/secret:Secret", "drive-db-app")
    db_arn = db_secret.outputs["arn"]
    assert db_arn.endswith(":secret:tierstack/cloud-drive-dev-drive-db/app-AbCdEf")
    app_env = user_data(run.one("aws:ec2/launchTemplate:LaunchTemplate", "web"))[2][
        "python_app_env"
    ]
    assert app_env["DATABASE_PASSWORD_REF"] == f"aws-secretsmanager://{db_arn}#password"
    assert app_env["DATABASE_PASSWORD_REF"].endswith("#password")
    assert app_env["DATABASE_URL"].startswith("postgresql://drive_app@")
    assert app_env["AWS_DEFAULT_REGION"] == "eu-west-1"  # boto3 does not read it from IMDS
    assert sorted(app_env) == [
        "APP_ENV",
        "AWS_DEFAULT_REGION",
        "DATABASE_PASSWORD_REF",
        "DATABASE_URL",
        "OBJECT_STORE_URL",
        "PROXY_HOPS",
        "SECRET_KEY_REF",
    ]


def test_cloud_drive_keeps_the_db_password_secret():
    run = run_stack("aws-cloud-drive", computed=computed)
    assert (
        run.result["db_endpoint"] == "cloud-drive-dev-drive-db.c0ffee.eu-west-1.rds.amazonaws.com"
    )
    assert "db_password" in run.result
    assert run.result["db_password"] == MOCK_DB_PASSWORD  # resolved; exported as a secret
    boot_scripts = [user_data(t)[1] for t in run.of_type("aws:ec2/launchTemplate:LaunchTemplate")]
    assert boot_scripts and all(MOCK_DB_PASSWORD not in s for s in boot_scripts)


@pytest.mark.parametrize("stack", ["aws-cloud-drive", "aws-mapreduce"])
def test_prod_sizing_is_highly_available_and_protected(stack):
    run = run_stack(stack, computed=computed, overrides=PROD)
    for group in run.of_type("aws:autoscaling/group:Group"):
        assert group.inputs["minSize"] >= 2
        assert len(group.inputs["vpcZoneIdentifiers"]) == 2
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == 2
    assert run.one("aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is True
    https = run.one("aws:lb/listener:Listener", "web-lb-https").inputs
    assert https["certificateArn"] == PROD["tierstack:certificate"]
    assert all(b.inputs["forceDestroy"] is False for b in run.of_type("aws:s3/bucket:Bucket"))
    if stack == "aws-cloud-drive":
        db = run.one("aws:rds/instance:Instance").inputs
        assert (db["multiAz"], db["deletionProtection"]) == (True, True)
    else:
        cluster = run.one("aws:emr/cluster:Cluster").inputs
        assert cluster["terminationProtection"] is True
        assert cluster["coreInstanceGroup"]["instanceCount"] == 4
        assert "autoTerminationPolicy" not in cluster


@pytest.mark.parametrize("stack", STACKS)
def test_every_tier_boots_with_variables_its_playbook_accepts(stack, tmp_path):
    run = run_stack(stack, computed=computed)
    tiers = {}
    for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        variables = assert_boot_script_converges_its_tier(user_data(template)[1], tmp_path)
        tiers[template.name] = variables["tierstack_tier"]
    assert "app" in tiers.values()
    assert len(tiers) == len(run.of_type("aws:autoscaling/group:Group"))
