"""Person keys wrapped by a key-encryption key (KEK): wrap/unwrap, a wrong or missing
KEK, rotation (every key still opens; the old KEK can then be dropped), and the
plain keys of a database from before wrapping. On a SQLite file, no service."""
from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import date

import pytest
from sqlalchemy import insert, select

from services.committee.app import keys, personal
from services.committee.app.keys import Keks, KekUnavailable
from services.committee.domain.events import Personal, SealedPersonal
from shared.db import Database


A, B, C = os.urandom(32), os.urandom(32), os.urandom(32)
ONLY_A = Keks("a", {"a": A})
A_AND_B = Keks("b", {"a": A, "b": B})
ONLY_B = Keks("b", {"b": B})
PEOPLE = [f"m-{n}" for n in range(7)]


def person(n: int = 0) -> Personal:
    return Personal(name=f"위원 {n}", birth_date=date(1990, 1, 1 + n))


@pytest.fixture
async def db(tmp_path):
    found = Database(f"sqlite:///{tmp_path / 'committee.db'}", personal.write_side)
    await found.create_tables()
    yield found
    await found.dispose()


async def sealed_people(db, keks: Keks) -> dict[str, SealedPersonal]:
    out = {}
    async with db.transaction() as conn:
        for n, member in enumerate(PEOPLE):
            out[member] = await personal.seal(conn, member, person(n), keks)
    return out


async def opened(db, sealed: SealedPersonal, keks: Keks):
    async with db.reading() as conn:
        return await personal.open_sealed(conn, sealed, keks)


async def rows(db) -> list:
    async with db.reading() as conn:
        return (await conn.execute(select(personal.person_keys))).all()


class TestWrap:
    def test_unwrap_gives_back_the_key(self):
        kek_id, wrapped = ONLY_A.wrap("person-1", b"k" * 32)
        assert kek_id == "a" and len(wrapped) == 60 and b"k" * 32 not in wrapped
        assert ONLY_A.unwrap("a", "person-1", wrapped) == b"k" * 32

    def test_a_wrong_kek_under_the_same_id_does_not_unwrap(self):
        _, wrapped = ONLY_A.wrap("person-1", b"k" * 32)
        with pytest.raises(KekUnavailable, match="does not unwrap with KEK 'a'"):
            Keks("a", {"a": C}).unwrap("a", "person-1", wrapped)

    def test_a_kek_the_file_does_not_hold_is_named(self):
        _, wrapped = ONLY_A.wrap("person-1", b"k" * 32)
        with pytest.raises(KekUnavailable, match="KEK 'a', which the KEK file does not hold"):
            ONLY_B.unwrap("a", "person-1", wrapped)

    def test_a_wrapped_key_is_bound_to_its_person_and_kek_id(self):
        _, wrapped = A_AND_B.wrap("person-1", b"k" * 32)
        with pytest.raises(KekUnavailable):
            A_AND_B.unwrap("b", "person-2", wrapped)   # moved to another row
        with pytest.raises(KekUnavailable):
            Keks("a", {"a": B}).unwrap("a", "person-1", wrapped)  # relabelled KEK id

    def test_no_key_is_ever_shown(self):
        assert base64.b64encode(A).decode() not in repr(A_AND_B)
        assert repr(A) not in repr(A_AND_B)


class TestKekFile:
    def write(self, tmp_path, data) -> str:
        path = tmp_path / "kek.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        return str(path)

    def test_the_file_gives_the_active_and_every_key(self, tmp_path):
        path = self.write(tmp_path, {"active": "b", "keys": {
            "a": base64.b64encode(A).decode(), "b": base64.b64encode(B).decode()}})
        assert keys.load(path) == A_AND_B

    def test_a_changed_file_is_read_again(self, tmp_path):
        path = self.write(tmp_path, {"active": "a", "keys": {"a": base64.b64encode(A).decode()}})
        assert keys.load(path).active == "a"
        self.write(tmp_path, {"active": "b", "keys": {"a": base64.b64encode(A).decode(),
                                                      "b": base64.b64encode(B).decode()}})
        assert keys.load(path).active == "b"

    @pytest.mark.parametrize("data, says", [
        ("not json", "is not JSON"),
        ({"keys": {}}, "is not JSON of the form"),
        ({"active": "x", "keys": {"a": base64.b64encode(A).decode()}}, "'x' is not among"),
        ({"active": "a", "keys": {"a": base64.b64encode(b"short").decode()}}, "32 bytes"),
        ({"active": "a", "keys": {"a": "not base64!"}}, "32 bytes"),
        ({"active": "a", "keys": {"a": 7}}, "32 bytes"),
    ])
    def test_a_bad_file_is_refused_with_the_reason(self, tmp_path, data, says):
        with pytest.raises(KekUnavailable, match=says):
            keys.load(self.write(tmp_path, data))

    def test_no_file_configured_is_refused(self, monkeypatch):
        monkeypatch.delenv("PERSONAL_DATA_KEK_FILE", raising=False)
        with pytest.raises(KekUnavailable, match="set PERSONAL_DATA_KEK_FILE"):
            keys.load()

    def test_a_missing_file_is_refused(self, tmp_path):
        with pytest.raises(KekUnavailable, match="cannot be read"):
            keys.load(str(tmp_path / "absent.json"))


