"""One fault run: start the deployment, send the load while a fault is done to it,
wait until everything sent has settled, stop it, read the books."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from scenarios.books import Books, audit_books
from scenarios.fleet import Fleet
from scenarios.load import Workload, send

SETTLE_S = 1200  # generous: the machine is shared; nothing asserts on time


async def run_with_fault(fleet: Fleet, workload: Workload, rate: float,
                         fault: Callable[[asyncio.Task], Awaitable[object]],
                         start: bool = True) -> tuple[Books, object]:
    """`fault(sending)` runs while the load is being sent (the task that sends it is
    given, to time the fault); what it returns comes back with the books."""
    began = time.monotonic()

    def phase(name: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {name}", flush=True)
    if start:
        await asyncio.to_thread(fleet.start)
    phase("services live")
    await send(fleet.bootstrap, fleet.prefix, workload.prelude)
    await fleet.settled(workload.prelude, timeout=SETTLE_S, quiet=1)
    if "committee" in fleet.procs:
        await workload.deposit_personal_data(fleet.procs["committee"].url)
    phase("prelude applied; sending the load")
    sending = asyncio.create_task(send(fleet.bootstrap, fleet.prefix, workload.inputs,
                                       rate=rate))
    try:
        injected = await fault(sending)
        await sending
    finally:
        if not sending.done():
            sending.cancel()
    phase("load sent and acknowledged")
    await fleet.settled(workload.everything(), timeout=SETTLE_S, stall=300)
    phase("settled")
    await asyncio.to_thread(fleet.stop)  # read models are final once stopped
    books = await audit_books(fleet.bootstrap, fleet.prefix, fleet.databases,
                              workload.everything())
    phase("books read, log replayed")
    return books, injected


def assert_clean(books: Books) -> None:
    assert not books.lost, books.explain()
    assert not books.doubled, books.explain()
    assert not books.refused, books.explain()
    assert not books.disorder, books.explain()
    assert books.checksums and books.checksums_equal, books.explain()
    assert all(v.startswith("ok") for v in books.chains.values()), books.chains
    assert books.followed == books.published, books.explain()


async def until_progress(fleet: Fleet, service: str, consumer: str, fraction: float,
                         of: int, timeout: float = 600) -> None:
    """Wait until `service`'s `consumer` applied `fraction` of `of` inputs."""
    from scenarios.fleet import applied  # noqa: PLC0415
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await applied(fleet.databases[service], consumer) < fraction * of:
        if loop.time() > deadline:
            raise TimeoutError(f"{service}.{consumer} made no progress in {timeout}s")
        await asyncio.sleep(0.5)


def retried(fleet: Fleet, markers: tuple[str, ...]) -> dict[str, int]:
    """Log lines of each service that show it noticed a dependency going away."""
    found = {}
    for name, svc in fleet.procs.items():
        text = svc.log_path.read_text(errors="replace")
        n = sum(text.count(w) for w in markers)
        if n:
            found[name] = n
    return found
