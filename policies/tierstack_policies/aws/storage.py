"""AWS object storage: S3 buckets and the companion resources that configure them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import uncovered
from ..values import UNKNOWN, as_list, elements, json_document, truthy, value
from .types import (
    BUCKET_ACLS,
    BUCKET_POLICY,
    BUCKETS,
    LIFECYCLE,
    PUBLIC_ACCESS_BLOCK,
    SSE,
    VERSIONING,
)

family = Family("aws", "object-storage")
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}


def _buckets_without(
    resources: Resources,
    companion_types: Iterable[str],
    is_good: Callable[[Props], bool],
    inline: Callable[[Props], bool],
    what: str,
) -> StackFindings:
    """Buckets with no linked companion resource (through its `bucket` input) passing is_good."""
    for bucket in uncovered(resources, BUCKETS, companion_types, "bucket", is_good):
        if not inline(bucket.props):
            yield f"bucket {bucket.name} has no {what}", bucket.urn


def _public_access_block_ok(props: Props) -> bool:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    return all(truthy(value(props, flag)) or value(props, flag) is UNKNOWN for flag in flags)


@family.stack(
    "aws-s3-bucket-public-access-blocked",
    severity="critical",
    level="mandatory",
    description="Every S3 bucket has a public access block with all four settings true.",
    remediation="Add aws.s3.BucketPublicAccessBlock(bucket=bucket.id, block_public_acls=True, "
    "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True).",
)
def _check_public_access(resources: Resources, _config: Config) -> StackFindings:
    yield from _buckets_without(
        resources,
        [PUBLIC_ACCESS_BLOCK],
        _public_access_block_ok,
        lambda _props: False,
        "public access block with all four settings true",
    )


def _everyone(principal: Any) -> bool:
    """Principal "*" or {"AWS": "*"} (also in a list): anyone, signed in or not."""
    if isinstance(principal, dict):
        return "*" in as_list(principal.get("AWS"))
    return "*" in as_list(principal)


def _public_statements(document: Any) -> Findings:
    """Allow statements to every principal with no condition narrowing who may call."""
    if not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if _everyone(statement.get("Principal")) and not statement.get("Condition"):
            actions = ", ".join(str(action) for action in as_list(statement.get("Action")))
            yield f"bucket policy allows {actions or 'actions'} to every principal (*)"


@family.resource(
    "aws-s3-bucket-no-public-acl",
    severity="critical",
    level="mandatory",
    types=(*BUCKETS, *BUCKET_ACLS, BUCKET_POLICY),
    description="S3 buckets, bucket ACLs and bucket policies grant nothing to AllUsers, "
    "AuthenticatedUsers or Principal *.",
    remediation="Remove public canned ACLs (public-read, public-read-write, authenticated-read), "
    "grants to global groups and unconditioned Allow statements to Principal '*'; serve public "
    "content through a CDN instead.",
)
def _check_public_acl(props: Props, _config: Config, _type: str) -> Findings:
    yield from _public_statements(json_document(value(props, "policy")))
    acl = value(props, "acl")
    if acl in PUBLIC_ACLS:
        yield f"canned ACL {acl} makes objects public"
    grants = elements(props, "accessControlPolicy", "grants")
    for grant in grants if isinstance(grants, list) else []:
        uri = value(grant, "grantee", "uri")
        if isinstance(uri, str) and uri.endswith(("/global/AllUsers", "/AuthenticatedUsers")):
            yield f"ACL grant to {uri} makes objects public"


@family.stack(
    "aws-s3-bucket-encrypted",
    severity="high",
    level="mandatory",
    description="Every S3 bucket declares default server-side encryption.",
    remediation="Add aws.s3.BucketServerSideEncryptionConfiguration(bucket=bucket.id, "
    "rules=[...]) with aws:kms or AES256.",
)
def _check_encrypted(resources: Resources, _config: Config) -> StackFindings:
    yield from _buckets_without(
        resources,
        SSE,
        lambda props: bool(elements(props, "rules")),
        lambda props: value(props, "serverSideEncryptionConfiguration") is not None,
        "server-side encryption configuration",
    )


def _versioning_ok(props: Props) -> bool:
    status = value(props, "versioningConfiguration", "status")
    return status in ("Enabled", UNKNOWN)


@family.stack(
    "aws-s3-bucket-versioning-enabled",
    severity="medium",
    level="mandatory",
    description="Every S3 bucket has versioning enabled.",
    remediation="Add aws.s3.BucketVersioning(bucket=bucket.id, versioning_configuration="
    "{'status': 'Enabled'}).",
)
def _check_versioning(resources: Resources, _config: Config) -> StackFindings:
    yield from _buckets_without(
        resources,
        VERSIONING,
        _versioning_ok,
        lambda props: value(props, "versioning", "enabled") in (True, UNKNOWN),
        "versioning resource with status Enabled",
    )


def _any_rule_on(props: Props, rules: str, flag: str, on: Any) -> bool:
    """A lifecycle configuration whose rules are all Disabled expires nothing."""
    found = elements(props, rules)
    if found is UNKNOWN:
        return True
    return any(value(rule, flag) in (on, UNKNOWN) for rule in found)


@family.stack(
    "aws-s3-bucket-lifecycle-configured",
    severity="low",
    level="advisory",
    description="Every S3 bucket has an enabled lifecycle rule (expiry of old versions, tiering).",
    remediation="Add aws.s3.BucketLifecycleConfiguration(bucket=bucket.id, rules=[...]).",
)
def _check_lifecycle(resources: Resources, _config: Config) -> StackFindings:
    yield from _buckets_without(
        resources,
        LIFECYCLE,
        lambda props: _any_rule_on(props, "rules", "status", "Enabled"),
        lambda props: _any_rule_on(props, "lifecycleRules", "enabled", True),
        "lifecycle rule with status Enabled",
    )


def _denies_insecure_transport(props: Props) -> bool:
    document = json_document(value(props, "policy"))
    if document is UNKNOWN:
        return True  # built from outputs (the bucket ARN): not knowable at preview
    if not isinstance(document, dict):
        return False
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        secure = (statement.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
        if str(secure).lower() == "false" and _denies_everything(statement):
            return True
    return False


def _denies_everything(statement: dict[str, Any]) -> bool:
    """A deny of s3:PutObject alone over plain HTTP still lets everything else through."""
    actions = as_list(statement.get("Action"))
    return _everyone(statement.get("Principal")) and bool({"*", "s3:*"} & set(actions))


@family.stack(
    "aws-s3-bucket-tls-only",
    severity="high",
    level="mandatory",
    description="Every S3 bucket has a bucket policy that denies every request made without TLS.",
    remediation="Add aws.s3.BucketPolicy(bucket=bucket.id, policy=...) with a Deny statement of "
    "Action 's3:*' to Principal '*' on Condition Bool aws:SecureTransport 'false'.",
)
def _check_tls_only(resources: Resources, _config: Config) -> StackFindings:
    yield from _buckets_without(
        resources,
        [BUCKET_POLICY],
        _denies_insecure_transport,
        lambda _props: False,
        "bucket policy denying requests without TLS (aws:SecureTransport false)",
    )