class TestSealAndOpen:
    async def test_the_table_holds_only_wrapped_keys(self, db):
        sealed = await sealed_people(db, ONLY_A)
        stored = await rows(db)
        assert {r.kek_id for r in stored} == {"a"} and len(stored) == len(PEOPLE)
        for row in stored:  # the stored bytes, or any 32 of them, open nothing
            candidates = [row.wrapped_key[i:i + 32] for i in range(len(row.wrapped_key) - 31)]
            for key in candidates:
                with pytest.raises(personal.Erased):
                    async with db.reading() as conn:
                        await personal.open_sealed(conn, sealed[row.key_id[7:]],
                                                   _plain(row.key_id, key))
        assert await opened(db, sealed["m-3"], ONLY_A) == person(3)

    async def test_without_a_kek_nothing_is_sealed_or_opened(self, db, monkeypatch):
        sealed = await sealed_people(db, ONLY_A)
        monkeypatch.delenv("PERSONAL_DATA_KEK_FILE", raising=False)
        with pytest.raises(KekUnavailable, match="PERSONAL_DATA_KEK_FILE"):
            await opened(db, sealed["m-0"], None)
        with pytest.raises(KekUnavailable, match="PERSONAL_DATA_KEK_FILE"):
            async with db.transaction() as conn:
                await personal.seal(conn, "m-new", person(), None)

    async def test_with_the_wrong_kek_nothing_opens(self, db):
        sealed = await sealed_people(db, ONLY_A)
        with pytest.raises(KekUnavailable):
            await opened(db, sealed["m-0"], Keks("a", {"a": C}))

    async def test_data_sealed_with_a_birth_year_opens_as_it_was(self, db):
        async with db.transaction() as conn:
            sealed = await personal.seal(conn, "old", person(), ONLY_A)
        key = ONLY_A.unwrap("a", "person-old", (await rows(db))[0].wrapped_key)
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415
        nonce = os.urandom(12)
        old = AESGCM(key).encrypt(nonce, b'{"name":"\\uc704\\uc6d0","birth_year":1980}',
                                  b"person-old")
        sealed = SealedPersonal(key_id=sealed.key_id,
                                ciphertext=base64.b64encode(nonce + old).decode())
        found = await opened(db, sealed, ONLY_A)
        assert found.model_dump() == {"name": "위원", "birth_year": 1980}


def _plain(key_id: str, key: bytes) -> Keks:
    """A 'KEK' that hands back `key` as the person key: to try raw bytes as keys."""
    class Raw(Keks):
        def unwrap(self, kek_id, key_id, wrapped):  # noqa: ARG002
            return key
    return Raw("a", {"a": A})


class TestRotation:
    async def test_rotation_rewraps_every_key_in_batches_and_every_key_still_opens(self, db):
        sealed = await sealed_people(db, ONLY_A)
        done = await keys.rewrap(db, A_AND_B, batch_size=3)
        assert (done.rewrapped, done.wrapped_plain, done.batches, done.under_active) == (
            7, 0, 3, 7)
        assert {r.kek_id for r in await rows(db)} == {"b"}
        for n, member in enumerate(PEOPLE):
            assert await opened(db, sealed[member], A_AND_B) == person(n)

    async def test_rotation_is_idempotent(self, db):
        await sealed_people(db, ONLY_A)
        await keys.rewrap(db, A_AND_B)
        before = await rows(db)
        again = await keys.rewrap(db, A_AND_B)
        assert (again.rewrapped, again.batches, again.under_active) == (0, 0, 7)
        assert await rows(db) == before

    async def test_after_rotation_the_old_kek_can_be_dropped(self, db):
        sealed = await sealed_people(db, ONLY_A)
        await keys.rewrap(db, A_AND_B)
        for n, member in enumerate(PEOPLE):
            assert await opened(db, sealed[member], ONLY_B) == person(n)

    async def test_before_rotation_the_old_kek_cannot_be_dropped(self, db):
        sealed = await sealed_people(db, ONLY_A)
        with pytest.raises(KekUnavailable, match="rotate-kek"):
            await opened(db, sealed["m-0"], ONLY_B)
        with pytest.raises(KekUnavailable, match="KEK 'a'"):
            await keys.rewrap(db, ONLY_B)  # nothing to unwrap with: said, not skipped

    async def test_erasure_still_works_after_rotation(self, db):
        sealed = await sealed_people(db, ONLY_A)
        await keys.rewrap(db, A_AND_B)
        async with db.transaction() as conn:
            assert await personal.destroy_key(conn, "m-2")
        with pytest.raises(personal.Erased, match="erased"):
            await opened(db, sealed["m-2"], ONLY_B)
        assert await opened(db, sealed["m-1"], ONLY_B) == person(1)

    async def test_new_seals_after_rotation_use_the_new_kek(self, db):
        await sealed_people(db, ONLY_A)
        async with db.transaction() as conn:
            sealed = await personal.seal(conn, "m-new", person(), A_AND_B)
        assert {r.key_id: r.kek_id for r in await rows(db)}["person-m-new"] == "b"
        assert await opened(db, sealed, ONLY_B) == person()


