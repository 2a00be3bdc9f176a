"""Read model of grant rounds: applications, screening, reviews, decisions, execution.

Rows depend on one stream each (applications, the round's decisions, organisations);
the round summary — which reads like the 2021 report — is derived when read.
"""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Integer, MetaData, String,
                        Table, Text)

from shared.projection import RowsProjection
from shared.read_rows import Rows
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
    Column("self_funding", JSON(none_as_null=True)),
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


class GrantsProjection(RowsProjection):
    name = "grants-rounds"
    metadata = metadata
    registry = ev.registry

    def __init__(self) -> None:
        self.topics = (events_topic("grants").name,)

    async def _RoundOpened(self, rows: Rows, env, e: ev.RoundOpened):
        rows.insert(rounds, round_id=e.round_id, rules=e.rules, rules_ref=e.rules_ref,
                    accepting=True)

    async def _ApplicationsClosed(self, rows: Rows, env, e):
        await rows.update(rounds, e.round_id, accepting=False)

    async def _ApplicationReceived(self, rows: Rows, env, e: ev.ApplicationReceived):
        rows.insert(applications, application_id=e.application_id, round_id=e.round_id,
                    organisation_id=e.organisation_id, field=e.field,
                    requested=e.requested_amount, new_organisation=e.new_organisation,
                    revised=False, paid=0, closed=False)

    async def _ApplicationExcluded(self, rows: Rows, env, e: ev.ApplicationExcluded):
        await rows.update(applications, e.application_id, excluded=e.reason_code,
                          exclusion_detail=e.detail)

    async def _ReviewerAssigned(self, rows: Rows, env, e):
        await _review(rows, e.application_id, e.reviewer_id, {})

    async def _ReviewConflictDeclared(self, rows: Rows, env, e):
        await _review(rows, e.application_id, e.reviewer_id, {"conflicted": True})

    async def _ReviewScored(self, rows: Rows, env, e: ev.ReviewScored):
        await _review(rows, e.application_id, e.reviewer_id, {"total": e.total})

    async def _SelectionDecided(self, rows: Rows, env, e: ev.SelectionDecided):
        for d in e.decisions:
            rows.insert(decisions, application_id=d.application_id, round_id=e.round_id,
                        selected=d.selected, award=d.award, pick_order=d.order,
                        reason=d.reason)

    async def _SelectionOverridden(self, rows: Rows, env, e: ev.SelectionOverridden):
        await rows.update(decisions, e.application_id, selected=e.selected, award=e.award,
                          override_reason=e.reason)

    async def _PlanRevised(self, rows: Rows, env, e):
        await rows.update(applications, e.application_id, revised=True)

    async def _PaymentMade(self, rows: Rows, env, e: ev.PaymentMade):
        application = await rows.get(applications, e.application_id)
        if application is not None:
            await rows.update(applications, e.application_id,
                              paid=application["paid"] + e.amount)

    async def _SpendingReported(self, rows: Rows, env, e: ev.SpendingReported):
        await rows.update(applications, e.application_id, grant_spent=e.grant_spent)

    async def _SelfFundingChecked(self, rows: Rows, env, e: ev.SelfFundingChecked):
        await rows.update(applications, e.application_id, self_funding={
            "execution_rate": e.execution_rate, "required": e.required,
            "actual": e.actual, "shortfall": e.shortfall})

    async def _PenaltyImposed(self, rows: Rows, env, e: ev.PenaltyImposed):
        await rows.update(applications, e.application_id, penalty=e.amount)

    async def _ProjectClosed(self, rows: Rows, env, e):
        await rows.update(applications, e.application_id, closed=True)


async def _review(rows: Rows, application_id: str, reviewer_id: str, values: dict) -> None:
    if not await rows.update(reviews, application_id, reviewer_id, **values):
        rows.insert(reviews, application_id=application_id, reviewer_id=reviewer_id,
                    **{"conflicted": False, "total": None, **values})


PROJECTION = GrantsProjection
