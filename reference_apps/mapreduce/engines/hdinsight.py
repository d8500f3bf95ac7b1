"""The ``hdinsight://`` engine: the Azure stack's HDInsight cluster runs each job as a Spark batch
submitted through the cluster's Livy gateway, over the cluster's own file system."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ...backends import ConfigError
from ...backends.object_store import AzureBlobObjectStore, ObjectNotFound
from ...backends.secrets import read_secret
from .base import JobFailed, Program
from .managed import ManagedEngine, output_prefix

log = logging.getLogger("mapreduce.engine")

FORM = (
    "use hdinsight://<gateway user>@<cluster>?storage=azblob://<account>/<file system>"
    "&gateway_password_ref=azure-keyvault://<vault>.vault.azure.net/<secret> (the Azure stack's"
    " value)"
)
HERE = Path(__file__).resolve().parent
LOG_TAIL_LINES = 40


def parse_url(url: str) -> tuple[str, str, str, str, str]:
    """(gateway user, cluster, storage account, file system, password reference) from the URL
    the Azure stack renders; a ConfigError naming what is missing otherwise."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, strict_parsing=False)
    storage = query.get("storage", [""])[0]
    ref = query.get("gateway_password_ref", [""])[0]
    account, _, container = storage.removeprefix("azblob://").partition("/")
    cluster = parts.hostname or ""
    if (
        parts.scheme != "hdinsight"
        or not parts.username
        or parts.password
        or not cluster
        or parts.path not in ("", "/")
        or not storage.startswith("azblob://")
        or not account
        or not container
        or "/" in container
        or not ref
        or set(query) - {"storage", "gateway_password_ref"}
    ):
        raise ConfigError(f"MAPREDUCE_CLUSTER_URL={url}: {FORM}")
    return parts.username, cluster, account, container, ref


