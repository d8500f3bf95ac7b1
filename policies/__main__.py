"""Entry point the Pulumi CLI runs: builds the PolicyPack (which starts the analyzer and blocks).

The policies live in importable modules so that tierstack's offline preview and the tests can
evaluate the very same objects without serving them.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from tierstack_policies import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=POLICIES,
)
