"""The HDInsight cluster's streaming jobs as command lines: a job is not an ARM resource, so the
MapReduceCluster component hands out, per job, the upload of its programs to the cluster's file
system and the Hadoop streaming command that runs it (see mapreduce_cluster.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

from stacks.blueprints.model import StreamingJob

FILE_SYSTEM = "cluster"
"""The cluster's default file system (the ADLS Gen2 container)."""
STREAMING_JAR = "/usr/hdp/current/hadoop-mapreduce-client/hadoop-streaming.jar"


def upload_command(job: StreamingJob, account: str) -> str:
    """Uploads the job's programs from a checkout of this repository as the signed-in Entra ID
    identity, which needs Storage Blob Data Contributor on the account."""
    return " && ".join(
        " ".join(
            [
                "az storage fs file upload --auth-mode login --overwrite",
                f"--account-name {account} --file-system {FILE_SYSTEM}",
                f"--path jobs/{job.name}/{Path(script).name} --source {script}",
            ]
        )
        for script in (job.mapper, job.reducer)
    )


def submit_command(job: StreamingJob, file_system_url: str) -> str:
    """The Hadoop streaming command line for one job, with every path in the cluster's store."""
    scripts = [
        f"{file_system_url}/jobs/{job.name}/{Path(path).name}" for path in (job.mapper, job.reducer)
    ]
    return " ".join(
        [
            "hadoop",
            "jar",
            STREAMING_JAR,
            "-files",
            ",".join(scripts),
            "-mapper",
            shlex.quote(f"python3 {Path(job.mapper).name}"),
            "-reducer",
            shlex.quote(f"python3 {Path(job.reducer).name}"),
            "-input",
            f"{file_system_url}/{job.input_prefix}",
            "-output",
            f"{file_system_url}/{job.output_prefix}",
        ]
    )
