"""A generated 2021 grant round shaped like the document's (plain JSON commands).

418 organisations apply across 12 fields; 19 are not registered non-profits and 12
had a poor past evaluation (31 excluded); the rest are reviewed. Requests are such
that every award lands between 14.6M and 14.7M KRW (full requests of 14.7M from a
score of 85, otherwise 20M requests cut to 14.6M), so at most 136 awards fit in the
2,000,000,000 KRW budget whatever the ranking; a few low-scored projects ask for
the 30M cap (they would get 22M). Seeded: every run sends the same round.
"""
from __future__ import annotations

import random

FIELDS = ["climate-environment", "resource-recycling", "social-welfare", "human-rights",
          "gender-equality", "youth-children", "culture-arts", "community", "safety",
          "global-cooperation", "civic-participation", "other-public-interest"]
CRITERIA = {"public_benefit": 30, "feasibility": 25, "budget_plan": 20, "capacity": 15,
            "partnership": 10}
OFFICER = {"id": "grants-officer-1", "role": "grants_officer", "kind": "person"}
INTAKE = {"id": "seoul-grants-intake", "role": "city_system", "kind": "system"}
APPLIED, UNREGISTERED, POOR = 418, 19, 12
SEED = 2021_0413


def reviewer(n: int) -> dict:
    return {"id": f"reviewer-{n}", "role": "grant_reviewer", "kind": "person"}


def organisations() -> list[dict]:
    rng = random.Random(SEED)
    out = []
    for n in range(1, APPLIED + 1):
        out.append({"command_type": "RegisterOrganisation", "organisation_id": f"org-{n:04d}",
                    "name_ko": f"비영리단체 {n:04d}",
                    "registered_nonprofit": n > UNREGISTERED,
                    "funded_before": rng.random() < 0.4,
                    "past_evaluation": "poor" if UNREGISTERED < n <= UNREGISTERED + POOR
                    else None})
    return out


def target_score(n: int) -> int:
    """A deterministic review score: spread over 40..99."""
    return 40 + (n * 37) % 60


def applications() -> list[dict]:
    out = []
    for n in range(1, APPLIED + 1):
        score = target_score(n)
        requested = 14_700_000 if score >= 85 else 30_000_000 if score < 50 else 20_000_000
        out.append({"command_type": "ReceiveApplication", "round_id": "2021",
                    "application_id": f"2021-{n:04d}", "organisation_id": f"org-{n:04d}",
                    "field": FIELDS[n % len(FIELDS)], "requested_amount": requested,
                    "self_funding_pledged": requested // 20, "plan_summary": f"공익사업 계획 {n}"})
    return out


def scores_for(n: int) -> dict[str, int]:
    """Criterion points adding up to the application's target score."""
    total, left, out = target_score(n), target_score(n), {}
    for criterion, top in CRITERIA.items():
        out[criterion] = round(total * top / 100)
        left -= out[criterion]
    out["public_benefit"] += left  # rounding remainder on the first criterion
    return out


def reviewed_numbers() -> list[int]:
    return list(range(UNREGISTERED + POOR + 1, APPLIED + 1))


CONFLICTED = "2021-0040"  # its first reviewer steps aside; another one scores it


async def send_applications(bootstrap: str, prefix: str) -> None:
    """The intake system sends every organisation and its application over Kafka."""
    from scenarios.client import KafkaCommands  # noqa: PLC0415
    async with KafkaCommands(bootstrap, prefix, "grants") as intake:
        for org, app in zip(organisations(), applications()):
            await intake.send(org, actor=INTAKE, key=org["organisation_id"])
            await intake.send(app, actor=INTAKE, key=org["organisation_id"])


async def send_reviews(bootstrap: str, prefix: str) -> None:
    """Reviewers' assignments and scores over Kafka; one declared conflict, whose
    would-be score is refused, and a second reviewer scoring in that reviewer's place."""
    from scenarios.client import KafkaCommands  # noqa: PLC0415
    async with KafkaCommands(bootstrap, prefix, "grants") as reviews:
        for n in reviewed_numbers():
            app_id, who = f"2021-{n:04d}", reviewer(n % 10)
            await reviews.send({"command_type": "AssignReviewer", "application_id": app_id,
                                "reviewer_id": who["id"]}, actor=OFFICER, key=app_id)
            if app_id == CONFLICTED:
                await reviews.send({"command_type": "DeclareReviewConflict",
                                    "application_id": app_id, "reason": "이사 겸직"},
                                   actor=who, key=app_id)
                await reviews.send({"command_type": "ScoreApplication", "application_id":
                                    app_id, "scores": scores_for(n)}, actor=who, key=app_id)
                who = reviewer(11)
                await reviews.send({"command_type": "AssignReviewer", "application_id":
                                    app_id, "reviewer_id": who["id"]}, actor=OFFICER,
                                   key=app_id)
            await reviews.send({"command_type": "ScoreApplication", "application_id": app_id,
                                "scores": scores_for(n)}, actor=who, key=app_id)
