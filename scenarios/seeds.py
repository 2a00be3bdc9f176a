"""The two meetings of the seed documents, as the committee secretariat records them.

Faithful to the documents in structure: dates, times, places, who attended (by
count and post), agenda numbers, kinds, owning teams, titles, opinions, results,
the next meeting, costs, disclosure. One deliberate change: the four members the
2021 report names appear here as 위원 A–D, and every birth date is made up — a
project must not attach invented personal data to real, named people.
"""
from __future__ import annotations

KST = "+09:00"
# The secretariat's token names the committees it serves (claim `committees`).
SECRETARY = {"id": "gov-office-secretary-1", "role": "committee_secretary", "kind": "person",
             "committees": ["gov-eval-advisory", "democracy-governance"]}


def secretary_for(*committees: str, who: str = "gov-office-secretary-1") -> dict:
    """A secretary whose token names exactly these committees."""
    return {"id": who, "role": "committee_secretary", "kind": "person",
            "committees": list(committees)}
YOUTH_HEAD = {"id": "youth-office-head", "role": "youth_office_head", "kind": "person"}

# --- seed 000: 협치역량평가 자문회의 (1st advisory meeting), 2019-03-14 -------------------
ADVISORY = "gov-eval-advisory"
ADVISORY_MEMBERS = [f"advisor-{n}" for n in range(1, 6)]


def advisory_commands() -> list[dict]:
    establish = {"command_type": "EstablishCommittee", "committee_id": ADVISORY,
                 "institution_id": "innovation", "name_ko": "협치역량평가 자문단",
                 "kind": "advisory group", "city_committee": False}
    appoint = [{"command_type": "AppointMember", "committee_id": ADVISORY, "member_id": m,
                "role": "member", "channel": "recommendation", "appointed_on": "2019-03-01",
                "personal": {"name": f"자문위원 {n}", "birth_date": f"{1965 + n}-0{n}-1{n}"}}
               for n, m in enumerate(ADVISORY_MEMBERS, start=1)]
    held = {"command_type": "RecordMeetingHeld", "meeting_id": "gov-eval-advisory-1",
            "committee_id": ADVISORY, "number": 1, "mode": "in_person",
            "starts_at": f"2019-03-14T14:00:00{KST}", "ends_at": f"2019-03-14T17:00:00{KST}",
            "place": "달개비 (서울시 중구 세종대로 19길 16)",
            "attendees": [{"member_id": m, "attendance": "in_person"} for m in ADVISORY_MEMBERS],
            "officials": [{"post": p} for p in (
                "민관협력담당관", "협업조정팀장", "협치기획팀장", "협치총괄지원관", "협치지원관",
                "담당 주무관", "서울연구원 연구진", "평가협업담당관", "평가협업 담당", "기록")],
            "agenda": [
                {"number": "2019-1", "kind": "advisory", "owning_team": "협치기획팀",
                 "title": "협치평가지표 개발, 평가방법, 평가과정 운영방안",
                 "opinions": ["공통지표와 개별지표로 10개 내외 지표 개발",
                              "정성평가 확대, 면대면 평가 확대",
                              "희망 부서부터 우선 실시 후 점차 확대"],
                 "result": "자문 의견 반영하여 지표 개발"}],
            "next_meeting": {"number": 2, "starts_at": f"2019-03-28T10:00:00{KST}"}}
    costs = {"command_type": "RecordMeetingCosts", "meeting_id": "gov-eval-advisory-1",
             "room_hours": 2, "room_rate": 110000, "refreshments": 143000}
    minutes = {"command_type": "RecordMinutes", "meeting_id": "gov-eval-advisory-1",
               "disclosure": "public", "retention_years": 3,
               "summary": "협치역량평가 자문회의 결과 보고 (민관협력담당관-3516)"}
    return [establish, *appoint, held, costs, minutes]


# --- seed 001: 제13차 협치 분과위원회, 2021-04-01 -----------------------------------------
SUBCOMMITTEE = "democracy-governance"
ATTENDING = ["member-a", "member-b", "member-c", "member-d"]
OTHERS = ["member-e", "member-f", "member-g", "member-h"]
# Birthdays before the appointment day (2020-05-01): the full ages equal the year
# differences the youth decisions were first recorded with.
BIRTH = {"member-a": "1962-03-08", "member-b": "1970-01-21", "member-c": "1975-04-02",
         "member-d": "1990-02-14", "member-e": "1958-04-30", "member-f": "1966-01-05",
         "member-g": "1994-03-27", "member-h": "1980-04-11"}
