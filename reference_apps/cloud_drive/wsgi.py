"""Gunicorn entry point: ``gunicorn reference_apps.cloud_drive.wsgi:app``."""

from . import create_app

app = create_app()
