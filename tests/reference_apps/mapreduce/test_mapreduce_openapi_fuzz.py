"""Schemathesis against the MapReduce app's /openapi.json (generated requests through the real
WSGI app, custom programs allowed): whatever it sends, no answer is a 5xx and every error says
what to fix. (Schemathesis's pytest plugin does not load under this pytest: hypothesis
drives it.)"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from reference_apps.mapreduce import create_app

FUZZ = settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def test_mapreduce_api_has_no_5xx(tmp_path: Path) -> None:
    app = create_app(
        {"DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING", "ALLOW_CUSTOM_PROGRAMS": "true"}
    )
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    covered = []
    for result in schema.get_all_operations():
        operation = result.ok()

        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code}"
            if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith(
                "application/json"
            ):
                assert response.json()["error"]

        FUZZ(given(case=operation.as_strategy())(run))()
        covered.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /api/v1/jobs" in covered and len(covered) == 8
    assert app.test_client().get("/openapi.json").json["info"]["title"] == "tierstack mapreduce"
