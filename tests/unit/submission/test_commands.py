"""The public command contract (Kafka `CommandMessage`, HTTP `command` body)."""
from __future__ import annotations

import json
import pytest
from pydantic import TypeAdapter, ValidationError

from services.submission.app.commands import (AmendReport, CloseCycle, Command,
                                              CommandMessage, OpenCycle, RegisterInstitution,
                                              ReopenReport, SetDeadline,
                                              SetFieldOfficeTreatment, SubmitReport,
                                              WithdrawReport)
from services.submission.domain.events import DeadlineSet
from services.submission.domain.report import Report, report_stream

from .builders import AFTER, BEFORE, na, open_cycle

SUBMIT = {
    "command_type": "SubmitReport",
    "year": 2021,
    "institution_id": "seoul.culture-bureau:01",
    "submission_id": "sub-2021-0001",
    "results": [
        {"indicator_id": "committee-meetings",
         "meeting_records": [{"committee_id": "c-1", "held_on": "2021-03-04",
                              "mode": "hybrid", "minutes_ref": "minutes/2021-03-04.pdf"}]},
        {"indicator_id": "governance-education",
         "online_completions": {"local-governance": 7}},
    ],
    "not_applicable": [{"indicator_id": "governance-case", "reason": "없음"}],
}


def message(command=None, **overrides) -> str:
    body = {"command_id": "cmd-0001", "token": "header.claims.signature",
            "command": SUBMIT if command is None else command, **overrides}
    return json.dumps(body, ensure_ascii=False)


def errors(raw: str, model=CommandMessage) -> list[tuple[str, tuple]]:
    with pytest.raises(ValidationError) as invalid:
        model.model_validate_json(raw)
    return [(e["type"], e["loc"]) for e in invalid.value.errors()]


def test_valid_submit_report_message():
    parsed = CommandMessage.model_validate_json(message(correlation_id="corr-1"))
    assert parsed.schema_version == 2
    assert parsed.token == "header.claims.signature"  # verified by the decoder
    assert parsed.correlation_id == "corr-1"
    command = parsed.command
    assert isinstance(command, SubmitReport) and not isinstance(command, AmendReport)
    assert command.institution_id == "seoul.culture-bureau:01"
    assert [r.indicator_id for r in command.results] == ["committee-meetings",
                                                         "governance-education"]
    assert command.results[0].meeting_records[0].held_on.isoformat() == "2021-03-04"
    assert command.results[1].online_completions == {"local-governance": 7}
    assert command.not_applicable[0].reason == "없음"


def test_correlation_id_is_optional():
    assert CommandMessage.model_validate_json(message()).correlation_id is None


REASON = {"reason": "r"}
EVERY_COMMAND = [
    (OpenCycle, {"year": 2021, "deadline": "2021-11-30T18:00:00+09:00"}),
    (SetDeadline, {"year": 2021, "deadline": "2021-12-10T18:00:00+09:00", **REASON}),
    (CloseCycle, {"year": 2021, **REASON}),
    (RegisterInstitution, {"institution_id": "i-1", "name_ko": "문화본부", "kind": "bureau"}),
    (SetFieldOfficeTreatment, {"institution_id": "i-1", "treated_as_field_office": True,
                               **REASON}),
    (SubmitReport, {"year": 2021, "institution_id": "i-1", "submission_id": "s-1"}),
    (AmendReport, {"year": 2021, "institution_id": "i-1", "submission_id": "s-2", **REASON}),
    (WithdrawReport, {"year": 2021, "institution_id": "i-1", **REASON}),
    (ReopenReport, {"year": 2021, "institution_id": "i-1",
                    "until": "2021-12-03T18:00:00+09:00", **REASON}),
]


@pytest.mark.parametrize("model, fields", EVERY_COMMAND, ids=lambda v: getattr(v, "__name__", ""))
def test_command_type_selects_the_model(model, fields):
    command = {"command_type": model.__name__, **fields}
    assert type(CommandMessage.model_validate_json(message(command)).command) is model
    # over HTTP the command object alone is the body
    assert type(TypeAdapter(Command).validate_json(json.dumps(command))) is model


def test_missing_token_is_refused():
    raw = json.loads(message())
    del raw["token"]
    assert errors(json.dumps(raw)) == [("missing", ("token",))]


def test_a_bare_actor_is_no_longer_accepted():
    bad = message(actor={"id": "a", "role": "r", "kind": "system"})
    assert ("extra_forbidden", ("actor",)) in errors(bad)


def test_unknown_command_type_names_the_discriminator():
    with pytest.raises(ValidationError) as invalid:
        CommandMessage.model_validate_json(message({**SUBMIT, "command_type": "DeleteAll"}))
    (error,) = invalid.value.errors()
    assert error["type"] == "union_tag_invalid"
    assert "command_type" in error["msg"] and "DeleteAll" in error["msg"]
    assert "SubmitReport" in error["msg"]


def test_missing_command_type_names_the_discriminator():
    command = {k: v for k, v in SUBMIT.items() if k != "command_type"}
    with pytest.raises(ValidationError, match="discriminator 'command_type'"):
        CommandMessage.model_validate_json(message(command))


