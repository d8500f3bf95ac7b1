"""A real headless Chromium (Debian's chromium + chromium-driver, installed by
scripts/setup.d/40-browser.sh) driven through Selenium, for the apps' page tests.

Use the `browser` fixture (one browser per test session, a fresh page state per use):

    def test_page(browser, live_url):
        page = browser.open(live_url + "/")
        assert page.find_elements(By.CSS_SELECTOR, "svg .point")
        assert browser.console_errors() == []
        browser.screenshot("dashboard-desktop")  # kept under the artifacts folder
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(os.environ.get("TIERSTACK_ARTIFACTS", Path(__file__).parent.parent / ".artifacts"))
# Widths a person uses: a phone and a desktop.
PHONE = (390, 844)
DESKTOP = (1366, 900)


class Browser:
    """One Chromium session; console errors are collected from the browser's own log."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def open(self, url: str, size: tuple[int, int] = DESKTOP) -> Any:
        self.driver.set_window_size(*size)
        self.driver.get(url)
        return self.driver

    def console_errors(self) -> list[str]:
        """Severe console entries since the last call (the log is drained on read)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry.get("level") == "SEVERE"
        ]

    def screenshot(self, name: str) -> Path:
        """Saves a PNG of the full viewport under ARTIFACTS/screenshots/."""
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), f"no screenshot written to {path}"
        return path

    def unlabelled_controls(self) -> list[str]:
        """Form controls a screen reader cannot name (no <label for>, wrapping label,
        aria-label or aria-labelledby): their outerHTML."""
        return self.driver.execute_script(
            """
            const bad = [];
            const controls = 'input:not([type=hidden]):not([type=submit]):not([type=button]),'
              + ' select, textarea';
            for (const el of document.querySelectorAll(controls)) {
              const byFor = el.id && document.querySelector(`label[for="${el.id}"]`);
              const wrapped = el.closest('label');
              if (!byFor && !wrapped && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby')) bad.push(el.outerHTML);
            }
            return bad;
            """
        )


def _driver(profile: str, extra_flags: tuple[str, ...] = ()) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in extra_flags:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    # The closed network refuses Chromium's background connections: turn them off.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.fail("chromium and chromium-driver are missing: run `make setup`")
    profile = tempfile.mkdtemp(prefix="tierstack-chromium-")
    driver = _driver(profile)
    try:
        yield Browser(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def browser_trusting(certificate: Path) -> Iterator[Browser]:
    """A browser of its own that accepts one self-signed certificate (the local target's load
    balancer's) by its public key, as a user who trusted it would; any other certificate error
    still stops the page."""
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.fail("chromium and chromium-driver are missing: run `make setup`")
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = x509.load_pem_x509_certificate(certificate.read_bytes()).public_key()
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    profile = tempfile.mkdtemp(prefix="tierstack-chromium-")
    driver = _driver(profile, (f"--ignore-certificate-errors-spki-list={pin}",))
    try:
        yield Browser(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
