"""The offline engine: levels from config (validated), environments, disabled policies, unknown
values, broken policies, and any other Python CrossGuard pack."""

import json
from pathlib import Path

import pulumi_aws as aws
import pytest

from tests.policies.helpers import PACK, fired, run, tags
from tierstack.policy_engine import (
    PolicyConfigError,
    PolicyPackError,
    evaluate,
    load_config,
    load_pack,
)
from tierstack.preview.engine import record_resources

T = tags("prod")


def open_ssh_and_bare_bucket() -> None:
    aws.ec2.SecurityGroup(
        "open",
        tags=T,
        ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}],
    )
    aws.s3.Bucket("bare", tags=T)


def write_config(tmp_path: Path, document: object, name: str = "policy.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def levels(results, policy_id):
    return {result["level"] for result in fired(results, policy_id)}


def test_default_levels_come_from_the_policies():
    results = run(open_ssh_and_bare_bucket)
    assert levels(results, "aws-ec2-no-public-admin-ingress") == {"mandatory"}
    assert levels(results, "aws-s3-bucket-lifecycle-configured") == {"advisory"}


def test_config_file_sets_levels_and_disables(tmp_path):
    config = write_config(
        tmp_path,
        {
            "all": "advisory",
            "aws-s3-bucket-lifecycle-configured": "mandatory",
            "aws-ec2-no-public-admin-ingress": {"enforcementLevel": "disabled"},
        },
    )
    results = run(open_ssh_and_bare_bucket, config=config)
    assert fired(results, "aws-ec2-no-public-admin-ingress") == []
    assert levels(results, "aws-s3-bucket-lifecycle-configured") == {"mandatory"}
    assert levels(results, "aws-s3-bucket-encrypted") == {"advisory"}


def test_environment_block_applies_to_the_matching_stack_only(tmp_path):
    config = write_config(
        tmp_path,
        {
            "environments": {
                "dev": {"aws-s3-bucket-encrypted": "disabled"},
                "prod": {"aws-s3-bucket-lifecycle-configured": "mandatory"},
            }
        },
    )
    records = record_resources(open_ssh_and_bare_bucket)

    def results_for(stack):
        return evaluate(records, stack=stack, project="p", pack_dir=PACK, config_file=config)

    dev = results_for("aws-image-processing-dev")
    assert fired(dev, "aws-s3-bucket-encrypted") == []
    assert levels(dev, "aws-s3-bucket-lifecycle-configured") == {"advisory"}
    prod = results_for("aws-image-processing")  # no suffix: the env tags say prod
    assert levels(prod, "aws-s3-bucket-encrypted") == {"mandatory"}
    assert levels(prod, "aws-s3-bucket-lifecycle-configured") == {"mandatory"}


def test_policy_settings_from_config_change_the_check(tmp_path):
    def template():
        aws.ec2.LaunchTemplate(
            "app", instance_type="t3.micro", tags=T, metadata_options={"http_tokens": "required"}
        )

    assert fired(run(template), "aws-ec2-instance-type-allowed")
    config = write_config(
        tmp_path, {"aws-ec2-instance-type-allowed": {"allowedSizes": {"prod": ["t3.micro"]}}}
    )
    assert fired(run(template, config=config), "aws-ec2-instance-type-allowed") == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"aws-s3-bucket-encryptd": "mandatory"},
            "unknown policy 'aws-s3-bucket-encryptd'; did you mean 'aws-s3-bucket-encrypted'?",
        ),
        ({"all": "blocking"}, "all: unknown enforcement level 'blocking'"),
        (
            {"aws-rds-backup-retention": {"minRetentionDays": "seven"}},
            "aws-rds-backup-retention.minRetentionDays: 'seven' is not of type 'integer'",
        ),
        (
            {"aws-rds-backup-retention": {"retention": 7}},
            "aws-rds-backup-retention has no setting 'retention'",
        ),
        ({"environments": {"staging": {}}}, "unknown environment 'staging'"),
        (
            {"environments": {"prod": {"aws-iam-no-access-keys": "off"}}},
            "environments.prod: aws-iam-no-access-keys: unknown enforcement level 'off'",
        ),
        (["all"], "the top level must be an object"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, document, message):
    config = write_config(tmp_path, document)
    with pytest.raises(PolicyConfigError) as error:
        load_config(config, load_pack(PACK))
    assert message in str(error.value)
    assert str(config) in str(error.value)


