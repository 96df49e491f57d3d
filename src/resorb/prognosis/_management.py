"""Guideline-based management pathway for a lumbar disc herniation with radiculopathy.

After triage: the emergency cauda equina pathway (GIRFT 2023: emergency MRI,
then decompression), an urgent referral for a motor deficit, or investigation
of serious pathology first, when a red flag is present; otherwise a
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
from dataclasses import dataclass, replace
from typing import Any

from resorb.domain.case import Case
from resorb.imaging import DAYS_PER_MONTH
from resorb.prognosis._patient_information import PatientInformation, patient_information
from resorb.prognosis._triage import Triage, _cite_all, triage_case

__all__ = ["ManagementPlan", "ManagementStep", "add_months", "management_pathway"]

_DAYS_PER_WEEK = 7

#: Evidence ids used by the pathway (records in ``resorb/evidence/data``).
_IDS = {
    "conservative": ("nice_exercise_first", "nice_do_not_offer_acupuncture_traction"),
    "reevaluate_value": "reevaluation_weeks_after_onset",
    "reevaluate": ("reevaluate_after_6_weeks",),
    "surgery_value": "conservative_trial_decision_weeks",
    "surgery": (
        "nice_decompression_when_nonsurgical_fails",
        "peul_prolonged_conservative_equivalent_1y",
        "nass_surgery_timing",
    ),
    "reimage_value": "reassessment_points_months_wang2020",
    "reimage": ("nice_no_routine_imaging",),
    "urgent": ("ces_emergency_referral", "progressive_motor_deficit_urgent"),
    "ces_hours_value": "ces_decompression_window_hours",
    "motor_hours_value": "motor_deficit_surgery_within_hours_acta2020",
    "safety_net": ("ces_emergency_referral", "ces_early_signs", "progressive_motor_deficit_urgent"),
    "indications": (
        "surgery_intractable_pain_any_stage",
        "surgery_persisting_or_progressive_deficit",
        "growth_with_symptoms_review",
        "surgery_patient_preference",
    ),
    "ces_bladder_late_value": "ces_bladder_recovery_if_late_fraction_acta2020",
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


#: Heading of the pathway by triage level.
_PATHWAY_LABELS = {
    "emergency": "emergency referral",
    "urgent": "urgent referral",
    "investigate": "investigate serious pathology first",
    "routine": "conservative trial",
}


@dataclass(frozen=True, slots=True)
class ManagementPlan:
    """The pathway for one case.

    Attributes
    ----------
    pathway : str
        ``"urgent_referral"`` or ``"conservative_trial"``.
    urgency : str
        The triage level: ``"emergency"``, ``"urgent"``, ``"investigate"`` or
        ``"routine"``.
    onset_date : datetime.date or None
    as_of : datetime.date
        Assessment date the step statuses refer to.
    steps : tuple of ManagementStep
    notes : tuple of str
    patient_information : tuple of PatientInformation
        The plain-language page for shared decision-making.
    """

    pathway: str
    onset_date: dt.date | None
    as_of: dt.date
    steps: tuple[ManagementStep, ...]
    notes: tuple[str, ...] = ()
    urgency: str = "routine"
    patient_information: tuple[PatientInformation, ...] = ()

    @property
    def label(self) -> str:
        """The pathway in words for a heading: an emergency is never called 'urgent'."""
        return _PATHWAY_LABELS.get(self.urgency, self.pathway.replace("_", " "))

    def to_dict(self) -> dict[str, Any]:
        return {
            "pathway": self.pathway,
            "label": self.label,
            "urgency": self.urgency,
            "onset_date": self.onset_date.isoformat() if self.onset_date else None,
            "as_of": self.as_of.isoformat(),
            "timing_basis": (
                "dates counted from the symptom onset date"
                if self.onset_date
                else "symptom onset date unknown: timings are relative"
            ),
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes),
            "patient_information": [p.to_dict() for p in self.patient_information],
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


def _step(
    code: str,
    title: str,
    text: str,
    timing: str,
    offset_days: int | None,
    onset: dt.date | None,
    as_of: dt.date,
    ids: tuple[str, ...],
    months: float | None = None,
) -> ManagementStep:
    due = None
    if onset is not None and months is not None:
        due = add_months(onset, months)
        offset_days = (due - onset).days
    elif onset is not None and offset_days is not None:
        due = onset + dt.timedelta(days=offset_days)
    return ManagementStep(
        code=code,
        title=title,
        text=text,
        timing=timing,
        offset_days=offset_days,
        due_date=due,
        status=_status(due, as_of),
        evidence_ids=ids,
        sources=tuple(_cite_all(ids)),
    )


def _fmt(x: float) -> str:
    return f"{x:g}"


def _statement_text(record_id: str) -> str:
    from resorb.evidence import evidence_statement

    return " ".join(evidence_statement(record_id).text.split())


_URGENT_NOTE = {
    "emergency": "Suspected cauda equina syndrome: the conservative watchful-waiting pathway "
    "does not apply; the resorption estimate and the volume forecast are "
    "withheld.",
    "urgent": "A severe or progressive motor deficit: the conservative watchful-waiting "
    "pathway does not apply until a spinal surgeon has assessed the patient; the "
    "resorption estimate and the volume forecast are withheld.",
    "investigate": "A red flag of serious spinal pathology: no conservative label until "
    "cancer, infection and fracture have been considered and investigated; the "
    "resorption estimate and the volume forecast are withheld.",
}


def _mid_sentence(text: str) -> str:
    """``Painless retention ...`` -> ``painless retention ...``; ``JOA ...`` stays."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _urgent_steps(
    triage: Triage, as_of: dt.date, case: Case | None = None
) -> tuple[ManagementStep, ...]:
    steps: list[ManagementStep] = []
    on_file = ""
    if case is not None and case.mri:
        on_file = (
            f" An MRI from {case.mri[-1].date} is on file: it answers the question only "
            "if it was taken after these symptoms began; otherwise repeat it as an "
            "emergency."
        )
    found = "; ".join(
        _mid_sentence(r.text.rstrip("."))
        for r in triage.reasons
        if r.group.value.startswith("cauda_equina")
    )
    if triage.cauda_equina:
        steps.append(
            _step(
                "emergency_mri",
                "Emergency MRI",
                f"Signs of cauda equina syndrome: {found}. Same-day assessment by the on-call "
                "spinal team. " + _statement_text("ces_emergency_mri_girft") + on_file,
                "now",
                0,
                as_of,
                as_of,
                ("ces_emergency_mri_girft", "ces_early_signs", "ces_emergency_referral"),
            )
        )
        early, late = _value(_IDS["ces_hours_value"]).value
        late_recovery = _value(_IDS["ces_bladder_late_value"]).value
        steps.append(
            _step(
                "emergency_decompression",
                "Emergency decompression",
                "If the MRI shows compression of the cauda equina: emergency decompression as "
                f"soon as possible: the sources ask for it within {_fmt(early)}-{_fmt(late)} hours "
                f"at the latest (an incomplete syndrome ideally within {_fmt(early)} hours of "
                "onset), a limit and not a time to wait; when it comes later only about "
                f"{100 * late_recovery:.0f} % regain bladder function.",
                "as soon as the MRI confirms compression",
                0,
                as_of,
                as_of,
                (_IDS["ces_hours_value"], _IDS["ces_bladder_late_value"], "ces_emergency_referral"),
            )
        )
    if triage.motor_deficit:
        hours = _value(_IDS["motor_hours_value"]).value
        motor = "; ".join(
            r.text.rstrip(".") for r in triage.reasons if r.group.value == "neurological"
        )
        steps.append(
            _step(
                "urgent_referral",
                "Urgent referral",
                f"Refer urgently to a spinal surgeon ({motor}). For a severe or progressive motor "
                f"deficit retrospective data favour surgery within {_fmt(hours)} hours; NASS "
                "found insufficient evidence for or against emergency surgery for motor deficit.",
                "now",
                0,
                as_of,
                as_of,
                (*_IDS["urgent"], _IDS["motor_hours_value"]),
            )
        )
    if triage.serious_pathology:
        flags = "; ".join(
            r.text.split(":")[0].lower()
            for r in triage.reasons
            if r.group.value == "serious_pathology"
        )
        steps.append(
            _step(
                "investigate_serious_pathology",
                "Investigate serious pathology first",
                f"Red flags of serious spinal pathology ({flags}). Before labelling the symptoms "
                "as a disc herniation for conservative care, assess for cancer, infection and "
                "fracture with the history, examination, blood tests and imaging the suspected "
                "condition calls for, and refer to the appropriate specialist. "
                + _statement_text("nice_exclude_serious_pathology"),
                "now",
                0,
                as_of,
                as_of,
                ("nice_exclude_serious_pathology",),
            )
        )
    return tuple(steps)


