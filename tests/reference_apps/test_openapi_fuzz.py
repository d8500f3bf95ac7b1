"""Schemathesis against each app's /openapi.json (generated requests through the real WSGI app):
whatever it sends, no answer may be a 5xx, and responses must match the documented schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from reference_apps.cloud_drive import create_app as create_drive
from reference_apps.image_processing import create_app as create_images


@pytest.fixture(scope="module")
def image_schema(tmp_path_factory: pytest.TempPathFactory):
    app = create_images(
        {"DATA_DIR": str(tmp_path_factory.mktemp("images")), "LOG_LEVEL": "WARNING"}
    )
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture(scope="module")
def drive_schema(tmp_path_factory: pytest.TempPathFactory):
    app = create_drive(
        {
            "DATA_DIR": str(tmp_path_factory.mktemp("drive")),
            "LOG_LEVEL": "WARNING",
            "LOGIN_RATE_LIMIT": "1000 per minute",
        }
    )
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


FUZZ = settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def check(case) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code}"
    if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith(
        "application/json"
    ):
        assert response.json()["error"]  # every error says what to fix


def fuzz(schema) -> list[str]:
    """Run generated cases for every documented operation; returns the operations covered.

    (Schemathesis's pytest plugin does not load under this pytest, so hypothesis drives it.)"""
    covered = []
    for result in schema.get_all_operations():
        operation = result.ok()

        def run(case) -> None:
            check(case)

        FUZZ(given(case=operation.as_strategy())(run))()
        covered.append(f"{operation.method.upper()} {operation.path}")
    return covered


def test_image_processing_api_has_no_5xx(image_schema) -> None:
    covered = fuzz(image_schema)
    assert "POST /api/v1/images" in covered and len(covered) == 8


def test_cloud_drive_api_has_no_5xx(drive_schema) -> None:
    covered = fuzz(drive_schema)
    assert "POST /api/v1/files" in covered and len(covered) == 12


def test_schemas_are_served(tmp_path: Path) -> None:
    client = create_images({"DATA_DIR": str(tmp_path / "i")}).test_client()
    assert client.get("/openapi.json").json["info"]["title"] == "tierstack image-processing"
    client = create_drive({"DATA_DIR": str(tmp_path / "d")}).test_client()
    assert client.get("/openapi.json").json["info"]["title"] == "tierstack cloud-drive"
