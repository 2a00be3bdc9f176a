"""The batched read-model writes the replay benchmark led to (`Projection.apply_all`
in the scorecards, report-status and timeline projections) leave exactly the rows
that applying event by event leaves, whatever the batch boundaries: same checksum,
on SQLite and PostgreSQL."""
import json
import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from shared.db import Database
from shared.envelope import GENESIS_HASH, seal
from shared.ids import new_id
from shared.projection import checksum
from tests.conftest import BACKENDS

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2021, 3, 1, tzinfo=timezone.utc)
INSTITUTIONS = ["planning", "finance", "youth", "library"]
INDICATORS = ["committee-openness", "committee-meetings", "governance-case"]


class Log:
    """Sealed envelopes, chained per stream, in log order."""

    def __init__(self) -> None:
        self.items, self.heads, self.clock = [], {}, 0

    def add(self, stream: str, event, source: str, actor_id: str = "someone") -> None:
        version, prev = self.heads.get(stream, (0, GENESIS_HASH))
        self.clock += 1
        at = T0 + timedelta(minutes=self.clock)
        env = seal({"event_id": new_id(), "event_type": event.event_type,
                    "schema_version": event.version, "stream_id": stream,
                    "stream_version": version + 1, "occurred_at": at, "recorded_at": at,
                    "actor": {"id": actor_id, "role": "tester"}, "causation_id": None,
                    "correlation_id": f"c{self.clock}", "source": source,
                    "payload": event.model_dump(mode="json"), "prev_hash": prev})
        self.heads[stream] = (version + 1, env.hash)
        self.items.append((env, event))


def submission_log(rng: random.Random) -> Log:
    from services.submission.domain import events as ev
    from services.submission.domain.rulebook import Rulebook
    rulebook = Rulebook.model_validate(json.loads(
        (REPO / "services/submission/rulebooks/2021.json").read_text()))
    log = Log()
    for i, inst in enumerate(INSTITUTIONS):
        if i == 2:
            log.add("cycle-2021", ev.CycleOpened(cycle_id="2021", year=2021,
                                                  rulebook=rulebook, deadline=T0), "submission")
        log.add(f"institution-{inst}", ev.InstitutionRegistered(
            institution_id=inst, name_ko=f"기관 {i}", kind="bureau", division_count=i + 1),
            "submission")
    results = [{"indicator_id": "governance-case", "cases": [
        {"title": "사례", "summary": "요약", "evidence_ref": "case-1"}]}]
    for n in range(120):
        inst = rng.choice(INSTITUTIONS)
        stream, roll = f"report-2021-{inst}", rng.random()
        common = dict(cycle_id="2021", institution_id=inst)
        if roll < 0.25:
            event = ev.ReportSubmitted(**common, submission_id=f"s{n}", results=results,
                                       rulebook_ref=rulebook.ref, late=rng.random() < 0.2)
        elif roll < 0.4:
            event = ev.ReportAmended(**common, submission_id=f"s{n}", results=results,
                                     rulebook_ref=rulebook.ref, reason="고침")
        elif roll < 0.65:
            event = ev.IndicatorMarkedNotApplicable(
                **common, indicator_id=rng.choice(INDICATORS), reason="해당 없음")
        elif roll < 0.75:
            event = ev.ReportWithdrawn(**common, reason="철회")
        elif roll < 0.85:
            event = ev.ReportReopened(**common, until=T0 + timedelta(days=n), reason="재개")
        elif roll < 0.92:
            event, stream = ev.FieldOfficeTreatmentSet(
                institution_id=inst, treated_as_field_office=rng.random() < 0.5,
                reason="사업소 수준"), f"institution-{inst}"
        else:
            event, stream = ev.DeadlineSet(cycle_id="2021", deadline=T0 + timedelta(days=n),
                                           reason="연장"), "cycle-2021"
        log.add(stream, event, "submission", f"actor-{n % 3}")
    return log


def scoring_log(rng: random.Random) -> Log:
    from services.scoring.domain import events as ev
    log = Log()
    log.add("scoring-2021", ev.ScoringOpened(cycle_id="2021", year=2021, rulebook_ref="r1",
                                             rulebook={}, cause_event_id="x"), "scoring")
    appeals: dict[str, list[tuple[str, str]]] = {i: [] for i in INSTITUTIONS}
    for n in range(200):
        inst, ind = rng.choice(INSTITUTIONS), rng.choice(INDICATORS)
        common = dict(cycle_id="2021", institution_id=inst)
        roll, points = rng.random(), Decimal(rng.randint(0, 40)) / 2
        if roll < 0.65:
            event = ev.ScoreComputed(**common, indicator_id=ind, points=points, max_points=20,
                                     source="measured", weight=Decimal("1"),
                                     measure={"n": n}, inputs=[f"e{n}"], explanation="규칙",
                                     rulebook_ref="r1")
        elif roll < 0.75:
            event = ev.ScoreAdjusted(**common, indicator_id=ind, from_points=Decimal(1),
                                     to_points=points, reason="조정", adjusted_by="panel-1")
        elif roll < 0.82:
            appeals[inst].append((f"a{n}", ind))
            event = ev.AppealFiled(**common, appeal_id=f"a{n}", indicator_id=ind,
                                   grounds="이의")
        elif roll < 0.9 and appeals[inst]:
            appeal, ind = rng.choice(appeals[inst])
            event = ev.AppealReviewerAssigned(**common, appeal_id=appeal,
                                              reviewer_id=f"rev-{n % 2}") \
                if rng.random() < 0.5 else ev.AppealDecided(
                    **common, appeal_id=appeal, indicator_id=ind, upheld=rng.random() < 0.6,
                    from_points=Decimal(1), to_points=points, reason="결정")
        else:
            log.add(f"headcount-{inst}", ev.HeadcountRecorded(
                institution_id=inst, headcount=n + 1, as_of=date(2021, 3, 31),
                external_event_id=f"h{n}", source_system="hr"), "scoring")
            continue
        log.add(f"scorecard-2021-{inst}", event, "scoring")
    return log


def _both(rng: random.Random) -> Log:
    merged = Log()
    for log in (submission_log(rng), scoring_log(rng)):
        merged.items += log.items
    return merged


def _projections():
    from services.audit.adapters.timeline import Timeline
    from services.scoring.adapters.read_model import ScorecardProjection
    from services.submission.adapters.read_model import ReportStatusProjection
    return [(ReportStatusProjection(), submission_log), (ScorecardProjection(), scoring_log),
            (Timeline(), _both)]


async def _rows(url: str, projection, items, chunks: list[int] | None) -> str:
    """Apply `items` event by event (chunks None) or with `apply_all` in chunks of the
    given sizes, one transaction per chunk; return the read model's checksum."""
    db = Database(url, projection.metadata)
    await db.create_tables()
    try:
        at = 0
        while at < len(items):
            size = chunks.pop(0) if chunks else len(items)
            async with db.transaction() as conn:
                batch = items[at:at + size]
                if chunks is None:
                    for env, event in batch:
                        await projection.apply(conn, env, event)
                else:
                    await projection.apply_all(conn, batch)
            at += size
        return (await checksum(db, projection.metadata))[0]
    finally:
        await db.dispose()


@BACKENDS
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batched_writes_equal_event_by_event(make_db_url, seed):
    for projection, make_log in _projections():
        rng = random.Random(seed)
        items = make_log(rng).items
        one_by_one = await _rows(make_db_url(), projection, items, None)
        chunks = [rng.randint(1, 40) for _ in range(len(items))]
        batched = await _rows(make_db_url(), projection, items, chunks)
        assert batched == one_by_one, projection.name
