"""GCP policies, one module per family.

Not checked because GCP gives no choice: encryption at rest (Cloud Storage, disks, Pub/Sub and
Cloud SQL always encrypt) and TLS-only bucket access (Cloud Storage serves HTTPS only).
"""
