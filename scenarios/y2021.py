"""The 2021 governance capability evaluation as the outside world sends it.

47 institutions (the number evaluated in 2021) of three kinds, their reports — some
missing indicators, some marking them not applicable — and the office's decisions.
Plain JSON commands only: this is what city systems and people send, so it imports
no service code. Seeded, so every run sends the same thing.

Assumption: the split of the 47 into kinds and the report contents are illustrative;
the documents give only the total, the kinds, and three single-division bureaus.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

YEAR = 2021
SEED = 2021_04_01

# (id, Korean name, kind). Three single-division bureaus are named in the document.
SINGLE_DIVISION = ["tech-review", "human-rights", "youth"]
INSTITUTIONS: list[tuple[str, str, str]] = [
    ("planning", "기획조정실", "bureau"), ("admin", "행정국", "bureau"),
    ("finance", "재무국", "bureau"), ("economy", "경제정책실", "bureau"),
    ("welfare", "복지정책실", "bureau"), ("women-family", "여성가족정책실", "bureau"),
    ("culture", "문화본부", "headquarters"), ("tourism-sports", "관광체육국", "bureau"),
    ("climate-env", "기후환경본부", "headquarters"), ("urban-planning", "도시계획국", "bureau"),
    ("housing", "주택건축본부", "headquarters"), ("transport", "도시교통실", "bureau"),
    ("safety", "안전총괄실", "bureau"), ("water-safety", "물순환안전국", "bureau"),
    ("green-city", "푸른도시국", "bureau"), ("regeneration", "도시재생실", "bureau"),
    ("lifelong-learning", "평생교육국", "bureau"), ("democracy", "서울민주주의위원회", "bureau"),
    ("innovation", "서울혁신기획관", "bureau"), ("special-police", "민생사법경찰단", "bureau"),
    ("audit-committee", "감사위원회", "bureau"), ("fire", "소방재난본부", "headquarters"),
    ("health", "시민건강국", "bureau"), ("labor", "노동민생정책관", "bureau"),
    ("human-rights", "인권담당관", "bureau"), ("tech-review", "기술심사담당관", "bureau"),
    ("youth", "청년청", "bureau"), ("balanced-dev", "균형발전본부", "headquarters"),
    ("public-dev", "공공개발기획단", "bureau"), ("emergency", "비상기획관", "bureau"),
    ("spokesperson", "대변인", "bureau"), ("digital", "스마트도시정책관", "bureau"),
    ("citizen-comm", "시민소통기획관", "bureau"), ("gender", "성평등정책담당관", "bureau"),
    ("waterworks", "상수도사업본부", "field_office"), ("hangang", "한강사업본부", "field_office"),
    ("art-museum", "서울시립미술관", "field_office"), ("grand-park", "서울대공원", "field_office"),
    ("history-museum", "서울역사박물관", "field_office"), ("library", "서울도서관", "field_office"),
    ("hr-institute", "인재개발원", "field_office"), ("health-env-lab", "보건환경연구원", "field_office"),
    ("agri-center", "농업기술센터", "field_office"), ("science-center", "서울시립과학관", "field_office"),
    ("archives", "서울기록원", "field_office"), ("children-hospital", "서울시어린이병원", "field_office"),
    ("seoul-museum", "서울공예박물관", "field_office"),
]
assert len(INSTITUTIONS) == 47 and len({i[0] for i in INSTITUTIONS}) == 47

NOT_SUBMITTING = ["emergency", "spokesperson", "seoul-museum"]  # never report
INDICATORS = ["committee-openness", "committee-meetings", "governance-process",
              "governance-education", "governance-case", "governance-leadership"]

OFFICER = {"id": "gov-office-officer-1", "role": "governance_officer", "kind": "person"}
PANEL = {"id": "panel-member-1", "role": "panel_member", "kind": "person"}
ORG_REGISTRY = {"id": "seoul-org-registry", "role": "city_system", "kind": "system"}


def submitter(institution_id: str) -> dict:
    return {"id": f"submitter-{institution_id}", "role": "institution_submitter",
            "kind": "person", "institution_id": institution_id}


def institution_commands() -> list[dict]:
    return [{"command_type": "RegisterInstitution", "institution_id": i, "name_ko": n,
             "kind": k} for i, n, k in INSTITUTIONS]


def report_command(institution_id: str, rng: random.Random, n: int = 0) -> dict:
    """A report: most indicators filled, some marked not applicable, some left out."""
    results, not_applicable = [], []
    for indicator in INDICATORS:
        roll = rng.random()
        if roll < 0.10:
            continue  # left out: the base score applies
        if roll < 0.18:
            not_applicable.append({"indicator_id": indicator,
                                   "reason": "해당 위원회 없음 (no committee of this kind)"})
            continue
        results.append(_result(indicator, rng))
    return {"command_type": "SubmitReport", "year": YEAR, "institution_id": institution_id,
            "submission_id": f"{YEAR}-{institution_id}-{n}", "results": results,
            "not_applicable": not_applicable}


def _result(indicator: str, rng: random.Random) -> dict:
    committees = [f"committee-{k}" for k in range(1, rng.randint(1, 5) + 1)]
    start = date(YEAR - 1, 1, 1)
    if indicator == "committee-openness":
        parts = []
        for c in committees:
            total = rng.randint(8, 25)
            parts.append({"committee_id": c, "members_total": total,
                          "members_open_call": rng.randint(0, total // 2)})
        return {"indicator_id": indicator, "committees": parts}
    if indicator == "committee-meetings":
        records = [{"committee_id": rng.choice(committees),
                    "held_on": (start + timedelta(days=rng.randint(0, 364))).isoformat(),
                    "mode": rng.choice(["in_person", "online", "hybrid"]),
                    "minutes_ref": f"minutes-{k}"} for k in range(rng.randint(1, 20))]
        return {"indicator_id": indicator, "meeting_records": records}
    if indicator == "governance-process":
        types = ["public-deliberation", "participatory-budgeting", "civil-partnership",
                 "policy-council", "living-lab", "other"]
        return {"indicator_id": indicator, "processes": [
            {"type": rng.choice(types), "title": f"공론 과정 {k}"} for k in range(1, 4)]}
    if indicator == "governance-education":
        return {"indicator_id": indicator,
                "online_completions": {"governance-and-citizens": rng.randint(0, 40),
                                       "local-governance": rng.randint(0, 40)},
                "offline_sessions": [{"held_on": f"{YEAR - 1}-10-15",
                                      "attendees": rng.randint(5, 60)}]}
    if indicator == "governance-case":
        return {"indicator_id": indicator, "cases": [{
            "title": "시민과 함께 만든 정책", "summary": "민관 협력으로 추진한 사례",
            "evidence_ref": "case-1"}]}
    return {"indicator_id": indicator, "activities": [{
        "title": "기관장 협치 간담회", "summary": "시민사회와 정례 간담회 개최"}]}


def reports() -> list[dict]:
    rng = random.Random(SEED)
    return [report_command(i, rng) for i, _, _ in INSTITUTIONS if i not in NOT_SUBMITTING]


def bad_reports(institution: str = "emergency") -> list[tuple[str, dict]]:
    """Inputs that must be refused, with the words the refusal must contain.
    They come from an institution that has not submitted, so only the rule is at fault."""
    rng = random.Random(SEED + 1)
    too_many = report_command(institution, rng, n=99)
    too_many["results"] = [r for r in too_many["results"]
                           if r["indicator_id"] != "committee-meetings"] + [{
        "indicator_id": "committee-meetings",
        "meeting_records": [{"committee_id": "c1", "held_on": "2020-05-01",
                             "mode": "online", "minutes_ref": f"m{k}"} for k in range(21)]}]
    unknown = dict(report_command(institution, rng, n=98), institution_id="no-such-bureau")
    wrong_year = dict(report_command(institution, rng, n=97), year=2019)
    bad_indicator = dict(report_command(institution, rng, n=96), results=[
        {"indicator_id": "number-of-parks", "processes": [{"type": "other", "title": "x"}]}])
    return [("21 meeting records submitted", too_many),
            ("'no-such-bureau' is not registered", unknown),
            ("no evaluation cycle for 2019", wrong_year),
            ("indicator 'number-of-parks' is not in rulebook", bad_indicator)]


# --- inputs of scoring: other city systems' facts, experts, the panel -------------
EXPERTS = ["expert-kim", "expert-lee", "expert-park"]
EXPERT_INDICATORS = ["governance-case", "governance-leadership"]
PANEL_MEMBER = {"id": "panel-member-1", "role": "panel_member", "kind": "person"}


def expert(expert_id: str) -> dict:
    return {"id": expert_id, "role": "external_expert", "kind": "person"}


def headcounts() -> dict[str, int]:
    rng = random.Random(SEED + 2)
    return {i: rng.randint(30, 300) for i, _, _ in INSTITUTIONS}


def hr_events() -> list[dict]:
    """What the HR system emits: current headcount (현원) per institution."""
    return [{"event_id": f"hr-2021-{i}", "event_type": "hr.HeadcountReported",
             "schema_version": 1, "occurred_at": "2021-03-31T09:00:00+09:00",
             "source": "seoul-hr", "payload": {"institution_id": i, "headcount": n,
                                                "as_of": "2021-03-31"}}
            for i, n in headcounts().items()]


def education_events() -> list[dict]:
    """What the education platform emits: MOOC completions by pseudonymous learners;
    some learners finish both courses (they count once)."""
    rng, out = random.Random(SEED + 3), []
    for institution, headcount in headcounts().items():
        for k in range(rng.randint(0, headcount * 2 // 5)):
            courses = rng.choice([["governance-and-citizens"], ["local-governance"],
                                  ["governance-and-citizens", "local-governance"]])
            for course in courses:
                out.append({"event_id": f"edu-{institution}-{k}-{course}",
                            "event_type": "education.CourseCompleted", "schema_version": 1,
                            "occurred_at": "2020-11-01T10:00:00+09:00",
                            "source": "seoul-mooc",
                            "payload": {"institution_id": institution, "course_id": course,
                                        "learner_ref": f"L{k:04d}",
                                        "completed_on": "2020-11-01"}})
    return out


def expert_scores(institution_id: str, indicator_id: str, max_points: int) -> dict[str, str]:
    rng = random.Random(f"{SEED}-{institution_id}-{indicator_id}")
    return {e: str(round(rng.uniform(max_points * 0.4, max_points), 1)) for e in EXPERTS}


def all_evidence_in(reports: list[dict]):
    """A check on scoring's scorecards: true once every report result and every MOOC
    completion the scenario sent shows in them (so nothing is still in flight)."""
    learners: dict[str, set] = {}
    for e in education_events():
        learners.setdefault(e["payload"]["institution_id"], set()).add(
            e["payload"]["learner_ref"])
    reported = {(r["institution_id"], i["indicator_id"]) for r in reports for i in r["results"]}

    def check(cards: list[dict]) -> bool:
        if len(cards) != 47 or any(len(c["indicators"]) != 6 for c in cards):
            return False
        for card in cards:
            for row in card["indicators"]:
                key = (card["institution_id"], row["indicator_id"])
                if (key in reported) == (row["source"] == "base"):
                    return False  # a result not yet seen, or a base score not yet replaced
                if key in reported and row["indicator_id"] == "governance-education" and \
                        row["measure"].get("learners_completed") != len(
                            learners.get(card["institution_id"], ())):
                    return False
        return True
    return check
