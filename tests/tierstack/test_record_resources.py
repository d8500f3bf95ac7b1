"""record_resources: a program run in-process under the recording mock monitor."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pytest

from tierstack.preview.engine import record_resources
from tierstack.preview.invokes import UnknownInvokeError
from tierstack.records import SECRET, UNKNOWN

STACK_URN = "urn:pulumi:dev::shop::pulumi:pulumi:Stack::shop-dev"


class Store(pulumi.ComponentResource):
    """A small component: a bucket and its versioning, parented to the component."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shop:index:Store", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", tags={"team": "web"}, opts=child)
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        self.register_outputs({})


def by_name(records: list[dict]) -> dict[str, dict]:
    return {record["name"]: record for record in records}


def test_records_stack_component_and_children_with_real_urns() -> None:
    records = by_name(record_resources(lambda: Store("media"), project="shop", stack="dev"))

    assert set(records) == {"shop-dev", "media", "media-bucket", "media-versioning"}
    stack = records["shop-dev"]
    assert (stack["urn"], stack["type"], stack["parent"], stack["custom"]) == (
        STACK_URN,
        "pulumi:pulumi:Stack",
        None,
        False,
    )
    component = records["media"]
    assert component["urn"] == "urn:pulumi:dev::shop::shop:index:Store::media"
    assert (component["parent"], component["custom"]) == (STACK_URN, False)
    bucket = records["media-bucket"]
    assert (
        bucket["urn"] == "urn:pulumi:dev::shop::shop:index:Store$aws:s3/bucket:Bucket::media-bucket"
    )
    assert (bucket["type"], bucket["parent"], bucket["custom"]) == (
        "aws:s3/bucket:Bucket",
        component["urn"],
        True,
    )
    assert bucket["inputs"] == {"tags": {"team": "web"}}


def test_computed_input_is_unknown_and_linked_to_its_source() -> None:
    records = by_name(record_resources(lambda: Store("media")))
    versioning = records["media-versioning"]
    bucket_urn = records["media-bucket"]["urn"]

    assert versioning["inputs"] == {
        "bucket": UNKNOWN,
        "versioningConfiguration": {"status": "Enabled"},
    }
    assert versioning["dependencies"] == [bucket_urn]
    assert versioning["propertyDependencies"]["bucket"] == [bucket_urn]
    assert versioning["propertyDependencies"]["versioningConfiguration"] == []


def test_not_in_preview_ids_are_known() -> None:
    records = by_name(record_resources(lambda: Store("media"), preview=False))
    assert records["media-versioning"]["inputs"]["bucket"] == "media-bucket-id"


def test_secrets_are_masked_and_resource_references_become_urns() -> None:
    def program() -> None:
        password = random.RandomPassword("pw", length=24)
        aws.rds.Instance(
            "db",
            engine="postgres",
            instance_class="db.t3.micro",
            username="app",
            password=pulumi.Output.secret("hunter22"),
            allocated_storage=20,
            opts=pulumi.ResourceOptions(depends_on=[password]),
        )

    records = by_name(record_resources(program))
    db = records["db"]
    assert db["inputs"]["password"] == SECRET
    assert "hunter22" not in json.dumps(db)
    assert db["inputs"]["allocatedStorage"] == 20 and isinstance(
        db["inputs"]["allocatedStorage"], int
    )
    assert db["dependencies"] == [records["pw"]["urn"]]
    assert records["pw"]["inputs"] == {"length": 24}


def test_config_gets_the_project_namespace_and_invokes_answer_offline() -> None:
    def program() -> None:
        config = pulumi.Config()
        zones = aws.get_availability_zones()
        identity = aws.get_caller_identity()
        aws.ec2.Subnet(
            "subnet",
            vpc_id="vpc-1",
            cidr_block=config.require("cidr"),
            availability_zone=zones.names[1],
            tags={"account": identity.account_id},
        )

    records = by_name(
        record_resources(
            program, project="shop", config={"cidr": "10.1.0.0/24", "aws:region": "eu-west-1"}
        )
    )
    assert records["subnet"]["inputs"] == {
        "availabilityZone": "eu-west-1b",
        "cidrBlock": "10.1.0.0/24",
        "tags": {"account": "123456789012"},
        "vpcId": "vpc-1",
    }


def test_policy_document_is_computed_like_the_provider_does() -> None:
    def program() -> None:
        document = aws.iam.get_policy_document(
            statements=[
                {
                    "effect": "Allow",
                    "actions": ["sqs:SendMessage"],
                    "resources": ["arn:aws:sqs:eu-west-1:123456789012:jobs"],
                    "principals": [{"type": "Service", "identifiers": ["sns.amazonaws.com"]}],
                    "conditions": [
                        {"test": "Bool", "variable": "aws:SecureTransport", "values": ["true"]}
                    ],
                }
            ]
        )
        aws.sqs.QueuePolicy("policy", queue_url="https://q", policy=document.json)

    policy = json.loads(by_name(record_resources(program))["policy"]["inputs"]["policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "arn:aws:sqs:eu-west-1:123456789012:jobs",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }


def test_unknown_invoke_fails_the_program_naming_the_token() -> None:
    def program() -> None:
        aws.ssm.get_parameter(name="/app/secret")

    with pytest.raises(UnknownInvokeError, match=r"'aws:ssm/getParameter:getParameter'"):
        record_resources(program)


def test_program_error_propagates_and_the_runtime_is_reset_for_the_next_call() -> None:
    def failing() -> None:
        aws.s3.Bucket("half-done")
        raise ValueError("bad sizing: 'huge'")

    with pytest.raises(ValueError, match="bad sizing"):
        record_resources(failing, stack="one")

    records = record_resources(lambda: aws.s3.Bucket("fresh"), stack="two")
    assert [r["name"] for r in records] == ["test-two", "fresh"]
    assert pulumi.get_stack() == "stack"  # the SDK's defaults, not the last program's


def test_azure_user_assigned_identities_echo_as_the_providers_map() -> None:
    """azure-native takes a list of identity ids and returns a map; the echoed preview state
    must have the output's shape or the SDK rejects it and the program fails."""
    import pulumi_azure_native as azure

    identity_id = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/x/app"

    def program() -> None:
        workspace = azure.operationalinsights.Workspace(
            "logs",
            resource_group_name="rg",
            identity={"type": "UserAssigned", "user_assigned_identities": [identity_id]},
        )
        pulumi.export("identity_type", workspace.identity.apply(lambda i: i["type"] if i else None))

    records = record_resources(program)
    workspace = next(r for r in records if r["name"] == "logs")
    assert workspace["inputs"]["identity"]["userAssignedIdentities"] == [identity_id]
