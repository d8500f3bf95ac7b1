"""Gunicorn entry point: ``gunicorn reference_apps.mapreduce.wsgi:app``."""

from . import create_app

app = create_app()
