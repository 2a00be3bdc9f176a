"""Every submission command through the one dispatch, on an in-memory store and an
in-memory submission-id index: no database. A cycle walks from opening to closing
with reports submitted, amended, withdrawn and reopened; refusals store nothing."""
from __future__ import annotations

import functools
import json
import shutil
import typing
from datetime import timedelta

import pytest

from services.submission.adapters.access import POLICY
from services.submission.app import commands as c
from services.submission.app.handlers import handlers
from services.submission.domain.errors import (DeadlinePassed, DuplicateSubmission,
                                               InvalidState, RuleBroken, SubmissionRefused,
                                               UnknownInstitution, WrongYear)
from services.submission.domain.events import registry
from services.submission.domain.rulebook import RULEBOOK_DIR, load_rulebook
from shared.application import Application, Repository
from shared.auth import Forbidden, Principal
from tests.support.memory import InMemoryEvents, run

from .submission.builders import AFTER, BEFORE, DEADLINE, full_report, na, result

OFFICE = Principal("gov-1", "governance_officer")
PANEL = Principal("panel-1", "panel_member")
REGISTRY = Principal("seoul-org-registry", "city_system", kind="system")
SUBMITTER = Principal("sub-1", "institution_submitter", institution_id="bureau-1")
OTHER_SUBMITTER = Principal("sub-2", "institution_submitter", institution_id="bureau-2")


class MemorySubmissionIds:
    class Used(typing.NamedTuple):
        year: int
        institution_id: str

    def __init__(self):
        self.rows: dict[str, MemorySubmissionIds.Used] = {}

    async def used(self, uow, submission_id):
        return self.rows.get(submission_id)

    async def add(self, uow, submission_id, year, institution_id):
        assert submission_id not in self.rows  # the primary key
        self.rows[submission_id] = self.Used(year, institution_id)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def events():
    return InMemoryEvents("submission")


@pytest.fixture
def ids():
    return MemorySubmissionIds()


@pytest.fixture
def clock():
    return Clock(BEFORE)


@pytest.fixture
def app(events, ids, clock):
    return Application(Repository(events, registry), handlers(ids, clock), POLICY)


def test_the_handler_table_covers_every_command_type():
    union = typing.get_args(typing.get_args(c.Command)[0])
    types = {model.model_fields["command_type"].default for model in union}
    assert types == set(handlers(MemorySubmissionIds()))


async def _opened(app, *institutions: str):
    await run(app, c.OpenCycle(year=2021, deadline=DEADLINE), OFFICE)
    for institution in institutions:
        await run(app, c.RegisterInstitution(institution_id=institution, name_ko="문화본부",
                                             kind="bureau", division_count=3), OFFICE)


def _submit(submission_id="sub-1", institution="bureau-1", **more):
    return dict(year=2021, institution_id=institution, submission_id=submission_id,
                results=full_report(), **more)


async def test_a_cycle_from_opening_to_closing(app, events, ids, clock):
    await _opened(app, "bureau-1")
    await run(app, c.SetDeadline(year=2021, deadline=DEADLINE + timedelta(days=7),
                                 reason="연장"), OFFICE)
    await run(app, c.SetFieldOfficeTreatment(institution_id="bureau-1",
                                             treated_as_field_office=True, reason="소규모"),
              PANEL)
    await run(app, c.SubmitReport(**_submit()), SUBMITTER)
    results = [r for r in full_report() if r.indicator_id != "governance-case"]
    await run(app, c.AmendReport(**{**_submit("sub-2"), "results": results},
                                 not_applicable=[na("governance-case")], reason="정정"),
              SUBMITTER)
    await run(app, c.WithdrawReport(year=2021, institution_id="bureau-1", reason="철회"),
              SUBMITTER)
    await run(app, c.CloseCycle(year=2021, reason="마감"), OFFICE)
    await run(app, c.ReopenReport(year=2021, institution_id="bureau-1",
                                  until=AFTER + timedelta(days=3), reason="사유 인정"), OFFICE)
    clock.now = AFTER
    await run(app, c.SubmitReport(**_submit("sub-3")), SUBMITTER)
    assert events.types("cycle-2021") == [
        "submission.CycleOpened", "submission.DeadlineSet", "submission.CycleClosed"]
    assert events.types("institution-bureau-1") == [
        "submission.InstitutionRegistered", "submission.FieldOfficeTreatmentSet"]
    assert events.types("report-2021-bureau-1") == [
        "submission.ReportSubmitted", "submission.ReportAmended",
        "submission.IndicatorMarkedNotApplicable", "submission.ReportWithdrawn",
        "submission.ReportReopened", "submission.ReportSubmitted"]
    late = events.streams["report-2021-bureau-1"][-1]
    assert late.payload["late"] is True and late.actor.id == "sub-1"
    assert set(ids.rows) == {"sub-1", "sub-2", "sub-3"}


