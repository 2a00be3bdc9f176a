"""The grants service's Alembic revisions (branch `grants`), built on the backbone's."""
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent / "versions"
