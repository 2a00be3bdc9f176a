"""Command handlers of the submission service (결과보고서 명령 처리): one shape,
`handler(command, uow)`: load through the unit of work, let the domain decide, record.

Thin on purpose: all rules are in ../domain. Nothing is written until the unit of
work commits, in the edge's transaction, so a refusal stores nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from shared.application import Handler, UnitOfWork
from shared.ids import utcnow

from ..domain.cycle import Cycle, cycle_stream
from ..domain.errors import DuplicateSubmission, UnknownInstitution, WrongYear
from ..domain.institution import Institution, institution_stream
from ..domain.report import Report, report_stream
from ..domain.rulebook import Rulebook, load_rulebook
from . import commands as c

Clock = Callable[[], datetime]
# The rulebook of (year, version): files the operators deliver as data.
Rulebooks = Callable[[int, int], Rulebook]


class UsedSubmission(Protocol):
    year: int
    institution_id: str


class SubmissionIds(Protocol):
    """Submission ids are unique across all reports (SQL in adapters/submission_ids.py)."""

    async def used(self, uow: UnitOfWork, submission_id: str) -> UsedSubmission | None: ...

    async def add(self, uow: UnitOfWork, submission_id: str, year: int,
                  institution_id: str) -> None: ...


async def _cycle(uow: UnitOfWork, year: int) -> Cycle:
    return await uow.existing(Cycle, cycle_stream(year),
                              WrongYear(f"there is no evaluation cycle for {year}"))


async def _institution(uow: UnitOfWork, institution_id: str) -> Institution:
    return await uow.existing(Institution, institution_stream(institution_id), UnknownInstitution(
        f"institution {institution_id!r} is not registered"))


async def _report(uow: UnitOfWork, cmd) -> tuple[Cycle, Report]:
    cycle = await _cycle(uow, cmd.year)
    await _institution(uow, cmd.institution_id)
    return cycle, await uow.get(Report, report_stream(cmd.year, cmd.institution_id))


async def _unused(ids: SubmissionIds, uow: UnitOfWork, submission_id: str) -> None:
    used = await ids.used(uow, submission_id)
    if used:
        raise DuplicateSubmission(
            f"submission id {submission_id!r} was already used by "
            f"{used.institution_id} for {used.year}")


def open_cycle(rulebooks: Rulebooks) -> Handler:
    async def handle(cmd: c.OpenCycle, uow: UnitOfWork) -> None:
        try:
            rulebook = rulebooks(cmd.year, 1)
        except FileNotFoundError as missing:
            raise WrongYear(str(missing)) from missing
        cycle = await uow.get(Cycle, cycle_stream(cmd.year))
        uow.record(cycle, cycle.open(cmd.year, rulebook, cmd.deadline))
    return handle


async def set_deadline(cmd: c.SetDeadline, uow: UnitOfWork) -> None:
    cycle = await _cycle(uow, cmd.year)
    uow.record(cycle, cycle.set_deadline(cmd.deadline, cmd.reason))


def revise_rulebook(rulebooks: Rulebooks) -> Handler:
    async def handle(cmd: c.ReviseRulebook, uow: UnitOfWork) -> None:
        cycle = await _cycle(uow, cmd.year)
        try:
            rulebook = rulebooks(cmd.year, cmd.version)
        except (FileNotFoundError, ValueError) as missing:
            raise WrongYear(str(missing)) from missing
        uow.record(cycle, cycle.revise_rulebook(rulebook, cmd.reason))
    return handle


async def close_cycle(cmd: c.CloseCycle, uow: UnitOfWork) -> None:
    cycle = await _cycle(uow, cmd.year)
    uow.record(cycle, cycle.close(cmd.reason))


async def register_institution(cmd: c.RegisterInstitution, uow: UnitOfWork) -> None:
    found = await uow.get(Institution, institution_stream(cmd.institution_id))
    uow.record(found, found.register(cmd.institution_id, cmd.name_ko, cmd.kind,
                                     cmd.division_count))


async def set_field_office_treatment(cmd: c.SetFieldOfficeTreatment,
                                     uow: UnitOfWork) -> None:
    found = await _institution(uow, cmd.institution_id)
    uow.record(found, found.set_field_office_treatment(
        cmd.institution_id, cmd.treated_as_field_office, cmd.reason))


def submit_report(ids: SubmissionIds, clock: Clock) -> Handler:
    async def handle(cmd: c.SubmitReport, uow: UnitOfWork) -> None:
        cycle, report = await _report(uow, cmd)
        await _unused(ids, uow, cmd.submission_id)
        events = report.submit(cycle, cmd.institution_id, cmd.submission_id,
                               list(cmd.results), list(cmd.not_applicable), clock())
        uow.record(report, events)
        await ids.add(uow, cmd.submission_id, cmd.year, cmd.institution_id)
    return handle


def amend_report(ids: SubmissionIds, clock: Clock) -> Handler:
    async def handle(cmd: c.AmendReport, uow: UnitOfWork) -> None:
        cycle, report = await _report(uow, cmd)
        await _unused(ids, uow, cmd.submission_id)
        events = report.amend(cycle, cmd.institution_id, cmd.submission_id,
                              list(cmd.results), list(cmd.not_applicable), cmd.reason,
                              clock())
        uow.record(report, events)
        await ids.add(uow, cmd.submission_id, cmd.year, cmd.institution_id)
    return handle


def withdraw_report(clock: Clock) -> Handler:
    async def handle(cmd: c.WithdrawReport, uow: UnitOfWork) -> None:
        cycle, report = await _report(uow, cmd)
        uow.record(report, report.withdraw(cycle, cmd.institution_id, cmd.reason, clock()))
    return handle


def reopen_report(clock: Clock) -> Handler:
    async def handle(cmd: c.ReopenReport, uow: UnitOfWork) -> None:
        cycle, report = await _report(uow, cmd)
        uow.record(report, report.reopen(cycle, cmd.institution_id, cmd.until, cmd.reason,
                                         clock()))
    return handle


def handlers(ids: SubmissionIds, clock: Clock = utcnow, *,
             rulebooks: Rulebooks = load_rulebook) -> dict[str, Handler]:
    """The handler table: command type → handler."""
    return {
        "OpenCycle": open_cycle(rulebooks), "SetDeadline": set_deadline,
        "ReviseRulebook": revise_rulebook(rulebooks), "CloseCycle": close_cycle,
        "RegisterInstitution": register_institution,
        "SetFieldOfficeTreatment": set_field_office_treatment,
        "SubmitReport": submit_report(ids, clock), "AmendReport": amend_report(ids, clock),
        "WithdrawReport": withdraw_report(clock), "ReopenReport": reopen_report(clock),
    }
