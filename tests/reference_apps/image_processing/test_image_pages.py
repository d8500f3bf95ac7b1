"""The image-processing pages: thumbnails (made with Pillow, cached, private), and in a real
headless Chromium the filter preview, the job page following a job to its result without a
reload, labels, keyboard navigation, and phone and desktop screenshots (kept as artifacts)."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import jpeg
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from selenium.webdriver.common.by import By

from reference_apps.image_processing import build_service, create_app, load_settings, worker
from reference_apps.image_processing.filters import parse_pipeline, render
from reference_apps.image_processing.thumbnails import THUMBNAIL_SIZE
from tests.browser import DESKTOP, PHONE, Browser, browser  # noqa: F401  (the fixture)
from tests.page_checks import serve, tab_through, wait_for

# Every job goes through the queue, so a test decides when the worker finishes it; a job that
# fails once is failed for good.
ENV = {"SESSION_COOKIE_SECURE": "false", "SYNC_MAX_PIXELS": "0", "QUEUE_MAX_DELIVERIES": "1"}


def make_app(folder: Path) -> tuple[Flask, dict[str, str]]:
    env = {**ENV, "DATA_DIR": str(folder)}
    return create_app(env), env


def picture(width: int, height: int) -> bytes:
    """A colourful JPEG with detail (a Mandelbrot set over two gradients), for screenshots in
    which a filter shows."""
    fractal = Image.effect_mandelbrot((width, height), (-2.2, -1.2, 1.0, 1.2), 80)
    across = Image.linear_gradient("L").rotate(90).resize((width, height))
    down = Image.radial_gradient("L").resize((width, height))
    buffer = io.BytesIO()
    Image.merge("RGB", (across, fractal, down)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def run_worker_once(env: dict[str, str], succeeds: bool = True) -> None:
    """What the worker process does with the next message (same code, same backends)."""
    service = build_service(load_settings(env, web=False))
    message = service.queue.receive(wait=5)
    assert message is not None, "no job message in the queue"
    assert worker.handle(service, message) is succeeds


def submit(client: FlaskClient, data: bytes, name: str = "photo.jpg", **form: str) -> str:
    """A job made through the page form, as a browser would; returns the job page path."""
    page = client.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/",
        data={"csrf_token": token.group(1), "file": (io.BytesIO(data), name), **form},
    )
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def test_thumbnails_fit_the_box_are_cached_and_shown_to_the_owner_only(tmp_path: Path) -> None:
    app, env = make_app(tmp_path)
    owner = app.test_client()
    job_page = submit(owner, jpeg(1200, 900, "red"), filter="grayscale")
    job_id = job_page.rsplit("/", 1)[1]

    original = owner.get(f"{job_page}/thumbnails/original")
    assert original.status_code == 200
    assert original.headers["Content-Type"] == "image/webp"
    assert original.headers["Cache-Control"] == "private, max-age=86400, immutable"
    picture = Image.open(io.BytesIO(original.data))
    assert (picture.format, picture.size) == ("WEBP", (THUMBNAIL_SIZE, 240))
    assert picture.getpixel((160, 120))[0] > 200  # still the red original

    # Made once, then served from the object store (a changed copy there is what comes back).
    objects = app.extensions["image_service"].objects
    key = f"thumbnails/{job_id}/original"
    assert objects.get(key) == original.data
    objects.put(key, b"cached copy", "image/webp")
    assert owner.get(f"{job_page}/thumbnails/original").data == b"cached copy"

    assert owner.get(f"{job_page}/thumbnails/result").status_code == 404  # not processed yet
    refresh = '<noscript><meta http-equiv="refresh" content="3"></noscript>'
    assert refresh in owner.get(job_page).text  # without JavaScript the page reloads itself
    run_worker_once(env)
    assert refresh not in owner.get(job_page).text  # until the job is finished
    result = owner.get(f"{job_page}/thumbnails/result")
    assert result.status_code == 200
    grey = Image.open(io.BytesIO(result.data)).convert("RGB")
    assert grey.size == (THUMBNAIL_SIZE, 240)
    red, green, blue = grey.getpixel((160, 120))
    assert abs(red - green) <= 2 and abs(green - blue) <= 2  # the grayscale result

    stranger = app.test_client()
    for kind in ("original", "result"):
        refused = stranger.get(f"{job_page}/thumbnails/{kind}")
        assert refused.status_code == 404
        assert refused.data != result.data
    unknown = owner.get(f"{job_page}/thumbnails/secret", headers={"Accept": "application/json"})
    assert unknown.status_code == 404
    assert unknown.json == {"error": f"no secret thumbnail for job {job_id!r}"}


def test_the_job_list_shows_each_job_as_a_thumbnail(tmp_path: Path) -> None:
    app, env = make_app(tmp_path)
    client = app.test_client()
    first = submit(client, jpeg(80, 60, "blue"), "first.jpg", filter="blur")
    run_worker_once(env)
    submit(client, jpeg(80, 60, "green"), "second.jpg", filter="grayscale")
    page = client.get("/").text
    cards = re.findall(r'<li class="job-card"(.*?)</li>', page, re.S)
    images = [re.search(r'<img src="([^"]+)" alt="([^"]+)"', card) for card in cards]
    assert len(cards) == 2 and all(images)
    second_image, first_image = (found.groups() for found in images if found)
    assert second_image[0].endswith("/thumbnails/original")  # still queued: the original
    assert second_image[1] == "original of second.jpg" and "queued" in cards[0]
    assert first_image == (f"{first}/thumbnails/result", "result of first.jpg")  # done
    assert 'data-status="done"' in cards[1] and 'data-status="queued"' in cards[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    app, env = make_app(tmp_path_factory.mktemp("image-pages"))
    with serve(app) as url:
        yield url, env


def canvas_pixels(session: Browser) -> tuple[int, int, list[int]]:
    """The preview canvas's size and RGBA bytes."""
    return session.driver.execute_script(
        """
        const c = document.getElementById('preview');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return [c.width, c.height, Array.from(d)];
        """
    )