class TestPlainKeysFromBefore:
    """Revision 0002 stored plain keys; 0003 leaves them with kek_id NULL until the
    service starts and wraps them."""

    async def test_plain_keys_are_wrapped_and_still_open(self, db):
        key = os.urandom(32)
        async with db.transaction() as conn:
            await conn.execute(insert(personal.person_keys).values(
                key_id="person-old", kek_id=None, wrapped_key=key))
            sealed = await personal.seal(conn, "old", person(), ONLY_A)  # the plain key
        done = await keys.rewrap(db, ONLY_A, plain_only=True)
        assert (done.wrapped_plain, done.rewrapped) == (1, 0)
        [row] = await rows(db)
        assert row.kek_id == "a" and key not in row.wrapped_key
        assert await opened(db, sealed, ONLY_A) == person()

    async def test_no_copy_of_a_plain_key_stays_in_the_database_files(self, db, tmp_path):
        key = os.urandom(32)
        async with db.transaction() as conn:
            await conn.execute(insert(personal.person_keys).values(
                key_id="person-old", kek_id=None, wrapped_key=key))

        def files() -> bytes:  # what a file-level backup would copy
            return b"".join(p.read_bytes() for p in tmp_path.glob("committee.db*"))
        assert key in files()  # the control: a plain key is found where it lies
        await keys.rewrap(db, ONLY_A, plain_only=True)
        assert key not in files()

    async def test_at_start_without_a_kek_the_service_refuses(self, db, monkeypatch):
        monkeypatch.delenv("PERSONAL_DATA_KEK_FILE", raising=False)

        class Service:
            pass
        service = Service()
        service.db = db
        with pytest.raises(KekUnavailable):
            await keys.wrap_plain_keys(service)


def hyeopchi(*argv: str) -> int:
    """The command line as an operator runs it; its exit code."""
    from tools.cli import main  # noqa: PLC0415
    try:
        main(list(argv))
    except SystemExit as done:
        return done.code
    return 0


def committee_schema():
    from tools.migrations import schema  # noqa: PLC0415
    return schema("committee")


class TestRotateKekCommand:
    """`hyeopchi rotate-kek` on a migrated SQLite database."""

    @pytest.fixture
    def migrated(self, tmp_path):
        from shared import migrate  # noqa: PLC0415
        url = f"sqlite:///{tmp_path / 'committee.db'}"
        migrate.upgrade(url, committee_schema())
        return url

    def kek_file(self, tmp_path, keks: Keks):
        path = tmp_path / "kek.json"
        path.write_text(json.dumps({"active": keks.active, "keys": {
            i: base64.b64encode(k).decode() for i, k in keks.keys.items()}}))
        return str(path)

    async def test_rotates_reports_and_is_idempotent(self, migrated, tmp_path, monkeypatch,
                                                     capsys):
        db = Database(migrated, personal.write_side)
        sealed = await sealed_people(db, ONLY_A)
        await db.dispose()
        monkeypatch.setenv("PERSONAL_DATA_KEK_FILE", self.kek_file(tmp_path, A_AND_B))
        assert await asyncio.to_thread(
            hyeopchi, "rotate-kek", "--database-url", migrated, "--batch-size", "4") == 0
        assert capsys.readouterr().out.strip() == (
            "rotate-kek: person keys under KEK 'b': 7 (7 re-wrapped from older KEKs, "
            "0 plain keys wrapped, in 2 batches)")
        assert await asyncio.to_thread(keys.main, committee_schema(), migrated) == 0
        assert "7 (0 re-wrapped" in capsys.readouterr().out
        db = Database(migrated, personal.write_side)
        assert await opened(db, sealed["m-6"], ONLY_B) == person(6)
        await db.dispose()

    def test_without_a_kek_file_it_refuses(self, migrated, monkeypatch, capsys):
        monkeypatch.delenv("PERSONAL_DATA_KEK_FILE", raising=False)
        assert keys.main(committee_schema(), database_url=migrated) == 1
        assert "set PERSONAL_DATA_KEK_FILE" in capsys.readouterr().err

    def test_an_unmigrated_database_is_named(self, tmp_path, monkeypatch, capsys):
        monkeypatch.setenv("PERSONAL_DATA_KEK_FILE", self.kek_file(tmp_path, ONLY_A))
        assert keys.main(committee_schema(), database_url=f"sqlite:///{tmp_path / 'empty.db'}") == 1
        assert "hyeopchi migrate committee upgrade" in capsys.readouterr().err

    def test_a_batch_size_below_one_is_refused(self, migrated, capsys):
        assert keys.main(committee_schema(), database_url=migrated, batch_size=0) == 2
        assert "--batch-size" in capsys.readouterr().err
