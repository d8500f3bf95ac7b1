"""Offline preview: runs Pulumi Python programs under a recording mock monitor, with no Pulumi
CLI, provider plugins or cloud credentials, and reports what they would create."""
