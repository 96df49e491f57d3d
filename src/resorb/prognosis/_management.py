"""Guideline-based management pathway for a lumbar disc herniation with radiculopathy.

After triage: an urgent referral when a red flag is present; otherwise a
conservative pathway after NASS 2014 (Kreiner DS et al., Spine J
2014;14(1):180-91, PMID 24239490) and NICE NG59, with the trial-entry timing
of SPORT and Peul 2007 and the re-imaging points of Wang 2020 (BMC
Musculoskelet Disord 21:530, PMID 32778091).

Every step cites its evidence records, and every time point (6 weeks, 12
weeks, 4 and 10.5 months) is read from the evidence base. The NASS timing
statement is cited with its ``unverified`` tag (read only via a secondary
summary) and its 6-month figure is not used. When the onset date
is known each step gets a calendar date counted from onset; otherwise the step
keeps its relative timing and says so. The wording stays at the strength of
the sources ("consider", "after"): where the notes mark a guideline's exact
wording as unverified, the step says "consider".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from resorb.domain.case import Case
from resorb.imaging import DAYS_PER_MONTH
from resorb.prognosis._triage import Triage, _cite_all, triage_case

__all__ = ["ManagementPlan", "ManagementStep", "add_months", "management_pathway"]

_DAYS_PER_WEEK = 7

#: Evidence ids used by the pathway (records in ``resorb/evidence/data``).
_IDS = {
    "conservative": ("nice_exercise_first", "nice_do_not_offer_acupuncture_traction"),
    "reevaluate_value": "reevaluation_weeks_after_onset",
    "reevaluate": ("reevaluate_after_6_weeks",),
    "surgery_value": "conservative_trial_decision_weeks",
    "surgery": ("nice_decompression_when_nonsurgical_fails",
                "peul_prolonged_conservative_equivalent_1y", "nass_surgery_timing"),
    "reimage_value": "reassessment_points_months_wang2020",
    "reimage": ("nice_no_routine_imaging",),
    "urgent": ("ces_emergency_referral", "progressive_motor_deficit_urgent"),
    "ces_hours_value": "ces_decompression_window_hours",
    "motor_hours_value": "motor_deficit_surgery_within_hours_acta2020",
    "safety_net": ("ces_emergency_referral", "progressive_motor_deficit_urgent"),
}


@dataclass(frozen=True, slots=True)
class ManagementStep:
    """One step of the pathway.

    Attributes
    ----------
    code : str
        Stable name (``reevaluate``, ``discuss_surgery`` ...).
    title : str
        Short heading.
    text : str
        What to do, at the strength of the guideline's wording.
    timing : str
        Relative timing (``"6 weeks after symptom onset"``).
    offset_days : int or None
        Days after onset, when the step has a time point.
    due_date : datetime.date or None
        Onset date + offset, when the onset date is known.
    status : str or None
        ``"passed"``, ``"due"`` (within 14 days either side of the assessment
        date) or ``"upcoming"``; None without a date.
    evidence_ids : tuple of str
    sources : tuple of dict
    """

    code: str
    title: str
    text: str
    timing: str
    offset_days: int | None
    due_date: dt.date | None
    status: str | None
    evidence_ids: tuple[str, ...]
    sources: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "text": self.text,
            "timing": self.timing,
            "offset_days": self.offset_days,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "status": self.status,
            "evidence_ids": list(self.evidence_ids),
            "sources": [dict(s) for s in self.sources],
        }


@dataclass(frozen=True, slots=True)
class ManagementPlan:
    """The pathway for one case.

    Attributes
    ----------
    pathway : str
        ``"urgent_referral"`` or ``"conservative_trial"``.
    onset_date : datetime.date or None
    as_of : datetime.date
        Assessment date the step statuses refer to.
    steps : tuple of ManagementStep
    notes : tuple of str
    """

    pathway: str
    onset_date: dt.date | None
    as_of: dt.date
    steps: tuple[ManagementStep, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "pathway": self.pathway,
            "onset_date": self.onset_date.isoformat() if self.onset_date else None,
            "as_of": self.as_of.isoformat(),
            "timing_basis": ("dates counted from the symptom onset date" if self.onset_date
                             else "symptom onset date unknown: timings are relative"),
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes),
        }


def _value(record_id: str):
    from resorb.evidence import evidence_value

    return evidence_value(record_id)


def add_months(date: dt.date, months: float) -> dt.date:
    """``date`` plus calendar months; a fractional part counts as days (0.5 = 15 days).

    The day is clipped to the end of a shorter month (31 Jan + 1 month = 28/29 Feb).
    """
    import calendar

    whole = int(months)
    extra_days = round((months - whole) * DAYS_PER_MONTH)
    month_index = date.month - 1 + whole
    year, month = date.year + month_index // 12, month_index % 12 + 1
    day = min(date.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day) + dt.timedelta(days=extra_days)


#: Display setting, not a clinical number: a step counts as "due" from this many days
#: before to this many days after its date (so a visit a fortnight early or late still
#: shows it as due); earlier it is "upcoming", later "passed".
DUE_WINDOW_DAYS = 14


def _status(due: dt.date | None, as_of: dt.date) -> str | None:
    if due is None:
        return None
    delta = (due - as_of).days
    if delta < -DUE_WINDOW_DAYS:
        return "passed"
    if delta <= DUE_WINDOW_DAYS:
        return "due"
    return "upcoming"


def _step(code: str, title: str, text: str, timing: str, offset_days: int | None,
          onset: dt.date | None, as_of: dt.date, ids: tuple[str, ...],
          months: float | None = None) -> ManagementStep:
    due = None
    if onset is not None and months is not None:
        due = add_months(onset, months)
        offset_days = (due - onset).days
    elif onset is not None and offset_days is not None:
        due = onset + dt.timedelta(days=offset_days)
    return ManagementStep(code=code, title=title, text=text, timing=timing,
                          offset_days=offset_days, due_date=due, status=_status(due, as_of),
                          evidence_ids=ids, sources=tuple(_cite_all(ids)))


def _fmt(x: float) -> str:
    return f"{x:g}"


def management_pathway(case: Case, *, triage: Triage | None = None,
                       as_of: dt.date | None = None) -> ManagementPlan:
    """Guideline-based next steps for a case.

    Parameters
    ----------
    case : Case
    triage : Triage, optional
        Result of :func:`triage_case` (computed when not given).
    as_of : datetime.date, optional
        Assessment date for the step statuses (default: today).

    Returns
    -------
    ManagementPlan
        With a red flag: one urgent-referral step and a note that the
        conservative pathway does not apply. Otherwise: conservative care,
        re-evaluation at 6 weeks, discussion of surgery after about 12 weeks of
        persisting disabling radicular pain with concordant imaging, follow-up
        MRI at 4 and 10.5 months after onset when it would change management,
        and the safety net.
    """
    as_of = as_of or dt.date.today()
    triage = triage or triage_case(case)
    onset = case.symptoms.onset_date
    notes: list[str] = []
    if triage.urgent_referral:
        codes = {r.code for r in triage.reasons}
        found = [r.text.split(":")[0].lower() for r in triage.reasons]
        text = "Refer urgently to a spinal surgeon (" + ", ".join(found) + ")."
        ids = list(_IDS["urgent"])
        if codes - {"motor_mrc", "progressive_motor_deficit"}:
            early, late = _value(_IDS["ces_hours_value"]).value
            text += (" Suspected cauda equina syndrome needs emergency assessment: the sources "
                     f"favour decompression within {_fmt(early)}-{_fmt(late)} hours.")
            ids.append(_IDS["ces_hours_value"])
        if codes & {"motor_mrc", "progressive_motor_deficit"}:
            hours = _value(_IDS["motor_hours_value"]).value
            text += (" For a severe or progressive motor deficit retrospective data favour "
                     f"surgery within {_fmt(hours)} hours; NASS found insufficient evidence for "
                     "or against emergency surgery for motor deficit.")
            ids.append(_IDS["motor_hours_value"])
        step = _step("urgent_referral", "Urgent referral", text, "now", 0, as_of, as_of,
                     tuple(ids))
        notes.append("A red flag is present: the conservative watchful-waiting pathway "
                     "does not apply until a spinal specialist has assessed the patient.")
        return ManagementPlan(pathway="urgent_referral", onset_date=onset, as_of=as_of,
                              steps=(step,), notes=tuple(notes))
    if onset is None:
        notes.append("Symptom onset date not recorded: the steps keep their relative timing.")
    weeks = _value(_IDS["reevaluate_value"]).value
    weeks_surgery = _value(_IDS["surgery_value"]).value
    reimage = _value(_IDS["reimage_value"]).value
    reimage_months = tuple(reimage) if isinstance(reimage, tuple) else (reimage,)
    steps = [
        _step("conservative_care", "Conservative care",
              "Start or continue conservative care. NICE NG59: consider a group exercise "
              "programme as the main treatment, with manual therapy or psychological "
              "approaches only alongside exercise; do not offer acupuncture, traction, belts "
              "or corsets, orthotics or electrotherapy.",
              "from symptom onset", 0, onset, as_of, _IDS["conservative"]),
        _step("reevaluate", "Re-evaluate",
              f"Re-evaluate after about {_fmt(weeks)} weeks of symptoms: pain control, "
              "function and neurology (red flags, motor grade). Trials of surgery enrol only "
              "after this time because many patients improve without it.",
              f"{_fmt(weeks)} weeks after symptom onset", round(weeks * _DAYS_PER_WEEK),
              onset, as_of, (_IDS["reevaluate_value"], *_IDS["reevaluate"])),
        _step("discuss_surgery", "Consider discussing surgery",
              f"If disabling radicular pain persists after about {_fmt(weeks_surgery)} weeks "
              "of conservative care and the MRI is consistent with the symptoms, consider "
              "discussing decompression (discectomy). Early surgery relieves leg pain sooner; "
              "at one year outcomes were similar to prolonged conservative care.",
              f"{_fmt(weeks_surgery)} weeks after symptom onset",
              round(weeks_surgery * _DAYS_PER_WEEK), onset, as_of,
              (_IDS["surgery_value"], *_IDS["surgery"])),
    ]
    for i, months in enumerate(reimage_months):
        steps.append(_step(
            f"reimage_{i + 1}", "Consider follow-up MRI",
            f"Consider a follow-up MRI about {_fmt(months)} months after onset to document "
            "resorption, if its result would change management (for example a decision on "
            "surgery).",
            f"{_fmt(months)} months after symptom onset", round(months * DAYS_PER_MONTH),
            onset, as_of, (_IDS["reimage_value"], *_IDS["reimage"]), months=months))
    steps.append(_step(
        "safety_net", "Safety net",
        "Tell the patient to seek emergency care at once if saddle numbness, bladder or bowel "
        "disturbance, symptoms in both legs or increasing weakness appear.",
        "at every visit", None, onset, as_of, _IDS["safety_net"]))
    steps.sort(key=lambda s: (s.offset_days is None, s.offset_days or 0))
    return ManagementPlan(pathway="conservative_trial", onset_date=onset, as_of=as_of,
                          steps=tuple(steps), notes=tuple(notes))
