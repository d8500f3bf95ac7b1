"""The ``emr://`` engine: the AWS stack's EMR cluster runs each job as a Hadoop streaming step."""

from __future__ import annotations

import logging
from typing import Any

from ...backends import ConfigError
from .base import JobFailed, Program
from .managed import ManagedEngine, output_prefix, streaming_args

log = logging.getLogger("mapreduce.engine")


class EmrEngine(ManagedEngine):
    """An EMR cluster (``emr://<cluster id>``): each job is a Hadoop streaming step over the
    job-data bucket, the same step the stack defines for its built-in job.

    The inputs (names made Hadoop-safe: letters, digits and ``._-``, others become ``_``) and the
    two programs go to ``<prefix>emr/<run>/`` in the bucket; the step writes
    ``output/<job>/<run>/part-*`` (the stack grants the cluster's nodes ``output/<job>/`` of each
    blueprint job). The step is polled every ``poll_seconds``; at the time limit, or when the
    worker stops, it is cancelled. Everything written for the run is removed afterwards.
    """

    name = "emr"
    DONE = "COMPLETED"
    TERMINAL = {"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"}

    def __init__(
        self,
        cluster_id: str,
        bucket: str,
        prefix: str = "",
        *,
        poll_seconds: float = 15,
        emr: Any = None,
        s3: Any = None,
    ) -> None:
        import boto3

        super().__init__(prefix, poll_seconds)
        self.cluster_id = cluster_id
        self.bucket = bucket
        self.emr = emr or boto3.client("emr")
        self.s3 = s3 or boto3.client("s3")

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def upload(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def listing(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def download(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def submit(self, program: Program, run: str, reducers: int, inputs: list[str]) -> str:
        """Adds the run's step (mapper | sort | reducer, as the stack's own step)."""
        programs = ",".join(self.url(key) for key in self.program_keys(run))
        output = self.url(output_prefix(program, run))
        args = ["hadoop-streaming", "-files", programs]
        step = {
            "Name": f"{program.name}-{run}",
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args": [*args, *streaming_args(program, reducers, inputs, output)],
            },
        }
        step_id = self.emr.add_job_flow_steps(JobFlowId=self.cluster_id, Steps=[step])["StepIds"][0]
        log.info("EMR step added", extra={"cluster": self.cluster_id, "step": step_id})
        return step_id

    def status(self, job: str) -> tuple[str, dict[str, Any]]:
        status = self.emr.describe_step(ClusterId=self.cluster_id, StepId=job)["Step"]["Status"]
        return status["State"], status

    def cancel_job(self, job: str) -> None:
        try:
            self.emr.cancel_steps(ClusterId=self.cluster_id, StepIds=[job])
        except Exception as error:  # the job fails either way; say that the step may still run
            log.warning(
                "could not cancel the EMR step", extra={"step": job, "error": repr(error)[:300]}
            )

    def failure(self, state: str, status: dict[str, Any]) -> JobFailed:
        details = status.get("FailureDetails") or {}
        reason = details.get("Reason") or status.get("StateChangeReason", {}).get("Message")
        return JobFailed(
            f"the EMR step ended {state}" + (f": {reason}" if reason else ""),
            "\n".join(part for part in (details.get("Message"), details.get("LogFile")) if part),
        )

    def check(self) -> None:
        state = self.emr.describe_cluster(ClusterId=self.cluster_id)["Cluster"]["Status"]["State"]
        if state.startswith("TERMINAT"):
            raise ConfigError(f"MAPREDUCE_CLUSTER_URL=emr://{self.cluster_id}: cluster is {state}")