@pytest.mark.slow
def test_submit_a_job_and_watch_it_finish_without_a_reload(
    browser: Browser,  # noqa: F811
    site: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    url, env = site
    photo = tmp_path / "harbour.jpg"
    photo.write_bytes(picture(800, 600))
    page = browser.open(url + "/", DESKTOP)
    assert browser.unlabelled_controls() == []
    page.find_element(By.ID, "file").send_keys(str(photo))
    page.find_element(By.ID, "filter-grayscale").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "preview").is_displayed(), what="preview")
    size = page.find_element(By.ID, "preview-size")
    assert size.text == "Result: 800\u00d7600 px."
    width, height, data = canvas_pixels(browser)
    assert (width, height) == (THUMBNAIL_SIZE, 240)
    assert data[0::4] == data[1::4] == data[2::4]  # every pixel grey in the preview
    assert len(set(data[0::4])) > 50  # and still the picture, not a flat fill
    page.find_element(By.ID, "filter-thumbnail").click()
    wait_for(browser, lambda d: size.text == "Result: 256\u00d7192 px.", what="thumbnail size")
    page.find_element(By.ID, "filter-thumbnail").click()
    browser.screenshot("image-processing-form-desktop")

    page.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: "/jobs/" in d.current_url, what="the job page")
    assert page.find_element(By.ID, "status").text == "queued"
    assert not page.find_element(By.ID, "result-thumbnail").is_displayed()
    original = page.find_element(By.CSS_SELECTOR, ".compare img")
    assert browser.driver.execute_script("return arguments[0].naturalWidth", original) == 320
    browser.driver.execute_script("window.stillTheSamePage = true;")

    threading.Thread(target=run_worker_once, args=(env,)).start()
    wait_for(browser, lambda d: d.find_element(By.ID, "status").text == "done", what="done")
    result = wait_for(
        browser,
        lambda d: d.execute_script(
            "const i = document.getElementById('result-thumbnail');"
            "return i.complete && i.naturalWidth ? i : null;"
        ),
        what="the result thumbnail",
    )
    assert result.is_displayed()
    assert browser.driver.execute_script("return window.stillTheSamePage") is True
    assert page.find_element(By.ID, "download").is_displayed()
    assert not page.find_element(By.ID, "result-pending").is_displayed()
    browser.screenshot("image-processing-job-desktop")
    assert browser.console_errors() == []

    job_url = page.current_url
    browser.open(job_url, PHONE)
    assert len(page.find_elements(By.CSS_SELECTOR, ".compare img")) == 2
    left, right = page.find_elements(By.CSS_SELECTOR, ".compare figure")
    assert left.rect["y"] == right.rect["y"] and left.rect["x"] < right.rect["x"]  # side by side
    assert page.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    browser.screenshot("image-processing-job-phone")
    browser.open(url + "/", PHONE)
    assert page.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    assert len(page.find_elements(By.CSS_SELECTOR, ".job-card img")) == 1
    browser.screenshot("image-processing-form-phone")
    assert browser.console_errors() == []


