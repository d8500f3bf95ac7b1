"""GCP governance: the required labels (the cross-cloud rule), also on Cloud SQL's user labels."""

from __future__ import annotations

from ..crosscloud import required_tags
from ..registry import Config, Family, Findings, Props
from ..shared import REQUIRED_TAGS_SCHEMA, required_tags_check
from ..values import value
from .types import LABELED, SQL_INSTANCE

family = Family("gcp", "governance")

required_tags(
    family,
    "gcp-resource-required-labels",
    LABELED,
    tag_key="labels",
    description="Labelled resources carry the labels project, env (dev|prod), owner and "
    "cost-center.",
    remediation="Pass labels={'project': ..., 'env': 'dev'|'prod', 'owner': ..., "
    "'cost-center': ...} (settings.user_labels on Cloud SQL).",
)


@family.resource(
    "gcp-sql-required-labels",
    severity="medium",
    level="mandatory",
    types=[SQL_INSTANCE],
    description="Cloud SQL instances carry the required labels in settings.userLabels.",
    remediation="Set settings.user_labels={'project': ..., 'env': ..., 'owner': ..., "
    "'cost-center': ...}.",
    config=REQUIRED_TAGS_SCHEMA,
)
def _check_sql_labels(props: Props, config: Config, type_: str) -> Findings:
    yield from required_tags_check("userLabels", "labels")(
        value(props, "settings") or {}, config, type_
    )
