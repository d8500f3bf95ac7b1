"""The MapReduce job use cases, shared by the JSON API, the pages and the job-runner worker.

Storage layout in the object store: ``jobs/<id>/input/NNNNN`` (the uploads, names kept in the
record), ``jobs/<id>/program/{mapper,reducer}.py`` (custom programs only),
``jobs/<id>/output/part-NNNNN`` (the result) and ``requests/<id>`` (one small marker per job, to
list the newest first). The record lives under ``job:<id>`` in the key-value table; an
idempotency key under ``idem:<sha256>``; a download link under ``link:<sha256 of the token>``:
only the hash is stored, so a leaked table does not leak working links.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..backends import Backends, ObjectNotFound
from ..web import safe_filename
from .engines import Engine, InputFile, JobCancelled, JobFailed, Program
from .programs import BUILT_IN, INPUT_FORMATS, ProgramError, built_in, check_source

JOB_ID = re.compile(r"^[0-9a-f]{28}$")
EMAIL = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
FINAL = {"succeeded", "failed"}
# JSON merge patches (the SQLite and PostgreSQL tables' update) drop fields set to null.
NULLABLE = dict.fromkeys(("error", "stderr_tail", "started_at", "finished_at"))
log = logging.getLogger("mapreduce.jobs")


class InputError(ValueError):
    """A request that cannot become a job; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class JobNotFound(LookupError):
    """No job with that id (or no finished result for it)."""


@dataclass(frozen=True)
class Limits:
    """What the operator allows: custom programs, sizes, time and the link's lifetime."""

    allow_custom_programs: bool = False
    max_files: int = 100
    time_limit: float = 900
    reducers: int = 2
    link_hours: float = 72
    public_url: str = "http://127.0.0.1:5000"


def new_job_id() -> str:
    return f"{time.time_ns():016x}{secrets.token_hex(6)}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_text(name: str, data: bytes) -> None:
    """Input must be UTF-8 text: a NUL byte or undecodable bytes mean a binary file."""
    if b"\0" in data:
        raise InputError(415, f"{name}: looks binary (NUL bytes); upload UTF-8 text")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            415, f"{name}: not UTF-8 text (bad byte at offset {error.start}); upload UTF-8 text"
        ) from None


