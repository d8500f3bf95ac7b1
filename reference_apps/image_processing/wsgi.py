"""Gunicorn entry point: ``gunicorn reference_apps.image_processing.wsgi:app``."""

from . import create_app

app = create_app()
