"""A committee (위원회): its members over time and the youth quota (청년위원 비율)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from shared.aggregate import Aggregate

from .errors import InvalidState, NotAMember, YouthQuotaBreached
from .events import (CommitteeEstablished, MemberAppointed, MemberDismissed, Personal,
                     PersonalDataErased, SealedPersonal, YouthQuotaExceptionApproved)
from .rules import CommitteeRules


def committee_stream(committee_id: str) -> str:
    return f"committee-{committee_id}"


@dataclass(frozen=True)
class Membership:
    """One term of a member; `youth` is fixed at appointment (the rule counts the
    share of youth members among those appointed, 청년위원 위촉비율)."""

    role: str
    channel: str
    youth: bool
    appointed_on: date
    dismissed_on: date | None = None

    def serves_on(self, day: date) -> bool:
        return self.appointed_on <= day and (self.dismissed_on is None or day < self.dismissed_on)


@dataclass(frozen=True)
class CommitteeState:
    institution_id: str = ""
    name_ko: str = ""
    city_committee: bool = False
    terms: dict = field(default_factory=dict)       # member id -> tuple[Membership, ...]
    exceptions: frozenset[str] = frozenset()        # member ids co-approved below quota


class Committee(Aggregate[CommitteeState]):
    def initial(self) -> CommitteeState:
        return CommitteeState()

    def evolve(self, s: CommitteeState, e) -> CommitteeState:
        match e:
            case CommitteeEstablished():
                return CommitteeState(e.institution_id, e.name_ko, e.city_committee)
            case MemberAppointed():
                term = Membership(e.role, e.channel, e.youth, e.appointed_on)
                return replace(s, terms={**s.terms, e.member_id:
                                         s.terms.get(e.member_id, ()) + (term,)})
            case MemberDismissed():
                *earlier, last = s.terms[e.member_id]
                return replace(s, terms={**s.terms, e.member_id: (
                    *earlier, replace(last, dismissed_on=e.dismissed_on))})
            case YouthQuotaExceptionApproved():
                return replace(s, exceptions=s.exceptions | {e.member_id})
        return s

    def establish(self, committee_id: str, institution_id: str, name_ko: str, kind: str,
                  city_committee: bool) -> list:
        if self.exists:
            raise InvalidState(f"committee {committee_id} already exists")
        return [CommitteeEstablished(committee_id=committee_id, institution_id=institution_id,
                                     name_ko=name_ko, kind=kind, city_committee=city_committee)]

    def members_on(self, day: date) -> dict[str, Membership]:
        """Who serves on `day`, with the term they serve in."""
        serving = {}
        for member_id, terms in self.state.terms.items():
            for term in terms:
                if term.serves_on(day):
                    serving[member_id] = term
        return serving

    def role_of(self, member_id: str, day: date) -> str | None:
        term = self.members_on(day).get(member_id)
        return term.role if term else None

    @staticmethod
    def youth_share(members: dict[str, Membership]) -> Decimal | None:
        if not members:
            return None
        return Decimal(sum(m.youth for m in members.values())) / Decimal(len(members))

    def appoint(self, committee_id: str, member_id: str, role: str, channel: str,
                appointed_on: date, personal: Personal, sealed: SealedPersonal,
                rules: CommitteeRules) -> list:
        """The youth rule reads the birth date (full age on `appointed_on`); the event
        keeps only `sealed` and the decision, which replays never recompute."""
        if member_id in self.members_on(appointed_on):
            raise InvalidState(f"{member_id} already serves on {committee_id}")
        youth = rules.is_youth(personal.birth_date, appointed_on)
        term = Membership(role, channel, youth, appointed_on)
        self._check_quota(committee_id, member_id, term, rules)
        quota = rules.youth_quota_on(appointed_on)
        return [MemberAppointed(
            committee_id=committee_id, member_id=member_id, role=role, channel=channel,
            appointed_on=appointed_on, personal=sealed, youth=youth,
            youth_rule_ref=quota.ref if quota else None)]

    def _check_quota(self, committee_id: str, member_id: str, term: Membership,
                     rules: CommitteeRules) -> None:
        """A non-youth appointment may not leave a city committee below the quota,
        unless the youth office head co-approved it; a youth appointment never can."""
        quota = rules.youth_quota_on(term.appointed_on)
        if (quota is None or term.youth or not self.state.city_committee
                or member_id in self.state.exceptions):
            return
        share = self.youth_share({**self.members_on(term.appointed_on), member_id: term})
        if share < quota.min_share:
            raise YouthQuotaBreached(
                f"appointing {member_id} leaves {committee_id} at {int(share * 100)}% youth "
                f"members (ages {quota.age_min}–{quota.age_max}); {quota.ref} requires at "
                f"least {quota.min_share:.0%} unless the youth office head co-approves")

    def approve_youth_exception(self, committee_id: str, member_id: str, approver: str,
                                reason: str) -> list:
        if member_id in self.state.exceptions:
            raise InvalidState(f"an exception for {member_id} is already approved")
        return [YouthQuotaExceptionApproved(committee_id=committee_id, member_id=member_id,
                                            approved_by=approver, reason=reason)]

    def dismiss(self, committee_id: str, member_id: str, on: date, reason: str) -> list:
        if member_id not in self.members_on(on):
            raise NotAMember(f"{member_id} does not serve on {committee_id} on {on}")
        return [MemberDismissed(committee_id=committee_id, member_id=member_id,
                                dismissed_on=on, reason=reason)]


def person_stream(member_id: str) -> str:
    return f"person-{member_id}"


class PersonRecord(Aggregate[bool]):
    """What is recorded about a person as such: only whether their data was erased."""

    def initial(self) -> bool:
        return False

    def evolve(self, erased: bool, event) -> bool:
        return erased or isinstance(event, PersonalDataErased)

    def erase(self, member_id: str, key_id: str, reason: str) -> list:
        if self.state:
            raise InvalidState(f"personal data of {member_id} was already erased")
        return [PersonalDataErased(member_id=member_id, key_id=key_id, reason=reason)]
