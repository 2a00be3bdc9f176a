"""Key-encryption keys (KEK, 키 암호화 키) that wrap each person's data key.

The person keys of crypto-shredding (personal.py) are stored in `person_keys` only
wrapped: AES-256-GCM under a KEK, with the KEK id and the person key id as associated
data (a wrapped key copied onto another row, or relabelled with another KEK id, does
not open). The KEKs come from a secret file, PERSONAL_DATA_KEK_FILE:

    {"active": "2026-11", "keys": {"2026-11": "<base64 of 32 bytes>", ...}}

never from the database, so a backup of the database alone reveals no personal data.
Without the file the service refuses to start, to seal and to open.

Upgrade path: rows written before wrapping (revision 0002 held the plain key; 0003
leaves them with `kek_id` NULL) are wrapped under the active KEK when the service
starts (`wrap_plain_keys`), before it takes any command; then the database's files are
scrubbed (`scrub`) so that a backup taken from then on holds no plain key. Backups (and
PostgreSQL WAL archives) taken before the upgrade still hold them: retire them.

Rotation (`hyeopchi rotate-kek`): add a new key to the file and make it active, run
the command (it re-wraps every person key not under the active KEK, one transaction
per batch, and may be run again at any time: it only touches what is left), then the
old key may be removed from the file.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, func, or_, select, update
from sqlalchemy.pool import NullPool

NONCE = 12


class KekUnavailable(RuntimeError):
    """No usable KEK: personal data is neither sealed nor opened."""


@dataclass(frozen=True)
class Keks:
    """The KEKs of the file: the active one wraps, any of them unwraps."""

    active: str
    keys: dict[str, bytes] = field(repr=False)  # never in a log line or a traceback

    def wrap(self, key_id: str, key: bytes) -> tuple[str, bytes]:
        """(KEK id, nonce ‖ wrapped key) of a person key under the active KEK."""
        nonce = os.urandom(NONCE)
        wrapped = AESGCM(self.keys[self.active]).encrypt(nonce, key,
                                                         _bound(self.active, key_id))
        return self.active, nonce + wrapped

    def unwrap(self, kek_id: str, key_id: str, wrapped: bytes) -> bytes:
        if kek_id not in self.keys:
            raise KekUnavailable(f"the person key {key_id} is wrapped under KEK {kek_id!r}, "
                                 f"which the KEK file does not hold (was it removed "
                                 f"before `hyeopchi rotate-kek` had re-wrapped every key?)")
        try:
            return AESGCM(self.keys[kek_id]).decrypt(wrapped[:NONCE], wrapped[NONCE:],
                                                     _bound(kek_id, key_id))
        except InvalidTag as error:
            raise KekUnavailable(f"the person key {key_id} does not unwrap with KEK "
                                 f"{kek_id!r}: the KEK file holds another key under "
                                 f"that id") from error


def _bound(kek_id: str, key_id: str) -> bytes:
    return json.dumps([kek_id, key_id]).encode()  # unambiguous, whatever the ids hold


def parse(text: str, source: str = "the KEK file") -> Keks:
    """Keks from the file's JSON; every fault is named, no key is ever shown."""
    try:
        data = json.loads(text)
        active, encoded = data["active"], data["keys"]
    except (ValueError, KeyError, TypeError) as error:
        raise KekUnavailable(f"{source} is not JSON of the form {{\"active\": ID, "
                             f"\"keys\": {{ID: base64 of 32 bytes}}}}") from error
    if not isinstance(encoded, dict) or active not in encoded:
        raise KekUnavailable(f"{source}: the active KEK {active!r} is not among its keys")
    return Keks(active, {kek_id: _key(kek_id, value, source)
                         for kek_id, value in encoded.items()})


