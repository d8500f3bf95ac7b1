"""Programs written the way public Pulumi examples are, not for tierstack: plain look-ups (the
default VPC, its subnets, a Route 53 zone), an invoke nobody answers, answers from a file.
Each runs through the `tierstack` command; counts are exact and each exit code is checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tierstack.preview.runner import exception_chain, trim_error

from .conftest import run_cli, write

DEFAULT_VPC_PROGRAM = """
import pulumi
import pulumi_aws as aws

vpc = aws.ec2.get_vpc(default=True)
subnets = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc.id]}])
zone = aws.route53.get_zone(name="example.org.")
ami = aws.ec2.get_ami(most_recent=True, owners=["amazon"],
                      filters=[{"name": "name", "values": ["al2023-ami-*"]}])
identity = aws.get_caller_identity()

group = aws.ec2.SecurityGroup("web", vpc_id=vpc.id, ingress=[
    {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]},
])
for index, subnet_id in enumerate(subnets.ids):
    aws.ec2.Instance(f"web-{index}", ami=ami.id, instance_type="t3.micro",
                     subnet_id=subnet_id, vpc_security_group_ids=[group.id])
aws.route53.Record("www", zone_id=zone.zone_id, name=f"www.{zone.name}", type="A", ttl=300,
                   records=["192.0.2.10"])
pulumi.export("vpcId", vpc.id)
pulumi.export("account", identity.account_id)
"""

UNANSWERED_PROGRAM = """
import pulumi
import pulumi_aws as aws


def existing_cluster(name):
    return aws.eks.get_cluster(name=name)


cluster = existing_cluster("prod")
aws.s3.Bucket("logs", tags={"cluster": cluster.name, "version": cluster.version})
"""

POLICY_PACK = """
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def no_open_ingress(args, report_violation):
    if args.resource_type != "aws:ec2/securityGroup:SecurityGroup":
        return
    for rule in args.props.get("ingress") or []:
        if "0.0.0.0/0" in (rule.get("cidrBlocks") or []):
            report_violation("ingress open to the internet")


