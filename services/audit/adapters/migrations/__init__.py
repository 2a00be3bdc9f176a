"""The audit service's Alembic revisions (branch `audit`), built on the backbone's."""
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent / "versions"
