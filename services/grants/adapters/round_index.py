"""Which applications a grant round holds (a write-side table, not an event stream):
the SQL side of the handlers' `RoundApplications` port."""
from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, insert, select, text

write_side = MetaData()
# One row per application; one project per organisation is the round's rule.
round_applications = Table(
    "round_applications", write_side,
    Column("round_id", String(20), primary_key=True),
    Column("application_id", String(100), primary_key=True),
    Column("organisation_id", String(100), nullable=False))


class SqlRoundApplications:
    async def of_round(self, uow, round_id: str) -> list[str]:
        rows = await uow.conn.execute(select(round_applications.c.application_id).where(
            round_applications.c.round_id == round_id).order_by(
            round_applications.c.application_id))
        return list(rows.scalars().all())

    async def of_organisation(self, uow, round_id: str, organisation_id: str) -> str | None:
        if uow.conn.dialect.name == "postgresql":
            # Two intakes of one organisation touch no common stream: they queue here
            # so the second sees the first's row (SQLite's BEGIN IMMEDIATE queues all).
            await uow.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {
                "key": f"grants-intake:{round_id}:{organisation_id}"})
        return (await uow.conn.execute(select(round_applications.c.application_id).where(
            round_applications.c.round_id == round_id,
            round_applications.c.organisation_id == organisation_id))).scalar()

    async def add(self, uow, round_id: str, application_id: str,
                  organisation_id: str) -> None:
        await uow.conn.execute(insert(round_applications).values(
            round_id=round_id, application_id=application_id,
            organisation_id=organisation_id))