def test_unreadable_and_malformed_config(tmp_path):
    with pytest.raises(PolicyConfigError, match="cannot read it"):
        load_config(tmp_path / "missing.json", load_pack(PACK))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(PolicyConfigError, match="not valid JSON"):
        load_config(broken, load_pack(PACK))


def test_shipped_environment_configs_are_valid():
    for name in ("dev.json", "prod.json"):
        assert load_config(PACK / "config" / name, load_pack(PACK))


OTHER_PACK_MAIN = """
from pulumi_policy import (EnforcementLevel, PolicyPack, ResourceValidationPolicy,
                           StackValidationPolicy)
from tierstack_policies import no_queues, count

PolicyPack("other", [
    ResourceValidationPolicy("no-queues", "Queues are forbidden here.", no_queues,
                             EnforcementLevel.MANDATORY),
    StackValidationPolicy("count", "Counts resources.", count, EnforcementLevel.ADVISORY),
])
"""
OTHER_PACK_MODULE = """
def no_queues(args, report_violation):
    if args.resource_type == "aws:sqs/queue:Queue":
        if args.props.get("name") == "boom":
            raise ValueError("cannot judge this queue")
        report_violation("queue " + args.name, None)


def count(args, report_violation):
    report_violation(f"{len(args.resources)} resources", None)
"""


@pytest.fixture
def other_pack(tmp_path) -> Path:
    """A second pack whose helper module has the same name as ours (tierstack_policies)."""
    pack = tmp_path / "other-pack"
    (pack / "tierstack_policies").mkdir(parents=True)
    (pack / "PulumiPolicy.yaml").write_text("name: other\nruntime: python\n")
    (pack / "__main__.py").write_text(OTHER_PACK_MAIN)
    (pack / "tierstack_policies" / "__init__.py").write_text(OTHER_PACK_MODULE)
    return pack


def test_another_pack_is_evaluated_not_ours(other_pack):
    records = record_resources(lambda: aws.sqs.Queue("jobs", tags=T))
    results = evaluate(records, stack="s", project="p", pack_dir=other_pack, config_file=None)
    assert results == [
        {
            "policy": "no-queues",
            "level": "mandatory",
            "resource": next(r["urn"] for r in records if r["name"] == "jobs"),
            "message": "queue jobs",
        },
        {
            "policy": "count",
            "level": "advisory",
            "resource": None,
            "message": f"{len(records)} resources",
        },
    ]
    # our pack still loads its own module afterwards
    assert fired(
        evaluate(records, stack="s", project="p", pack_dir=PACK, config_file=None),
        "aws-sqs-dead-letter-configured",
    )


def test_a_policy_that_raises_is_named(other_pack):
    records = record_resources(lambda: aws.sqs.Queue("boom", name="boom", tags=T))
    with pytest.raises(PolicyPackError) as error:
        evaluate(records, stack="s", project="p", pack_dir=other_pack, config_file=None)
    assert "policy 'no-queues' raised ValueError" in str(error.value)
    assert "cannot judge this queue" in str(error.value)


def test_not_a_pack(tmp_path):
    with pytest.raises(PolicyPackError, match=r"has no PulumiPolicy\.yaml"):
        load_pack(tmp_path)
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: nodejs\n")
    with pytest.raises(PolicyPackError, match="only python packs run"):
        load_pack(tmp_path)


def test_pack_without_policy_pack_call(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("x = 1\n")
    with pytest.raises(PolicyPackError, match="without calling PolicyPack"):
        load_pack(tmp_path)


def test_stack_policy_skips_unknown_policy_document():
    """A bucket policy built from the bucket's ARN is unknown at preview: no TLS violation."""

    def program():
        bucket = aws.s3.Bucket("docs", tags=T)
        aws.s3.BucketPolicy("docs-tls", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: "{}"))

    assert fired(run(program), "aws-s3-bucket-tls-only") == []


def test_companion_linked_by_literal_name_does_not_count():
    def program():
        aws.s3.Bucket("docs", bucket="docs", tags=T)
        aws.s3.BucketVersioning(
            "docs-versioning", bucket="docs", versioning_configuration={"status": "Enabled"}
        )

    assert fired(run(program), "aws-s3-bucket-versioning-enabled")
