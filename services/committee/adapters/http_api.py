"""HTTP API of the committee service (FastAPI; OpenAPI at /docs).

`/public/...` is what citizens may see: closed records stay closed, partly public
ones show their agenda but not their withheld parts, and no output anywhere carries
a member's name or birth date (the read model does not hold them; the events hold
them sealed with the member's own key, opened only at `/members/{id}/personal`).
"""
from datetime import date
from decimal import Decimal

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path
from sqlalchemy import select

from shared.auth import Forbidden, Principal
from shared.command_routes import command_router
from shared.http import (Problem, install_problem_handlers, principal,
                         read_guard, service_api)
from shared.http_boundary import guard_body

from ..app import commands as c
from ..app import personal
from ..domain.errors import CommitteeRefused
from ..domain.rules import load_rules
from . import read_model as rm
from .access import POLICY

WRITES = [("/committees", c.EstablishCommittee), ("/committees/members", c.AppointMember),
          ("/committees/members/dismissals", c.DismissMember),
          ("/committees/youth-quota-exceptions", c.ApproveYouthQuotaException),
          ("/meetings", c.ScheduleMeeting), ("/meetings/held", c.RecordMeetingHeld),
          ("/meetings/postponements", c.PostponeMeeting),
          ("/meetings/cancellations", c.CancelMeeting),
          ("/meetings/costs", c.RecordMeetingCosts), ("/meetings/minutes", c.RecordMinutes),
          ("/members/erasures", c.ErasePersonalData)]
PUBLIC_WHEN_PARTLY = ("meeting_id", "committee_id", "institution_id", "number", "status",
                      "mode", "starts_at", "ends_at", "place", "attendance", "officials",
                      "agenda", "next_meeting", "disclosure", "reason_code")
PUBLIC_WHEN_CLOSED = ("meeting_id", "committee_id", "institution_id", "number", "status",
                      "starts_at", "disclosure", "reason_code")


def build_api(service, application) -> FastAPI:
    app = service_api("hyeopchi committee service (위원회·회의)")
    install_problem_handlers(app)
    app.include_router(command_router(service.db, application, WRITES,
                                      (CommitteeRefused,)))
    app.include_router(_deposits(service, application.policy))
    app.include_router(_reads(service))
    return app


def _deposits(service, policy) -> APIRouter:
    router = APIRouter(tags=["commands"])

    async def deposit(body: c.DepositPersonalData,
                      who: Annotated[Principal, Depends(principal)]) -> dict:
        """Personal data for an appointment sent over Kafka (where personal data may
        not travel): sealed at once with the member's key, usable once, for a day.
        Send `AppointMember` with the returned `personal_ref`."""
        policy.check_command(who, body)  # the secretary's committee
        try:
            async with service.db.transaction() as conn:
                ref, expires = await personal.deposit(conn, body.committee_id,
                                                      body.member_id, body.personal)
        except personal.KekUnavailable as missing:
            raise Problem(str(missing), status=503, kind="kek-unavailable") from missing
        return {"personal_ref": ref, "expires_at": expires.isoformat()}
    guard_body(deposit, "DepositPersonalData", policy)
    router.add_api_route("/personal-data", deposit, methods=["POST"], status_code=201,
                         name="DepositPersonalData", summary="DepositPersonalData")
    return router


def public_view(row: dict) -> dict:
    """A meeting as citizens may see it; unknown disclosure counts as closed."""
    level = row.get("disclosure") or "closed"
    if level == "public":
        shown = {k: v for k, v in row.items() if k != "attachments"}
    else:
        keep = PUBLIC_WHEN_PARTLY if level == "partly_public" else PUBLIC_WHEN_CLOSED
        shown = {k: row[k] for k in keep}
        shown["withheld"] = f"reason code {row.get('reason_code') or '-'}"
    shown["disclosure"] = level
    shown["attachments"] = [a if a["disclosure"] == "public" else
                            {"kind": a["kind"], "title": a["title"], "disclosure": "closed"}
                            for a in row.get("attachments") or []] if level != "closed" else []
    return shown


