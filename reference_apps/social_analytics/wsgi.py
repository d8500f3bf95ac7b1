"""Gunicorn entry point: ``gunicorn reference_apps.social_analytics.wsgi:app``."""

from . import create_app

app = create_app()