async def test_a_city_system_registers_institutions(app, events):
    await run(app, c.RegisterInstitution(institution_id="hq-1", name_ko="본부",
                                         kind="headquarters"), REGISTRY)
    assert events.types("institution-hq-1") == ["submission.InstitutionRegistered"]
    assert events.streams["institution-hq-1"][0].actor.kind == "system"


async def test_a_rulebook_revision_replaces_the_rules(events, ids, clock, tmp_path):
    shipped = RULEBOOK_DIR / "2021.json"
    shutil.copy(shipped, tmp_path / "2021.json")
    v2 = {**json.loads(shipped.read_text(encoding="utf-8")), "version": 2}
    (tmp_path / "2021-v2.json").write_text(json.dumps(v2, ensure_ascii=False),
                                           encoding="utf-8")
    delivered = functools.partial(load_rulebook, directory=tmp_path)  # the operators'
    app = Application(Repository(events, registry),
                      handlers(ids, clock, rulebooks=delivered), POLICY)
    await _opened(app)
    await run(app, c.ReviseRulebook(year=2021, version=2, reason="개정"), OFFICE)
    assert events.types("cycle-2021")[-1] == "submission.RulebookRevised"
    with pytest.raises(WrongYear, match="2021-v3.json"):
        await run(app, c.ReviseRulebook(year=2021, version=3, reason="없는 판"), OFFICE)


def test_the_rulebook_folder_comes_from_the_settings(tmp_path, monkeypatch):
    from services.submission import __main__ as submission  # noqa: PLC0415
    monkeypatch.setenv("RULEBOOK_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="2021.json"):
        submission.rulebooks()(2021, 1)                  # nothing delivered there yet
    monkeypatch.delenv("RULEBOOK_DIR")
    assert submission.rulebooks()(2021, 1).year == 2021  # the shipped ones


async def test_refusals_name_their_rule_and_store_nothing(app, events, ids, clock):
    with pytest.raises(WrongYear, match="no evaluation cycle"):
        await run(app, c.SubmitReport(**_submit()), SUBMITTER)
    with pytest.raises(WrongYear, match="no rulebook for 2000"):
        await run(app, c.OpenCycle(year=2000, deadline=DEADLINE), OFFICE)
    await _opened(app, "bureau-1")
    with pytest.raises(InvalidState, match="already open"):
        await run(app, c.OpenCycle(year=2021, deadline=DEADLINE), OFFICE)
    with pytest.raises(UnknownInstitution):
        await run(app, c.SubmitReport(**_submit(institution="bureau-2")), OTHER_SUBMITTER)
    with pytest.raises(InvalidState, match="already registered"):
        await run(app, c.RegisterInstitution(institution_id="bureau-1", name_ko="x",
                                             kind="bureau"), OFFICE)
    with pytest.raises(InvalidState, match="no 2021 report to amend"):
        await run(app, c.AmendReport(**_submit(), reason="x"), SUBMITTER)
    with pytest.raises(RuleBroken, match="more than once"):
        await run(app, c.SubmitReport(**{**_submit(), "results": [
            result("committee-meetings"), result("committee-meetings")]}), SUBMITTER)
    before = len(events.all())
    assert not ids.rows and "report-2021-bureau-1" not in events.streams
    await run(app, c.SubmitReport(**_submit()), SUBMITTER)
    await run(app, c.RegisterInstitution(institution_id="bureau-2", name_ko="y",
                                         kind="bureau"), OFFICE)
    with pytest.raises(DuplicateSubmission, match="already used by bureau-1 for 2021"):
        await run(app, c.SubmitReport(**_submit(institution="bureau-2")), OTHER_SUBMITTER)
    with pytest.raises(Forbidden):  # a submitter acts only for its own institution
        await run(app, c.SubmitReport(**_submit("sub-9", institution="bureau-2")),
                  SUBMITTER)
    with pytest.raises(Forbidden):
        await run(app, c.CloseCycle(year=2021, reason="x"), SUBMITTER)
    clock.now = AFTER
    with pytest.raises(DeadlinePassed):
        await run(app, c.WithdrawReport(year=2021, institution_id="bureau-1", reason="x"),
                  SUBMITTER)
    with pytest.raises(InvalidState, match="in the future"):
        await run(app, c.ReopenReport(year=2021, institution_id="bureau-1",
                                      until=BEFORE, reason="x"), OFFICE)
    assert len(events.all()) == before + 2  # the one report and bureau-2's registration
    assert set(ids.rows) == {"sub-1"}


async def test_every_refusal_is_a_submission_refusal_with_a_kind(app):
    with pytest.raises(SubmissionRefused) as refused:
        await run(app, c.CloseCycle(year=2021, reason="x"), OFFICE)
    assert refused.value.kind == "wrong-year"