@pytest.mark.slow
def test_the_preview_matches_pillow_pixel_for_pixel_at_full_scale(
    browser: Browser,  # noqa: F811
    site: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    """Below the canvas size the preview works on the real pixels: grey then emboss (Pillow's
    asymmetric kernel, so a flipped kernel would show) must equal the server's result."""
    url, _env = site
    noise = Image.effect_noise((60, 40), 60)
    ramp = Image.linear_gradient("L").resize((60, 40))
    source = Image.merge("RGB", (noise, ramp, ramp.transpose(Image.Transpose.ROTATE_180)))
    path = tmp_path / "noise.png"
    source.save(path)
    page = browser.open(url + "/", DESKTOP)
    page.find_element(By.ID, "file").send_keys(str(path))
    page.find_element(By.ID, "filter-grayscale").click()
    page.find_element(By.ID, "filter-emboss").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "preview").is_displayed(), what="preview")
    width, height, data = canvas_pixels(browser)
    expected_bytes, _type = render(Image.open(path), parse_pipeline("grayscale,emboss"), 10_000_000)
    expected = Image.open(io.BytesIO(expected_bytes))
    assert (width, height) == expected.size
    assert expected.mode == "L"
    assert bytes(data[0::4]) == expected.tobytes()


@pytest.mark.slow
def test_keyboard_reaches_every_control_with_a_visible_focus(
    browser: Browser,  # noqa: F811
    site: tuple[str, dict[str, str]],
) -> None:
    url, _env = site
    browser.open(url + "/", DESKTOP)
    stops = tab_through(browser, 40)
    ids = [stop["id"] for stop in stops]
    assert ids.index("file") < ids.index("filter-grayscale") < ids.index("blur-radius")
    assert ids.index("blur-radius") < ids.index("rotate-expand") < ids.index("thumbnail-size")
    submit_stop = next(i for i, stop in enumerate(stops) if stop["type"] == "submit")
    assert submit_stop > ids.index("thumbnail-size")
    assert stops[0]["text"] == "Skip to content"
    assert [stop for stop in stops[: submit_stop + 1] if not stop["outline"]] == []
    assert browser.console_errors() == []


@pytest.mark.slow
def test_the_job_list_follows_a_queued_job_to_its_result(
    browser: Browser,  # noqa: F811
    site: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    url, env = site
    photo = tmp_path / "lighthouse.jpg"
    photo.write_bytes(picture(640, 480))
    page = browser.open(url + "/", DESKTOP)
    page.find_element(By.ID, "file").send_keys(str(photo))
    page.find_element(By.ID, "filter-emboss").click()
    page.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: "/jobs/" in d.current_url, what="the job page")
    job_id = page.current_url.rsplit("/", 1)[1]
    browser.open(url + "/", DESKTOP)
    card = page.find_element(By.CSS_SELECTOR, f".job-card[data-job-id='{job_id}']")
    assert card.find_element(By.CSS_SELECTOR, ".state").text == "queued"
    image = card.find_element(By.TAG_NAME, "img")
    assert image.get_attribute("src").endswith(f"/jobs/{job_id}/thumbnails/original")
    browser.driver.execute_script("window.stillTheSamePage = true;")

    threading.Thread(target=run_worker_once, args=(env,)).start()
    wait_for(
        browser,
        lambda d: card.find_element(By.CSS_SELECTOR, ".state").text == "done",
        what="the card to show done",
    )
    assert image.get_attribute("src").endswith(f"/jobs/{job_id}/thumbnails/result")
    assert image.get_attribute("alt") == "result of lighthouse.jpg"
    wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", image))
    assert browser.driver.execute_script("return window.stillTheSamePage") is True
    browser.driver.execute_script("document.getElementById('jobs').scrollIntoView();")
    browser.screenshot("image-processing-jobs-desktop")
    assert browser.console_errors() == []


