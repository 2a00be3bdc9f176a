"""Read model of grant rounds: applications, screening, reviews, decisions, execution.

Rows depend on one stream each (applications, the round's decisions, organisations);
the round summary — which reads like the 2021 report — is derived when read.
"""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Integer, MetaData, String,
                        Table, Text, insert, select, update)

from shared.projection import Projection
from shared.topics import events_topic

from ..domain import events as ev

metadata = MetaData()
rounds = Table(
    "rm_rounds", metadata,
    Column("round_id", String(20), primary_key=True),
    Column("rules", JSON, nullable=False),
    Column("rules_ref", String(50), nullable=False),
    Column("accepting", Boolean, nullable=False))
applications = Table(
    "rm_applications", metadata,
    Column("application_id", String(100), primary_key=True),
    Column("round_id", String(20), nullable=False),
    Column("organisation_id", String(100), nullable=False),
    Column("field", String(100), nullable=False),
    Column("requested", BigInteger, nullable=False),
    Column("new_organisation", Boolean, nullable=False),
    Column("excluded", String(40)),
    Column("exclusion_detail", Text),
    Column("revised", Boolean, nullable=False),
    Column("paid", BigInteger, nullable=False),
    Column("grant_spent", BigInteger),
    Column("self_funding", JSON),
    Column("penalty", BigInteger),
    Column("closed", Boolean, nullable=False))
reviews = Table(
    "rm_reviews", metadata,
    Column("application_id", String(100), primary_key=True),
    Column("reviewer_id", String(100), primary_key=True),
    Column("total", Integer),
    Column("conflicted", Boolean, nullable=False))
decisions = Table(
    "rm_decisions", metadata,
    Column("application_id", String(100), primary_key=True),
    Column("round_id", String(20), nullable=False),
    Column("selected", Boolean, nullable=False),
    Column("award", BigInteger, nullable=False),
    Column("pick_order", Integer),
    Column("reason", Text, nullable=False),
    Column("override_reason", Text))


class GrantsProjection(Projection):
    name = "grants-rounds"
    metadata = metadata
    registry = ev.registry

    def __init__(self) -> None:
        self.topics = (events_topic("grants").name,)

    async def _RoundOpened(self, conn, env, e: ev.RoundOpened):
        await conn.execute(insert(rounds).values(round_id=e.round_id, rules=e.rules,
                                                 rules_ref=e.rules_ref, accepting=True))

    async def _ApplicationsClosed(self, conn, env, e):
        await conn.execute(update(rounds).where(rounds.c.round_id == e.round_id)
                           .values(accepting=False))

    async def _ApplicationReceived(self, conn, env, e: ev.ApplicationReceived):
        await conn.execute(insert(applications).values(
            application_id=e.application_id, round_id=e.round_id,
            organisation_id=e.organisation_id, field=e.field, requested=e.requested_amount,
            new_organisation=e.new_organisation, revised=False, paid=0, closed=False))

    async def _ApplicationExcluded(self, conn, env, e: ev.ApplicationExcluded):
        await _app(conn, e.application_id, excluded=e.reason_code, exclusion_detail=e.detail)

    async def _ReviewerAssigned(self, conn, env, e):
        await _review(conn, e.application_id, e.reviewer_id, {})

    async def _ReviewConflictDeclared(self, conn, env, e):
        await _review(conn, e.application_id, e.reviewer_id, {"conflicted": True})

    async def _ReviewScored(self, conn, env, e: ev.ReviewScored):
        await _review(conn, e.application_id, e.reviewer_id, {"total": e.total})

    async def _SelectionDecided(self, conn, env, e: ev.SelectionDecided):
        await conn.execute(insert(decisions), [
            {"application_id": d.application_id, "round_id": e.round_id,
             "selected": d.selected, "award": d.award, "pick_order": d.order,
             "reason": d.reason} for d in e.decisions])

    async def _SelectionOverridden(self, conn, env, e: ev.SelectionOverridden):
        await conn.execute(update(decisions).where(
            decisions.c.application_id == e.application_id).values(
            selected=e.selected, award=e.award, override_reason=e.reason))

    async def _PlanRevised(self, conn, env, e):
        await _app(conn, e.application_id, revised=True)

    async def _PaymentMade(self, conn, env, e: ev.PaymentMade):
        await conn.execute(update(applications).where(
            applications.c.application_id == e.application_id).values(
            paid=applications.c.paid + e.amount))

    async def _SpendingReported(self, conn, env, e: ev.SpendingReported):
        await _app(conn, e.application_id, grant_spent=e.grant_spent)

    async def _SelfFundingChecked(self, conn, env, e: ev.SelfFundingChecked):
        await _app(conn, e.application_id, self_funding={
            "execution_rate": e.execution_rate, "required": e.required,
            "actual": e.actual, "shortfall": e.shortfall})

    async def _PenaltyImposed(self, conn, env, e: ev.PenaltyImposed):
        await _app(conn, e.application_id, penalty=e.amount)

    async def _ProjectClosed(self, conn, env, e):
        await _app(conn, e.application_id, closed=True)


async def _app(conn, application_id: str, **values) -> None:
    await conn.execute(update(applications).where(
        applications.c.application_id == application_id).values(**values))


async def _review(conn, application_id: str, reviewer_id: str, values: dict) -> None:
    where = [reviews.c.application_id == application_id, reviews.c.reviewer_id == reviewer_id]
    changed = (await conn.execute(update(reviews).where(*where).values(**values))).rowcount \
        if values else 0
    exists = changed or (await conn.execute(select(reviews.c.reviewer_id).where(*where))).first()
    if not exists:
        await conn.execute(insert(reviews).values(
            application_id=application_id, reviewer_id=reviewer_id,
            **{"conflicted": False, "total": None, **values}))


PROJECTION = GrantsProjection
