"""Cloud drive: accounts, per-user documents with quotas, an admin page."""

from stacks.blueprints.model import AppTier, Blueprint, ObjectStore, RelationalDb, Uses


def blueprint() -> Blueprint:
    return Blueprint(
        name="cloud-drive",
        description="LB -> app tier (register, login, profile, files) -> object store (documents) "
        "+ relational DB (users, file metadata)",
        object_stores=(ObjectStore("documents", "users' files", noncurrent_version_days=90),),
        databases=(RelationalDb("drive-db", "users and file metadata", database="drive"),),
        app=AppTier(
            "web",
            "account pages and the file API",
            wsgi="reference_apps.cloud_drive.wsgi:app",
            port=8002,
            uses=(
                Uses("documents", "read-write", "OBJECT_STORE_URL"),
                Uses("drive-db", "read-write", "DATABASE_URL"),
            ),
        ),
    )
