"""A command and a database stand-in for the HTTP edge's in-process tests: the
boundary and the telemetry are tested on an app built the way the services build
theirs, with a tiny command and transactions that touch nothing."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command_type: Literal["Ping"] = "Ping"
    text: str


class FakeDb:
    @asynccontextmanager
    async def transaction(self):
        yield None
