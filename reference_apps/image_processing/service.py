"""The image-processing use cases, shared by the JSON API, the HTML pages and the worker.

Storage layout: ``originals/<job id>`` and ``results/<job id>`` in the object store, the job record
under ``job:<job id>`` in the key-value table. Each job belongs to the holder of an owner token
(only its SHA-256 digest is stored); the owner's index ``owner:<digest>`` maps their job ids to
creation times. Job ids start with the creation time in hex, so sorting them lists the newest
first; no request ever lists the bucket.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..backends import Backends, DependencyDown, ObjectNotFound
from ..web import safe_filename
from .filters import ImageError, Step, load_image, render

JOB_ID = re.compile(r"^[0-9a-f]{28}$")
OWNER_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
log = logging.getLogger("image_processing.jobs")


@dataclass(frozen=True)
class Limits:
    """Size limits: above ``sync_max_*`` a job goes through the queue; ``max_pixels`` is hard."""

    max_pixels: int
    sync_max_pixels: int
    sync_max_bytes: int
    max_batch: int


def new_job_id() -> str:
    return f"{time.time_ns():016x}{secrets.token_hex(6)}"


def new_owner_token() -> str:
    """A capability: whoever holds it sees the jobs made with it, nobody else does."""
    return secrets.token_urlsafe(32)


def owner_of(token: str) -> str:
    """The digest stored with each job, so a copy of the table grants no access."""
    return hashlib.sha256(token.encode()).hexdigest()


class JobNotFound(LookupError):
    """No job with that id."""


class ImageService:
    """Creates, processes and lists filter jobs on top of the configured backends."""

    def __init__(self, backends: Backends, limits: Limits) -> None:
        assert backends.kv is not None and backends.queue is not None
        self.objects = backends.objects
        self.kv = backends.kv
        self.queue = backends.queue
        self.limits = limits

    def validate(self, data: bytes) -> Image.Image:
        """Decode an upload (raises ImageError with 400/415/422)."""
        return load_image(data, self.limits.max_pixels)

    def is_small(self, data: bytes, image: Image.Image) -> bool:
        return (
            len(data) <= self.limits.sync_max_bytes
            and image.width * image.height <= self.limits.sync_max_pixels
        )

    def submit(
        self,
        data: bytes,
        filename: str,
        steps: list[Step],
        mode: str = "auto",
        image: Image.Image | None = None,
        batch_id: str | None = None,
        owner: str = "",
    ) -> dict[str, Any]:
        """Store the original and either process it now (small) or enqueue it (large, batch).

        All or nothing: if any step fails, what was written is removed before re-raising.
        """
        image = image or self.validate(data)
        if mode not in {"auto", "sync", "async"}:
            raise ImageError(400, f"mode must be auto, sync or async, got {mode!r}")
        small = self.is_small(data, image)
        if mode == "sync" and not small:
            raise ImageError(400, "image too large to process synchronously; use mode=async")
        synchronous = mode == "sync" or (mode == "auto" and small)
        job_id = new_job_id()
        now = time.time()
        job: dict[str, Any] = {
            "id": job_id,
            "status": "queued",
            "filename": safe_filename(filename),
            "filters": [step.as_json() for step in steps],
            "original_key": f"originals/{job_id}",
            "original_type": Image.MIME.get(image.format or "", "application/octet-stream"),
            "width": image.width,
            "height": image.height,
            "size": len(data),
            "result_key": None,
            "result_type": None,
            "attempts": 0,
            "error": None,
            "created_at": now,
            "updated_at": now,
            "owner": owner,
        }
        if batch_id:
            job["batch_id"] = batch_id
        written: list[str] = []
        try:
            self.objects.put(job["original_key"], data, job["original_type"])
            written.append(job["original_key"])
            if synchronous:
                result, media_type = render(image, steps, self.limits.max_pixels)
                job.update(
                    result_key=f"results/{job_id}",
                    result_type=media_type,
                    status="done",
                    attempts=1,
                )
                self.objects.put(job["result_key"], result, media_type)
                written.append(job["result_key"])
            self.kv.put(f"job:{job_id}", job)
            if owner:
                self.kv.update(f"owner:{owner}", {job_id: now})
            if not synchronous:
                self.queue.send({"job_id": job_id})
        except BaseException:
            self.discard(job_id, written)
            raise
        log.info("job created", extra={"job_id": job_id, "status": job["status"]})
        return job

    def discard(self, job_id: str, keys: list[str]) -> None:
        """Best-effort clean-up after a failed submit; logs what could not be removed."""
        for key in keys:
            try:
                self.objects.delete(key)
            except DependencyDown as error:
                log.warning(
                    "could not remove partial object", extra={"key": key, "error": str(error)}
                )
            except Exception:
                log.exception("could not remove partial object", extra={"key": key})
        try:
            self.kv.delete(f"job:{job_id}")
        except DependencyDown as error:
            log.warning(
                "could not remove partial job record", extra={"job_id": job_id, "error": str(error)}
            )
        except Exception:
            log.exception("could not remove partial job record", extra={"job_id": job_id})

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.kv.get(f"job:{job_id}") if JOB_ID.match(job_id) else None
        if job is None:
            raise JobNotFound(job_id)
        return job

    def result(self, job_id: str) -> tuple[dict[str, Any], bytes]:
        job = self.get(job_id)
        if job["status"] != "done":
            raise JobNotFound(job_id)
        try:
            return job, self.objects.get(job["result_key"])
        except ObjectNotFound:
            raise JobNotFound(job_id) from None

    def owned(self, job_id: str, owner: str) -> dict[str, Any]:
        """The job if ``owner`` made it; anyone else's job is as missing as an unknown one."""
        job = self.get(job_id)
        if not owner or not hmac.compare_digest(str(job.get("owner") or ""), owner):
            raise JobNotFound(job_id)
        return job

    def owned_result(self, job_id: str, owner: str) -> tuple[dict[str, Any], bytes]:
        self.owned(job_id, owner)
        return self.result(job_id)

    def recent(self, owner: str, limit: int = 50) -> list[dict[str, Any]]:
        """The owner's newest jobs first, from their index (one read plus one per job shown)."""
        index = (self.kv.get(f"owner:{owner}") or {}) if owner else {}
        ids = sorted((key for key in index if JOB_ID.match(key)), reverse=True)[:limit]
        jobs = (self.kv.get(f"job:{job_id}") for job_id in ids)
        return [job for job in jobs if job is not None and job.get("owner") == owner]

    def process(self, job_id: str) -> dict[str, Any]:
        """Run a queued job. Idempotent: the result key is fixed by the job id, and a job that
        is already done is left alone, so a redelivered message has the effect of one run."""
        job = self.get(job_id)
        if job["status"] == "done":
            log.info("job already done; duplicate delivery ignored", extra={"job_id": job_id})
            return job
        job = self.kv.update(
            f"job:{job_id}",
            {"status": "running", "attempts": job["attempts"] + 1, "updated_at": time.time()},
        )
        image = self.validate(self.objects.get(job["original_key"]))
        steps = [
            Step(raw["name"], {k: v for k, v in raw.items() if k != "name"})
            for raw in job["filters"]
        ]
        result, media_type = render(image, steps, self.limits.max_pixels)
        result_key = f"results/{job_id}"
        self.objects.put(result_key, result, media_type)
        return self.kv.update(
            f"job:{job_id}",
            {
                "status": "done",
                "result_key": result_key,
                "result_type": media_type,
                "error": None,
                "updated_at": time.time(),
            },
        )

    def fail(self, job_id: str, error: str) -> None:
        """Record a job that will not be retried any more."""
        if JOB_ID.match(job_id) and self.kv.get(f"job:{job_id}") is not None:
            self.kv.update(
                f"job:{job_id}",
                {"status": "failed", "error": error[:500], "updated_at": time.time()},
            )
