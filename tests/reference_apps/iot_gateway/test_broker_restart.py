"""mosquitto restarted under MQTT traffic: the gateway process keeps running, keeps its buffer,
reconnects and resumes; every reading the devices published (acknowledged by the broker before
or after the restart) is stored exactly once. (On the local target the gateway host is not
deployed yet; this is the same fault against the real broker the IoT tests start.)"""

from __future__ import annotations

import threading

import pytest

from .conftest import Rig, wait_until

pytestmark = pytest.mark.slow


def test_broker_restart_under_traffic_loses_nothing(rig: Rig) -> None:
    rig.start("gateway")
    rig.start("consumer")
    wait_until(rig.latest_status, 30, "the gateway's first status")
    expected = rig.publish(20)
    wait_until(lambda: len(rig.stored_ids()) >= len(expected), 60, "the first readings")

    acked: set[str] = set()
    attempted: set[str] = set()
    publishing = threading.Thread(
        target=lambda: acked.update(rig.publish(100, start=20, attempted=attempted))
    )
    publishing.start()
    wait_until(lambda: rig.latest_status().get("received", 0) >= 300, 60, "traffic under way")
    rig.broker.restart()
    publishing.join(180)
    assert not publishing.is_alive(), "the devices could not publish after the restart"
    expected |= acked  # a reading the broker acknowledged must arrive
    expected |= rig.publish(20, start=120)  # after the restart, on new connections
    assert len(acked) >= 150, "most readings sent across the restart should be acknowledged"

    wait_until(lambda: expected <= set(rig.stored_ids()), 120, "every acknowledged reading")
    stored = rig.stored_ids()
    assert len(stored) == len(set(stored)), "a reading was stored twice"
    # Unacknowledged ones (in flight when the broker went away) may arrive or not.
    assert expected <= set(stored) <= expected | attempted
    assert rig.broker.log().count("u'gw1'") >= 2, "the gateway never reconnected"
    assert rig.processes["gateway"].poll() is None, "the gateway exited"
    assert rig.processes["consumer"].poll() is None, "the consumer exited"
    status = wait_until(
        lambda: (s := rig.latest_status())["buffer_depth"] == 0 and s, 30, "the buffer drained"
    )
    assert status["dropped"] == {"buffer_full": 0}