def test_extra_field_in_the_message_is_refused():
    assert errors(message(priority="high")) == [("extra_forbidden", ("priority",))]


def test_extra_field_in_the_command_is_refused():
    assert errors(message({**SUBMIT, "late": True})) == [
        ("extra_forbidden", ("command", "SubmitReport", "late"))]


def test_extra_field_in_a_result_is_refused():
    result = {"indicator_id": "governance-case", "cases": [], "score": 100}
    assert errors(message({**SUBMIT, "results": [result]})) == [
        ("extra_forbidden", ("command", "SubmitReport", "results", 0, "score"))]


def test_schema_version_1_is_refused():  # v1 carried an unverifiable actor
    assert errors(message(schema_version=1)) == [("literal_error", ("schema_version",))]


def test_schema_version_2_may_be_explicit():
    assert CommandMessage.model_validate_json(message(schema_version=2)).schema_version == 2


@pytest.mark.parametrize("bad_id", ["culture bureau", "", "문화본부", "a/b", "x" * 101])
def test_institution_id_outside_the_id_alphabet_is_refused(bad_id):
    found = errors(message({**SUBMIT, "institution_id": bad_id}))
    assert len(found) == 1
    assert found[0][1] == ("command", "SubmitReport", "institution_id")


def test_command_id_with_a_space_is_refused():
    assert errors(message(command_id="cmd 1")) == [("string_pattern_mismatch",
                                                   ("command_id",))]


@pytest.mark.parametrize("year", [1999, 2101])
def test_year_out_of_range_is_refused(year):
    assert [t for t, _ in errors(message({**SUBMIT, "year": year}))] == [
        "less_than_equal" if year > 2100 else "greater_than_equal"]


def test_amend_report_requires_a_reason():
    amend = {**SUBMIT, "command_type": "AmendReport", "submission_id": "sub-2021-0002"}
    assert errors(message(amend)) == [("missing", ("command", "AmendReport", "reason"))]
    assert errors(message({**amend, "reason": ""})) == [
        ("string_too_short", ("command", "AmendReport", "reason"))]
    parsed = CommandMessage.model_validate_json(message({**amend, "reason": "typo"}))
    assert isinstance(parsed.command, AmendReport) and parsed.command.reason == "typo"


def test_submit_report_takes_no_reason():
    assert errors(message({**SUBMIT, "reason": "x"})) == [
        ("extra_forbidden", ("command", "SubmitReport", "reason"))]


def test_more_than_50_results_are_refused():
    many = [{"indicator_id": "governance-case", "cases": []}] * 51
    assert errors(message({**SUBMIT, "results": many})) == [
        ("too_long", ("command", "SubmitReport", "results"))]


def test_command_is_frozen():
    parsed = CommandMessage.model_validate_json(message())
    with pytest.raises(ValidationError):
        parsed.command.year = 2022


# A time without a zone: the contract accepts `datetime`, the handlers compare it with
# an aware clock (shared.ids.utcnow; BEFORE/AFTER here are aware too). Either the contract refuses it, or the domain
# must be able to use it; a TypeError from deep in a decision is neither.
NAIVE_DEADLINE = "2021-11-30T18:00:00"
NAIVE_UNTIL = "2021-12-03T18:00:00"
INST = "i-1"


def _open_with_naive_deadline(c: OpenCycle):
    cycle = open_cycle(c.deadline)
    return Report(report_stream(2021, INST)).submit(cycle, INST, "s-1", [], _na(), BEFORE)


def _set_naive_deadline(c: SetDeadline):
    cycle = open_cycle(BEFORE, DeadlineSet(cycle_id="2021", deadline=c.deadline,
                                           reason=c.reason))
    return Report(report_stream(2021, INST)).submit(cycle, INST, "s-1", [], _na(), BEFORE)


def _reopen_until_naive(c: ReopenReport):
    return Report(report_stream(2021, INST)).reopen(open_cycle(), INST, c.until, c.reason,
                                                    AFTER)


def _na():
    return [na("governance-case")]


@pytest.mark.parametrize("model, fields, use", [
    (OpenCycle, {"year": 2021, "deadline": NAIVE_DEADLINE}, _open_with_naive_deadline),
    (SetDeadline, {"year": 2021, "deadline": NAIVE_DEADLINE, **REASON}, _set_naive_deadline),
    (ReopenReport, {"year": 2021, "institution_id": INST, "until": NAIVE_UNTIL, **REASON},
     _reopen_until_naive),
], ids=["OpenCycle.deadline", "SetDeadline.deadline", "ReopenReport.until"])
def test_time_without_zone_is_refused_by_contract_or_usable_by_domain(model, fields, use):
    try:
        command = model.model_validate_json(json.dumps(fields))
    except ValidationError:
        return  # refused at the contract: fine
    try:
        decided = use(command)
    except TypeError as crash:
        pytest.fail(f"{model.__name__} accepted {fields} but the domain then crashed "
                    f"comparing it with an aware clock: {crash!r}")
    assert decided