def _indications_step(
    case: Case, onset: dt.date | None, as_of: dt.date, *, observed_growth: bool
) -> ManagementStep:
    """Indications for surgery that do not wait for the 12-week point, with what the case shows."""
    from resorb.scores import odi_percent

    s = case.symptoms
    lines = [_statement_text(i) for i in _IDS["indications"]]
    seen: list[str] = []
    if s.leg_pain_nrs is not None and s.leg_pain_nrs >= 10:
        seen.append(
            f"leg pain {s.leg_pain_nrs:g}/10, the top of the scale: ask whether the "
            "pain is intractable"
        )
    if s.vas_mm is not None and s.vas_mm >= 100:
        seen.append("pain VAS 100 mm, the top of the scale: ask whether the pain is intractable")
    if s.odi_answers is not None:
        odi = odi_percent(s.odi_answers)
        if odi.band in ("crippled", "bed-bound or exaggerating"):
            seen.append(f"ODI {odi.odi_percent:.0f} % ({odi.band})")
    if s.motor_mrc is not None and s.motor_mrc < 5:
        seen.append(
            f"motor deficit MRC {s.motor_mrc}/5: re-examine at every visit; "
            "persisting or progressive weakness is an indication"
        )
    if observed_growth:
        seen.append("the herniation has grown beyond measurement error on follow-up MRI")
    text = " ".join(lines)
    if seen:
        text += " Recorded for this patient: " + "; ".join(seen) + "."
    return _step(
        "surgical_indications",
        "Indications for surgery at any stage",
        text,
        "at every visit, before or after 12 weeks",
        None,
        onset,
        as_of,
        _IDS["indications"],
    )


