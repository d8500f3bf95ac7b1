"""The pages in a real headless Chromium: the form submits a job (file upload, job choice), the
job page follows it to its result; no console error, every control labelled, phone and desktop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mr_helpers import wait_until
from selenium.webdriver.common.by import By
from werkzeug.serving import make_server

from reference_apps.mapreduce import build_service, create_app, load_settings, worker
from reference_apps.mapreduce.engines import LocalEngine
from tests.browser import PHONE, Browser, browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {"DATA_DIR": str(tmp_path / "data"), "SESSION_COOKIE_SECURE": "false"}
    server = make_server("127.0.0.1", 0, create_app(env), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", env
    finally:
        server.shutdown()


def test_submit_a_word_count_from_the_form_and_download_it(
    browser: Browser,  # noqa: F811
    site: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    url, env = site
    corpus = tmp_path / "notes.txt"
    corpus.write_text("Café café CAFÉ and tea\n", encoding="utf-8")
    page = browser.open(url + "/", PHONE)
    assert browser.unlabelled_controls() == []
    browser.screenshot("mapreduce-form-phone")
    page = browser.open(url + "/")
    page.find_element(By.NAME, "input").send_keys(str(corpus))
    page.find_element(By.CSS_SELECTOR, "input[name=job][value=word-count]").click()
    page.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(lambda: "/jobs/" in page.current_url, 10, "the job page")
    assert page.find_element(By.ID, "status").text == "queued"

    service = build_service(load_settings(env, web=False), mail=True)
    message = service.queue.receive()
    assert message is not None
    assert worker.handle(service, LocalEngine(1), message, threading.Event())
    page.refresh()
    assert page.find_element(By.ID, "status").text == "succeeded"
    links = [link.get_attribute("href") for link in page.find_elements(By.CSS_SELECTOR, "main a")]
    assert any(link.endswith("/result") for link in links)
    assert browser.console_errors() == []
    assert browser.unlabelled_controls() == []
    browser.screenshot("mapreduce-job-desktop")
    job_id = page.current_url.rsplit("/", 1)[1]
    result = service.result(job_id).decode()
    assert sorted(result.splitlines()) == ["and\t1", "café\t3", "tea\t1"]
