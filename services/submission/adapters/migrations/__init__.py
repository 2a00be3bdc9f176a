"""The submission service's Alembic revisions (branch `submission`), built on the backbone's."""
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent / "versions"
