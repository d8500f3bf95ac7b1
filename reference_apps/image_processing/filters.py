"""Image filters with checked parameters, and safe decoding of untrusted uploads.

A pipeline is a list of steps such as ``[{"name": "blur", "radius": 2}, "grayscale"]`` (JSON) or
the compact ``grayscale,blur:radius=2,rotate:angle=90;expand=false``. Every problem raises
:class:`ImageError` with the HTTP status and a message that says what to fix.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"}
OUTPUT_FORMATS = {"JPEG": ("JPEG", "image/jpeg"), "WEBP": ("WEBP", "image/webp")}
DEFAULT_OUTPUT = ("PNG", "image/png")
MAX_STEPS = 10


class ImageError(Exception):
    """Bad input: ``status`` is the HTTP answer (400, 413, 415 or 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Param:
    """One filter parameter: its type, bounds and default (``None``: required)."""

    kind: type
    low: float = 0
    high: float = 0
    default: Any = None

    def parse(self, where: str, value: Any) -> Any:
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"true", "1", "yes"}:
                return True
            if text in {"false", "0", "no"}:
                return False
            raise ImageError(400, f"{where}: must be true or false")
        try:
            number = self.kind(value)
            if self.kind is int and isinstance(value, float) and value != int(value):
                raise ValueError
        except (TypeError, ValueError):
            noun = "a whole number" if self.kind is int else "a number"
            raise ImageError(400, f"{where}: must be {noun}, got {value!r}") from None
        if isinstance(value, bool) or not self.low <= number <= self.high:
            raise ImageError(400, f"{where}: must be between {self.low:g} and {self.high:g}")
        return number


@dataclass(frozen=True)
class Filter:
    """A named filter: documentation, parameters and the function that applies it."""

    description: str
    apply: Callable[..., Image.Image]
    params: dict[str, Param] = field(default_factory=dict)


def _resize(image: Image.Image, width: int, height: int) -> Image.Image:
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _thumbnail(image: Image.Image, size: int) -> Image.Image:
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    return copy


FILTERS: dict[str, Filter] = {
    "grayscale": Filter("Convert to shades of grey.", lambda image: ImageOps.grayscale(image)),
    "blur": Filter(
        "Gaussian blur.",
        lambda image, radius: image.filter(ImageFilter.GaussianBlur(radius)),
        {"radius": Param(float, 0, 50, 2.0)},
    ),
    "sharpen": Filter(
        "Unsharp mask.",
        lambda image, radius, percent: image.filter(ImageFilter.UnsharpMask(radius, percent)),
        {"radius": Param(float, 0, 20, 2.0), "percent": Param(int, 0, 500, 150)},
    ),
    "contour": Filter("Trace contours.", lambda image: image.filter(ImageFilter.CONTOUR)),
    "edge_enhance": Filter("Enhance edges.", lambda image: image.filter(ImageFilter.EDGE_ENHANCE)),
    "emboss": Filter("Emboss.", lambda image: image.filter(ImageFilter.EMBOSS)),
    "rotate": Filter(
        "Rotate counter-clockwise by an angle in degrees.",
        lambda image, angle, expand: image.rotate(
            angle, resample=Image.Resampling.BICUBIC, expand=expand
        ),
        {"angle": Param(float, -360, 360), "expand": Param(bool, default=True)},
    ),
    "resize": Filter(
        "Resize to exact dimensions.",
        _resize,
        {"width": Param(int, 1, 8192), "height": Param(int, 1, 8192)},
    ),
    "thumbnail": Filter(
        "Shrink to fit a square box, keeping the aspect ratio.",
        _thumbnail,
        {"size": Param(int, 1, 4096, 256)},
    ),
}


@dataclass(frozen=True)
class Step:
    """One validated filter application."""

    name: str
    params: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


def _parse_compact(text: str) -> list[dict[str, Any]]:
    """Parse ``blur:radius=2,grayscale`` into step dicts
    (values stay text; the filter parameters convert them)."""
    steps: list[dict[str, Any]] = []
    for chunk in text.split(","):
        name, _, rest = chunk.strip().partition(":")
        step: dict[str, Any] = {"name": name.strip()}
        for pair in filter(None, (item.strip() for item in rest.split(";"))):
            key, equals, value = pair.partition("=")
            if not equals:
                raise ImageError(400, f"{name}: parameter {pair!r} must look like key=value")
            step[key.strip()] = value.strip()
        steps.append(step)
    return steps


def parse_pipeline(spec: Any) -> list[Step]:
    """Validate a pipeline given as JSON text, compact text or an already-decoded list."""
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise ImageError(400, "choose at least one filter (e.g. filters=grayscale)")
        if text.startswith("["):
            try:
                spec = json.loads(text)
            except ValueError as error:
                raise ImageError(400, f"filters: invalid JSON ({error})") from None
        else:
            spec = _parse_compact(text)
    if not isinstance(spec, list) or not spec:
        raise ImageError(400, "filters: give a non-empty list of filters")
    if len(spec) > MAX_STEPS:
        raise ImageError(400, f"filters: at most {MAX_STEPS} steps, got {len(spec)}")
    return [_parse_step(index, raw) for index, raw in enumerate(spec)]


