"""How every cloud's hosts verify their database server: `sslmode=verify-full` (Azure, AWS) or
`verify-ca` (GCP's private IP, which no Cloud SQL certificate names) against a CA file that the
blueprint_host role writes on the host (blueprint_host_database_ca_file)."""

from __future__ import annotations

HOST_CA_FILE = "/etc/tierstack/database-ca.pem"
"""Where the hosts keep the CA of the database server's certificate (the role's default)."""

VERIFY_FULL = f"sslmode=verify-full&sslrootcert={HOST_CA_FILE}"
"""The DATABASE_URL query that checks the server's certificate and its name."""

VERIFY_CA = f"sslmode=verify-ca&sslrootcert={HOST_CA_FILE}"
"""The query for a server reached by an address its certificate cannot name (Cloud SQL's private
IP): the chain is checked against a CA that signs for that one server only."""


def app_role(database: str) -> str:
    """The app's own login on every cloud: it owns `database` and nothing else (the admin
    login creates it at converge, reference_apps/backends/database_roles.py)."""
    return f"{database}_app"
