"""What only PostgreSQL refuses: NUL characters in text (in a path, a query, a
command body) and a negative LIMIT. Every service's endpoints on PostgreSQL, with
the named hostile requests: never a 5xx, every refusal a problem body, and a
command whose text PostgreSQL could not store is refused before it is recorded."""
from __future__ import annotations

import pytest

from . import harness
from .test_http_inputs import Endpoints, named_reads, named_writes

pytestmark = pytest.mark.integration  # PostgreSQL


@pytest.mark.parametrize("make_db_url", ["postgresql"], indirect=True)
async def test_named_hostile_requests_on_postgresql(make_db_url):
    services = {name: await harness.start(name, make_db_url())
                for name in ("submission", "scoring", "committee", "grants", "audit")}
    try:
        endpoints = Endpoints(type("W", (), {"services": services})())
        for name, svc in services.items():
            if name != "audit":
                await named_writes(svc, name, endpoints.posts(name), " (postgresql)")
            await named_reads(svc, name, endpoints.gets(name), " (postgresql)")
    finally:
        for svc in services.values():
            await harness.stop(svc)
