"""tierstack: multi-tier blueprints on AWS, GCP and Azure, previewed offline and run locally."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

__version__ = "0.1.0"
