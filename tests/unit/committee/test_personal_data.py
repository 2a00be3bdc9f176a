"""Members' personal data: a full birth date, strictly an ISO 8601 date; data recorded
before (a birth year) still reads as it was, and replays keep the recorded decisions."""
from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError

from services.committee.app.commands import AppointMember, CommandMessage
from services.committee.domain.events import (MemberAppointed, Personal, PersonalV1,
                                              SealedPersonal, registry)

from .builders import CID, SEALED, committee, established

APPOINT = {"command_type": "AppointMember", "committee_id": CID, "member_id": "m-1",
           "role": "member", "channel": "open_call", "appointed_on": "2021-06-01"}


class TestBirthDate:
    @pytest.mark.parametrize("mode", ["python", "json"])
    def test_an_iso_date_is_taken(self, mode):
        body = {**APPOINT, "personal": {"name": "위원", "birth_date": "1990-02-28"}}
        command = (AppointMember.model_validate(body) if mode == "python"
                   else AppointMember.model_validate_json(json.dumps(body)))
        assert command.personal.birth_date == date(1990, 2, 28)

    @pytest.mark.parametrize("value", [
        631152000, 1990, 1990.0, True, "1990", "631152000", "19900228", "1990-2-28",
        "1990-02-28T00:00:00", "1990-W09-3", "28.02.1990", "1990-02-30", "", None,
        "1899-12-31", "2101-01-01"])
    @pytest.mark.parametrize("mode", ["python", "json"])
    def test_anything_else_is_refused_not_coerced(self, value, mode):
        body = {**APPOINT, "personal": {"name": "위원", "birth_date": value}}
        with pytest.raises(ValidationError):
            if mode == "python":
                AppointMember.model_validate(body)
            else:
                AppointMember.model_validate_json(json.dumps(body))

    def test_a_birth_year_is_no_longer_accepted_in_a_command(self):
        body = {**APPOINT, "personal": {"name": "위원", "birth_year": 1990}}
        with pytest.raises(ValidationError, match="birth_date"):
            AppointMember.model_validate(body)

    def test_the_refusal_says_what_a_birth_date_is(self):
        with pytest.raises(ValidationError, match="ISO 8601 date YYYY-MM-DD"):
            Personal.model_validate({"name": "위원", "birth_date": "19900228"})

    def test_on_kafka_personal_data_is_refused_and_goes_by_reference(self):
        def message(**fields) -> str:
            return json.dumps({"command_id": "c-1", "token": "t",
                               "command": {**APPOINT, **fields}})
        clear = {"name": "위원", "birth_date": "1990-02-28"}
        with pytest.raises(ValidationError, match="personal\n  Extra inputs"):
            CommandMessage.model_validate_json(message(personal=clear))
        taken = CommandMessage.model_validate_json(message(personal_ref="pd-abc_123"))
        assert taken.command.personal_ref == "pd-abc_123"
        with pytest.raises(ValidationError, match="personal_ref"):
            CommandMessage.model_validate_json(message())

    def test_over_https_exactly_one_source_and_the_deposit_is_strict(self):
        from services.committee.app.commands import AppointMember, DepositPersonalData
        clear = {"name": "위원", "birth_date": "1990-02-28"}
        AppointMember.model_validate({**APPOINT, "personal": clear})
        AppointMember.model_validate({**APPOINT, "personal_ref": "pd-x"})
        for both_or_none in ({"personal": clear, "personal_ref": "pd-x"}, {}):
            with pytest.raises(ValidationError, match="exactly one"):
                AppointMember.model_validate({**APPOINT, **both_or_none})
        with pytest.raises(ValidationError, match="birth_date"):
            DepositPersonalData.model_validate({"committee_id": "c", "member_id": "m",
                                                "personal": {"name": "위원",
                                                             "birth_date": 631152000}})

    def test_the_published_schema_says_date(self):
        schema = Personal.model_json_schema()["properties"]["birth_date"]
        assert schema == {"format": "date", "title": "Birth Date", "type": "string"}


class TestRecordedBefore:
    """Logs hold MemberAppointed v1 (personal data in the clear, a birth year) and v2
    whose sealed data holds a birth year: both still read, nothing is recomputed."""

    V1 = {"committee_id": CID, "member_id": "old-1", "role": "member",
          "channel": "open_call", "appointed_on": "2020-05-01", "youth": True,
          "personal": {"name": "위원", "birth_year": 1980}, "youth_rule_ref": None}

    def test_a_v1_appointment_with_a_birth_year_still_decodes(self):
        event = registry.decode("committee.MemberAppointed", 1, self.V1)
        assert isinstance(event, MemberAppointed)
        assert event.youth is True
        assert event.personal == SealedPersonal(key_id=None, ciphertext=None)

    def test_the_recorded_youth_decision_survives_replay(self):
        # By the full-age rule a person born in 1980 may be 39 or 40 on 2020-05-01;
        # what was recorded stands, in v1 and v2 alike.
        v1 = registry.decode("committee.MemberAppointed", 1, self.V1)
        v2 = registry.decode("committee.MemberAppointed", 2, {
            **self.V1, "member_id": "old-2", "youth": False,
            "personal": SEALED.model_dump()})
        com = committee(established(), v1, v2)
        serving = com.members_on(date(2021, 1, 1))
        assert {m: t.youth for m, t in serving.items()} == {"old-1": True, "old-2": False}

    def test_personal_v1_keeps_the_year_and_makes_up_no_date(self):
        old = PersonalV1.model_validate_json('{"name": "위원", "birth_year": 1980}')
        assert old.model_dump() == {"name": "위원", "birth_year": 1980}

    def test_the_v1_event_schema_still_has_the_birth_year(self):
        schema = registry.json_schemas()["committee.MemberAppointed.v1"]
        assert "birth_year" in json.dumps(schema)
