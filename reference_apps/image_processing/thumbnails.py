"""Small previews of a job's original and result, for the pages.

A thumbnail is made once with Pillow and kept in the object store next to the images
(``thumbnails/<job id>/<which>``): the original and the result of a job never change, so the
copy never goes stale, and every app server behind the load balancer reuses it. It fits a
``THUMBNAIL_SIZE`` square (WebP, which keeps transparency), whatever the image's size.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps

from ..backends import ObjectNotFound
from .filters import load_image
from .service import ImageService, JobNotFound

THUMBNAIL_SIZE = 320
THUMBNAIL_TYPE = "image/webp"
KINDS = ("original", "result")
log = logging.getLogger("image_processing.thumbnails")


def make_thumbnail(data: bytes, service: ImageService, size: int = THUMBNAIL_SIZE) -> bytes:
    """A WebP that fits a ``size`` square; decoding goes through the upload checks again."""
    image = load_image(data, service.limits.max_pixels, draft=(size, size))
    image = ImageOps.exif_transpose(image)
    if image.mode not in {"RGB", "RGBA", "L", "LA"}:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    image.save(output, "WEBP", quality=80)
    return output.getvalue()


def thumbnail(service: ImageService, job: dict[str, object], kind: str) -> bytes:
    """The cached thumbnail of a job's original or (finished) result; made on first use."""
    if kind not in KINDS:
        raise JobNotFound(str(job["id"]))
    source = job.get(f"{kind}_key")
    if not isinstance(source, str) or (kind == "result" and job.get("status") != "done"):
        raise JobNotFound(str(job["id"]))
    key = f"thumbnails/{job['id']}/{kind}"
    try:
        return service.objects.get(key)
    except ObjectNotFound:
        pass
    try:
        data = make_thumbnail(service.objects.get(source), service)
    except ObjectNotFound:
        raise JobNotFound(str(job["id"])) from None
    try:
        service.objects.put(key, data, THUMBNAIL_TYPE)
    except Exception:  # the page still gets its picture; the next request tries to keep it
        log.exception("thumbnail not cached", extra={"key": key})
    return data
