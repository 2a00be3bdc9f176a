"""The evaluation rulebook (평가 기준): versioned data, one per evaluation year.

The rules change every year, so they live in `rulebooks/<year>.json`, and a cycle
records the whole rulebook it was opened with: every later decision names it.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RULEBOOK_DIR = Path(__file__).resolve().parents[1] / "rulebooks"
InstitutionKind = Literal["bureau", "headquarters", "field_office"]


class KindRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name_ko: str
    committee_norm: int = Field(ge=0)


class Indicator(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    name_ko: str
    name_en: str
    kind: Literal["quantitative", "qualitative"]
    scorer: Literal["governance_office", "external_expert"]
    evidence: str
    max_points: int = Field(gt=0)
    caps: dict[str, int] = {}
    process_types: list[str] = []
    online_courses: dict[str, str] = {}
    online_courses_required: int | None = None
    offline_attendance_share: float | None = None


class Rulebook(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    rulebook_id: str
    year: int
    version: int = Field(ge=1)
    effective_from: date
    source: str
    base_score_missing: int
    institution_kinds: dict[InstitutionKind, KindRule]
    indicators: list[Indicator]
    assumptions: list[str]
    facts_from_documents: list[str] = []
    scoring: dict[str, Any] = {}  # the scoring service's parameters, carried as data

    @property
    def ref(self) -> str:
        """How a decision names the rules it was made under."""
        return f"{self.rulebook_id}/{self.year}/v{self.version}"

    def indicator(self, indicator_id: str) -> Indicator | None:
        return next((i for i in self.indicators if i.id == indicator_id), None)

    @property
    def indicator_ids(self) -> list[str]:
        return [i.id for i in self.indicators]


def load_rulebook(year: int, version: int = 1, directory: Path = RULEBOOK_DIR) -> Rulebook:
    """`<year>.json` is version 1; a revision n is `<year>-v<n>.json`. `directory`:
    the shipped rulebooks, or the operators' (the service's RULEBOOK_DIR setting)."""
    name = f"{year}.json" if version == 1 else f"{year}-v{version}.json"
    path = directory / name
    if not path.exists():
        raise FileNotFoundError(f"no rulebook for {year} version {version} "
                                f"(looked for {path.name})")
    rulebook = Rulebook.model_validate(json.loads(path.read_text(encoding="utf-8")))
    if (rulebook.year, rulebook.version) != (year, version):
        raise ValueError(f"{path.name} holds {rulebook.ref}, not {year} v{version}")
    return rulebook