def _key(kek_id: str, value, source: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        key = b""
    if len(key) != 32:
        raise KekUnavailable(f"{source}: KEK {kek_id!r} is not the base64 of 32 bytes "
                             f"(AES-256)")
    return key


_loaded: dict[str, tuple[tuple[int, int], Keks]] = {}


def load(path: str | None = None) -> Keks:
    """The KEKs of `path`, by default the service's PERSONAL_DATA_KEK_FILE; read again
    when the file changes (a rotation needs no restart to be seen)."""
    if path is None:
        from shared.settings import ServiceSettings  # noqa: PLC0415
        path = ServiceSettings().personal_data_kek_file
    if not path:
        raise KekUnavailable("no key-encryption key: set PERSONAL_DATA_KEK_FILE to the "
                             "KEK file (a mounted secret); personal data is neither "
                             "sealed nor opened without it")
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if path not in _loaded or _loaded[path][0] != stamp:
            _loaded[path] = (stamp, parse(Path(path).read_text(encoding="utf-8"),
                                          f"KEK file {path}"))
    except OSError as error:
        raise KekUnavailable(f"KEK file {path} cannot be read: {error.strerror}") from error
    return _loaded[path][1]


# ---------------------------------------------------------------- re-wrapping

@dataclass
class Rewrapped:
    active: str
    wrapped_plain: int = 0   # plain keys from before wrapping, now wrapped
    rewrapped: int = 0       # keys moved from an older KEK to the active one
    batches: int = 0
    under_active: int = 0    # every key under the active KEK at the end

    def __str__(self) -> str:
        return (f"person keys under KEK {self.active!r}: {self.under_active} "
                f"({self.rewrapped} re-wrapped from older KEKs, {self.wrapped_plain} "
                f"plain keys wrapped, in {self.batches} batches)")


async def rewrap(db, keks: Keks, batch_size: int = 500, plain_only: bool = False
                 ) -> Rewrapped:
    """Bring every person key under the active KEK, one transaction per batch.

    Idempotent and safe beside a running service: a row is updated only if it still
    holds what was read (an erasure or another run in between leaves it alone). If
    anything was re-wrapped, the replaced forms are scrubbed from the files."""
    from .personal import person_keys as t  # noqa: PLC0415
    done = Rewrapped(keks.active)
    behind = t.c.kek_id.is_(None) if plain_only else or_(t.c.kek_id.is_(None),
                                                         t.c.kek_id != keks.active)
    while True:
        async with db.transaction() as conn:
            rows = (await conn.execute(select(t).where(behind).order_by(t.c.key_id)
                                       .limit(batch_size))).all()
            for row in rows:
                await _rewrap_row(conn, t, keks, row, done)
        if not rows:
            break
        done.batches += 1
    async with db.reading() as conn:
        done.under_active = await conn.scalar(select(func.count()).select_from(t).where(
            t.c.kek_id == keks.active))
    if done.wrapped_plain or done.rewrapped:
        await asyncio.to_thread(scrub, db.url)
    return done


def scrub(url: str) -> None:
    """Leave no replaced key (plain, or wrapped by a retired KEK) in the database's
    files: SQLite keeps overwritten rows in free pages and in its write-ahead log,
    PostgreSQL in dead tuples, until rewritten."""
    from shared.migrate import sync_url  # noqa: PLC0415
    engine = create_engine(sync_url(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout=30000")
                for step in ("PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM",
                             "PRAGMA wal_checkpoint(TRUNCATE)"):
                    conn.exec_driver_sql(step)
            else:  # rewrites the table into a new file; takes a short exclusive lock
                conn.exec_driver_sql("VACUUM FULL person_keys")
    finally:
        engine.dispose()


async def _rewrap_row(conn, t, keks: Keks, row, done: Rewrapped) -> None:
    plain = row.wrapped_key if row.kek_id is None else keks.unwrap(row.kek_id, row.key_id,
                                                                   row.wrapped_key)
    kek_id, wrapped = keks.wrap(row.key_id, plain)
    same = t.c.kek_id.is_(None) if row.kek_id is None else t.c.kek_id == row.kek_id
    changed = await conn.execute(update(t).where(t.c.key_id == row.key_id, same)
                                 .values(kek_id=kek_id, wrapped_key=wrapped))
    if changed.rowcount and row.kek_id is None:
        done.wrapped_plain += 1
    elif changed.rowcount:
        done.rewrapped += 1


async def wrap_plain_keys(service) -> None:
    """At start (runtime hook): refuse to run without a KEK, and wrap the plain keys
    a database from before wrapping still holds, before any command is taken."""
    import structlog  # noqa: PLC0415
    done = await rewrap(service.db, load(), plain_only=True)
    if done.wrapped_plain:
        structlog.get_logger("committee").info("plain_person_keys_wrapped",
                                               count=done.wrapped_plain, kek=done.active)


# ---------------------------------------------------------------- command line

def main(schema, database_url: str, batch_size: int = 500) -> int:
    """`hyeopchi rotate-kek [--database-url URL] [--batch-size N]`: re-wrap every person
    key under the active KEK of PERSONAL_DATA_KEK_FILE; prints the counts. `schema` is
    the committee's shared.migrate.Schema (the tools read it from the service's spec)."""
    from shared import migrate  # noqa: PLC0415
    from shared.db import Database  # noqa: PLC0415

    from .personal import write_side  # noqa: PLC0415
    if batch_size < 1:
        print("rotate-kek: --batch-size must be at least 1", file=sys.stderr)
        return 2
    url = database_url
    try:
        keks = load()
        if migrate.pending(url, schema):
            print("rotate-kek: the committee database is not at the latest schema: run "
                  "`hyeopchi migrate committee upgrade` (or start the service) first",
                  file=sys.stderr)
            return 1
        db = Database(url, write_side)
        done = asyncio.run(_rotate(db, keks, batch_size))
    except KekUnavailable as error:
        print(f"rotate-kek: {error}", file=sys.stderr)
        return 1
    print(f"rotate-kek: {done}")
    return 0


async def _rotate(db, keks: Keks, batch_size: int) -> Rewrapped:
    try:
        return await rewrap(db, keks, batch_size)
    finally:
        await db.dispose()