PolicyPack(
    name="foreign",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name="no-open-ingress", description="closed ingress",
                                       validate=no_open_ingress)],
)
"""


def flat_project(root: Path, name: str, program: str) -> Path:
    """Pulumi.yaml naming no virtualenv, the program and one stack file beside it."""
    write(root / "Pulumi.yaml", f"name: {name}\nruntime: python\n")
    write(root / "__main__.py", program)
    write(root / "Pulumi.dev.yaml", "config:\n  aws:region: eu-central-1\n")
    return root


@pytest.fixture(scope="module")
def default_vpc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return flat_project(tmp_path_factory.mktemp("default-vpc"), "default-vpc", DEFAULT_VPC_PROGRAM)


@pytest.fixture(scope="module")
def unanswered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return flat_project(tmp_path_factory.mktemp("unanswered"), "eks-logs", UNANSWERED_PROGRAM)


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {record["name"]: record for record in result["resources"]}


def test_default_vpc_look_ups_preview_completely(default_vpc: Path) -> None:
    done = run_cli("preview", "--cwd", str(default_vpc), "-s", "dev", "--json", "--no-policy")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "ok" and "error" not in result
    assert result["summary"]["byType"] == {
        "aws:ec2/instance:Instance": 3,  # one per subnet of the default VPC
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:route53/record:Record": 1,
        "pulumi:pulumi:Stack": 1,
    }
    records = by_name(result)
    assert records["web"]["inputs"]["vpcId"] == "vpc-0ff11e00000000d"
    subnets = [records[f"web-{index}"]["inputs"]["subnetId"] for index in range(3)]
    assert subnets == ["subnet-0ff11e00000000a", "subnet-0ff11e00000000b", "subnet-0ff11e00000000c"]
    assert records["web-0"]["inputs"]["ami"] == "ami-0000000000offline"
    www = records["www"]["inputs"]
    assert (www["zoneId"], www["name"]) == ("Z0FF11E0000000000000D", "www.example.org")
    assert result["outputs"] == {"vpcId": "vpc-0ff11e00000000d", "account": "123456789012"}
    assert result["offlineAnswers"] == {
        "aws:ec2/getAmi:getAmi": "built-in",
        "aws:ec2/getSubnets:getSubnets": "built-in",
        "aws:ec2/getVpc:getVpc": "built-in",
        "aws:index/getCallerIdentity:getCallerIdentity": "built-in",
        "aws:route53/getZone:getZone": "built-in",
    }
    note = next(limit for limit in result["limits"] if limit.startswith("offline answers"))
    assert "aws:ec2/getVpc:getVpc (built-in)" in note


def test_offline_answers_are_stable(default_vpc: Path) -> None:
    args = ("preview", "--cwd", str(default_vpc), "-s", "dev", "--json", "--no-policy")
    first, second = (json.loads(run_cli(*args).stdout) for _ in range(2))
    assert first["resources"] == second["resources"]


def test_a_mandatory_policy_exits_1_not_3(default_vpc: Path, tmp_path: Path) -> None:
    write(tmp_path / "pack" / "PulumiPolicy.yaml", "runtime: python\n")
    write(tmp_path / "pack" / "__main__.py", POLICY_PACK)
    args = ("--cwd", str(default_vpc), "-s", "dev", "--policy-pack", str(tmp_path / "pack"))
    done = run_cli("preview", *args, "--json")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "policy-failed" and "error" not in result
    assert [(p["policy"], p["level"]) for p in result["policy"]] == [
        ("no-open-ingress", "mandatory")
    ]


def test_an_unanswered_invoke_fails_fast_naming_token_line_and_remedy(unanswered: Path) -> None:
    # Before the fix the runner spun on the SDK's self-caused exception until the timeout.
    args = ("--cwd", str(unanswered), "-s", "dev", "--no-policy", "--json", "--timeout", "90")
    done = run_cli("preview", *args)
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["errorKind"]) == ("program-failed", "program")
    assert "did not finish" not in result["error"]
    assert result["errorAt"] == "__main__.py:6"
    assert 'File "__main__.py", line 9, in <module>' in result["error"]
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("tierstack: dev: __main__.py:6: UnknownInvokeError: ")
    assert "'aws:eks/getCluster:getCluster'" in line and "--invoke-answers FILE" in line


def test_an_unanswered_output_form_invoke_names_its_line(tmp_path: Path) -> None:
    """`get_cluster_output` fails after the program's line returned: no frame of the program is
    in the exception, so the call site noted at the call is reported."""
    program = """
    import pulumi_aws as aws

    cluster = aws.eks.get_cluster_output(name="prod")
    aws.s3.Bucket("logs", tags={"cluster": cluster.name})
    """
    root = flat_project(tmp_path, "eks-output", program)
    done = run_cli("preview", "--cwd", str(root), "-s", "dev", "--no-policy", "--json")
    assert done.returncode == 3, done.stderr
    result = json.loads(done.stdout)
    assert result["errorAt"] == "__main__.py:3"
    assert result["error"].startswith('  File "__main__.py", line 3, in <module>')
    assert "'aws:eks/getCluster:getCluster'" in result["error"]


def test_invoke_answers_file_answers_the_rest(unanswered: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    write(answers, "aws:eks/getCluster:getCluster:\n  name: prod\n  version: '1.31'\n")
    args = ("--cwd", str(unanswered), "-s", "dev", "--no-policy", "--json")
    done = run_cli("preview", *args, "--invoke-answers", str(answers))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert by_name(result)["logs"]["inputs"]["tags"] == {"cluster": "prod", "version": "1.31"}
    assert result["offlineAnswers"] == {"aws:eks/getCluster:getCluster": "--invoke-answers"}


def test_a_bad_invoke_answers_file_is_a_usage_error(unanswered: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text('["not", "a", "mapping"]')
    args = ("--cwd", str(unanswered), "-s", "dev", "--no-policy")
    done = run_cli("preview", *args, "--invoke-answers", str(answers))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "expected a mapping of invoke tokens to results" in line


def test_list_invokes_names_the_common_look_ups() -> None:
    done = run_cli("preview", "--list-invokes")
    assert done.returncode == 0
    tokens = done.stdout.split()
    for token in (
        "aws:ec2/getVpc:getVpc",
        "aws:ec2/getSubnets:getSubnets",
        "aws:ec2/getSecurityGroups:getSecurityGroups",
        "aws:route53/getZone:getZone",
        "gcp:compute/getImage:getImage",
        "gcp:organizations/getClientConfig:getClientConfig",
        "azure-native:resources:getResourceGroup",
        "azure:core/getSubscription:getSubscription",
    ):
        assert token in tokens


def test_a_self_caused_exception_is_walked_once(tmp_path: Path) -> None:
    """The Pulumi SDK raises a failed invoke `from` itself; walking `__cause__` looped forever."""
    program = tmp_path / "__main__.py"
    program.write_text("def look_up():\n    raise LookupError('no such zone')\n")
    namespace: dict[str, Any] = {}
    exec(compile(program.read_text(), str(program), "exec"), namespace)
    try:
        try:
            namespace["look_up"]()
        except LookupError as error:
            raise error from error
    except LookupError as error:
        caught = error
    assert caught.__cause__ is caught
    assert exception_chain(caught) == [caught]
    trimmed = trim_error(caught, tmp_path)
    assert trimmed.endswith("LookupError: no such zone")
    assert 'File "__main__.py", line 2, in look_up' in trimmed
