"""A cycle's rulebook can be replaced only by a newer version of the same rulebook."""
from datetime import datetime, timezone

import pytest

from services.scoring.domain.cycle import ScoringCycle
from services.scoring.domain.events import RulebookApplied, ScoringOpened
from services.submission.domain.cycle import Cycle
from services.submission.domain.errors import InvalidState, WrongYear
from services.submission.domain.events import CycleOpened, RulebookRevised
from services.submission.domain.rulebook import load_rulebook

V1 = load_rulebook(2021)
DEADLINE = datetime(2021, 5, 31, 18, tzinfo=timezone.utc)


def opened() -> Cycle:
    return Cycle("cycle-2021", [CycleOpened(cycle_id="2021", year=2021, rulebook=V1,
                                            deadline=DEADLINE)])


def test_a_newer_version_replaces_the_rules():
    v2 = V1.model_copy(update={"version": 2, "base_score_missing": 40})
    [event] = opened().revise_rulebook(v2, "raised")
    assert isinstance(event, RulebookRevised)
    revised = Cycle("cycle-2021", [*[CycleOpened(cycle_id="2021", year=2021, rulebook=V1,
                                                 deadline=DEADLINE)], event])
    assert revised.state.rulebook.ref == "governance-capability/2021/v2"
    assert revised.state.rulebook.base_score_missing == 40


def test_the_same_or_an_older_version_is_refused():
    with pytest.raises(InvalidState, match="not newer"):
        opened().revise_rulebook(V1, "again")


def test_another_years_rulebook_is_refused():
    with pytest.raises(WrongYear, match="does not revise"):
        opened().revise_rulebook(V1.model_copy(update={"year": 2022, "version": 2}), "x")


def test_a_missing_revision_file_is_named():
    with pytest.raises(FileNotFoundError, match="2021-v9.json"):
        load_rulebook(2021, 9)


def test_scoring_applies_a_revision_once():
    raw = V1.model_dump(mode="json")
    cycle = ScoringCycle("scoring-2021", [ScoringOpened(
        cycle_id="2021", year=2021, rulebook_ref=V1.ref, rulebook=raw, cause_event_id="e1")])
    v2 = {**raw, "version": 2}
    [applied] = cycle.apply_rulebook(v2, "e2")
    assert isinstance(applied, RulebookApplied) and applied.rulebook_ref.endswith("/v2")
    again = ScoringCycle("scoring-2021", [ScoringOpened(
        cycle_id="2021", year=2021, rulebook_ref=V1.ref, rulebook=raw, cause_event_id="e1"),
        applied])
    assert again.apply_rulebook(v2, "e2") == []
