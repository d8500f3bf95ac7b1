"""The ``dataproc://`` engine: the GCP stack's Dataproc cluster runs each job as a Hadoop
streaming job submitted through the Dataproc REST API."""

from __future__ import annotations

import logging
from typing import Any

from .base import JobFailed, Program
from .managed import ManagedEngine, output_prefix, streaming_args

log = logging.getLogger("mapreduce.engine")


class DataprocEngine(ManagedEngine):
    """A Dataproc cluster (``dataproc://<project>/<region>/<cluster>``): each job is a Hadoop
    streaming job (the stack's own jar and arguments) submitted through the Dataproc REST API,
    over the job-data bucket (``OBJECT_STORE_URL=gs://…``), polled and cancelled like EMR steps.
    ``DATAPROC_ENDPOINT`` replaces the API's address (a local double in the tests); otherwise the
    host's Application Default Credentials sign the calls."""

    name = "dataproc"
    JAR = "file:///usr/lib/hadoop-mapreduce/hadoop-streaming.jar"
    DONE = "DONE"
    TERMINAL = {"DONE", "ERROR", "CANCELLED"}

    def __init__(
        self,
        project: str,
        region: str,
        cluster: str,
        bucket: str,
        prefix: str = "",
        *,
        poll_seconds: float = 15,
        endpoint: str = "",
        storage_client: Any = None,
        session: Any = None,
    ) -> None:
        super().__init__(prefix, poll_seconds)
        self.project, self.region, self.cluster = project, region, cluster
        self.bucket_name = bucket
        self.endpoint = (endpoint or "https://dataproc.googleapis.com").rstrip("/")
        if storage_client is None:
            from google.cloud import storage

            storage_client = storage.Client()
        self.bucket = storage_client.bucket(bucket)
        self.session = session if session is not None else _session(endpoint)

    @property
    def jobs_url(self) -> str:
        return f"{self.endpoint}/v1/projects/{self.project}/regions/{self.region}/jobs"

    def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.session.request(method, url, json=body, timeout=30)
        if response.status_code >= 400:
            raise JobFailed(f"Dataproc answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def url(self, key: str) -> str:
        return f"gs://{self.bucket_name}/{key}"

    def upload(self, key: str, data: bytes) -> None:
        self.bucket.blob(key).upload_from_string(data)

    def delete(self, key: str) -> None:
        self.bucket.blob(key).delete()

    def listing(self, prefix: str) -> list[str]:
        return [
            blob.name for blob in self.bucket.client.list_blobs(self.bucket_name, prefix=prefix)
        ]

    def download(self, key: str) -> bytes:
        return self.bucket.blob(key).download_as_bytes()

    def submit(self, program: Program, run: str, reducers: int, inputs: list[str]) -> str:
        output = self.url(output_prefix(program, run))
        job = {
            "reference": {"jobId": f"{program.name}-{run}"},
            "placement": {"clusterName": self.cluster},
            "hadoopJob": {
                "mainJarFileUri": self.JAR,
                "fileUris": [self.url(key) for key in self.program_keys(run)],
                "args": streaming_args(program, reducers, inputs, output),
            },
        }
        return self._call("POST", f"{self.jobs_url}:submit", {"job": job})["reference"]["jobId"]

    def status(self, job: str) -> tuple[str, dict[str, Any]]:
        status = self._call("GET", f"{self.jobs_url}/{job}")["status"]
        return status["state"], status

    def cancel_job(self, job: str) -> None:
        try:
            self._call("POST", f"{self.jobs_url}/{job}:cancel", {})
        except JobFailed as error:
            log.warning("could not cancel the Dataproc job", extra={"error": error.reason})

    def failure(self, state: str, status: dict[str, Any]) -> JobFailed:
        detail = status.get("details", "")
        return JobFailed(f"the Dataproc job ended {state}" + (f": {detail}" if detail else ""))


def _session(endpoint: str) -> Any:
    """Plain HTTP for a local double; otherwise calls signed with the host's credentials."""
    if endpoint:
        import requests

        return requests.Session()
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return AuthorizedSession(credentials)
