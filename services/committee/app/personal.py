"""Personal data sealed per person (crypto-shredding, 개인정보 암호화 파기).

Each member gets a random AES-256 key, kept only in this service's database
(`person_keys`), and there only wrapped by a key-encryption key from a secret file
(keys.py): the database alone, or a backup of it, opens nothing. An appointment
event carries the member's personal data encrypted with the person key; erasure
deletes the key in the same transaction that records `PersonalDataErased`. Copies of
the event elsewhere (Kafka, auditors' replays, backups) hold only ciphertext, so the
erasure reaches them too.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (Column, LargeBinary, MetaData, String, Table, Text, delete, insert,
                        select)

from ..domain.errors import DepositRefused
from ..domain.events import Personal, PersonalV1, SealedPersonal
from . import keys
from .keys import Keks, KekUnavailable

write_side = MetaData()
person_keys = Table(
    "person_keys", write_side,
    Column("key_id", String(200), primary_key=True),
    # NULL only for a plain key written before wrapping (revision 0002); the service
    # wraps those when it starts, before it takes a command.
    Column("kek_id", String(100)),
    Column("wrapped_key", LargeBinary(60), nullable=False))  # nonce ‖ key ‖ GCM tag

# Personal data deposited over HTTPS for an appointment sent over Kafka, sealed with
# the member's key (so an erasure reaches an unused deposit too), used once.
personal_deposits = Table(
    "personal_deposits", write_side,
    Column("ref", String(100), primary_key=True),
    Column("committee_id", String(100), nullable=False),
    Column("member_id", String(100), nullable=False, index=True),
    Column("sealed", Text, nullable=False),        # SealedPersonal as JSON
    Column("expires_at", String(40), nullable=False))  # ISO 8601, UTC
DEPOSIT_LIFETIME = timedelta(days=1)  # assumption: a day to send the appointment

__all__ = ["DepositRefused", "Erased", "KekUnavailable", "deposit", "destroy_key",
           "key_id_of", "open_sealed", "seal", "take_deposit"]


class Erased(Exception):
    """The person's key is gone: their personal data cannot be read any more."""


def key_id_of(member_id: str) -> str:
    return f"person-{member_id}"


async def seal(conn, member_id: str, personal: Personal, keks: Keks | None = None
               ) -> SealedPersonal:
    keks = keks or keys.load()  # no KEK, no sealing: KekUnavailable says why
    key_id = key_id_of(member_id)
    key = await _person_key(conn, keks, key_id)
    if key is None:
        key = AESGCM.generate_key(bit_length=256)
        kek_id, wrapped = keks.wrap(key_id, key)
        await conn.execute(insert(person_keys).values(key_id=key_id, kek_id=kek_id,
                                                      wrapped_key=wrapped))
    nonce = os.urandom(12)
    # The key id is bound as associated data: a ciphertext moved to another person's
    # event does not open.
    sealed = AESGCM(key).encrypt(nonce, personal.model_dump_json().encode(), key_id.encode())
    return SealedPersonal(key_id=key_id, ciphertext=base64.b64encode(nonce + sealed).decode())


async def open_sealed(conn, sealed: SealedPersonal, keks: Keks | None = None
                      ) -> Personal | PersonalV1:
    """The personal data as it was sealed: a birth date, or (sealed before birth
    dates were kept) a birth year, never a date made up from it."""
    if sealed.key_id is None or sealed.ciphertext is None:
        raise Erased("recorded before personal data was sealed (v1): not carried forward")
    keks = keks or keys.load()
    key = await _person_key(conn, keks, sealed.key_id)
    if key is None:
        raise Erased(f"personal data under {sealed.key_id} was erased")
    raw = base64.b64decode(sealed.ciphertext)
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], sealed.key_id.encode())
    except InvalidTag as error:
        raise Erased(f"personal data under {sealed.key_id} does not open") from error
    return _personal(plain)


