"""MapReduce: submit a job over the web, a worker runs it on a managed Hadoop cluster and e-mails
a download link when it is done."""

from stacks.blueprints.model import (
    AppTier,
    Blueprint,
    KeyValueTable,
    MapReduceCluster,
    Notifications,
    ObjectStore,
    Queue,
    StreamingJob,
    Uses,
    WorkerTier,
)

INVERTED_INDEX = StreamingJob(
    name="inverted-index",
    mapper="stacks/blueprints/jobs/inverted_index/mapper.py",
    reducer="stacks/blueprints/jobs/inverted_index/reducer.py",
    input_prefix="input/",
    output_prefix="output/",
)


def blueprint() -> Blueprint:
    return Blueprint(
        name="mapreduce",
        description="LB -> app tier (job submission) -> object store -> queue -> worker "
        "(submits to the MapReduce cluster, polls, notifies); status table; e-mail with a link",
        object_stores=(
            ObjectStore("job-data", "job programs, input and output", archive_after_days=90),
            ObjectStore("cluster-logs", "cluster and step logs", expire_after_days=30),
        ),
        queues=(Queue("job-requests", "submitted MapReduce jobs", visibility_timeout_seconds=900),),
        tables=(KeyValueTable("job-status", "job state and result location"),),
        notifications=(Notifications("job-done", "e-mail with the download link"),),
        app=AppTier(
            "web",
            "job submission and status pages",
            wsgi="reference_apps.mapreduce.wsgi:app",
            port=8003,
            uses=(
                Uses("job-data", "read-write", "OBJECT_STORE_URL"),
                Uses("job-requests", "publish", "QUEUE_URL"),
                Uses("job-status", "read-write", "KV_URL"),
            ),
        ),
        workers=(
            WorkerTier(
                "job-runner",
                "submits jobs to the cluster, polls them and notifies the user",
                command="python -m reference_apps.mapreduce.worker",
                scale_on="job-requests",
                uses=(
                    Uses("job-data", "read-write", "OBJECT_STORE_URL"),
                    Uses("job-requests", "consume", "QUEUE_URL"),
                    Uses("job-status", "read-write", "KV_URL"),
                    Uses("job-done", "publish", "MAIL_URL"),
                    Uses("hadoop", "submit", "MAPREDUCE_CLUSTER_URL"),
                ),
                backlog_per_instance=5,
            ),
        ),
        mapreduce=MapReduceCluster(
            "hadoop",
            "Hadoop streaming jobs over the job-data store",
            code_store="job-data",
            log_store="cluster-logs",
            jobs=(INVERTED_INDEX,),
        ),
    )
