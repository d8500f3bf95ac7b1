"""Azure governance: the required tags (the rule itself is the cross-cloud one)."""

from ..crosscloud import required_tags
from ..registry import Family
from .types import TAGGED

family = Family("azure", "governance")

required_tags(
    family,
    "azure-resource-required-tags",
    TAGGED,
    tag_key="tags",
    description="Taggable resources carry the tags project, env (dev|prod), owner and cost-center.",
    remediation="Pass tags={'project': ..., 'env': 'dev'|'prod', 'owner': ..., "
    "'cost-center': ...}.",
)
