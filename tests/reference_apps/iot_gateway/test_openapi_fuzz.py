"""Schemathesis against the fog-node API's /openapi.json (generated requests through the real
WSGI app, commands published to a real broker): no answer may be a 5xx, and every error says
what to fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from reference_apps.iot_gateway import create_app

from .conftest import Broker

FUZZ = settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def test_fog_node_api_has_no_5xx(make_broker: Callable[..., Broker], tmp_path: Path) -> None:
    broker = make_broker()
    app = create_app(
        {
            "DATA_DIR": str(tmp_path),
            "LOG_LEVEL": "WARNING",
            "BROKER_URL": broker.url("fogapi"),
            "BROKER_CA_FILE": str(broker.ca),
        }
    )
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    covered = []
    for result in schema.get_all_operations():
        operation = result.ok()

        def run(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code}"
            if response.status_code >= 400:
                assert response.json()["error"]

        FUZZ(given(case=operation.as_strategy())(run))()
        covered.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /api/v1/devices/{device_id}/commands" in covered and len(covered) == 7
