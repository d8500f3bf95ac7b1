"""What the apps' page tests share: a live threaded server for an app, and keyboard checks in
the browser of tests/browser.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from tests.browser import Browser


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a free port of 127.0.0.1 (threaded, as gunicorn's threads would be)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def wait_for(browser: Browser, condition: Any, timeout: float = 15, what: str = "") -> Any:
    """Wait (polling, no sleep) until ``condition(driver)`` is truthy; returns its value."""
    return WebDriverWait(browser.driver, timeout, poll_frequency=0.1).until(condition, what)


def tab_through(browser: Browser, presses: int) -> list[dict[str, Any]]:
    """Press Tab ``presses`` times from the top of the page; for each stop, the focused
    element's id, name, tag and whether its focus outline is visible (style and width)."""
    driver = browser.driver
    # Tab starts after the focused (or last clicked) element: start from an unfocusable-by-Tab
    # marker at the top of the body, removed afterwards.
    driver.execute_script(
        """
        const start = document.createElement('span');
        start.id = 'tab-start'; start.tabIndex = -1;
        document.body.prepend(start); start.focus();
        """
    )
    stops = []
    for _ in range(presses):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        stops.append(
            driver.execute_script(
                """
                const el = document.activeElement;
                const style = getComputedStyle(el);
                return {
                  id: el.id, name: el.getAttribute('name') || '', tag: el.tagName.toLowerCase(),
                  type: el.getAttribute('type') || '', text: (el.textContent || '').trim(),
                  outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
                };
                """
            )
        )
    driver.execute_script("document.getElementById('tab-start').remove();")
    return stops
