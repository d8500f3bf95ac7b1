"""How every cloud's hosts verify their database server: `sslmode=verify-full` against a CA file
that the blueprint_host role writes on the host (blueprint_host_database_ca_file)."""

from __future__ import annotations

HOST_CA_FILE = "/etc/tierstack/database-ca.pem"
"""Where the hosts keep the CA of the database server's certificate (the role's default)."""

VERIFY_FULL = f"sslmode=verify-full&sslrootcert={HOST_CA_FILE}"
"""The DATABASE_URL query that checks the server's certificate and its name."""
