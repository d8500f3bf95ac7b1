"""Mocks for the AWS components: the outputs AWS would compute for each resource type the
components declare. A type not listed here raises, so a new resource cannot slip in with
silent None outputs; the components call no invokes, so none are answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
MOCK_DB_PASSWORD = "Mock-DB-Password-7f3Q"
MOCK_DB_APP_PASSWORD = "Mock-DB-App-Password-4kWz"
"""The app role's password: distinct from the admin's, so a test can tell which one a place got."""
"""Distinctive, so tests can prove it appears nowhere but in the secret."""
MOCK_APP_SECRET_SEED = "MockAppSecret7f3Q"
"""RandomPassword without specials (AppSecret) -> this, repeated to the requested length."""

# Types whose outputs the components never read beyond `id` (which the mocks always give).
NO_COMPUTED = {
    "aws:ec2/vpc:Vpc",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/eip:Eip",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:lb/listener:Listener",
    "aws:autoscaling/policy:Policy",
    "aws:kms/keyPolicy:KeyPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:iot/topicRule:TopicRule",
}


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = f"{inputs['bucketPrefix']}20260101abcdef"
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}


def _random_password(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    if inputs.get("special") is False:
        length = int(inputs["length"])
        return {"result": (MOCK_APP_SECRET_SEED * length)[:length]}
    return {"result": MOCK_DB_APP_PASSWORD if name.endswith("-app-password") else MOCK_DB_PASSWORD}


def _queue(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    queue = inputs["name"]
    return {
        "arn": _arn("sqs", queue),
        "url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}",
    }


COMPUTED: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:sqs/queue:Queue": _queue,
    "aws:dynamodb/table:Table": lambda n, i: {"arn": _arn("dynamodb", f"table/{i['name']}")},
    "aws:rds/instance:Instance": lambda n, i: {
        "address": f"{i['identifier']}.c0ffee.{REGION}.rds.amazonaws.com",
        "arn": _arn("rds", f"db:{i['identifier']}"),
    },
    "random:index/randomPassword:RandomPassword": _random_password,
    "aws:secretsmanager/secret:Secret": lambda n, i: {
        "arn": _arn("secretsmanager", f"secret:{i['name']}-AbCdEf")
    },
    "aws:sns/topic:Topic": lambda n, i: {"arn": _arn("sns", i["name"])},
    "aws:sesv2/configurationSet:ConfigurationSet": lambda n, i: {
        "arn": _arn("ses", f"configuration-set/{i['configurationSetName']}")
    },
    "aws:iam/role:Role": lambda n, i: {
        "arn": f"arn:aws:iam::{ACCOUNT}:role/{i.get('name', n)}",
        "name": i.get("name", n),
    },
    "aws:iam/instanceProfile:InstanceProfile": lambda n, i: {
        "arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{i['name']}"
    },
    "aws:lb/loadBalancer:LoadBalancer": lambda n, i: {
        "dnsName": f"{i['name']}-1234567890.{REGION}.elb.amazonaws.com",
        "arn": _arn("elasticloadbalancing", f"loadbalancer/app/{i['name']}/50dc6c495c0c9188"),
        "arnSuffix": f"app/{i['name']}/50dc6c495c0c9188",
    },
    "aws:lb/targetGroup:TargetGroup": lambda n, i: {
        "arn": _arn("elasticloadbalancing", f"targetgroup/{n}/73e2d6bc24d8a067")
    },
    "tls:index/privateKey:PrivateKey": lambda n, i: {
        "privateKeyPem": "-----BEGIN EC PRIVATE KEY-----\nmock\n-----END EC PRIVATE KEY-----\n"
    },
    "tls:index/selfSignedCert:SelfSignedCert": lambda n, i: {
        "certPem": "-----BEGIN CERTIFICATE-----\nmock\n-----END CERTIFICATE-----\n"
    },
    "aws:acm/certificate:Certificate": lambda n, i: {
        "arn": _arn("acm", "certificate/self-signed-dev")
    },
    "aws:ec2/launchTemplate:LaunchTemplate": lambda n, i: {"latestVersion": 1},
    "aws:autoscaling/group:Group": lambda n, i: {
        "arn": _arn("autoscaling", f"autoScalingGroup:uuid:autoScalingGroupName/{i['name']}")
    },
    "aws:kms/key:Key": lambda n, i: {
        "arn": _arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        "keyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
    },
    "aws:cloudwatch/logGroup:LogGroup": lambda n, i: {
        "arn": _arn("logs", f"log-group:{i['name']}")
    },
    "aws:emr/securityConfiguration:SecurityConfiguration": lambda n, i: {"name": i["name"]},
    # The harness gives every resource the id "<name>-id"; EMR's ARN ends in the cluster id.
    "aws:emr/cluster:Cluster": lambda n, i: {"arn": _arn("elasticmapreduce", f"cluster/{n}-id")},
    "aws:iot/thingType:ThingType": lambda n, i: {"arn": _arn("iot", f"thingtype/{i['name']}")},
    "aws:iot/policy:Policy": lambda n, i: {"arn": _arn("iot", f"policy/{i['name']}")},
}


def computed(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What AWS would compute; raises for a resource type these mocks do not know."""
    if type_ in COMPUTED:
        return COMPUTED[type_](name, inputs)
    if type_ in NO_COMPUTED or type_.startswith("tierstack:aws:"):
        return {}
    raise LookupError(f"the AWS mocks do not know {type_}: add its computed outputs")


INVOKES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
CONFIG = {"aws:region": REGION}
