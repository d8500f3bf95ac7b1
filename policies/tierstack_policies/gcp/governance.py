"""GCP governance: the required labels (the cross-cloud rule), also on Cloud SQL's user labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..crosscloud import required_tags
from ..registry import MANDATORY, MEDIUM, Family
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
    severity=MEDIUM,
    level=MANDATORY,
    types=[SQL_INSTANCE],
    description="Cloud SQL instances carry the required labels in settings.userLabels.",
    remediation="Set settings.user_labels={'project': ..., 'env': ..., 'owner': ..., "
    "'cost-center': ...}.",
    config=REQUIRED_TAGS_SCHEMA,
)
def _check_sql_labels(props: Mapping[str, Any], config: Mapping[str, Any], type_: str):
    yield from required_tags_check("userLabels", "labels")(
        value(props, "settings") or {}, config, type_
    )
