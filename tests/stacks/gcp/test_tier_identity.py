"""TierIdentity on GCP: service accounts and exactly the bindings each tier uses, resolved."""

from __future__ import annotations

import pytest

from stacks.blueprints.settings import APPS
from stacks.common.args import TierIdentityArgs
from stacks.gcp import TierIdentity
from stacks.gcp.common import fit
from tests.stacks.gcp.conftest import context_for, run
from tests.stacks.gcp.support import ACCESSOR, SECRET_GRANT, account, app_blueprint, stack

JOB_SUBMITTER_ROLE = "projects/tierstack-dev/roles/mapreduce_dev_hadoop_job_submitter"


def test_each_tier_is_bound_exactly_on_what_it_uses() -> None:
    result = stack("mapreduce")
    members: dict[str, set[tuple[str, str]]] = {}
    for binding in result.walk():
        if not binding.type.lower().endswith("iammember"):  # SecretIamMember too
            continue
        target = next(
            binding.inputs[key]
            for key in ("bucket", "topic", "subscription", "secretId", "cluster", "project")
            if key in binding.inputs
        )
        condition = binding.inputs.get("condition", {}).get("expression", "")
        members.setdefault(binding.inputs["member"], set()).add(
            (binding.inputs["role"], f"{target} {condition}".strip())
        )
    web = "serviceAccount:mapreduce-dev-web@tierstack-dev.iam.gserviceaccount.com"
    assert members[web] == {
        ("roles/logging.logWriter", "tierstack-dev"),
        ("roles/monitoring.metricWriter", "tierstack-dev"),
        ("roles/storage.objectUser", "tierstack-dev-mapreduce-dev-job-data"),
        ("roles/storage.legacyBucketReader", "tierstack-dev-mapreduce-dev-job-data"),
        ("roles/pubsub.publisher", "job-requests-topic-id"),
        ("roles/pubsub.viewer", "job-requests-subscription-id"),  # the readiness check
        ("roles/secretmanager.secretAccessor", "web-session-key-secret-id"),
        (  # the web tier records jobs and idempotency keys: read-write on the status table
            "roles/datastore.user",
            'tierstack-dev resource.name == "projects/tierstack-dev/databases/'
            'mapreduce-dev-job-status"',
        ),
    }
    runner = "serviceAccount:mapreduce-dev-job-runner@tierstack-dev.iam.gserviceaccount.com"
    assert ("roles/pubsub.subscriber", "job-requests-subscription-id") in members[runner]
    assert ("roles/pubsub.publisher", "job-requests-dead-letter-topic-id") in members[runner]
    assert ("roles/pubsub.publisher", "job-done-topic-id") in members[runner]
    assert not [
        grant for grant in members[runner] if "job-data" not in grant[1] and "storage" in grant[0]
    ]
    roles = {role for grants in members.values() for role, _ in grants}
    assert not roles & {"roles/owner", "roles/editor", "roles/viewer"}
    # Every project-level grant but log/metric writing, Dataproc's worker role and the job
    # submitter role (no Dataproc resource can be named in a condition) is conditional.
    for binding in result.of_type("gcp:projects/iAMMember:IAMMember"):
        if binding.inputs["role"] not in (
            "roles/logging.logWriter",
            "roles/monitoring.metricWriter",
            "roles/dataproc.worker",
            JOB_SUBMITTER_ROLE,
        ):
            assert binding.inputs["condition"]["expression"].startswith("resource.name == ")


@pytest.mark.parametrize("app", APPS)
def test_only_the_app_tier_may_read_the_session_key(app: str) -> None:
    blueprint = app_blueprint(app)
    tier = blueprint.app.name
    result = stack(app)
    session_key = f"{tier}-session-key-secret-id"  # the mocks' id of the session key's Secret
    readers = [
        (g.inputs["member"], g.inputs["role"], g.parent_urn.rsplit("::", 1)[-1])
        for g in result.of_type(SECRET_GRANT)
        if g.inputs["secretId"] == session_key
    ]
    assert readers == [(account(app, tier), ACCESSOR, f"{tier}-identity")]
    app_secrets = {
        g.inputs["secretId"]
        for g in result.of_type(SECRET_GRANT)
        if g.inputs["member"] == account(app, tier)
    }
    # A database: the app role's password, and the admin's for root's converge step.
    databases = {
        f"{use.target}-{kind}password-secret-id"
        for use in blueprint.app.uses
        if use.env_var == "DATABASE_URL"
        for kind in ("", "app-")
    }
    assert app_secrets == {session_key} | databases
    for worker in blueprint.workers:
        worker_secrets = {
            g.inputs["secretId"]
            for g in result.of_type(SECRET_GRANT)
            if g.inputs["member"] == account(app, worker.name)
        }
        assert session_key not in worker_secrets, worker.name


def test_service_account_ids_fit_gcp_limits() -> None:
    context = context_for("social-analytics")

    def program() -> None:
        TierIdentity("sentiment-consumer-identity", TierIdentityArgs(context, "sentiment-consumer"))

    account = run(program).one("gcp:serviceaccount/account:Account").inputs["accountId"]
    assert len(account) == 30
    assert account.startswith("social-analytics-dev-se-")
    assert account == fit("social-analytics-dev-sentiment-consumer", 30)
    assert fit("social-analytics-dev-sentiment-listener", 30) != account
