"""tierstack's CrossGuard policies, importable without starting the analyzer.

`POLICIES` is what `policies/__main__.py` hands to `PolicyPack`: every `<cloud>/<family>.py`
module's policies, cloud by cloud and family by family (see `registry.py`). Each policy's tags
are `[cloud, family]`, which the README table is generated from.
"""

from .registry import CLOUDS, FAMILIES, collect

PACK_NAME = "tierstack-policies"
POLICIES = collect(__name__)

__all__ = ["CLOUDS", "FAMILIES", "PACK_NAME", "POLICIES"]