def _persisting_symptoms(case: Case) -> list[str]:
    """The symptoms recorded in the case that are still present (empty: none recorded)."""
    from resorb.scores import odi_percent

    s = case.symptoms
    found: list[str] = []
    if s.leg_pain_nrs is not None and s.leg_pain_nrs > 0:
        found.append(f"leg pain {s.leg_pain_nrs:g}/10")
    if s.vas_mm is not None and s.vas_mm > 0:
        found.append(f"pain VAS {s.vas_mm:g} mm")
    if s.odi_answers is not None:
        odi = odi_percent(s.odi_answers)
        if odi.band != "minimal disability":
            found.append(f"ODI {odi.odi_percent:.0f} % ({odi.band})")
    if s.motor_mrc is not None and s.motor_mrc < 5:
        found.append(f"motor deficit MRC {s.motor_mrc}/5")
    return found


def _growth_review_step(case: Case, onset: dt.date | None, as_of: dt.date) -> ManagementStep | None:
    """Growth beyond measurement error with persisting symptoms: discuss surgery now.

    Growth alone is not an indication (``growth_with_symptoms_review``); with the
    symptoms still present the step is due at the assessment date, so it is the next step
    rather than another follow-up MRI. Symptoms recorded as gone: no step (the indications
    step still lists the growth).
    """
    symptoms = _persisting_symptoms(case)
    if not symptoms and (
        case.symptoms.leg_pain_nrs is not None or case.symptoms.vas_mm is not None
    ):
        return None
    ids = (
        "growth_with_symptoms_review",
        "nice_decompression_when_nonsurgical_fails",
        "surgery_intractable_pain_any_stage",
    )
    latest = case.mri[-1].date.isoformat() if case.mri else "the latest follow-up MRI"
    if symptoms:
        why = (
            f"The herniation has grown beyond measurement error (MRI of {latest}) while "
            f"the symptoms persist ({'; '.join(symptoms)})."
        )
    else:
        why = (
            f"The herniation has grown beyond measurement error (MRI of {latest}); no "
            "symptom score is recorded for this assessment: if the radicular symptoms "
            "persist or worsen, this applies."
        )
    text = (
        f"{why} Discuss decompression (discectomy) with the patient now rather than "
        "waiting for another MRI: a herniation that grows is not resorbing. "
        + " ".join(_statement_text(i) for i in ids)
    )
    offset = (as_of - onset).days if onset is not None else None
    step = _step(
        "discuss_surgery_after_growth",
        "Discuss surgery: the herniation has grown",
        text,
        "now",
        offset,
        onset,
        as_of,
        ids,
    )
    if step.status != "due":
        # Undated (onset unknown) or an assessment date long after onset: it is due now.
        step = replace(step, due_date=as_of, status="due")
    return step


