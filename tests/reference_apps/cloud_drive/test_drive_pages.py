"""The cloud-drive pages: the file list (human sizes, types, dates), the usage bar of the quota,
the plain-form fallback; and in a real headless Chromium the upload with its progress bar,
the quota refusal, labels, keyboard navigation and phone and desktop screenshots."""

from __future__ import annotations

import io
import os
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selenium.webdriver.common.by import By

from reference_apps.cloud_drive import create_app
from tests.browser import DESKTOP, PHONE, Browser, browser  # noqa: F401  (the fixture)
from tests.page_checks import serve, tab_through, wait_for

PASSWORD = "correct horse battery"
MIB = 1024 * 1024
# A 3 MiB quota and a 2 MiB file limit: a second large file fits the limit, not the quota.
ENV = {
    "SESSION_COOKIE_SECURE": "false",
    "USER_QUOTA_MB": "3",
    "MAX_UPLOAD_MB": "2",
    "LOGIN_RATE_LIMIT": "100 per minute",
}


def make_app(folder: Path) -> Flask:
    return create_app({**ENV, "DATA_DIR": str(folder)})


def form_token(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def register(client: FlaskClient, name: str) -> None:
    response = client.post(
        "/register",
        data={
            "csrf_token": form_token(client, "/register"),
            "username": name,
            "email": f"{name}@example.com",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303


def post_file(client: FlaskClient, data: bytes, name: str):
    return client.post(
        "/files",
        data={"csrf_token": form_token(client, "/"), "file": (io.BytesIO(data), name)},
    )


def test_the_list_shows_sizes_types_dates_and_the_usage_of_the_quota(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    register(client, "dana")
    before = time.time()
    assert post_file(client, b"x" * (MIB + MIB // 2), "holiday.png").status_code == 303
    assert post_file(client, b"notes", "notes.txt").status_code == 303
    page = client.get("/").text
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>")[1], re.S)
    assert len(rows) == 2
    assert "notes.txt" in rows[0] and ">5 Bytes<" in rows[0] and ">Text<" in rows[0]
    assert "holiday.png" in rows[1] and ">1.5 MiB<" in rows[1] and ">PNG image<" in rows[1]
    assert 'title="1572864 bytes"' in rows[1] and 'title="image/png"' in rows[1]
    stamp = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', rows[1])
    assert stamp is not None
    uploaded = datetime.fromisoformat(stamp.group(1))
    assert uploaded.utcoffset() == timedelta(0)
    assert before - 1 <= uploaded.timestamp() <= time.time()
    assert stamp.group(2) == uploaded.strftime("%Y-%m-%d %H:%M UTC")
    meter = re.search(r'<meter id="usage-meter" min="0" max="(\d+)" value="(\d+)"', page)
    assert meter is not None and meter.groups() == (str(3 * MIB), str(MIB + MIB // 2 + 5))
    assert "1.5 MiB of 3.0 MiB (50 %)" in page and "1.5 MiB free" in page


def test_the_plain_form_refuses_a_file_over_the_quota_with_413_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    """Without JavaScript the form posts to the page: the refusal is the page with the reason."""
    app = make_app(tmp_path)
    client = app.test_client()
    register(client, "erin")
    assert post_file(client, os.urandom(2 * MIB - 1024), "first.bin").status_code == 303
    refused = post_file(client, os.urandom(2 * MIB - 1024), "second.bin")
    assert refused.status_code == 413
    assert "quota exceeded: 1049600 bytes free of 3145728, the file has 2096128" in refused.text
    assert 'role="alert"' in refused.text and "second.bin" not in refused.text
    assert len(app.extensions["drive"].objects.list()) == 1
    too_big = post_file(client, b"z" * (2 * MIB + 1), "huge.bin")
    assert too_big.status_code == 413
    assert "request body exceeds the 2 MB limit (MAX_UPLOAD_MB)" in too_big.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(make_app(tmp_path_factory.mktemp("drive-pages"))) as url:
        yield url


def sign_up(browser: Browser, url: str, size: tuple[int, int] = DESKTOP) -> str:  # noqa: F811
    """A new account made through the register form; the browser lands on its file list."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    page = browser.open(url + "/register", size)
    assert browser.unlabelled_controls() == []
    page.find_element(By.NAME, "username").send_keys(name)
    page.find_element(By.NAME, "email").send_keys(f"{name}@example.com")
    page.find_element(By.NAME, "password").send_keys(PASSWORD)
    page.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "upload-form"), what="the file list")
    return name


def watch_progress(browser: Browser) -> None:  # noqa: F811
    """Record every value the upload bar takes (its value attribute reflects the property)."""
    browser.driver.execute_script(
        """
        window.progressSeen = [];
        const bar = document.getElementById('upload-progress');
        new MutationObserver(() => window.progressSeen.push(bar.value))
          .observe(bar, {attributes: true, attributeFilter: ['value']});
        window.stillTheSamePage = true;
        """
    )


@pytest.mark.slow
def test_upload_shows_progress_to_100_and_the_file_appears_without_a_reload(
    browser: Browser,  # noqa: F811
    site: str,
    tmp_path: Path,
) -> None:
    sign_up(browser, site)
    page = browser.driver
    assert page.find_element(By.ID, "usage-text").text.startswith("0 Bytes of 3.0 MiB (0 %)")
    assert not page.find_element(By.ID, "upload-progress").is_displayed()
    assert browser.unlabelled_controls() == []
    report = tmp_path / "quarterly report.pdf"
    report.write_bytes(os.urandom(MIB + MIB // 2))
    watch_progress(browser)
    page.find_element(By.ID, "upload-file").send_keys(str(report))
    page.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
    status = page.find_element(By.ID, "upload-status")
    wait_for(browser, lambda d: "uploaded" in status.text, what="the upload to finish")
    assert status.text == "quarterly report.pdf uploaded (1.5 MiB)."
    seen = page.execute_script("return window.progressSeen")
    assert seen and seen[-1] == 100 and seen == sorted(seen), seen
    assert page.find_element(By.ID, "upload-percent").text == "100 %"
    row = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#file-list tbody tr"))
    assert len(row) == 1
    cells = [cell.text for cell in row[0].find_elements(By.TAG_NAME, "td")]
    assert cells[:3] == ["quarterly report.pdf", "1.5 MiB", "PDF document"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", cells[3]), cells
    assert page.find_element(By.ID, "usage-text").text.startswith("1.5 MiB of 3.0 MiB (50 %)")
    assert page.find_element(By.ID, "usage-meter").get_attribute("value") == str(MIB + MIB // 2)
    assert page.execute_script("return window.stillTheSamePage") is True
    assert browser.console_errors() == []
    browser.screenshot("cloud-drive-files-desktop")

    # Over the quota (under the file limit): the server's 413 reason, the list unchanged.
    second = tmp_path / "video.mp4"
    second.write_bytes(os.urandom(2 * MIB - 1024))
    page.find_element(By.ID, "upload-file").send_keys(str(second))
    page.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
    wait_for(browser, lambda d: "not uploaded" in status.text, what="the quota refusal")
    assert status.text == (
        "video.mp4 was not uploaded: quota exceeded: 1572864 bytes free of 3145728,"
        " the file has 2096128."
    )
    assert status.get_attribute("role") == "alert"
    assert len(page.find_elements(By.CSS_SELECTOR, "#file-list tbody tr")) == 1
    errors = browser.console_errors()
    assert len(errors) == 1 and "413" in errors[0], errors  # the refused request, nothing else

    # Over the per-file limit: refused before sending a byte.
    huge = tmp_path / "huge.iso"
    huge.write_bytes(b"\0" * (2 * MIB + 1))
    page.find_element(By.ID, "upload-file").send_keys(str(huge))
    page.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
    assert status.text == "huge.iso has 2.0 MiB; the limit is 2.0 MiB a file."
    assert browser.console_errors() == []

    browser.open(site + "/", PHONE)
    assert page.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    assert page.find_element(By.ID, "usage-meter").is_displayed()
    browser.screenshot("cloud-drive-files-phone")
    assert browser.console_errors() == []


@pytest.mark.slow
def test_the_sign_in_pages_at_phone_and_desktop_widths(
    browser: Browser,  # noqa: F811
    site: str,
) -> None:
    page = browser.driver
    page.delete_all_cookies()
    for size, label in ((PHONE, "phone"), (DESKTOP, "desktop")):
        for path in ("login", "register"):
            browser.open(f"{site}/{path}", size)
            assert browser.unlabelled_controls() == []
            assert page.execute_script("return document.documentElement.scrollWidth") <= size[0]
            browser.screenshot(f"cloud-drive-{path}-{label}")
    assert browser.console_errors() == []


@pytest.mark.slow
def test_keyboard_reaches_upload_and_every_file_action_with_a_visible_focus(
    browser: Browser,  # noqa: F811
    site: str,
    tmp_path: Path,
) -> None:
    browser.driver.delete_all_cookies()
    sign_up(browser, site)
    page = browser.driver
    note = tmp_path / "note.txt"
    note.write_text("hello")
    page.find_element(By.ID, "upload-file").send_keys(str(note))
    page.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#file-list tbody tr"))
    stops = tab_through(browser, 14)
    names = [stop["id"] or stop["text"] for stop in stops]
    assert names[0] == "Skip to content"
    assert names.index("upload-file") < names.index("Upload") < names.index("note.txt")
    assert names.index("note.txt") < names.index("download") < names.index("delete")
    last = names.index("delete")
    assert [stop for stop in stops[: last + 1] if not stop["outline"]] == []
    assert browser.console_errors() == []


def test_pages_load_code_from_the_app_only_under_the_strict_csp(tmp_path: Path) -> None:
    """No inline script or style (the CSP would block them) and nothing from another host."""
    client = make_app(tmp_path).test_client()
    pages = {path: client.get(path) for path in ("/login", "/register")}
    register(client, "fay")
    post_file(client, b"hello", "hello.txt")
    pages.update({path: client.get(path) for path in ("/", "/profile")})
    for path, response in pages.items():
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"].startswith(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        )
        html = response.text
        assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)[^>]*>", html) == [], path
        assert re.findall(r"<style|\sstyle=|\son[a-z]+=", html) == [], path
        assert re.findall(r"(?:src|href)=\"(?:https?:)?//", html) == [], path
    assert '<script src="/static/upload.js" defer>' in pages["/"].text
    assert client.get("/static/upload.js").status_code == 200
