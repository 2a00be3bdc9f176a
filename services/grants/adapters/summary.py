"""A round's figures, and the paragraph they make (like the 2021 report's)."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal


def round_summary(rules: dict, apps: list[dict], decided: dict[str, dict],
                  scored: set[str]) -> dict:
    """`apps`: rm_applications rows; `decided`: rm_decisions rows by application id;
    `scored`: applications with at least one score from an unconflicted reviewer."""
    excluded = [a for a in apps if a["excluded"]]
    reviewed = [a for a in apps if not a["excluded"]]
    selected = [a for a in reviewed if decided.get(a["application_id"], {}).get("selected")]
    new = sum(a["new_organisation"] for a in selected)
    awards = {a["application_id"]: decided[a["application_id"]]["award"] for a in selected}
    committed = sum(awards.values())
    cut = [a for a in selected if awards[a["application_id"]] < a["requested"]]
    checked = [a for a in selected if a["self_funding"]]
    share = (Decimal(new) / len(selected)).quantize(Decimal("0.001")) if selected else None
    figures = {
        "round_id": rules["round_id"], "budget": rules["budget"],
        "applied": len(apps), "excluded": len(excluded),
        "excluded_by_reason": dict(sorted(Counter(a["excluded"] for a in excluded).items())),
        "reviewed": len(reviewed),
        "reviews_complete": sum(1 for a in reviewed if a["application_id"] in scored),
        "reviewed_fields": len({a["field"] for a in reviewed}),
        "applications_by_field": dict(sorted(Counter(a["field"] for a in apps).items())),
        "selected": len(selected),
        "selected_by_field": dict(sorted(Counter(a["field"] for a in selected).items())),
        "selected_new": new, "selected_existing": len(selected) - new,
        "new_share": str(share) if share is not None else None,
        "new_target": str(rules["new_organisation_target_share"]),
        "budget_committed": committed, "largest_award": max(awards.values(), default=0),
        "awards_cut_below_request": len(cut),
        "self_funding_checked": len(checked),
        "self_funding_short": sum(1 for a in checked if a["self_funding"]["shortfall"]),
        "penalties": sum(a["penalty"] or 0 for a in selected),
    }
    figures["paragraph"] = paragraph(rules, figures)
    return figures


def paragraph(rules: dict, f: dict) -> str:
    reasons = {"not_registered": "미등록", "poor_past_evaluation": "평가미흡",
               "incomplete": "서류 미비", "duplicate": "중복"}
    why = " 및 ".join(reasons.get(r, r) for r in f["excluded_by_reason"]) or "—"
    share = f"{Decimal(f['new_share']) * 100:.1f}%" if f["new_share"] else "—"
    return (f"1년단위 사업으로 예산규모는 {rules['budget'] // 100_000_000}억원임. "
            f"{f['applied']}개 단체 신청하여 {why} 사유로 {f['excluded']}개 단체 제외하고, "
            f"{f['reviewed_fields']}개 분야 {f['reviewed']}개 단체 접수받아 "
            f"{len(f['selected_by_field'])}개 분야 {f['selected']}개 사업 선정 "
            f"(신규 {f['selected_new']}건, 기존단체 {f['selected_existing']}건, 신규 비율 "
            f"{share}; 가이드라인 {Decimal(f['new_target']) * 100:.0f}%). "
            f"선정 총액 {f['budget_committed']:,}원 (예산 {rules['budget']:,}원), "
            f"최대 지원액 {f['largest_award']:,}원, 신청액 미만 지원 {f['awards_cut_below_request']}건. "
            f"자부담 점검 {f['self_funding_checked']}건 중 미달 {f['self_funding_short']}건 "
            f"(패널티 {f['penalties']:,}원).")
