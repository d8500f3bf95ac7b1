"""The pack as the Pulumi CLI runs it: `python <pack dir>` prints the analyzer's port and serves
gRPC. Asks the real analyzer for its policies and for a verdict, and compares with the engine."""

import subprocess
import sys

import grpc
import pulumi_aws as aws
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from tests.policies.helpers import PACK, fired, run, tags
from tierstack.policy_engine import describe
from tierstack.preview.engine import record_resources


@pytest.fixture(scope="module")
def analyzer():
    server = subprocess.Popen(
        [sys.executable, "-u", str(PACK)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        server.kill()
        server.wait(timeout=10)


def test_analyzer_lists_every_policy_with_metadata(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "tierstack-policies"
    served = {policy.name: policy for policy in info.policies}
    assert set(served) == {item["policy"] for item in describe(PACK)}
    ingress = served["aws-ec2-no-public-admin-ingress"]
    assert ingress.enforcementLevel == proto.MANDATORY
    assert ingress.severity == proto.POLICY_SEVERITY_CRITICAL
    assert "bastion" in ingress.remediation_steps
    assert list(ingress.tags) == ["aws", "network"]


def test_analyzer_and_offline_engine_agree(analyzer):
    def program():
        aws.ec2.SecurityGroup(
            "open",
            tags=tags("prod"),
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 3389,
                    "to_port": 3389,
                    "cidr_blocks": ["0.0.0.0/0"],
                }
            ],
        )

    record = next(r for r in record_resources(program) if r["name"] == "open")
    properties = struct_pb2.Struct()
    properties.update(record["inputs"])
    response = analyzer.Analyze(
        proto.AnalyzeRequest(
            type=record["type"], properties=properties, urn=record["urn"], name=record["name"]
        ),
        timeout=30,
    )
    served = [(d.policyName, d.message.splitlines()[-1]) for d in response.diagnostics]
    offline = [(r["policy"], r["message"]) for r in run(program) if r["resource"] == record["urn"]]
    assert (
        served
        == offline
        == [("aws-ec2-no-public-admin-ingress", "open: ingress opens RDP (port 3389) to 0.0.0.0/0")]
    )
    assert fired(run(program), "aws-ec2-no-public-admin-ingress")
