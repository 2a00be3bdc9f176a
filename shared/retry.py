"""The one backoff every retry in the backbone waits by: exponential, capped.

A lost race on a stream (`CONFLICT`) is retried after a few milliseconds; a broker or
database that is away (`OUTAGE`) is waited for with longer pauses, capped so that a
service notices its return within seconds."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float            # the pause grows from this many seconds
    cap: float             # never longer than this
    linear: bool = False   # base × attempt instead of base × 2^attempt

    def delay(self, attempt: int) -> float:
        """The pause before retry number `attempt` (1, 2, …)."""
        grown = self.base * attempt if self.linear else self.base * 2 ** attempt
        return min(self.cap, grown)

    async def wait(self, attempt: int) -> None:
        await asyncio.sleep(self.delay(attempt))


CONFLICT = Backoff(base=0.01, cap=1.0)
OUTAGE = Backoff(base=0.1, cap=5.0)
STARTUP = Backoff(base=0.2, cap=5.0, linear=True)  # a service waiting for its broker
