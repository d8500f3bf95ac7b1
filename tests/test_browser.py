"""The browser harness itself: it sees console errors and unlabelled controls; it screenshots."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import PHONE, Browser, browser  # noqa: F401  (the fixture)

PAGES = {
    "/good": b'<!doctype html><title>ok</title><link rel=icon href="data:,">'
    b"<label for=q>Query</label><input id=q name=q>",
    "/bad": b"<!doctype html><title>bad</title><input name=nolabel>"
    b"<script>console.error('boom from the page')</script>",
}


class Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body or b"not found")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_clean_page_has_no_console_errors_and_every_control_labelled(
    browser: Browser,  # noqa: F811
    site: str,
) -> None:
    browser.open(f"{site}/good")
    assert browser.console_errors() == []
    assert browser.unlabelled_controls() == []


def test_console_errors_and_unlabelled_controls_are_reported(
    browser: Browser,  # noqa: F811
    site: str,
) -> None:
    browser.open(f"{site}/bad", size=PHONE)
    errors = browser.console_errors()
    assert any("boom from the page" in error for error in errors), errors
    assert browser.unlabelled_controls() == ['<input name="nolabel">']
    shot = browser.screenshot("browser-harness-phone")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