CHANNEL = {"member-a": "recommendation", "member-b": "open_call", "member-c": "open_call",
           "member-d": "open_call", "member-e": "recommendation", "member-f": "open_call",
           "member-g": "open_call", "member-h": "recommendation"}


def subcommittee_commands() -> list[dict]:
    establish = {"command_type": "EstablishCommittee", "committee_id": SUBCOMMITTEE,
                 "institution_id": "democracy", "name_ko": "서울민주주의위원회 협치분과",
                 "kind": "subcommittee of the Seoul Democracy Committee",
                 "city_committee": True}
    appoint = [{"command_type": "AppointMember", "committee_id": SUBCOMMITTEE,
                "member_id": m, "role": "chair" if m == "member-a" else "member",
                "channel": CHANNEL[m], "appointed_on": "2020-05-01",
                "personal": {"name": f"위원 {m[-1].upper()}", "birth_date": BIRTH[m]}}
               for m in ATTENDING + OTHERS]
    return [establish, *appoint, meeting_13()]


AGENDA_13 = [
    {"number": "2021-11", "kind": "report", "owning_team": "협치기획팀",
     "title": "2021년도 협치역량평가 시행계획",
     "opinions": ["기관별 성과평가 체계에 협치역량평가를 반영한 시정운영 2년차",
                  "미제출 지표는 기본점수 30점 부여",
                  "위원회 개최횟수 실적 20개 이내 제출"],
     "result": "보고"},
    {"number": "2021-12", "kind": "report", "owning_team": "시정협치팀",
     "title": "위원회 관련 조례 시행규칙(2건) 개정계획 보고",
     "opinions": ["원격회의 참석수당을 대면회의와 동일 수준으로 지급",
                  "시 위원회 청년위원 위촉비율 15% 이상 의무화, 미달 시 청년청장 협조 결재"],
     "result": "보고"},
    {"number": "2021-13", "kind": "report", "owning_team": "공익활동지원팀",
     "title": "공익활동 지원사업 선정결과 보고",
     "opinions": ["최대 지원액 3천만원, 감액 시 계획 축소 발생 — 제도 개선 고민 요청",
                  "5% 자부담과 집행률 대비 패널티 전반 점검 요청"],
     "result": "보고"},
    {"number": "2021-14", "kind": "advisory", "owning_team": "협치기획팀",
     "title": "민주주의 기본계획 - 협치분야",
     "opinions": ["과정관리 지표를 체계적으로 정리하도록 보완 요청",
                  "자치구의 역할과 기능 강화 내용 보완"],
     "result": "자문 의견 반영"},
]


def meeting_13() -> dict:
    return {"command_type": "RecordMeetingHeld", "meeting_id": "democracy-governance-13",
            "committee_id": SUBCOMMITTEE, "number": 13, "mode": "in_person",
            "starts_at": f"2021-04-01T14:00:00{KST}", "ends_at": f"2021-04-01T15:30:00{KST}",
            "place": "서울민주주의위원회 회의실 (시청사 10층)",
            "attendees": [{"member_id": m, "attendance": "in_person"} for m in ATTENDING],
            "officials": [{"post": p} for p in ("서울협치담당관", "협치기획팀장",
                                                "시정협치팀장", "공익활동지원팀장")],
            "agenda": AGENDA_13,
            "next_meeting": {"number": 14, "starts_at": f"2021-05-06T14:00:00{KST}"}}


def meeting_13_minutes() -> dict:
    return {"command_type": "RecordMinutes", "meeting_id": "democracy-governance-13",
            "disclosure": "partly_public", "reason_code": "6", "retention_years": 3,
            "summary": "참석위원 발언 요지 (비공개 부분 포함)",
            "attachments": [{"kind": "signature_sheet", "title": "제13차 협치분과위원회 서명부",
                             "disclosure": "closed"},
                            {"kind": "minutes", "title": "제13차 협치분과위원회 회의록",
                             "disclosure": "closed"}]}
