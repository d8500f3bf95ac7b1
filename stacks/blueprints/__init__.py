"""The five blueprints, declared once and deployed to any cloud."""

from collections.abc import Callable

from stacks.blueprints import (
    cloud_drive,
    image_processing,
    iot_gateway,
    mapreduce,
    social_analytics,
)
from stacks.blueprints.model import Blueprint

BLUEPRINTS: dict[str, Callable[[], Blueprint]] = {
    "image-processing": image_processing.blueprint,
    "cloud-drive": cloud_drive.blueprint,
    "mapreduce": mapreduce.blueprint,
    "social-analytics": social_analytics.blueprint,
    "iot-gateway": iot_gateway.blueprint,
}