def test_pages_load_code_from_the_app_only_under_the_strict_csp(tmp_path: Path) -> None:
    """No inline script or style (the CSP would block them) and nothing from another host."""
    app, _env = make_app(tmp_path)
    client = app.test_client()
    job_page = submit(client, jpeg(), filter="grayscale")
    for path in ("/", job_page):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"].startswith(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        )
        html = response.text
        assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)[^>]*>", html) == [], path
        assert re.findall(r"<style|\sstyle=|\son[a-z]+=", html) == [], path
        assert re.findall(r"(?:src|href)=\"(?:https?:)?//", html) == [], path
    for script in ("job.js", "preview.js"):
        assert client.get(f"/static/{script}").status_code == 200


@pytest.mark.slow
def test_a_failed_job_shows_its_reason_without_a_reload(
    browser: Browser,  # noqa: F811
    site: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    """The worker refuses a resize past MAX_IMAGE_PIXELS (8192 x 8192 > 40 million pixels)."""
    url, env = site
    photo = tmp_path / "small.jpg"
    photo.write_bytes(jpeg(40, 30))
    page = browser.open(url + "/", PHONE)
    page.find_element(By.ID, "file").send_keys(str(photo))
    page.find_element(By.ID, "filter-resize").click()
    page.find_element(By.ID, "resize-width").send_keys("8192")
    page.find_element(By.ID, "resize-height").send_keys("8192")
    wait_for(browser, lambda d: "8192" in d.find_element(By.ID, "preview-size").text)
    page.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: "/jobs/" in d.current_url, what="the job page")
    error = page.find_element(By.ID, "job-error")
    assert not error.is_displayed()
    browser.driver.execute_script("window.stillTheSamePage = true;")
    run_worker_once(env, succeeds=False)
    wait_for(browser, lambda d: error.is_displayed(), what="the failure")
    assert page.find_element(By.ID, "status").text == "failed"
    assert "exceeds the limit of 40000000 pixels (MAX_IMAGE_PIXELS)" in error.text
    assert error.get_attribute("role") == "alert"
    assert not page.find_element(By.ID, "result-pending").is_displayed()
    assert not page.find_element(By.ID, "download").is_displayed()
    assert browser.driver.execute_script("return window.stillTheSamePage") is True
    assert browser.console_errors() == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pipeline", "fields", "mean_limit"),
    [
        ("blur", {}, 0.5),
        ("blur:radius=5", {"blur-radius": "5"}, 0.6),
        ("sharpen", {}, 0.5),
        ("contour", {}, 0.0),
        ("edge_enhance", {}, 0.3),
        # Canvas and Pillow smooth a rotated edge differently: close inside, apart on the edges.
        ("rotate:angle=30", {"rotate-angle": "30"}, 4.0),
    ],
)
def test_the_preview_is_close_to_pillow_for_each_filter(
    browser: Browser,  # noqa: F811
    site: tuple[str, dict[str, str]],
    tmp_path: Path,
    pipeline: str,
    fields: dict[str, str],
    mean_limit: float,
) -> None:
    """Mean difference per colour channel (0-255) between the preview at full scale and the
    server's result; measured 0.26 (blur), 0.38 (blur 5), 0.26 (sharpen), 0 (contour), 0.16
    (edge enhance), 3.1 (rotate 30 degrees, expanded)."""
    url, _env = site
    noise = Image.effect_noise((120, 80), 60)
    ramp = Image.linear_gradient("L").resize((120, 80))
    path = tmp_path / "noise.png"
    Image.merge("RGB", (noise, ramp, ramp.transpose(Image.Transpose.ROTATE_180))).save(path)
    page = browser.open(url + "/", DESKTOP)
    page.find_element(By.ID, "file").send_keys(str(path))
    page.find_element(By.ID, f"filter-{pipeline.split(':')[0]}").click()
    for field, value in fields.items():
        page.find_element(By.ID, field).send_keys(value)
    wait_for(browser, lambda d: d.find_element(By.ID, "preview").is_displayed(), what="preview")
    width, height, data = canvas_pixels(browser)
    result, _type = render(Image.open(path), parse_pipeline(pipeline), 10_000_000)
    expected = Image.open(io.BytesIO(result)).convert("RGBA")
    assert (width, height) == expected.size
    channels = [
        abs(shown - wanted)
        for index, (shown, wanted) in enumerate(zip(data, expected.tobytes(), strict=True))
        if index % 4 != 3
    ]
    assert sum(channels) / len(channels) <= mean_limit
