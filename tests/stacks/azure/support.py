"""Shared by the Azure tier tests: a stack's scale sets and what they boot, read back."""

from __future__ import annotations

import base64

import yaml


def scale_set_inputs(run, tier):
    return next(
        r.inputs
        for r in run.of_type("azure-native:compute:VirtualMachineScaleSet")
        if r.inputs["vmScaleSetName"] == f"image-processing-{run_env(run)}-{tier}"
    )


def run_env(run):
    return run.one("azure-native:resources:ResourceGroup").inputs["tags"]["env"]


def cloud_config(vmss):
    text = base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)
