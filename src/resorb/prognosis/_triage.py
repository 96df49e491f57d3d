"""Red-flag triage: does this case need emergency or urgent care rather than a conservative trial?

Four levels, the most urgent wins:

- ``emergency``: any early or late sign of cauda equina syndrome (recorded as a
  red flag, or a JOA bladder item below 0): same-day assessment, emergency MRI
  and, if the MRI shows compression, emergency decompression (GIRFT National
  Suspected CES Pathway 2023; Eur Spine J 2011; Acta Neurochir 2020);
- ``urgent``: a severe (MRC grade at or below the evidence base's cut-off) or
  progressive motor deficit, including a JOA motor item of 0;
- ``investigate``: a red flag of serious spinal pathology (cancer, infection,
  fracture; NICE NG59, IFOMPT framework 2020): investigate before any
  conservative label;
- ``routine``: none of these recorded.

Any level but ``routine`` sets ``urgent_referral`` and withholds the
resorption estimate. Recorded findings that contradict "no red flag" (a
JOA bladder item below 0 with no bladder flag in the list, a canal filled by
more than two thirds without a recorded cauda equina sign, a JOA motor item
that disagrees with the MRC grade) become warnings, each naming its field.
Every reason and warning cites its evidence records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from resorb.domain.case import Case
from resorb.domain.enums import CanalCompromise, RedFlag, RedFlagGroup, SchizasGrade

__all__ = ["Triage", "TriageReason", "TriageWarning", "cite", "triage_case"]

#: Triage levels, most urgent first.
LEVELS: tuple[str, ...] = ("emergency", "urgent", "investigate", "routine")

#: Evidence records behind the reasons of each red-flag group.
_GROUP_EVIDENCE: dict[RedFlagGroup, tuple[str, ...]] = {
    RedFlagGroup.CAUDA_EQUINA_LATE: ("ces_emergency_referral", "ces_emergency_mri_girft"),
    RedFlagGroup.CAUDA_EQUINA_EARLY: ("ces_early_signs", "ces_emergency_mri_girft"),
    RedFlagGroup.NEUROLOGICAL: ("progressive_motor_deficit_urgent",),
    RedFlagGroup.SERIOUS_PATHOLOGY: ("nice_exclude_serious_pathology",),
}
_GROUP_LEVEL: dict[RedFlagGroup, str] = {
    RedFlagGroup.CAUDA_EQUINA_LATE: "emergency",
    RedFlagGroup.CAUDA_EQUINA_EARLY: "emergency",
    RedFlagGroup.NEUROLOGICAL: "urgent",
    RedFlagGroup.SERIOUS_PATHOLOGY: "investigate",
}
_GROUP_TEXT: dict[RedFlagGroup, str] = {
    RedFlagGroup.CAUDA_EQUINA_LATE: "a late sign of cauda equina syndrome",
    RedFlagGroup.CAUDA_EQUINA_EARLY: "an early sign of cauda equina syndrome",
    RedFlagGroup.NEUROLOGICAL: "deteriorating neurology",
    RedFlagGroup.SERIOUS_PATHOLOGY: "a red flag of serious spinal pathology (cancer, "
    "infection or fracture)",
}
_MOTOR_EVIDENCE: tuple[str, ...] = (
    "severe_motor_deficit_mrc_max",
    "progressive_motor_deficit_urgent",
)
_MOTOR_THRESHOLD_ID = "severe_motor_deficit_mrc_max"
_JOA_BLADDER_EVIDENCE: tuple[str, ...] = (
    "joa_bladder_dysuria_is_ces_sign",
    "ces_emergency_referral",
    "ces_emergency_mri_girft",
)
_CANAL_EVIDENCE: tuple[str, ...] = ("severe_canal_compromise_ces_check",)
#: JOA bladder item: -3 mild dysuria (frequency, hesitancy, residual urine), -6 severe
#: dysuria (incontinence, retention); JOA scoring forms (reference notes, addendum item 5).
_JOA_BLADDER_TEXT = {
    -3: "mild dysuria: frequency, hesitancy or a sense of residual urine",
    -6: "severe dysuria: incontinence or retention",
}
_JOA_BLADDER_GROUP = {-3: RedFlagGroup.CAUDA_EQUINA_EARLY, -6: RedFlagGroup.CAUDA_EQUINA_LATE}
_DRY_SAC = (SchizasGrade.C, SchizasGrade.D)


def cite(record_id: str) -> dict[str, Any]:
    """Citation of one evidence record: id, short reference, DOI/PMID/URL, confidence.

    Works for sources, values and statements; a value or statement is cited
    through the first of its sources.
    """
    from resorb.evidence import evidence_record, evidence_source

    record = evidence_record(record_id)
    out: dict[str, Any] = {"id": record_id}
    source_ids = getattr(record, "sources", None)
    source = evidence_source(source_ids[0]) if source_ids else record
    out["short"] = source.short
    out["title"] = source.title
    for key in ("doi", "pmid", "url"):
        value = getattr(source, key, None)
        if value:
            out[key] = value
    confidence = getattr(record, "confidence", None)
    if confidence is not None:
        out["confidence"] = confidence.value
    if getattr(record, "assumption", False):
        out["assumption"] = True
    return out


def _cite_all(ids: Sequence[str]) -> list[dict[str, Any]]:
    """Citations of the sources behind ``ids`` (each source once), as fresh dicts."""
    return [dict(c) for c in _cite_all_cached(tuple(ids))]


@cache
def _cite_all_cached(ids: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    # The shipped evidence base is read once per process (load_evidence is cached too).
    from resorb.evidence import evidence_record

    out: list[dict[str, Any]] = []
    seen = set()
    for record_id in ids:
        record = evidence_record(record_id)
        for sid in getattr(record, "sources", ()) or (record_id,):
            if sid in seen:
                continue
            seen.add(sid)
            c = cite(sid)
            c["record"] = record_id
            confidence = getattr(record, "confidence", None)
            if confidence is not None:
                c["confidence"] = confidence.value
            out.append(c)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TriageReason:
    """One reason for emergency or urgent care.

    Attributes
    ----------
    code : str
        The red flag (``saddle_anesthesia`` ...), ``joa_bladder``, ``joa_motor``
        or ``motor_mrc``.
    text : str
        What was found and why it matters.
    group : RedFlagGroup
        What the finding points to (decides the level).
    evidence_ids : tuple of str
        Evidence records behind the reason.
    sources : tuple of dict
        Their citations (``doi``/``pmid``/``url``).
    """

    code: str
    text: str
    group: RedFlagGroup
    evidence_ids: tuple[str, ...]
    sources: tuple[Mapping[str, Any], ...]

    @property
    def level(self) -> str:
        return _GROUP_LEVEL[self.group]

    def to_dict(self) -> dict[str, Any]:
        first = self.sources[0] if self.sources else {}
        return {
            "code": self.code,
            "text": self.text,
            "group": self.group.value,
            "level": self.level,
            "source": {k: first[k] for k in ("doi", "pmid", "url") if k in first},
            "sources": [dict(s) for s in self.sources],
            "evidence_ids": list(self.evidence_ids),
        }


@dataclass(frozen=True, slots=True)
class TriageWarning:
    """A recorded finding that contradicts "no red flag", or two findings that disagree.

    Attributes
    ----------
    field : str
        Case-file field the warning is about (``symptoms.red_flags``).
    message : str
        What disagrees and what to do.
    evidence_ids : tuple of str
    sources : tuple of dict
    """

    field: str
    message: str
    evidence_ids: tuple[str, ...] = ()
    sources: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "message": self.message,
            "evidence_ids": list(self.evidence_ids),
            "sources": [dict(s) for s in self.sources],
        }


@dataclass(frozen=True, slots=True)
class Triage:
    """Result of red-flag triage.

    Attributes
    ----------
    urgent_referral : bool
        True for every level but ``routine``.
    level : str
        ``"emergency"`` (cauda equina), ``"urgent"`` (motor deficit),
        ``"investigate"`` (serious pathology) or ``"routine"``.
    reasons : tuple of TriageReason
        Every reason found (empty when ``level`` is ``routine``).
    action : str
        What to do, in the guideline's own strength of wording.
    checked : tuple of str
        What was checked, so that "no red flag" is not read as "not asked".
    motor_mrc_threshold : int
        Highest MRC grade counted as a severe deficit (from the evidence base).
    warnings : tuple of TriageWarning
        Recorded findings that contradict "no red flag" or each other.
    """

    urgent_referral: bool
    reasons: tuple[TriageReason, ...]
    action: str
    checked: tuple[str, ...]
    motor_mrc_threshold: int
    level: str = "routine"
    warnings: tuple[TriageWarning, ...] = ()

    @property
    def cauda_equina(self) -> bool:
        """True when any reason is a sign of cauda equina syndrome."""
        return any(
            r.group in (RedFlagGroup.CAUDA_EQUINA_LATE, RedFlagGroup.CAUDA_EQUINA_EARLY)
            for r in self.reasons
        )

    @property
    def motor_deficit(self) -> bool:
        return any(r.group is RedFlagGroup.NEUROLOGICAL for r in self.reasons)

    @property
    def serious_pathology(self) -> bool:
        return any(r.group is RedFlagGroup.SERIOUS_PATHOLOGY for r in self.reasons)

    @property
    def withhold_resorption(self) -> bool:
        """The resorption estimate and forecast are not shown beside an urgent referral."""
        return self.urgent_referral

    def to_dict(self) -> dict[str, Any]:
        return {
            "urgent_referral": self.urgent_referral,
            "level": self.level,
            "cauda_equina": self.cauda_equina,
            "serious_pathology": self.serious_pathology,
            "reasons": [r.to_dict() for r in self.reasons],
            "action": self.action,
            "checked": list(self.checked),
            "warnings": [w.to_dict() for w in self.warnings],
            "motor_mrc_threshold": self.motor_mrc_threshold,
        }


def _motor_threshold() -> int:
    from resorb.evidence import evidence_value

    return int(evidence_value(_MOTOR_THRESHOLD_ID).value)


def _reason(
    code: str, text: str, group: RedFlagGroup, ids: tuple[str, ...] | None = None
) -> TriageReason:
    ids = ids or _GROUP_EVIDENCE[group]
    return TriageReason(
        code=code, text=text, group=group, evidence_ids=ids, sources=tuple(_cite_all(ids))
    )


def _warning(field: str, message: str, ids: tuple[str, ...]) -> TriageWarning:
    return TriageWarning(
        field=field, message=message, evidence_ids=ids, sources=tuple(_cite_all(ids))
    )


#: Where the group's wording would claim too much for one flag: altered saddle sensation
#: is early (CES-I), complete saddle anaesthesia late (CES-R; Eur Spine J 2011 table).
_FLAG_TEXT = {
    RedFlag.SADDLE_ANESTHESIA: "a sign of cauda equina syndrome (a late sign when "
    "sensation is lost completely)"
}


def _flag_reasons(flags: frozenset[RedFlag]) -> list[TriageReason]:
    out = []
    for flag in RedFlag:  # enum order keeps the output stable
        if flag in flags:
            what = _FLAG_TEXT.get(flag, _GROUP_TEXT[flag.group])
            text = f"{flag.definition[0].upper()}{flag.definition[1:]}: {what}."
            out.append(_reason(flag.value, text, flag.group))
    return out


def _joa_reasons(case: Case, threshold: int, warnings: list[TriageWarning]) -> list[TriageReason]:
    s = case.symptoms
    joa = s.joa_items
    out: list[TriageReason] = []
    if joa is None:
        return out
    if joa.bladder < 0:
        group = _JOA_BLADDER_GROUP[joa.bladder]
        out.append(
            _reason(
                "joa_bladder",
                f"JOA bladder item {joa.bladder} ({_JOA_BLADDER_TEXT[joa.bladder]}): "
                f"{_GROUP_TEXT[group]} unless a urological cause is known.",
                group,
                _JOA_BLADDER_EVIDENCE,
            )
        )
        bladder_flags = {
            RedFlag.URINARY_RETENTION,
            RedFlag.URINARY_HESITANCY,
            RedFlag.REDUCED_BLADDER_SENSATION,
        }
        if not s.red_flags & bladder_flags:
            warnings.append(
                _warning(
                    "symptoms.red_flags",
                    f"No bladder symptom is in the red-flag list, but the JOA bladder item is "
                    f"{joa.bladder} ({_JOA_BLADDER_TEXT[joa.bladder]}). Triage counts it as a "
                    "bladder red flag; ask about and record the bladder symptom.",
                    _JOA_BLADDER_EVIDENCE,
                )
            )
    # JOA motor item: 2 normal, 1 slight weakness (MMT 4), 0 marked weakness (MMT 3 or less).
    if joa.motor == 0:
        if s.motor_mrc is None:
            out.append(
                _reason(
                    "joa_motor",
                    f"JOA motor item 0 (marked weakness, MRC {threshold} or less): severe motor "
                    "deficit.",
                    RedFlagGroup.NEUROLOGICAL,
                    _MOTOR_EVIDENCE,
                )
            )
        elif s.motor_mrc > threshold:
            warnings.append(
                _warning(
                    "symptoms.motor_mrc",
                    f"Weakest key muscle recorded as MRC {s.motor_mrc}/5, but the JOA motor item "
                    f"is 0 (marked weakness, MRC {threshold} or less). Triage counts the worse "
                    "grade; re-examine and correct one of them.",
                    _MOTOR_EVIDENCE,
                )
            )
            out.append(
                _reason(
                    "joa_motor",
                    f"JOA motor item 0 (marked weakness, MRC {threshold} or less), although MRC "
                    f"{s.motor_mrc}/5 is recorded: severe motor deficit until re-examined.",
                    RedFlagGroup.NEUROLOGICAL,
                    _MOTOR_EVIDENCE,
                )
            )
    return out


def _imaging_warnings(case: Case, reasons: Sequence[TriageReason]) -> list[TriageWarning]:
    """Imaging that can compress the cauda equina while no CES sign is recorded."""
    if any(
        r.group in (RedFlagGroup.CAUDA_EQUINA_LATE, RedFlagGroup.CAUDA_EQUINA_EARLY)
        for r in reasons
    ):
        return []
    h = case.herniation
    found: list[tuple[str, str]] = []
    if h.canal_compromise is CanalCompromise.SEVERE:
        found.append(
            (
                "herniation.canal_compromise_percent",
                f"the herniation fills {h.canal_compromise_percent:g} % of the canal "
                "(severe: more than two thirds)",
            )
        )
    if h.schizas in _DRY_SAC:
        found.append(
            (
                "herniation.schizas",
                f"the dural sac is Schizas grade {h.schizas.value} "
                "(no CSF visible around the roots)",
            )
        )
    if h.msu == "3-A":
        found.append(
            (
                "herniation.msu",
                "the herniation is MSU 3-A (central, beyond the "
                "intra-facet line; often seen with cauda equina "
                "syndrome)",
            )
        )
    if not found:
        return []
    whats = [what for _, what in found]
    listed = whats[0] if len(whats) == 1 else ", ".join(whats[:-1]) + " and " + whats[-1]
    # One warning (the advice is the same), at the first of the fields it rests on.
    return [
        _warning(
            found[0][0],
            f"No cauda equina sign is recorded, but {listed}. Ask about bladder, bowel and "
            "sexual function, saddle sensation and symptoms in both legs, and examine "
            "(including perianal sensation) before a conservative trial.",
            _CANAL_EVIDENCE,
        )
    ]


def _action(
    level: str,
    reasons: Sequence[TriageReason],
    warnings: Sequence[TriageWarning],
    flags_recorded: bool = True,
) -> str:
    if level == "routine":
        if warnings:
            opening, asked = (
                ("No red flag recorded, but", "cauda equina signs and a severe motor deficit")
                if flags_recorded
                else (
                    "Red flags not recorded, and",
                    "cauda equina signs, a severe motor deficit and serious pathology",
                )
            )
            return (
                f"{opening} recorded findings need checking first (see the "
                f"warnings): start a conservative trial only once {asked} have been "
                "asked about and examined; re-check red flags at every visit."
            )
        if not flags_recorded:
            return (
                "Red flags not recorded: ask about cauda equina signs (bladder, bowel and "
                "sexual function, saddle sensation, symptoms in both legs), increasing "
                "weakness and serious pathology (cancer, infection, fracture) before a "
                "conservative trial; re-check red flags at every visit."
            )
        return (
            "No red flag recorded: a conservative trial can be considered; re-check red "
            "flags at every visit."
        )
    parts = []
    groups = {r.group for r in reasons}
    if groups & {RedFlagGroup.CAUDA_EQUINA_LATE, RedFlagGroup.CAUDA_EQUINA_EARLY}:
        parts.append(
            "Emergency: suspected cauda equina syndrome. Same-day assessment by the "
            "on-call spinal team with an emergency MRI of the lumbar spine; if it "
            "shows compression, emergency decompression."
        )
    if RedFlagGroup.NEUROLOGICAL in groups:
        parts.append(
            "Refer urgently to a spinal surgeon for a severe or progressive motor deficit."
        )
    if RedFlagGroup.SERIOUS_PATHOLOGY in groups:
        parts.append(
            "Investigate for serious spinal pathology (cancer, infection, fracture) "
            "before any conservative label."
        )
    parts.append(
        "Do not start a watchful-waiting trial; the resorption estimate does not "
        "apply until a specialist has assessed the patient."
    )
    return " ".join(parts)


def triage_case(case: Case) -> Triage:
    """Check a case for red flags that call for emergency or urgent care.

    Parameters
    ----------
    case : Case

    Returns
    -------
    Triage
        One reason per red flag found, per JOA item that is a red flag (bladder
        below 0; motor 0) and for a weakest key muscle at MRC grade 3 or less
        (the cut-off is read from the evidence base); the level is that of the
        most urgent reason.

    Notes
    -----
    A red flag that was not recorded cannot be found: the result lists what
    was checked. Absence of red flags in the case file is not proof of their
    absence in the patient; imaging that can compress the cauda equina without
    a recorded sign is a warning, not a reassurance.
    """
    threshold = _motor_threshold()
    warnings: list[TriageWarning] = []
    s = case.symptoms
    reasons = _flag_reasons(s.red_flags)
    reasons += _joa_reasons(case, threshold, warnings)
    mrc = s.motor_mrc
    if mrc is not None and mrc <= threshold:
        reasons.append(
            _reason(
                "motor_mrc",
                f"Severe motor deficit: weakest key muscle MRC {mrc}/5 "
                f"(severe = MRC {threshold} or less).",
                RedFlagGroup.NEUROLOGICAL,
                _MOTOR_EVIDENCE,
            )
        )
    reasons.sort(key=lambda r: LEVELS.index(r.level))  # stable: flag order within a level
    warnings += _imaging_warnings(case, reasons)
    level = reasons[0].level if reasons else "routine"
    joa = s.joa_items
    checked = [
        (
            f"red flags recorded: {', '.join(sorted(f.value for f in s.red_flags)) or 'none'}"
            if s.red_flags_recorded or s.red_flags
            else "red flags: not recorded"
        ),
        "motor grade: " + (f"MRC {mrc}/5" if mrc is not None else "not recorded"),
        "JOA bladder item: " + (str(joa.bladder) if joa is not None else "not recorded"),
    ]
    return Triage(
        urgent_referral=bool(reasons),
        reasons=tuple(reasons),
        action=_action(level, reasons, warnings, s.red_flags_recorded or bool(s.red_flags)),
        checked=tuple(checked),
        motor_mrc_threshold=threshold,
        level=level,
        warnings=tuple(warnings),
    )