def _parse_step(index: int, raw: Any) -> Step:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ImageError(400, f"filters[{index}]: give a filter name or an object with 'name'")
    name = raw["name"].strip().lower().replace("-", "_")
    chosen = FILTERS.get(name)
    if chosen is None:
        known = ", ".join(sorted(FILTERS))
        raise ImageError(400, f"unknown filter {raw['name']!r}; known filters: {known}")
    given = {key: value for key, value in raw.items() if key != "name"}
    unknown = sorted(set(given) - set(chosen.params))
    if unknown:
        known = ", ".join(chosen.params) or "none"
        raise ImageError(400, f"{name}: unknown parameter {unknown[0]!r} (known: {known})")
    params: dict[str, Any] = {}
    for key, param in chosen.params.items():
        if key in given:
            params[key] = param.parse(f"{name}.{key}", given[key])
        elif param.default is None:
            raise ImageError(400, f"{name}.{key}: required")
        else:
            params[key] = param.default
    return Step(name, params)


def load_image(data: bytes, max_pixels: int, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode an untrusted upload: sniff the real format, refuse decompression bombs before
    decoding, and decode fully so a truncated file fails here rather than in a filter.

    ``draft``: a size the caller only needs to cover (a thumbnail); JPEGs are then decoded at
    1/2 to 1/8 scale, several times faster and in a fraction of the memory."""
    if not data:
        raise ImageError(400, "the uploaded file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                accepted = ", ".join(sorted(ACCEPTED_FORMATS))
                raise ImageError(415, f"{image.format} images are not accepted; use {accepted}")
            check_pixels(image.width, image.height, max_pixels)
            if draft:
                image.draft(None, draft)
            image.load()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        if isinstance(error, UnidentifiedImageError):
            raise ImageError(
                415, "the file is not an image Pillow can read (JPEG, PNG, GIF, WEBP, BMP or TIFF)"
            ) from None
        raise ImageError(422, f"image refused as a decompression bomb: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(415, f"the image could not be decoded ({error})") from None
    return image


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse images (or resize targets) larger than the pixel budget."""
    if width * height > max_pixels:
        raise ImageError(
            422,
            f"image of {width}x{height} = {width * height} pixels exceeds the limit of "
            f"{max_pixels} pixels (MAX_IMAGE_PIXELS)",
        )


def rotated_size(width: int, height: int, angle: float) -> tuple[int, int]:
    """The canvas ``Image.rotate(angle, expand=True)`` makes, computed as Pillow computes it."""
    angle = angle % 360.0
    if angle in (0, 180):
        return width, height
    if angle in (90, 270):
        return height, width
    radians = -math.radians(angle)
    cos, sin = round(math.cos(radians), 15), round(math.sin(radians), 15)
    offset_x = cos * -width / 2 + sin * -height / 2 + width / 2
    offset_y = -sin * -width / 2 + cos * -height / 2 + height / 2
    corners = ((0, 0), (width, 0), (width, height), (0, height))
    xs = [cos * x + sin * y + offset_x for x, y in corners]
    ys = [-sin * x + cos * y + offset_y for x, y in corners]
    return (
        math.ceil(max(xs)) - math.floor(min(xs)),
        math.ceil(max(ys)) - math.floor(min(ys)),
    )


def output_size(step: Step, size: tuple[int, int]) -> tuple[int, int]:
    """The size a step will produce from an image of ``size``, known before running it."""
    width, height = size
    if step.name == "resize":
        return step.params["width"], step.params["height"]
    if step.name == "rotate" and step.params["expand"]:
        return rotated_size(width, height, step.params["angle"])
    return width, height  # the other filters keep the size; thumbnail only shrinks


def render(image: Image.Image, steps: list[Step], max_pixels: int) -> tuple[bytes, str]:
    """Apply the steps and encode the result; returns the bytes and their media type."""
    source_format = image.format or "PNG"
    if image.mode not in {"RGB", "RGBA", "L"}:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    for step in steps:
        # Before the step (no allocation past the budget) and after it (whatever it did).
        check_pixels(*output_size(step, image.size), max_pixels)
        image = FILTERS[step.name].apply(image, **step.params)
        check_pixels(image.width, image.height, max_pixels)
    pil_format, media_type = OUTPUT_FORMATS.get(source_format, DEFAULT_OUTPUT)
    if pil_format == "JPEG" and image.mode not in {"RGB", "L"}:
        image = image.convert("RGB")
    output = io.BytesIO()
    image.save(output, pil_format, **({"quality": 90} if pil_format != "PNG" else {}))
    return output.getvalue(), media_type
