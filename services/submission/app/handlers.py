"""Command handlers: load aggregates, let the domain decide, append the result.

Thin on purpose: all rules are in ../domain. Everything a command changes is
appended in the caller's transaction, so a refusal stores nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.envelope import Actor, Envelope
from shared.ids import utcnow
from shared.store import EventStore, Metadata

from ..domain.cycle import Cycle, cycle_stream
from ..domain.errors import (DuplicateSubmission, SubmissionRefused, UnknownInstitution,
                             WrongYear)
from ..domain.events import registry
from ..domain.institution import Institution, institution_stream
from ..domain.report import Report, report_stream
from ..domain.rulebook import load_rulebook
from .commands import (AmendReport, CloseCycle, OpenCycle, RegisterInstitution,
                       ReopenReport, ReviseRulebook, SetDeadline, SetFieldOfficeTreatment,
                       SubmitReport, WithdrawReport)
from .tables import submission_ids

Clock = Callable[[], datetime]


class SubmissionHandlers:
    def __init__(self, store: EventStore, clock: Clock = utcnow):
        self.store, self.clock = store, clock

    async def execute(self, conn: AsyncConnection, command, actor: Actor,
                      correlation_id: str, causation_id: str | None = None) -> list[Envelope]:
        meta = Metadata(actor=actor, correlation_id=correlation_id, causation_id=causation_id)
        handler = getattr(self, f"_{command.command_type}")
        stream, expected, events = await handler(conn, command)
        appended = await self.store.append(conn, stream, expected, events, meta)
        if isinstance(command, SubmitReport):  # AmendReport too: both use an id
            await conn.execute(insert(submission_ids).values(
                submission_id=command.submission_id, year=command.year,
                institution_id=command.institution_id))
        return appended

    async def _load(self, conn, kind, stream: str):
        envelopes = await self.store.read_stream(conn, stream)
        return kind(stream, [registry.decode(e.event_type, e.schema_version, e.payload)
                             for e in envelopes])

    async def _cycle(self, conn, year: int) -> Cycle:
        cycle = await self._load(conn, Cycle, cycle_stream(year))
        if not cycle.exists:
            raise WrongYear(f"there is no evaluation cycle for {year}")
        return cycle

    async def _institution(self, conn, institution_id: str) -> Institution:
        found = await self._load(conn, Institution, institution_stream(institution_id))
        if not found.exists:
            raise UnknownInstitution(f"institution {institution_id!r} is not registered")
        return found

    async def _report(self, conn, command) -> tuple[Cycle, Report]:
        cycle = await self._cycle(conn, command.year)
        await self._institution(conn, command.institution_id)
        report = await self._load(conn, Report, report_stream(command.year,
                                                              command.institution_id))
        return cycle, report

    async def _OpenCycle(self, conn, c: OpenCycle):
        try:
            rulebook = load_rulebook(c.year)
        except FileNotFoundError as missing:
            raise WrongYear(str(missing)) from missing
        cycle = await self._load(conn, Cycle, cycle_stream(c.year))
        return cycle.stream_id, cycle.version, cycle.open(c.year, rulebook, c.deadline)

    async def _SetDeadline(self, conn, c: SetDeadline):
        cycle = await self._cycle(conn, c.year)
        return cycle.stream_id, cycle.version, cycle.set_deadline(c.deadline, c.reason)

    async def _ReviseRulebook(self, conn, c: ReviseRulebook):
        cycle = await self._cycle(conn, c.year)
        try:
            rulebook = load_rulebook(c.year, c.version)
        except (FileNotFoundError, ValueError) as missing:
            raise WrongYear(str(missing)) from missing
        return cycle.stream_id, cycle.version, cycle.revise_rulebook(rulebook, c.reason)

    async def _CloseCycle(self, conn, c: CloseCycle):
        cycle = await self._cycle(conn, c.year)
        return cycle.stream_id, cycle.version, cycle.close(c.reason)

    async def _RegisterInstitution(self, conn, c: RegisterInstitution):
        found = await self._load(conn, Institution, institution_stream(c.institution_id))
        return found.stream_id, found.version, found.register(c.institution_id, c.name_ko,
                                                              c.kind, c.division_count)

    async def _SetFieldOfficeTreatment(self, conn, c: SetFieldOfficeTreatment):
        found = await self._institution(conn, c.institution_id)
        return found.stream_id, found.version, found.set_field_office_treatment(
            c.institution_id, c.treated_as_field_office, c.reason)

    async def _SubmitReport(self, conn, c: SubmitReport):
        cycle, report = await self._report(conn, c)
        await self._unused(conn, c.submission_id)
        return report.stream_id, report.version, report.submit(
            cycle, c.institution_id, c.submission_id, list(c.results),
            list(c.not_applicable), self.clock())

    async def _AmendReport(self, conn, c: AmendReport):
        cycle, report = await self._report(conn, c)
        await self._unused(conn, c.submission_id)
        return report.stream_id, report.version, report.amend(
            cycle, c.institution_id, c.submission_id, list(c.results),
            list(c.not_applicable), c.reason, self.clock())

    async def _WithdrawReport(self, conn, c: WithdrawReport):
        cycle, report = await self._report(conn, c)
        return report.stream_id, report.version, report.withdraw(
            cycle, c.institution_id, c.reason, self.clock())

    async def _ReopenReport(self, conn, c: ReopenReport):
        cycle, report = await self._report(conn, c)
        return report.stream_id, report.version, report.reopen(
            cycle, c.institution_id, c.until, c.reason, self.clock())

    @staticmethod
    async def _unused(conn, submission_id: str) -> None:
        used = (await conn.execute(select(submission_ids).where(
            submission_ids.c.submission_id == submission_id))).first()
        if used:
            raise DuplicateSubmission(
                f"submission id {submission_id!r} was already used by "
                f"{used.institution_id} for {used.year}")


__all__ = ["SubmissionHandlers", "SubmissionRefused"]
