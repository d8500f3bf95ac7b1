"""The GCP broker group's bridge as a real process: gateway batches published on the broker
(MQTT uplink, passwords, ACL) arrive in Pub/Sub (Google's pstest emulator), each once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import pubsub_queue, stop

from reference_apps.iot_gateway.uplink import open_uplink

from .conftest import Broker, start_bridge, wait_until

PROJECT = "tierstack-test"


@pytest.mark.slow
def test_bridge_forwards_batches_to_pubsub(
    make_broker: Callable[..., Broker],
    pubsub_emulator_host: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator_host)
    topic, subscription = f"t-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    queue = pubsub_queue(PROJECT, topic, subscription)
    group = make_broker(devices=["gw1"], users={"bridge": {"read": ["devices/+/telemetry"]}})
    bridge = start_bridge(
        tmp_path, pubsub_emulator_host, group, f"pubsub://{PROJECT}/{topic}/{subscription}"
    )
    uplink = open_uplink(group.url("gw1"), "gw1", {"UPLINK_CA_FILE": str(group.ca)})
    received: list[dict] = []

    def drain() -> int:
        while (message := queue.receive(wait=0.5)) is not None:
            received.append(message.body)
            queue.ack(message)
        return len(received)

    try:
        wait_until(lambda: uplink.link.connected.is_set(), 10, "the uplink connected")
        # until the bridge has subscribed, the broker keeps nothing for it: probe until one arrives
        wait_until(lambda: uplink.send({"gateway": "gw1", "items": []}) or drain(), 30, "bridge up")
        received.clear()
        batches = [{"gateway": "gw1", "status": {}, "items": [{"id": f"i{n}"}]} for n in range(3)]
        for batch in batches:
            uplink.send(batch)

        # Pub/Sub keeps no order without ordering keys, and a late probe may still arrive.
        def forwarded() -> list[dict]:
            drain()
            return sorted((b for b in received if b["items"]), key=lambda b: b["items"][0]["id"])

        wait_until(lambda: len(forwarded()) >= 3, 30, "three batches in Pub/Sub")
        assert forwarded() == batches  # each batch once, none lost
    finally:
        uplink.close()
        stop(bridge)
    assert bridge.returncode == 0
    assert json.loads((tmp_path / "bridge.log").read_text().splitlines()[-1])["forwarded"] >= 4
