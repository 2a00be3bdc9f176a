"""Reasons for refusing a record never repeat what it held (privacy audit).

A refused record's reason lands in `x-dlq-reason`, in log lines and in
`CommandRejected` details; pydantic's str(ValidationError) quotes `input_value`,
SQLAlchemy's quotes the SQL parameters, psycopg's the `DETAIL: Key (…)=(…)` row.
"""
from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.exc import IntegrityError
from structlog.testing import capture_logs

from shared.commands import command_decoder, command_message
from shared.consumer import ReliableHandler
from shared.deadletter import DeadLetters, Delivery, header
from tools.dlq_admin import (NotRedrivable, Parked, details, one_line, redrive_plan,
                              select)
from shared.projection import ProjectionRunner
from shared.registry import DomainEvent, EventRegistry, InvalidPayload
from shared.reasons import reason, scrub

NAME = "홍길동" + "가나다라마바사아자차카타파하" * 10  # a long Korean name (over 100)
SHORT = "김철수"


class Personal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    birth_year: int | None = None


class Appoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command_type: Literal["AppointMember"] = "AppointMember"
    member_id: str
    personal: Personal


class Dismiss(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command_type: Literal["DismissMember"] = "DismissMember"
    member_id: str


Command = Annotated[Appoint | Dismiss, Field(discriminator="command_type")]


class Meeting(BaseModel):
    attendees: list[Personal]
    notes: dict[str, int] = {}


class Echoing(BaseModel):
    name: str

    @field_validator("name")
    @classmethod
    def _no_digits(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError(f"{value} is not a name")  # a careless validator
        return value


def validation_error(model, data) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    assert NAME[:3] in str(caught.value) or SHORT in str(caught.value)  # pydantic quotes it
    return caught.value


def assert_no_trace(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, text
        assert secret[:3] not in text, text  # not even the family name and given name


def test_a_too_long_name_is_located_not_quoted():
    error = validation_error(Appoint, {"member_id": "m-1", "personal": {"name": NAME}})
    why = reason(error)
    assert_no_trace(why, NAME)
    assert why.startswith("ValidationError: 1 error(s) for Appoint: ")
    assert "personal.name: String should have at most 100 characters" in why
    assert "input_value" not in why and "input_type" not in why


def test_an_unknown_field_holding_a_name_is_named_by_its_key_only():
    error = validation_error(Appoint, {"member_id": "m-1", "personal": {"name": "x"},
                                       "nickname": SHORT, SHORT: SHORT})
    why = reason(error)
    assert_no_trace(why, SHORT)
    assert "nickname: Extra inputs are not permitted" in why
    assert "*: Extra inputs are not permitted" in why  # a key that is not a field name


def test_nested_lists_and_dict_keys_give_a_path_without_values():
    error = validation_error(Meeting, {"attendees": [{"name": "ok"}, {"name": NAME}],
                                       "notes": {SHORT: SHORT}})
    why = reason(error)
    assert_no_trace(why, NAME, SHORT)
    assert "attendees.1.name: String should have at most 100 characters" in why
    assert "notes.*: Input should be a valid integer" in why


def test_a_union_tag_holding_a_name_is_not_repeated():
    class Message(BaseModel):
        command: Command
    error = validation_error(Message, {"command": {"command_type": SHORT}})
    why = reason(error)
    assert_no_trace(why, SHORT)
    assert "command: tag does not match any of the expected tags" in why
    assert "AppointMember" in why
    # A tag that is an identifier (a command type that does not exist) is named.
    unknown = validation_error(Message, {"command": {"command_type": "DropAllTables",
                                                     "name": SHORT}})
    assert "command: tag 'DropAllTables' does not match" in reason(unknown)


def test_an_event_payload_wrapped_by_the_registry_is_summarised_the_same_way():
    registry = EventRegistry()

    @registry.register
    class Appointed(DomainEvent):
        event_type = "test.Appointed"
        people: dict[str, Personal]
    with pytest.raises(InvalidPayload) as caught:
        registry.decode("test.Appointed", 1, {"people": {SHORT: {"name": NAME}}})
    why = reason(caught.value)
    assert_no_trace(why, NAME, SHORT)
    assert why.startswith("InvalidPayload: test.Appointed v1 payload is invalid: 1 error(s)")
    assert "people.*.name: String should have at most 100 characters" in why


def test_a_validator_that_echoes_its_input_is_reduced_to_its_kind():
    error = validation_error(Echoing, {"name": SHORT + "1"})
    why = reason(error)
    assert_no_trace(why, SHORT)
    assert "name: value_error" in why


def test_many_errors_are_counted_and_the_first_few_shown():
    error = validation_error(Meeting, {"attendees": [{"name": NAME}] * 8})
    why = reason(error)
    assert_no_trace(why, NAME)
    assert "8 error(s)" in why and "(and 3 more)" in why


def test_json_errors_give_a_position_not_content():
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads('{"name": 홍길동}')
    why = reason(caught.value)
    assert why == "JSONDecodeError: Expecting value at line 1 column 10 (char 9)"
    with pytest.raises(ValidationError) as bad_json:
        Appoint.model_validate_json(f'{{"member_id": "m", "personal": {{"name": {SHORT}}}}}')
    assert_no_trace(reason(bad_json.value), SHORT)
    assert "Invalid JSON" in reason(bad_json.value)


def test_database_errors_keep_the_constraint_not_the_row():
    driver = Exception('duplicate key value violates unique constraint "members_pkey"\n'
                       f"DETAIL:  Key (name)=({SHORT}) already exists.")
    error = IntegrityError("INSERT INTO members (name) VALUES (%(name)s)",
                           {"name": SHORT}, driver)
    assert SHORT in str(error)
    why = reason(error)
    assert_no_trace(why, SHORT)
    assert why == ('IntegrityError: Exception: duplicate key value violates unique '
                   'constraint "members_pkey"')


def test_our_own_messages_are_kept_whole():
    assert reason(LookupError("meeting m-1 is not scheduled")) == \
        "LookupError: meeting m-1 is not scheduled"


def test_scrub_cuts_what_str_of_an_error_quotes():
    error = validation_error(Appoint, {"member_id": "m-1", "personal": {"name": NAME}})
    assert "input_value" in str(error)
    text = scrub(f"undecodable: {error}")
    assert_no_trace(text, NAME)
    assert "string_too_long" in text and "personal.name" in text


# ------------------------------------------------------------------ dead letters

class RecordingSend:
    def __init__(self):
        self.calls = []

    async def __call__(self, topic, value, key, headers):
        self.calls.append((topic, value, key, headers))


def delivery(value: bytes) -> Delivery:
    return Delivery("t.committee.commands", 0, 7, b"committee-1", value,
                    (("traceparent", b"00-abc-01"),),
                    timestamp_ms=int(time.time() * 1000), timestamp_type=1)


@pytest.mark.parametrize("given", ["error", "str(error)"])
async def test_park_keeps_the_bytes_and_no_input_value_in_the_reason(given):
    raw = json.dumps({"member_id": "m-1", "personal": {"name": NAME}},
                     ensure_ascii=False).encode()
    with pytest.raises(ValidationError) as caught:
        Appoint.model_validate_json(raw)
    send = RecordingSend()
    why = caught.value if given == "error" else f"undecodable: {caught.value}"
    await DeadLetters("committee-commands", send).park(delivery(raw), why)
    [(topic, value, key, headers)] = send.calls
    assert topic == "t.committee.commands.dlq" and value == raw  # the record, as it was
    assert_no_trace(header(headers, "x-dlq-reason"), NAME)
    assert "personal.name" in header(headers, "x-dlq-reason")


async def test_a_refused_command_is_parked_and_logged_without_the_name():
    model = command_message("CommitteeCommand", Command)
    raw = json.dumps({"command_id": "c-1", "schema_version": 2, "token": "t",
                      "command": {"command_type": "AppointMember", "member_id": "m-1",
                                  "personal": {"name": NAME}}}, ensure_ascii=False).encode()

    async def apply(conn, message):
        raise AssertionError("a command that fails validation is never applied")
    send = RecordingSend()
    handler = ReliableHandler("committee-commands", None, command_decoder(model), apply,
                              DeadLetters("committee-commands", send))
    with capture_logs() as logs:
        assert await handler.handle(delivery(raw)) == "dead-lettered"
    [(_, value, _, headers)] = send.calls
    assert value == raw
    why = header(headers, "x-dlq-reason")
    assert why.startswith("undecodable: ValidationError: 1 error(s)")
    assert "command.AppointMember.personal.name: String should have at most 100" in why
    assert_no_trace(why, NAME)
    [line] = [e for e in logs if e["event"] == "dead_lettered"]
    assert_no_trace(repr(line), NAME)
    assert "personal.name" in line["reason"]


def test_a_projection_reason_holds_no_input_value():
    bad = json.dumps({"event_id": "e-1", "payload": {"name": NAME}, "actor": SHORT},
                     ensure_ascii=False).encode()
    envelope, event, why, broken = ProjectionRunner._decode(
        SimpleNamespace(p=None), SimpleNamespace(value=bad))
    assert envelope is None and not broken
    assert why.startswith("undecodable: ValidationError: ")
    assert_no_trace(why, NAME, SHORT)


# ------------------------------------------------------------------ hyeopchi dlq

def parked_entry(offset: int = 3, **extra: bytes) -> Parked:
    headers = (("traceparent", b"00-ab-01"), ("x-redriven-from", b"old.dlq/1"),
               ("x-dlq-reason", b"undecodable: ValidationError: 1 error(s)\nsecond line"),
               ("x-dlq-consumer", b"commands"),
               ("x-dlq-original-topic", b"t.committee.commands"),
               ("x-dlq-original-partition", b"1"), ("x-dlq-original-offset", b"17"),
               ("x-dlq-at", b"2026-11-24T14:00:00+00:00"),
               *((k.replace("_", "-"), v) for k, v in extra.items()))
    return Parked("t.committee.commands.dlq", 0, offset, b"committee-1",
                  NAME.encode(), headers)


def test_a_redrive_sends_the_original_without_our_headers_and_marks_it():
    topic, value, key, headers = redrive_plan(parked_entry())
    assert (topic, value, key) == ("t.committee.commands", NAME.encode(), b"committee-1")
    assert headers == [("traceparent", b"00-ab-01"),
                       ("x-redriven-from", b"t.committee.commands.dlq/3")]


def test_truncated_copies_and_events_are_not_redriven_by_default():
    with pytest.raises(NotRedrivable, match="truncated copy"):
        redrive_plan(parked_entry(x_dlq_truncated=b"2000000 bytes"))
    event = parked_entry(x_dlq_original_topic=b"t.committee.events")
    event = Parked(event.dlq_topic, 0, 3, None, b"{}", tuple(
        h for h in event.headers if h != ("x-dlq-original-topic", b"t.committee.commands")))
    with pytest.raises(NotRedrivable, match="--allow-events"):
        redrive_plan(event)
    assert redrive_plan(event, allow_events=True)[0] == "t.committee.events"


def test_listing_and_showing_never_print_the_value_unless_asked():
    entry = parked_entry()
    line = one_line(entry)
    assert line.count("\n") == 1 and "second line" in line  # the reason on one line
    assert "t.committee.commands/1@17" in line and "by commands" in line
    assert_no_trace(line, NAME)
    shown = details(entry, with_value=False)
    assert f"value       {len(NAME.encode())} bytes" in shown and "    second line" in shown
    assert_no_trace(shown, NAME)
    assert NAME in details(entry, with_value=True)


def test_records_are_chosen_by_offset_and_unknown_ones_named():
    entries = [parked_entry(0), parked_entry(1)]
    assert select(entries, ["1"]) == [entries[1]]
    with pytest.raises(LookupError, match="no dead letter at 7"):
        select(entries, ["1", "7"])
