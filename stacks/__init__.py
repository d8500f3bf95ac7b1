"""The tierstack Pulumi program: one neutral blueprint per app, mapped to AWS, GCP or Azure."""
