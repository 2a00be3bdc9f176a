"""The committee service's Alembic revisions (branch `committee`), built on the backbone's."""
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent / "versions"
