"""TierIdentity, AppTier and WorkerTier: least-privilege roles, locked-down hosts, user data
that runs ansible-pull with the app's variables, scaling on CPU and on queue backlog."""

from __future__ import annotations

from stacks.aws import (
    AppSecret,
    AppTier,
    LoadBalancer,
    ObjectStore,
    Queue,
    RelationalDb,
    TierIdentity,
    WorkerTier,
)
from stacks.blueprints import model
from stacks.common.args import (
    AppSecretArgs,
    AppTierArgs,
    Grant,
    LoadBalancerArgs,
    ObjectStoreArgs,
    QueueArgs,
    RelationalDbArgs,
    TierIdentityArgs,
    WorkerTierArgs,
)
from stacks.common.bootstrap import bootstrap_script
from tests.stacks.aws.conftest import (
    ACCOUNT,
    MOCK_APP_SECRET_SEED,
    MOCK_DB_PASSWORD,
    REGION,
    computed,
)
from tests.stacks.aws.support import document, user_data
from tests.stacks.harness import run_pulumi

BUCKET_ARN = "arn:aws:s3:::image-processing-dev-images-20260101abcdef"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-jobs"
SECRETS = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tierstack/image-processing-dev"
SESSION_KEY_ARN = f"{SECRETS}/web-session-key-AbCdEf"
DB_SECRET_ARN = f"{SECRETS}-db/master-AbCdEf"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def _app_stack(context):
    """A web tier using a bucket, a queue (publish), a database and a session key; a worker
    consuming. Wired as stacks/program.py does: secrets reach the hosts as references."""
    from tests.stacks.aws.support import network as make_network

    net = make_network(context)
    store = ObjectStore("images", ObjectStoreArgs(context, model.ObjectStore("images", "t")))
    queue = Queue("jobs", QueueArgs(context, model.Queue("jobs", "t")))
    db = RelationalDb(
        "db", RelationalDbArgs(context, model.RelationalDb("db", "t", database="app"), net)
    )
    session_key = AppSecret("web-session-key", AppSecretArgs(context, "session signing key"))
    identity = TierIdentity(
        "web-identity",
        TierIdentityArgs(
            context,
            "web",
            [
                Grant(store, "read-write"),
                Grant(queue, "publish"),
                Grant(db, "read-write"),
                Grant(session_key, "read"),
            ],
        ),
    )
    app_spec = model.AppTier("web", "t", wsgi="app.wsgi:app", port=8000, target_cpu_percent=55)
    lb = LoadBalancer("web-lb", LoadBalancerArgs(context, net, 8000, "/healthz"))
    boot = bootstrap_script(
        context,
        "app",
        {
            "APP_ENV": "production",
            "SECRET_KEY_REF": session_key.ref,
            "OBJECT_STORE_URL": store.backend_url,
            "QUEUE_URL": queue.backend_url,
            "DATABASE_URL": db.backend_url,
            "DATABASE_PASSWORD_REF": db.password_ref,
        },
    )
    AppTier("web", AppTierArgs(context, app_spec, net, lb, identity, boot))
    worker_identity = TierIdentity(
        "worker-identity", TierIdentityArgs(context, "worker", [Grant(queue, "consume")])
    )
    worker_spec = model.WorkerTier("worker", "t", "python -m w", "jobs", backlog_per_instance=7)
    WorkerTier(
        "worker",
        WorkerTierArgs(
            context,
            worker_spec,
            net,
            worker_identity,
            queue,
            bootstrap_script(
                context, "worker", {"APP_ENV": "production", "QUEUE_URL": queue.backend_url}
            ),
        ),
    )


