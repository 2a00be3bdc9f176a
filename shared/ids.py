"""Identifiers and clock: time-ordered event ids (UUIDv7) and UTC timestamps."""
from datetime import datetime, timezone

import uuid6


def new_id() -> str:
    """A unique, time-ordered id (UUIDv7): sorting ids sorts by creation time."""
    return str(uuid6.uuid7())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
