"""Members' keys and deposited personal data in this service's write-side tables
(app/personal.py): the SQL side of the handlers' `PersonalData` port."""
from __future__ import annotations

from ..app import personal
from ..domain.events import Personal, SealedPersonal


class SqlPersonalData:
    def key_id_of(self, member_id: str) -> str:
        return personal.key_id_of(member_id)

    async def take_deposit(self, uow, ref: str, committee_id: str,
                           member_id: str) -> Personal:
        return await personal.take_deposit(uow.conn, ref, committee_id, member_id)

    async def seal(self, uow, member_id: str, data: Personal) -> SealedPersonal:
        return await personal.seal(uow.conn, member_id, data)

    async def committees_of(self, uow, member_id: str) -> list[str]:
        return await personal.committees_of(uow.conn, member_id)

    async def destroy_key(self, uow, member_id: str) -> bool:
        return await personal.destroy_key(uow.conn, member_id)