def test_identity_grants_exactly_the_used_resources_plus_session_manager(context):
    run = run_pulumi(lambda: _app_stack(context), computed=computed)
    statements = document(run.one("aws:iam/rolePolicy:RolePolicy", "web-identity-grants"))[
        "Statement"
    ]
    resources = sorted(r for s in statements for r in s["Resource"])
    assert resources == sorted(
        [BUCKET_ARN, f"{BUCKET_ARN}/*", QUEUE_ARN, DB_SECRET_ARN, SESSION_KEY_ARN]
    )
    assert all("*" not in s["Action"] for s in statements)
    actions = {a for s in statements for a in s["Action"]}
    assert "sqs:SendMessage" in actions and "sqs:ReceiveMessage" not in actions
    [worker, dead_letter] = document(
        run.one("aws:iam/rolePolicy:RolePolicy", "worker-identity-grants")
    )["Statement"]
    assert worker["Resource"] == [QUEUE_ARN]
    assert "sqs:DeleteMessage" in worker["Action"] and "sqs:SendMessage" not in worker["Action"]
    # The consumer moves a poison message to the dead-letter queue itself: send there, no more.
    assert dead_letter["Resource"] == [f"{QUEUE_ARN}-dlq"]
    assert sorted(dead_letter["Action"]) == [
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
    ]
    # No managed policy: AmazonSSMManagedInstanceCore would let a host read every SSM parameter
    # of the account. Session Manager gets the agent's five calls, nothing to read.
    assert run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    session_manager = run.one("aws:iam/rolePolicy:RolePolicy", "web-identity-session-manager")
    [session] = document(session_manager)["Statement"]
    assert sorted(session["Action"]) == [
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ]
    trust = document(run.one("aws:iam/role:Role", "web-identity"), "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_launch_templates_require_imdsv2_encrypt_disks_and_stay_private(context):
    run = run_pulumi(lambda: _app_stack(context), computed=computed)
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
    run = run_pulumi(lambda: _app_stack(context), computed=computed)
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
        "python_app_env": {
            "APP_ENV": "production",
            "DATABASE_PASSWORD_REF": f"aws-secretsmanager://{DB_SECRET_ARN}#password",
            "DATABASE_URL": f"postgresql://tierstack@{host}:5432/app?sslmode=require",
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
    run = run_pulumi(lambda: _app_stack(context), computed=computed)
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


def test_app_scales_on_cpu_and_worker_on_backlog_per_instance(context):
    run = run_pulumi(lambda: _app_stack(context), computed=computed)
    web = run.one("aws:autoscaling/group:Group", "web").inputs
    assert web["vpcZoneIdentifiers"] == ["network-private-0-id", "network-private-1-id"]
    assert (web["minSize"], web["maxSize"], web["healthCheckType"]) == (1, 3, "ELB")
    assert web["launchTemplate"] == {"id": "web-id", "version": "1"}
    assert len(web["targetGroupArns"]) == 1
    assert {"key": "env", "value": "dev", "propagateAtLaunch": True} in web["tags"]
    cpu = run.one("aws:autoscaling/policy:Policy", "web-cpu").inputs
    assert cpu["targetTrackingConfiguration"]["targetValue"] == 55
    backlog = run.one("aws:autoscaling/policy:Policy", "worker-backlog").inputs
    tracking = backlog["targetTrackingConfiguration"]
    assert tracking["targetValue"] == 7
    metrics = {m["id"]: m for m in tracking["customizedMetricSpecification"]["metrics"]}
    assert metrics["visible"]["metricStat"]["metric"]["dimensions"] == [
        {"name": "QueueName", "value": "image-processing-dev-jobs"}
    ]
    assert metrics["running"]["metricStat"]["metric"]["dimensions"] == [
        {"name": "AutoScalingGroupName", "value": "image-processing-dev-worker"}
    ]
    assert metrics["backlog"]["expression"] == "IF(running > 0, visible / running, visible)"
    worker = run.one("aws:autoscaling/group:Group", "worker").inputs
    assert worker["enabledMetrics"] == ["GroupInServiceInstances"]


def test_prod_tiers_run_two_or_more_instances_across_zones(prod_context):
    run = run_pulumi(lambda: _app_stack(prod_context), computed=computed)
    for group in run.of_type("aws:autoscaling/group:Group"):
        assert group.inputs["minSize"] >= 2
        assert len(group.inputs["vpcZoneIdentifiers"]) == 2
    template = run.one("aws:ec2/launchTemplate:LaunchTemplate", "web").inputs
    assert template["instanceType"] == "m6i.large"