def _personal(plain: bytes) -> Personal | PersonalV1:
    kind = PersonalV1 if "birth_year" in json.loads(plain) else Personal
    return kind.model_validate_json(plain)


async def _person_key(conn, keks: Keks, key_id: str) -> bytes | None:
    row = (await conn.execute(select(person_keys.c.kek_id, person_keys.c.wrapped_key)
                              .where(person_keys.c.key_id == key_id))).first()
    if row is None:
        return None
    if row.kek_id is None:  # not wrapped yet: only between migration and start
        return row.wrapped_key
    return keks.unwrap(row.kek_id, key_id, row.wrapped_key)


async def destroy_key(conn, member_id: str) -> bool:
    """Delete the key (and any unused deposit sealed with it); True if there was one."""
    await conn.execute(delete(personal_deposits)
                       .where(personal_deposits.c.member_id == member_id))
    done = await conn.execute(delete(person_keys)
                              .where(person_keys.c.key_id == key_id_of(member_id)))
    return done.rowcount > 0


async def deposit(conn, committee_id: str, member_id: str, personal: Personal,
                  now: datetime | None = None) -> tuple[str, datetime]:
    """Seal and keep personal data for one later appointment; (reference, expiry)."""
    now = now or datetime.now(UTC)
    await conn.execute(delete(personal_deposits)  # expired ones go as new ones come
                       .where(personal_deposits.c.expires_at < now.isoformat()))
    sealed = await seal(conn, member_id, personal)
    ref, expires = f"pd-{secrets.token_urlsafe(18)}", now + DEPOSIT_LIFETIME
    await conn.execute(insert(personal_deposits).values(
        ref=ref, committee_id=committee_id, member_id=member_id,
        sealed=sealed.model_dump_json(), expires_at=expires.isoformat()))
    return ref, expires


async def take_deposit(conn, ref: str, committee_id: str, member_id: str,
                       now: datetime | None = None) -> Personal:
    """The deposited data for this very appointment, removed as it is used."""
    row = (await conn.execute(select(personal_deposits)
                              .where(personal_deposits.c.ref == ref))).first()
    if row is None:
        raise DepositRefused(f"personal data deposit {ref} is unknown or already used: "
                             "deposit the data again (POST /personal-data)")
    if (row.committee_id, row.member_id) != (committee_id, member_id):
        raise DepositRefused(f"personal data deposit {ref} was made for another "
                             "appointment (committee and member must match)")
    if row.expires_at < (now or datetime.now(UTC)).isoformat():
        raise DepositRefused(f"personal data deposit {ref} expired at {row.expires_at}: "
                             "deposit the data again")
    await conn.execute(delete(personal_deposits).where(personal_deposits.c.ref == ref))
    found = await open_sealed(conn, SealedPersonal.model_validate_json(row.sealed))
    if not isinstance(found, Personal):  # sealed now, so always a birth date
        raise DepositRefused(f"personal data deposit {ref} holds no birth date")
    return found


async def appointments_of(conn, member_id: str) -> list:
    """The member's MemberAppointed events, oldest first, from this service's store."""
    from shared.envelope import Envelope  # noqa: PLC0415
    from shared.tables import events  # noqa: PLC0415

    from ..domain.events import registry  # noqa: PLC0415
    rows = await conn.execute(select(events.c.body).where(
        events.c.event_type == "committee.MemberAppointed",
        events.c.body.contains(f'"member_id":"{member_id}"')).order_by(events.c.position))
    found = [registry.decode(e.event_type, e.schema_version, e.payload)
             for e in (Envelope.from_json(r.body) for r in rows)]
    return [e for e in found if e.member_id == member_id]


async def committees_of(conn, member_id: str) -> list[str]:
    """The committees the member was ever appointed to (their secretaries' scope)."""
    return list(dict.fromkeys(e.committee_id for e in await appointments_of(conn, member_id)))