def management_pathway(
    case: Case,
    *,
    triage: Triage | None = None,
    as_of: dt.date | None = None,
    observed_growth: bool = False,
) -> ManagementPlan:
    """Guideline-based next steps for a case.

    Parameters
    ----------
    case : Case
    triage : Triage, optional
        Result of :func:`triage_case` (computed when not given).
    as_of : datetime.date, optional
        Assessment date for the step statuses (default: today).
    observed_growth : bool, default False
        Whether a follow-up MRI showed growth beyond measurement error (shown
        among the indications for surgery).

    Returns
    -------
    ManagementPlan
        With a red flag: the emergency steps (emergency MRI, then
        decompression if it shows compression) for cauda equina signs, an
        urgent referral for a motor deficit, investigation first for serious
        pathology; a note that the conservative pathway does not apply.
        Otherwise: conservative care, re-evaluation at 6 weeks, discussion of
        surgery after about 12 weeks of persisting disabling radicular pain with
        concordant imaging, the indications for surgery at any stage (with what
        the case shows), MRI when it answers a question and at 4 and 10.5
        months only if the answer would change management, what to do if
        symptoms come back, and the safety net. Both carry the plain-language
        page for the patient.
    """
    as_of = as_of or dt.date.today()
    triage = triage or triage_case(case)
    onset = case.symptoms.onset_date
    info = patient_information(triage=triage)
    if triage.urgent_referral:
        return ManagementPlan(
            pathway="urgent_referral",
            onset_date=onset,
            as_of=as_of,
            steps=_urgent_steps(triage, as_of, case),
            urgency=triage.level,
            notes=(_URGENT_NOTE[triage.level],),
            patient_information=info,
        )
    notes: list[str] = []
    if onset is None:
        notes.append("Symptom onset date not recorded: the steps keep their relative timing.")
    weeks = _value(_IDS["reevaluate_value"]).value
    weeks_surgery = _value(_IDS["surgery_value"]).value
    reimage = _value(_IDS["reimage_value"]).value
    reimage_months = tuple(reimage) if isinstance(reimage, tuple) else (reimage,)
    steps = [
        _step(
            "conservative_care",
            "Conservative care",
            "Start or continue conservative care. NICE NG59: consider a group exercise "
            "programme as the main treatment, with manual therapy or psychological "
            "approaches only alongside exercise; do not offer acupuncture, traction, belts "
            "or corsets, orthotics or electrotherapy.",
            "from symptom onset",
            0,
            onset,
            as_of,
            _IDS["conservative"],
        ),
        _step(
            "reevaluate",
            "Re-evaluate",
            f"Re-evaluate after about {_fmt(weeks)} weeks of symptoms: pain control, "
            "function and neurology (red flags, motor grade). Trials of surgery enrol only "
            "after this time because many patients improve without it.",
            f"{_fmt(weeks)} weeks after symptom onset",
            round(weeks * _DAYS_PER_WEEK),
            onset,
            as_of,
            (_IDS["reevaluate_value"], *_IDS["reevaluate"]),
        ),
        _step(
            "discuss_surgery",
            "Consider discussing surgery",
            f"If disabling radicular pain persists after about {_fmt(weeks_surgery)} weeks "
            "of conservative care and the MRI is consistent with the symptoms, consider "
            "discussing decompression (discectomy). Early surgery relieves leg pain sooner; "
            "at one year outcomes were similar to prolonged conservative care. The "
            "indications below apply at any time, before or after this point.",
            f"{_fmt(weeks_surgery)} weeks after symptom onset",
            round(weeks_surgery * _DAYS_PER_WEEK),
            onset,
            as_of,
            (_IDS["surgery_value"], *_IDS["surgery"]),
        ),
        _indications_step(case, onset, as_of, observed_growth=observed_growth),
        _step(
            "reimage_on_events",
            "MRI when it answers a question",
            _statement_text("reimage_when_it_answers_a_question"),
            "when one of these events happens",
            None,
            onset,
            as_of,
            ("reimage_when_it_answers_a_question", *_IDS["reimage"]),
        ),
    ]
    for i, months in enumerate(reimage_months):
        steps.append(
            _step(
                f"reimage_{i + 1}",
                "Consider follow-up MRI",
                f"Consider a follow-up MRI about {_fmt(months)} months after onset only if its "
                "answer would change management, for a patient still weighing surgery against "
                "waiting longer: has the herniation resorbed, is it unchanged, has it grown? Not "
                "to document resorption in a patient who is recovering.",
                f"{_fmt(months)} months after symptom onset",
                round(months * DAYS_PER_MONTH),
                onset,
                as_of,
                (_IDS["reimage_value"], *_IDS["reimage"], "symptoms_precede_imaging"),
                months=months,
            )
        )
    steps.append(
        _step(
            "recurrence",
            "If symptoms come back",
            _statement_text("recurrence_after_resorption") + " Record a recurrence at the "
            "visit; a new episode with radicular pain is reassessed like the first (red flags, "
            "neurology) and re-imaged only if the answer changes management.",
            "after recovery",
            None,
            onset,
            as_of,
            ("recurrence_after_resorption", "no_symptom_recurrence_after_resorption_lee2017"),
        )
    )
    steps.append(
        _step(
            "safety_net",
            "Safety net",
            "Tell the patient to seek emergency care at once if numbness around the back "
            "passage or genitals, new difficulty passing urine or loss of bladder or bowel "
            "control or sensation, new sexual dysfunction, symptoms in both legs or increasing "
            "weakness appear.",
            "at every visit",
            None,
            onset,
            as_of,
            _IDS["safety_net"],
        )
    )
    if observed_growth:
        review = _growth_review_step(case, onset, as_of)
        if review is not None:
            steps.append(review)
    steps.sort(key=lambda s: (s.offset_days is None, s.offset_days or 0))
    return ManagementPlan(
        pathway="conservative_trial",
        onset_date=onset,
        as_of=as_of,
        steps=tuple(steps),
        notes=tuple(notes),
        urgency="routine",
        patient_information=info,
    )
