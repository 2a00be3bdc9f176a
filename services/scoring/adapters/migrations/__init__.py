"""The scoring service's Alembic revisions (branch `scoring`), built on the backbone's."""
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent / "versions"
