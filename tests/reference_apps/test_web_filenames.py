"""Non-Latin-1 file names download under gunicorn (a header that is not Latin-1 made it answer
500): both apps send an ASCII ``filename=`` and the exact name in ``filename*=UTF-8''…``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import REPO, free_port, png, stop
from test_entry_points import clean_env, get_json
from werkzeug.http import parse_options_header

from reference_apps.web import content_disposition

BIN = Path(sys.executable).parent
NAME = "фото отпуск.png"


def gunicorn(module: str, data_dir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            f"reference_apps.{module}.wsgi:app",
        ],
        cwd=REPO,
        env={**clean_env(data_dir), "DATA_DIR": str(data_dir), "SESSION_COOKIE_SECURE": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        get_json(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(scope="module")
def drive_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from gunicorn("cloud_drive", tmp_path_factory.mktemp("drive"))


@pytest.fixture(scope="module")
def images_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from gunicorn("image_processing", tmp_path_factory.mktemp("images"))


def shown_name(response: requests.Response) -> tuple[str, str, dict[str, str]]:
    kind, options = parse_options_header(response.headers["Content-Disposition"])
    raw = response.headers["Content-Disposition"]
    return kind, raw, options


@pytest.mark.slow
def test_cloud_drive_downloads_a_cyrillic_name(drive_url: str) -> None:
    browser = requests.Session()
    csrf = browser.get(f"{drive_url}/api/v1/csrf").json()["csrf_token"]
    registered = browser.post(
        f"{drive_url}/api/v1/users",
        headers={"X-CSRFToken": csrf},
        json={"username": "olga", "email": "olga@example.com", "password": "correct horse battery"},
    )
    assert registered.status_code == 201
    csrf = browser.get(f"{drive_url}/api/v1/csrf").json()["csrf_token"]
    uploaded = browser.post(
        f"{drive_url}/api/v1/files",
        headers={"X-CSRFToken": csrf},
        files={"file": (NAME, png(8, 8), "image/png")},
    )
    assert uploaded.status_code == 201 and uploaded.json()["name"] == NAME
    for path, kind in (
        (f"/api/v1/files/{uploaded.json()['id']}/content", "attachment"),
        (f"/files/{uploaded.json()['id']}", "inline"),
    ):
        download = browser.get(drive_url + path)
        assert download.status_code == 200 and download.content == png(8, 8)
        shown_kind, raw, options = shown_name(download)
        assert (shown_kind, options["filename"]) == (kind, NAME)
        assert raw.isascii() and 'filename="download.png"' in raw


@pytest.mark.slow
def test_image_processing_result_keeps_a_cyrillic_name(images_url: str) -> None:
    created = requests.post(
        f"{images_url}/api/v1/images",
        files={"file": (NAME, png(16, 16), "image/png")},
        data={"filters": "grayscale"},
    )
    assert created.status_code == 201, created.text
    result = requests.get(
        images_url + created.json()["result_url"],
        headers={"Authorization": f"Bearer {created.json()['owner_token']}"},
    )
    assert result.status_code == 200
    kind, raw, options = shown_name(result)
    assert (kind, options["filename"]) == ("inline", "фото отпуск-processed.png")
    assert raw.isascii()


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("notes.txt", 'attachment; filename="notes.txt"'),
        (
            "résumé.pdf",
            "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
        ),
        ("中文", "attachment; filename=\"download\"; filename*=UTF-8''%E4%B8%AD%E6%96%87"),
        ('a"b;c.txt', "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%3Bc.txt"),
    ],
)
def test_content_disposition(name: str, header: str) -> None:
    assert content_disposition("attachment", name) == header
    assert parse_options_header(header)[1]["filename"] == name
