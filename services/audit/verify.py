"""`verify`: every hash chain in the Kafka log and in each service's store, and that
the store and the log agree. The first bad event is named."""
from __future__ import annotations

from shared.db import Database
from shared.envelope import ChainBreak, ChainVerifier, Envelope
from shared.store import EventStore

from .log import Logged


class Finding(Exception):
    """The first thing that does not hold, in words an auditor can act on."""


def verify_log(items: list[Logged]) -> int:
    """Check the chains of the log (duplicates allowed, forks and edits not)."""
    verifier = ChainVerifier()
    for item in sorted(items, key=lambda i: (i.topic, i.partition, i.offset)):
        if item.envelope is None:
            raise Finding(f"{item.topic} partition {item.partition} offset {item.offset}: "
                          f"{item.problem}")
        try:
            verifier.check(item.envelope)
        except ChainBreak as broken:
            raise Finding(f"{item.topic} partition {item.partition} offset {item.offset}: "
                          f"{broken}") from broken
    return verifier.checked


async def verify_store(url: str, log: dict[str, Envelope]) -> int:
    """Check one store's chains, and that each of its events is in the log unchanged
    (the outbox empties into the log; a stored event missing there is a finding)."""
    db = Database(url)
    try:
        async with db.reading() as conn:
            try:
                checked = await EventStore.verify(conn)
            except ChainBreak as broken:
                raise Finding(f"store {_name(url)}: {broken}") from broken
            pending = await EventStore.pending_publications(conn)
            async for _, stored in EventStore.read_all(conn):
                published = log.get(stored.event_id)
                if published is None:
                    if pending:
                        continue  # not yet relayed: the outbox still holds it
                    raise Finding(f"store {_name(url)}: event {stored.event_id} "
                                  f"({stored.stream_id} v{stored.stream_version}) is not in "
                                  "the log")
                if published.hash != stored.hash or published != stored:
                    raise Finding(f"store {_name(url)}: event {stored.event_id} differs "
                                  "from the log's copy")
        return checked
    finally:
        await db.dispose()


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


async def verify_checkpoints(url: str, log: dict[str, Envelope]) -> int:
    """Check the log against the chain heads the audit service recorded as events
    arrived (`audit_chain_heads`, in its own database). A store and its topic
    rewritten together still chain; they no longer end where the audit saw them end."""
    from .adapters.timeline import heads  # noqa: PLC0415
    by_position = {(e.stream_id, e.stream_version): e for e in log.values()}
    db = Database(url)
    try:
        async with db.reading() as conn:
            rows = (await conn.execute(heads.select().order_by(heads.c.stream_id))).all()
    finally:
        await db.dispose()
    if not rows:
        raise Finding(f"checkpoints {_name(url)}: no chain heads recorded")
    for row in rows:
        found = by_position.get((row.stream_id, row.version))
        if found is None:
            raise Finding(f"checkpoint {row.stream_id} v{row.version}: that event is no "
                          "longer in the log")
        if found.hash != row.hash:
            raise Finding(f"checkpoint {row.stream_id} v{row.version}: the log's event "
                          f"{found.event_id} hashes to {found.hash[:16]}…, the audit saw "
                          f"{row.hash[:16]}… — history was rewritten")
    return len(rows)
