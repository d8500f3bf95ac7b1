"""The neutral size classes (small/medium/large) as AWS machine types.

The types are on the policy pack's allowed lists: t3 burstable for dev, m6i for prod.
"""

from stacks.blueprints.model import SizeClass

INSTANCE_TYPES: dict[SizeClass, str] = {
    "small": "t3.small",
    "medium": "m6i.large",
    "large": "m6i.xlarge",
}

DB_INSTANCE_CLASSES: dict[SizeClass, str] = {
    "small": "db.t4g.small",
    "medium": "db.m6g.large",
    "large": "db.m6g.xlarge",
}

EMR_INSTANCE_TYPE = "m5.xlarge"
"""The smallest general-purpose type EMR supports for master and core nodes."""

ROOT_VOLUME_GB = 20
DEBIAN_12_IMAGE = "resolve:ssm:/aws/service/debian/release/12/latest/amd64"
"""Debian's public SSM parameter: EC2 resolves the latest Debian 12 AMI at launch, no lookup."""