class HDInsightEngine(ManagedEngine):
    """An HDInsight Spark cluster (``hdinsight://…``, see :func:`parse_url`): each job is a Livy
    batch (``POST /livy/batches``) running ``livy_driver.py`` — the ``spark://`` engine's streaming
    functions — over the programs and inputs uploaded to the cluster's file system with the
    host's identity (the account refuses shared keys). Polled every ``poll_seconds``
    (``GET /livy/batches/{id}``), deleted (Livy's cancel) at the time limit or when the worker
    stops; a batch that ends other than ``success`` fails the job with the driver's reason or the
    tail of the batch's log. The gateway takes the cluster login (basic auth over HTTPS; the
    password read from Key Vault by reference). ``HDINSIGHT_ENDPOINT`` replaces the gateway's
    address ``https://<cluster>.azurehdinsight.net`` (a local double in the tests)."""

    name = "hdinsight"
    DONE = "success"
    TERMINAL = {"success", "dead", "killed", "error"}

    def __init__(
        self,
        cluster: str,
        account: str,
        container: str,
        *,
        user: str,
        password: str,
        prefix: str = "",
        poll_seconds: float = 15,
        endpoint: str = "",
        files: Any = None,
        session: Any = None,
    ) -> None:
        import requests

        super().__init__(prefix, poll_seconds)
        self.cluster, self.account, self.container = cluster, account, container
        self.endpoint = (endpoint or f"https://{cluster}.azurehdinsight.net").rstrip("/")
        # The app's Blob store opens the client: a connection string (Azurite) or the identity.
        self.files = (
            files if files is not None else AzureBlobObjectStore(account, container).container
        )
        self.session = session if session is not None else requests.Session()
        self.session.auth = (user, password)
        # Livy refuses state-changing calls without it (its CSRF protection, on in HDInsight).
        self.session.headers["X-Requested-By"] = user
        self._outputs: dict[str, str] = {}

    @classmethod
    def from_url(cls, url: str, env: dict[str, str]) -> HDInsightEngine:
        from . import seconds

        user, cluster, account, container, ref = parse_url(url)
        return cls(
            cluster,
            account,
            container,
            user=user,
            password=read_secret("MAPREDUCE_CLUSTER_URL gateway_password_ref", ref),
            poll_seconds=seconds(env, "HDINSIGHT_POLL_SECONDS", 15),
            endpoint=env.get("HDINSIGHT_ENDPOINT", ""),
        )

    @property
    def batches_url(self) -> str:
        return f"{self.endpoint}/livy/batches"

    def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.request(method, url, json=body, timeout=30)
        if response.status_code in (401, 403):
            raise JobFailed(
                f"the HDInsight gateway refused the login ({response.status_code}): check the"
                " gateway password's secret and the job runner's grant on it"
            )
        if response.status_code >= 400:
            raise JobFailed(f"Livy answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def url(self, key: str) -> str:
        return f"abfs://{self.container}@{self.account}.dfs.core.windows.net/{key}"

    # The container client itself: Hadoop's own names (_SUCCESS, _FAILED) are not app keys.
    def upload(self, key: str, data: bytes) -> None:
        self.files.upload_blob(key, data, overwrite=True)

    def delete(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self.files.delete_blob(key)

    def listing(self, prefix: str) -> list[str]:
        return [blob.name for blob in self.files.list_blobs(name_starts_with=prefix)]

    def download(self, key: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.files.download_blob(key).readall()
        except ResourceNotFoundError:
            raise ObjectNotFound(key) from None

    def support_files(self, run: str) -> dict[str, bytes]:
        """The Spark program and the streaming module it imports."""
        base = self.run_prefix(run)
        return {
            f"{base}/livy_driver.py": (HERE / "livy_driver.py").read_bytes(),
            f"{base}/streaming.py": (HERE.parent / "streaming.py").read_bytes(),
        }

    def submit(self, program: Program, run: str, reducers: int, inputs: list[str]) -> str:
        base = self.run_prefix(run)
        mapper, reducer = (self.url(key) for key in self.program_keys(run))
        output = output_prefix(program, run)
        args = ["--mapper", mapper, "--reducer", reducer, "--output", self.url(output)]
        args += ["--reducers", str(reducers)]
        for key, value in sorted(program.env.items()):
            args += ["--env", f"{key}={value}"]
        batch = {
            "name": f"{program.name}-{run}",
            "file": self.url(f"{base}/livy_driver.py"),
            "pyFiles": [self.url(f"{base}/streaming.py")],
            "args": [*args, *inputs],
            # A failing program fails again: one attempt, and the runner's own time limit.
            "conf": {"spark.yarn.maxAppAttempts": "1"},
        }
        batch_id = str(self._call("POST", self.batches_url, batch)["id"])
        self._outputs[batch_id] = output
        log.info("Livy batch submitted", extra={"cluster": self.cluster, "batch": batch_id})
        return batch_id

    def status(self, job: str) -> tuple[str, dict[str, Any]]:
        status = self._call("GET", f"{self.batches_url}/{job}")
        return str(status["state"]), {**status, "id": job}

    def cancel_job(self, job: str) -> None:
        try:
            self._call("DELETE", f"{self.batches_url}/{job}")
        except JobFailed as error:
            log.warning("could not cancel the Livy batch", extra={"error": error.reason})

    def failure(self, state: str, status: dict[str, Any]) -> JobFailed:
        """The driver's own report when it wrote one (a program failed), else Livy's log tail."""
        job = status["id"]
        report_key = self._outputs.pop(job, "") + "_FAILED"
        try:
            report = json.loads(self.download(report_key))
        except (ObjectNotFound, ValueError):
            report = None
        if report:
            self.delete(report_key)
            return JobFailed(
                f"the HDInsight batch ended {state}: {report['reason']}", report.get("stderr", "")
            )
        try:
            lines = self._call("GET", f"{self.batches_url}/{job}/log?size={LOG_TAIL_LINES}")
            tail = "\n".join(lines.get("log", [])[-LOG_TAIL_LINES:])
        except JobFailed as error:
            tail = f"(the batch's log could not be read: {error.reason})"
        app = (status.get("appInfo") or {}).get("driverLogUrl") or status.get("appId") or ""
        return JobFailed(
            f"the HDInsight batch ended {state}" + (f" (YARN: {app})" if app else ""), tail
        )

    def check(self) -> None:
        try:
            self._call("GET", f"{self.batches_url}?size=1")
        except JobFailed as error:
            raise ConfigError(
                f"MAPREDUCE_CLUSTER_URL=hdinsight://{self.cluster}: {error.reason}"
            ) from None
