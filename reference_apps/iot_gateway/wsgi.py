"""Gunicorn entry point: ``gunicorn reference_apps.iot_gateway.wsgi:app``."""

from . import create_app

app = create_app()
