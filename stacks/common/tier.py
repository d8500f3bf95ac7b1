"""The start every cloud's AppTier and WorkerTier share (the Tier contract in contracts.py)."""

from __future__ import annotations

import pulumi

from stacks.blueprints.settings import Sizing
from stacks.common.args import AppTierArgs, WorkerTierArgs


class TierComponent(pulumi.ComponentResource):
    """An autoscaled group of hosts, registered as `tierstack:<cloud>:<kind>`; the subclass
    declares the group and sets `group_name`."""

    logical_name: str
    """The `tier` tag or label on this tier's hosts (the alarms select on it)."""
    group_name: pulumi.Output[str]
    sizing: Sizing
    """The environment's host sizes and group bounds (settings.sizing)."""

    def __init__(
        self,
        token: str,
        name: str,
        args: AppTierArgs | WorkerTierArgs,
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        super().__init__(token, name, None, opts)
        self.logical_name = name
        self.sizing = args.context.settings.sizing
