"""Gunicorn entry point: ``gunicorn reference_apps.mapreduce.wsgi:app``; it waits for
the app's secrets and backends with 503s rather than exiting (reference_apps.starting)."""

from reference_apps.starting import serve_when_ready

from . import create_app

app = serve_when_ready(create_app)
