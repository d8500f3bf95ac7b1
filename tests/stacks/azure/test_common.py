"""Helpers every component of this cloud shares."""

from __future__ import annotations

from stacks.azure import Network
from stacks.common.args import NetworkArgs
from tests.stacks.azure.conftest import make_context


def network_only(context):
    return lambda: Network("network", NetworkArgs(context, "10.40.0.0/16")).resource_group_name


def test_components_drop_azure_natives_version_aliases_but_keep_others(run_azure):
    """The SDK resolves every alias to a URN; azure-native's ~30 per resource made previews ten
    times slower. A stack transformation runs after the components' own, so it sees the result."""
    import pulumi

    from stacks.azure.common import _without_version_aliases

    seen: dict[str, list] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen[args.name] = list(args.opts.aliases or [])

    def program():
        pulumi.runtime.register_stack_transformation(record)
        return network_only(make_context())()

    run_azure(program)
    azure = {name for name in seen if name.startswith("network-")}
    assert "network-vnet" in azure and all(seen[name] == [] for name in azure)

    user_alias = pulumi.Alias(name="old-name")
    version_alias = pulumi.Alias(type_="azure-native:network/v20230201:Subnet")
    args = pulumi.ResourceTransformationArgs(
        None,
        "azure-native:network:Subnet",
        "s",
        {},
        pulumi.ResourceOptions(aliases=[user_alias, version_alias]),
    )
    assert _without_version_aliases(args).opts.aliases == [user_alias]
