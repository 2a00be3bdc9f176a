"""Which submission ids have been used (a write-side table, not an event stream):
submission ids are unique across all reports. The SQL side of the handlers'
`SubmissionIds` port."""
from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

write_side = MetaData()

submission_ids = Table(
    "submission_ids", write_side,
    Column("submission_id", String(100), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("institution_id", String(100), nullable=False),
)


class SqlSubmissionIds:
    async def used(self, uow, submission_id: str):
        return (await uow.conn.execute(select(submission_ids).where(
            submission_ids.c.submission_id == submission_id))).first()

    async def add(self, uow, submission_id: str, year: int, institution_id: str) -> None:
        # The primary key settles a race: the loser's transaction fails with an
        # IntegrityError, is decided again, and is refused as a duplicate.
        await uow.conn.execute(insert(submission_ids).values(
            submission_id=submission_id, year=year, institution_id=institution_id))
