"""WorkerTier on Azure: the scale set scaled on its queue backlog, resolved."""

from __future__ import annotations

from tests.stacks.azure.support import cloud_config, scale_set_inputs


def test_worker_scales_on_its_queue_backlog_per_instance(dev):
    setting = next(
        r.inputs
        for r in dev.of_type("azure-native:monitor:AutoscaleSetting")
        if r.inputs["targetResourceUri"] == "filter-worker-vmss-id"
    )
    trigger = setting["profiles"][0]["rules"][0]["metricTrigger"]
    assert trigger["metricName"] == "ActiveMessages"
    assert trigger["metricResourceUri"] == "jobs-namespace-id"
    assert trigger["dimensions"] == [
        {"dimensionName": "EntityName", "operator": "Equals", "values": ["jobs"]}
    ]
    assert trigger["dividePerInstance"] is True and trigger["threshold"] == 10
    vmss = scale_set_inputs(dev, "filter-worker")
    ip_config = vmss["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][
        0
    ]["ipConfigurations"][0]
    assert ip_config["subnet"] == {"id": "network-worker-id"}
    assert "applicationGatewayBackendAddressPools" not in ip_config
    script = cloud_config(vmss)["write_files"][0]["content"]
    assert "tierstack_tier: worker" in script