class JobService:
    """Creates jobs, lists them and their results, and runs them on an engine (the worker)."""

    def __init__(self, backends: Backends, limits: Limits) -> None:
        assert backends.kv is not None and backends.queue is not None
        self.objects = backends.objects
        self.kv = backends.kv
        self.queue = backends.queue
        self.mail = backends.mail
        self.limits = limits

    # -- submission (app tier) ------------------------------------------------------------

    def submit(
        self,
        files: list[tuple[str, bytes]],
        job: str,
        *,
        input_format: str = "documents",
        email: str = "",
        mapper: bytes | None = None,
        reducer: bytes | None = None,
        idempotency_key: str = "",
    ) -> tuple[dict[str, Any], bool]:
        """Validate, store the inputs, record the job and enqueue it: (job, created).

        A repeated idempotency key returns the first job (``created`` False) and stores nothing;
        the same key with a different request is refused. All or nothing: whatever was written
        is removed again if a later step fails.
        """
        fingerprint = self._fingerprint(files, job, input_format, email, mapper, reducer)
        if idempotency_key:
            if len(idempotency_key) > 200:
                raise InputError(400, "the idempotency key is longer than 200 characters")
            known = self.kv.get(f"idem:{digest(idempotency_key)}")
            if known is not None:
                if known["fingerprint"] != fingerprint:
                    raise InputError(
                        409, "this idempotency key was used for a different request; use a new key"
                    )
                return self.get(known["job_id"]), False
        self._validate(files, job, input_format, email, mapper, reducer)
        job_id = new_job_id()
        now = time.time()
        record: dict[str, Any] = {
            "id": job_id,
            "status": "queued",
            "job": job,
            "input_format": input_format,
            "inputs": [
                {
                    "name": safe_filename(name),
                    "key": f"jobs/{job_id}/input/{index:05d}",
                    "size": len(data),
                }
                for index, (name, data) in enumerate(files)
            ],
            "email": email,
            "outputs": [],
            "error": None,
            "stderr_tail": None,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "finished_at": None,
        }
        written: list[str] = []
        try:
            for item, (_, data) in zip(record["inputs"], files, strict=True):
                self.objects.put(item["key"], data, "text/plain; charset=utf-8")
                written.append(item["key"])
            if job == "custom":
                for role, source in (("mapper", mapper), ("reducer", reducer)):
                    key = f"jobs/{job_id}/program/{role}.py"
                    self.objects.put(key, source or b"", "text/x-python")
                    written.append(key)
            self.kv.put(f"job:{job_id}", record)
            self.objects.put(f"requests/{job_id}", b"", "text/plain")
            written.append(f"requests/{job_id}")
            if idempotency_key:
                self.kv.put(
                    f"idem:{digest(idempotency_key)}",
                    {"job_id": job_id, "fingerprint": fingerprint, "created_at": now},
                )
            self.queue.send({"job_id": job_id})
        except BaseException:
            self.discard(job_id, written, idempotency_key)
            raise
        log.info("job submitted", extra={"job_id": job_id, "job": job})
        return record, True

    @staticmethod
    def _fingerprint(files: list[tuple[str, bytes]], *parts: str | bytes | None) -> str:
        hasher = hashlib.sha256()
        for name, data in files:
            hasher.update(f"{name}\0{len(data)}\0".encode())
            hasher.update(hashlib.sha256(data).digest())
        for part in parts:
            hasher.update(b"\1" + (part.encode() if isinstance(part, str) else part or b""))
        return hasher.hexdigest()

    def _validate(
        self,
        files: list[tuple[str, bytes]],
        job: str,
        input_format: str,
        email: str,
        mapper: bytes | None,
        reducer: bytes | None,
    ) -> None:
        if job == "custom":
            if not self.limits.allow_custom_programs:
                raise InputError(
                    403,
                    "custom programs are disabled here (the operator sets ALLOW_CUSTOM_PROGRAMS)",
                )
            if mapper is None or reducer is None:
                raise InputError(400, "a custom job needs both a mapper and a reducer file")
            try:
                check_source("mapper", mapper)
                check_source("reducer", reducer)
            except ProgramError as error:
                raise InputError(422, str(error)) from None
        elif job not in BUILT_IN:
            raise InputError(
                400, f"unknown job {job[:60]!r}; choose one of {', '.join(BUILT_IN)} or custom"
            )
        if input_format not in INPUT_FORMATS:
            raise InputError(400, f"input format must be one of {', '.join(INPUT_FORMATS)}")
        if email and not EMAIL.match(email):
            raise InputError(400, f"{email[:80]!r} is not an e-mail address")
        if not files:
            raise InputError(400, "upload at least one input file (field 'input')")
        if len(files) > self.limits.max_files:
            raise InputError(400, f"at most {self.limits.max_files} input files (MAX_INPUT_FILES)")
        for name, data in files:
            check_text(safe_filename(name), data)
        if not any(data.strip() for _, data in files):
            raise InputError(422, "the input is empty: every file is empty or blank")

    def discard(self, job_id: str, keys: list[str], idempotency_key: str = "") -> None:
        """Best-effort removal of what a failed submission wrote."""
        for key in keys:
            try:
                self.objects.delete(key)
            except Exception:
                log.exception("could not remove partial object", extra={"key": key})
        for key in (f"job:{job_id}", f"idem:{digest(idempotency_key)}" if idempotency_key else ""):
            if key:
                try:
                    self.kv.delete(key)
                except Exception:
                    log.exception("could not remove partial record", extra={"key": key})

    # -- reading ---------------------------------------------------------------------------

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.kv.get(f"job:{job_id}") if JOB_ID.match(job_id) else None
        if job is None:
            raise JobNotFound(job_id)
        return {**NULLABLE, **job}

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        keys = sorted(self.objects.list("requests/"), reverse=True)[:limit]
        jobs = (self.kv.get(f"job:{key.removeprefix('requests/')}") for key in keys)
        return [{**NULLABLE, **job} for job in jobs if job is not None]

    def output(self, job_id: str, part: str) -> bytes:
        job = self.get(job_id)
        if job["status"] != "succeeded" or part not in {
            key.rpartition("/")[2] for key in job["outputs"]
        }:
            raise JobNotFound(job_id)
        try:
            return self.objects.get(f"jobs/{job_id}/output/{part}")
        except ObjectNotFound:
            raise JobNotFound(job_id) from None

    def result(self, job_id: str) -> bytes:
        """Every part, in order: the whole result as one text file."""
        job = self.get(job_id)
        if job["status"] != "succeeded":
            raise JobNotFound(job_id)
        return b"".join(self.objects.get(key) for key in job["outputs"])

    def new_link(self, job_id: str) -> tuple[str, float]:
        """An unguessable download token (only its hash is stored) and when it expires."""
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.limits.link_hours * 3600
        self.kv.put(f"link:{digest(token)}", {"job_id": job_id, "expires_at": expires})
        return token, expires

    def redeem(self, token: str) -> tuple[dict[str, Any], bytes]:
        """The job and result a link points to; JobNotFound if unknown, InputError 410 if old."""
        link = self.kv.get(f"link:{digest(token)}") if 20 <= len(token) <= 100 else None
        if link is None:
            raise JobNotFound(token)
        if time.time() > link["expires_at"]:
            raise InputError(410, "this download link has expired; open the job page for a new one")
        return self.get(link["job_id"]), self.result(link["job_id"])

    # -- running (worker tier) -------------------------------------------------------------

    def program_of(self, job: dict[str, Any]) -> Program:
        if job["job"] == "custom":
            mapper = self.objects.get(f"jobs/{job['id']}/program/mapper.py")
            reducer = self.objects.get(f"jobs/{job['id']}/program/reducer.py")
            return Program(mapper, reducer, {"INPUT_FORMAT": job["input_format"]})
        return built_in(job["job"], job["input_format"])

    def run(
        self, job_id: str, engine: Engine, cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        """Run a queued job to a final state. A job already final is left alone (a redelivered
        message has the effect of one run); JobCancelled puts it back to queued."""
        job = self.get(job_id)
        if job["status"] in FINAL:
            log.info("job already finished; duplicate delivery ignored", extra={"job_id": job_id})
            return job
        now = time.time()
        job = self.kv.update(
            f"job:{job_id}",
            {
                "status": "running",
                "attempts": job["attempts"] + 1,
                "started_at": now,
                "updated_at": now,
                "engine": engine.name,
            },
        )
        program = self.program_of(job)
        inputs = [InputFile(item["name"], self.objects.get(item["key"])) for item in job["inputs"]]
        try:
            outputs = engine.run(
                program,
                inputs,
                reducers=self.limits.reducers,
                timeout=self.limits.time_limit,
                cancel=cancel,
            )
        except JobCancelled:
            self.kv.update(f"job:{job_id}", {"status": "queued", "updated_at": time.time()})
            raise
        except JobFailed as failure:
            return self.finish_failed(job_id, failure.reason, failure.stderr)
        keys = self._store_outputs(job_id, outputs)
        job = self.kv.update(
            f"job:{job_id}",
            {
                "status": "succeeded",
                "outputs": keys,
                "error": None,
                "stderr_tail": None,
                "finished_at": time.time(),
                "updated_at": time.time(),
            },
        )
        self.notify(job)
        return job

    def _store_outputs(self, job_id: str, outputs: list[bytes]) -> list[str]:
        """Write every part or none: a failure removes the parts already written."""
        keys: list[str] = []
        try:
            for index, output in enumerate(outputs):
                key = f"jobs/{job_id}/output/part-{index:05d}"
                self.objects.put(key, output, "text/tab-separated-values; charset=utf-8")
                keys.append(key)
        except BaseException:
            for key in keys:
                try:
                    self.objects.delete(key)
                except Exception:
                    log.exception("could not remove a partial output", extra={"key": key})
            raise
        return keys

    def finish_failed(self, job_id: str, reason: str, stderr: str = "") -> dict[str, Any]:
        """Record a job that will not be retried, and tell its owner."""
        job = self.kv.update(
            f"job:{job_id}",
            {
                "status": "failed",
                "error": reason[:500],
                "stderr_tail": (stderr or "")[-4000:] or None,
                "finished_at": time.time(),
                "updated_at": time.time(),
            },
        )
        log.warning("job failed", extra={"job_id": job_id, "reason": reason[:300]})
        self.notify(job)
        return job

    def notify(self, job: dict[str, Any]) -> None:
        """E-mail the owner (if they gave an address): a result link, or the failure reason.
        A mail failure is logged and does not fail the job."""
        if not job.get("email") or self.mail is None:
            return
        base = self.limits.public_url.rstrip("/")
        page = f"{base}/jobs/{job['id']}"
        if job["status"] == "succeeded":
            token, expires = self.new_link(job["id"])
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires))
            subject = f"MapReduce job {job['job']} succeeded"
            body = (
                f"Your {job['job']} job {job['id']} succeeded.\n\n"
                f"Download the result (valid until {when}):\n{base}/download/{token}\n\n"
                f"Job page: {page}\n"
            )
        else:
            subject = f"MapReduce job {job['job']} failed"
            body = f"Your {job['job']} job {job['id']} failed: {job['error']}\n\nJob page: {page}\n"
        try:
            self.mail.send(job["email"], subject, body)
        except Exception:
            log.exception("could not send the notification", extra={"job_id": job["id"]})
