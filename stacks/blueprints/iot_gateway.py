"""IoT gateway: sensors publish over MQTT to edge/fog gateways that store and forward to the
cloud; a consumer writes the time series, a dashboard shows fog nodes and readings."""

from stacks.blueprints.model import (
    AppTier,
    Blueprint,
    IoTIngest,
    KeyValueTable,
    ObjectStore,
    Queue,
    Uses,
    WorkerTier,
)


def blueprint() -> Blueprint:
    return Blueprint(
        name="iot-gateway",
        description="sensors -> MQTT -> edge/fog gateways (broker + stream agents) -> cloud IoT "
        "ingest -> queue -> consumer -> time-series table; LB -> app tier (fog-node API)",
        object_stores=(
            ObjectStore("telemetry-archive", "raw telemetry batches", archive_after_days=30),
        ),
        queues=(
            Queue(
                "telemetry",
                "device readings forwarded by the ingest",
                visibility_timeout_seconds=60,
            ),
        ),
        tables=(
            KeyValueTable(
                "readings",
                "time series per device",
                partition_key="device_id",
                sort_key="ts",
                ttl_attribute="expires_at",
            ),
        ),
        app=AppTier(
            "fog-api",
            "fog-node API and dashboard",
            wsgi="reference_apps.iot_gateway.wsgi:app",
            port=8005,
            uses=(Uses("readings", "read", "KV_URL"),),
        ),
        workers=(
            WorkerTier(
                "telemetry-consumer",
                "writes readings to the time-series table and archives batches",
                command="python -m reference_apps.iot_gateway.consumer",
                scale_on="telemetry",
                uses=(
                    Uses("telemetry", "consume", "QUEUE_URL"),
                    Uses("readings", "read-write", "KV_URL"),
                    Uses("telemetry-archive", "read-write", "OBJECT_STORE_URL"),
                ),
                backlog_per_instance=500,
            ),
        ),
        iot=IoTIngest(
            "device-ingest",
            "device telemetry from the fog gateways",
            topic_filter="devices/+/telemetry",
            to_queue="telemetry",
        ),
    )
