"""Personal data sealed per person (crypto-shredding, 개인정보 암호화 파기).

Each member gets a random AES-256 key, kept only in this service's database
(`person_keys`). An appointment event carries the member's personal data encrypted
with it; erasure deletes the key in the same transaction that records
`PersonalDataErased`. Copies of the event elsewhere (Kafka, auditors' replays,
backups) hold only ciphertext, so the erasure reaches them too.
"""
from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, delete, insert, select

from ..domain.events import Personal, SealedPersonal

write_side = MetaData()
person_keys = Table(
    "person_keys", write_side,
    Column("key_id", String(200), primary_key=True),
    Column("key", LargeBinary(32), nullable=False))


class Erased(Exception):
    """The person's key is gone: their personal data cannot be read any more."""


def key_id_of(member_id: str) -> str:
    return f"person-{member_id}"


async def seal(conn, member_id: str, personal: Personal) -> SealedPersonal:
    key_id = key_id_of(member_id)
    key = await conn.scalar(select(person_keys.c.key).where(person_keys.c.key_id == key_id))
    if key is None:
        key = AESGCM.generate_key(bit_length=256)
        await conn.execute(insert(person_keys).values(key_id=key_id, key=key))
    nonce = os.urandom(12)
    # The key id is bound as associated data: a ciphertext moved to another person's
    # event does not open.
    sealed = AESGCM(key).encrypt(nonce, personal.model_dump_json().encode(), key_id.encode())
    return SealedPersonal(key_id=key_id, ciphertext=base64.b64encode(nonce + sealed).decode())


async def open_sealed(conn, sealed: SealedPersonal) -> Personal:
    if sealed.key_id is None or sealed.ciphertext is None:
        raise Erased("recorded before personal data was sealed (v1): not carried forward")
    key = await conn.scalar(select(person_keys.c.key)
                            .where(person_keys.c.key_id == sealed.key_id))
    if key is None:
        raise Erased(f"personal data under {sealed.key_id} was erased")
    raw = base64.b64decode(sealed.ciphertext)
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], sealed.key_id.encode())
    except InvalidTag as error:
        raise Erased(f"personal data under {sealed.key_id} does not open") from error
    return Personal.model_validate_json(plain)


async def destroy_key(conn, member_id: str) -> bool:
    """Delete the key; True if there was one."""
    done = await conn.execute(delete(person_keys)
                              .where(person_keys.c.key_id == key_id_of(member_id)))
    return done.rowcount > 0
