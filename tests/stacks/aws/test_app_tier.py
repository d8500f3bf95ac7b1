"""AppTier on AWS (and the host building blocks both tiers share): locked-down launch
templates, user data that runs ansible-pull with the app's variables, CPU scaling."""

from __future__ import annotations

from stacks.common.database_tls import VERIFY_FULL
from tests.stacks.aws.conftest import (
    ACCOUNT,
    MOCK_APP_SECRET_SEED,
    MOCK_DB_PASSWORD,
    REGION,
    computed,
)
from tests.stacks.aws.support import (
    DB_APP_SECRET_ARN,
    DB_SECRET_ARN,
    SESSION_KEY_ARN,
    app_stack,
    user_data,
)
from tests.stacks.harness import run_pulumi

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def test_launch_templates_require_imdsv2_encrypt_disks_and_stay_private(context):
    run = run_pulumi(lambda: app_stack(context), computed=computed)
    templates = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    templates = sorted(templates, key=lambda t: t.name)
    assert [t.name for t in templates] == ["web", "worker"]
    for template in templates:
        inputs = template.inputs
        assert inputs["metadataOptions"]["httpTokens"] == "required"
        assert inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        [disk] = inputs["blockDeviceMappings"]
        assert disk["ebs"]["encrypted"] == "true"
        [nic] = inputs["networkInterfaces"]
        assert nic["associatePublicIpAddress"] == "false"
        assert inputs["imageId"] == "resolve:ssm:/aws/service/debian/release/12/latest/amd64"
        assert inputs["instanceType"] == "t3.small"
        assert "keyName" not in inputs
    web_profile = f"arn:aws:iam::{ACCOUNT}:instance-profile/image-processing-dev-web"
    assert templates[0].inputs["iamInstanceProfile"] == {"arn": web_profile}


def test_user_data_runs_ansible_pull_with_the_app_vars_and_no_secret(context):
    run = run_pulumi(lambda: app_stack(context), computed=computed)
    template = run.one("aws:ec2/launchTemplate:LaunchTemplate", "web")
    config, script, variables = user_data(template)
    assert config["runcmd"] == [["/bin/bash", "/var/lib/cloud/scripts/tierstack-bootstrap.sh"]]
    assert (
        "/opt/ansible/bin/ansible-pull --url https://github.com/tierstack/tierstack.git" in script
    )
    assert "playbooks/image-processing.yml" in script
    host = f"image-processing-dev-db.c0ffee.{REGION}.rds.amazonaws.com"
    assert variables == {
        "tierstack_app": "image-processing",
        "tierstack_env": "dev",
        "tierstack_network_cidr": "10.40.0.0/16",
        "tierstack_tier": "app",
        "common_ntp_servers": ["169.254.169.123"],  # Amazon Time Sync: no UDP 123 egress
        "blueprint_host_database_ca_bundles": ["amazon-rds-global-bundle.pem"],
        # Root's converge step alone: it creates app_app as the master user.
        "blueprint_host_database_admin_user": "tierstack",
        "blueprint_host_database_admin_password_ref": (
            f"aws-secretsmanager://{DB_SECRET_ARN}#password"
        ),
        "python_app_env": {
            "APP_ENV": "production",
            "DATABASE_PASSWORD_REF": f"aws-secretsmanager://{DB_APP_SECRET_ARN}#password",
            "DATABASE_URL": f"postgresql://app_app@{host}:5432/app?{VERIFY_FULL}",
            "OBJECT_STORE_URL": "s3://image-processing-dev-images-20260101abcdef",
            "QUEUE_URL": "sqs://image-processing-dev-jobs",
            "SECRET_KEY_REF": f"aws-secretsmanager://{SESSION_KEY_ARN}",
        },
    }
    worker = user_data(run.one("aws:ec2/launchTemplate:LaunchTemplate", "worker"))[2]
    assert worker["python_app_env"] == {
        "APP_ENV": "production",
        "QUEUE_URL": "sqs://image-processing-dev-jobs",
    }
    for resource in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        script = user_data(resource)[1]
        assert MOCK_DB_PASSWORD not in script and MOCK_APP_SECRET_SEED not in script


def test_hosts_admit_no_ssh_only_the_lb_and_reach_the_db_by_group(context):
    run = run_pulumi(lambda: app_stack(context), computed=computed)
    host_rules = [r.inputs for r in run.of_type(INGRESS) if not r.name.startswith("web-lb-in")]
    assert sorted((r["securityGroupId"], r["referencedSecurityGroupId"]) for r in host_rules) == [
        ("db-id", "web-id"),  # the database admits the web tier's group
        ("web-id", "web-lb-id"),  # the web tier admits the load balancer's group
    ]
    assert all("cidrIpv4" not in r for r in host_rules)
    assert all(r["fromPort"] != 22 for r in run.of_type(INGRESS) for r in [r.inputs])
    worker_egress = [
        (r.inputs["fromPort"], r.inputs.get("cidrIpv4"))
        for r in run.of_type(EGRESS)
        if r.name.startswith("worker-out")
    ]
    assert sorted(worker_egress) == [(80, "0.0.0.0/0"), (443, "0.0.0.0/0")]


def test_app_scales_on_cpu_across_private_subnets(context):
    run = run_pulumi(lambda: app_stack(context), computed=computed)
    web = run.one("aws:autoscaling/group:Group", "web").inputs
    assert web["vpcZoneIdentifiers"] == ["network-private-0-id", "network-private-1-id"]
    assert (web["minSize"], web["maxSize"], web["healthCheckType"]) == (1, 3, "ELB")
    assert web["launchTemplate"] == {"id": "web-id", "version": "1"}
    assert len(web["targetGroupArns"]) == 1
    assert {"key": "env", "value": "dev", "propagateAtLaunch": True} in web["tags"]
    cpu = run.one("aws:autoscaling/policy:Policy", "web-cpu").inputs
    assert cpu["targetTrackingConfiguration"]["targetValue"] == 55


def test_prod_tiers_run_two_or_more_instances_across_zones(prod_context):
    run = run_pulumi(lambda: app_stack(prod_context), computed=computed)
    for group in run.of_type("aws:autoscaling/group:Group"):
        assert group.inputs["minSize"] >= 2
        assert len(group.inputs["vpcZoneIdentifiers"]) == 2
    template = run.one("aws:ec2/launchTemplate:LaunchTemplate", "web").inputs
    assert template["instanceType"] == "m6i.large"