def _reads(service) -> APIRouter:
    router = APIRouter(tags=["read model"], dependencies=[Depends(read_guard(POLICY))])

    async def rows(table, *where) -> list[dict]:
        async with service.db.reading() as conn:
            return [dict(r) for r in (await conn.execute(select(table).where(*where)))
                    .mappings()]

    async def meeting(meeting_id: str) -> dict:
        found = await rows(rm.meetings, rm.meetings.c.meeting_id == meeting_id)
        if not found:
            raise Problem(f"meeting {meeting_id} is not known", status=404)
        return found[0]

    @router.get("/members/{member_id}/personal")
    async def member_personal(member_id: str,
                              who: Annotated[Principal, Depends(principal)]) -> dict:
        """For the secretariat of the member's committee only (never auditors): a
        member's personal data, opened with their key (a birth date; a birth year if
        sealed before birth dates were kept); 410 once erased, 503 while the
        key-encryption key is unavailable."""
        async with service.db.reading() as conn:
            appointed = await personal.appointments_of(conn, member_id)
            if not appointed:
                raise Problem(f"member {member_id} is not known", status=404,
                              kind="unknown-member")
            if not any(c.committee_id in who.committees for c in appointed):
                raise Forbidden(f"secretary {who.id} serves no committee of member "
                                f"{member_id}")
            sealed = appointed[-1].personal
            try:
                return (await personal.open_sealed(conn, sealed)).model_dump(mode="json")
            except personal.Erased as erased:
                raise Problem(str(erased), status=410, kind="erased") from erased
            except personal.KekUnavailable as missing:
                raise Problem(str(missing), status=503, kind="kek-unavailable") from missing

    @router.get("/meetings/{meeting_id}")
    async def internal_meeting(meeting_id: str) -> dict:
        """For the committee secretariat: the whole record (still no names)."""
        return await meeting(meeting_id)

    @router.get("/public/meetings/{meeting_id}", tags=["public"])
    async def public_meeting(meeting_id: str) -> dict:
        return public_view(await meeting(meeting_id))

    @router.get("/public/institutions/{institution_id}/meetings", tags=["public"])
    async def public_meetings(institution_id: str, year: int) -> list[dict]:
        found = await rows(rm.meetings, rm.meetings.c.institution_id == institution_id,
                           rm.meetings.c.starts_at.like(f"{year}-%"))
        return [public_view(r) for r in sorted(found, key=lambda r: r["starts_at"])]

    @router.get("/institutions/{institution_id}/committee-report/{year}")
    async def institution_report(institution_id: str,
                                 year: Annotated[int, Path(ge=1, le=9999)]) -> dict:
        """Committees, meetings held by mode, youth share and quota compliance,
        open-call share and allowance totals of one institution in one year."""
        own = await rows(rm.committees, rm.committees.c.institution_id == institution_id)
        held = [m for m in await rows(rm.meetings, rm.meetings.c.institution_id ==
                                      institution_id, rm.meetings.c.status == "held")
                if m["starts_at"].startswith(str(year))]
        cards = [await _committee_card(rows, c, date(year, 12, 31)) for c in own]
        by_mode = {m: sum(1 for x in held if x["mode"] == m)
                   for m in ("in_person", "online", "hybrid")}
        return {"institution_id": institution_id, "year": year, "committees": cards,
                "meetings_held": len(held), "meetings_held_by_mode": by_mode,
                "allowance_total": sum(m["allowance_total"] or 0 for m in held),
                "cost_total": sum(m["total_cost"] or 0 for m in held),
                "below_youth_quota": [c["committee_id"] for c in cards
                                      if c["below_youth_quota"]]}
    return router


async def _committee_card(rows, committee: dict, as_of: date) -> dict:
    cid = committee["committee_id"]
    serving = [m for m in await rows(rm.members, rm.members.c.committee_id == cid)
               if m["appointed_on"] <= as_of.isoformat()
               and (m["dismissed_on"] is None or m["dismissed_on"] > as_of.isoformat())]
    approved = await rows(rm.exceptions, rm.exceptions.c.committee_id == cid)
    quota = load_rules().youth_quota_on(as_of)
    share = _share(sum(m["youth"] for m in serving), len(serving))
    below = bool(committee["city_committee"] and quota and serving
                 and Decimal(share) < quota.min_share)
    return {**committee, "members": len(serving), "youth_share": share,
            "below_youth_quota": below, "exception_approved": bool(approved),
            "open_call_share": _share(sum(m["channel"] == "open_call" for m in serving),
                                      len(serving)),
            "youth_rule": quota.ref if quota else None}


def _share(part: int, whole: int) -> str:
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))) if whole else "0"
