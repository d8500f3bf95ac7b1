"""The resource record: the one shape that the offline preview writes and the policy engine,
the pull-request report's diff and cost estimate (tierstack/report/diff.py, cost.py) and the
diagram's added/removed marks read. Key names are part of tierstack's public JSON output."""

from typing import Any, TypedDict

# How values the program could not know at preview time, and secrets, appear in records.
UNKNOWN = "<unknown>"
SECRET = "[secret]"


class ResourceRecord(TypedDict):
    urn: str
    type: str  # e.g. "aws:s3/bucket:Bucket", or a component type "tierstack:aws:ObjectStore"
    name: str
    parent: str | None  # the parent's urn; None for the stack itself
    custom: bool  # False for component resources
    inputs: dict[str, Any]  # wire (camelCase) names; UNKNOWN and SECRET as above
    dependencies: list[str]  # urns
    propertyDependencies: dict[str, list[str]]  # input name -> urns it was computed from


class PolicyResult(TypedDict):
    policy: str  # the policy id slug, e.g. "aws-s3-bucket-public-access-blocked"
    level: str  # "mandatory" | "advisory"
    resource: str | None  # the urn; None for a stack-level result
    message: str
