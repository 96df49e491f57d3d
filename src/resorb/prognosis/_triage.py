"""Red-flag triage: does this case need urgent referral rather than a conservative trial?

Cauda equina features (saddle anaesthesia, urinary retention, faecal
incontinence, bilateral radicular symptoms) and a severe or progressive motor
deficit (MRC grade 3 or less, or getting worse) are indications for urgent
spinal referral; each reason cites the evidence record it rests on. The MRC
cut-off is read from the evidence base, not written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resorb.domain.case import Case
from resorb.domain.enums import RedFlag

__all__ = ["Triage", "TriageReason", "cite", "triage_case"]

#: Evidence records behind each reason (ids in ``resorb/evidence/data``).
_RED_FLAG_EVIDENCE: dict[RedFlag, tuple[str, ...]] = {
    RedFlag.SADDLE_ANESTHESIA: ("ces_emergency_referral",),
    RedFlag.URINARY_RETENTION: ("ces_emergency_referral",),
    RedFlag.FECAL_INCONTINENCE: ("ces_emergency_referral",),
    RedFlag.BILATERAL_RADICULAR_SYMPTOMS: ("ces_emergency_referral",),
    RedFlag.PROGRESSIVE_MOTOR_DEFICIT: ("progressive_motor_deficit_urgent",),
}
_MOTOR_EVIDENCE: tuple[str, ...] = ("severe_motor_deficit_mrc_max",
                                    "progressive_motor_deficit_urgent")
_MOTOR_THRESHOLD_ID = "severe_motor_deficit_mrc_max"

_RED_FLAG_TEXT: dict[RedFlag, str] = {
    RedFlag.SADDLE_ANESTHESIA: "Saddle (perineal) anaesthesia: a cauda equina feature.",
    RedFlag.URINARY_RETENTION: "Urinary retention or inability to void: a cauda equina "
                               "feature.",
    RedFlag.FECAL_INCONTINENCE: "Faecal incontinence: a cauda equina feature.",
    RedFlag.BILATERAL_RADICULAR_SYMPTOMS: "Bilateral radicular symptoms: a cauda equina "
                                          "feature.",
    RedFlag.PROGRESSIVE_MOTOR_DEFICIT: "Progressive motor deficit: deteriorating neurology.",
}


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
    out: list[dict[str, Any]] = []
    seen = set()
    for record_id in ids:
        from resorb.evidence import evidence_record

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
    return out


@dataclass(frozen=True, slots=True)
class TriageReason:
    """One reason for urgent referral.

    Attributes
    ----------
    code : str
        The red flag (``saddle_anesthesia`` ...) or ``motor_mrc``.
    text : str
        What was found and why it matters.
    evidence_ids : tuple of str
        Evidence records behind the reason.
    sources : tuple of dict
        Their citations (``doi``/``pmid``/``url``).
    """

    code: str
    text: str
    evidence_ids: tuple[str, ...]
    sources: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        first = self.sources[0] if self.sources else {}
        return {
            "code": self.code,
            "text": self.text,
            "source": {k: first[k] for k in ("doi", "pmid", "url") if k in first},
            "sources": [dict(s) for s in self.sources],
            "evidence_ids": list(self.evidence_ids),
        }


@dataclass(frozen=True, slots=True)
class Triage:
    """Result of red-flag triage.

    Attributes
    ----------
    urgent_referral : bool
        True when any red flag or a severe motor deficit is present.
    reasons : tuple of TriageReason
        Every reason found (empty when ``urgent_referral`` is False).
    action : str
        What to do, in the guideline's own strength of wording.
    checked : tuple of str
        What was checked, so that "no red flag" is not read as "not asked".
    motor_mrc_threshold : int
        Highest MRC grade counted as a severe deficit (from the evidence base).
    """

    urgent_referral: bool
    reasons: tuple[TriageReason, ...]
    action: str
    checked: tuple[str, ...]
    motor_mrc_threshold: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "urgent_referral": self.urgent_referral,
            "reasons": [r.to_dict() for r in self.reasons],
            "action": self.action,
            "checked": list(self.checked),
            "motor_mrc_threshold": self.motor_mrc_threshold,
        }


def _motor_threshold() -> int:
    from resorb.evidence import evidence_value

    return int(evidence_value(_MOTOR_THRESHOLD_ID).value)


def triage_case(case: Case) -> Triage:
    """Check a case for red flags that call for urgent referral.

    Parameters
    ----------
    case : Case

    Returns
    -------
    Triage
        ``urgent_referral`` is True with one reason per red flag found, and for
        a weakest key muscle at MRC grade 3 or less (the cut-off is read from
        the evidence base).

    Notes
    -----
    A red flag that was not recorded cannot be found: the result lists what
    was checked. Absence of red flags in the case file is not proof of their
    absence in the patient.
    """
    threshold = _motor_threshold()
    reasons: list[TriageReason] = []
    flags = case.symptoms.red_flags
    for flag in RedFlag:  # enum order keeps the output stable
        if flag in flags:
            ids = _RED_FLAG_EVIDENCE[flag]
            reasons.append(TriageReason(code=flag.value, text=_RED_FLAG_TEXT[flag],
                                        evidence_ids=ids, sources=tuple(_cite_all(ids))))
    mrc = case.symptoms.motor_mrc
    if mrc is not None and mrc <= threshold:
        reasons.append(TriageReason(
            code="motor_mrc",
            text=f"Severe motor deficit: weakest key muscle MRC {mrc}/5 "
                 f"(severe = MRC {threshold} or less).",
            evidence_ids=_MOTOR_EVIDENCE,
            sources=tuple(_cite_all(_MOTOR_EVIDENCE)),
        ))
    checked = [f"red flags recorded: {', '.join(sorted(f.value for f in flags)) or 'none'}",
               "motor grade: " + (f"MRC {mrc}/5" if mrc is not None else "not recorded")]
    if reasons:
        ces = any(r.code in {f.value for f in _CES_FLAGS} for r in reasons)
        action = ("Refer urgently to a spinal surgeon (emergency assessment"
                  + (" for suspected cauda equina syndrome" if ces else "")
                  + "); do not start a watchful-waiting trial.")
    else:
        action = ("No red flag recorded: a conservative trial can be considered; "
                  "re-check red flags at every visit.")
    return Triage(urgent_referral=bool(reasons), reasons=tuple(reasons), action=action,
                  checked=tuple(checked), motor_mrc_threshold=threshold)


_CES_FLAGS = frozenset({RedFlag.SADDLE_ANESTHESIA, RedFlag.URINARY_RETENTION,
                        RedFlag.FECAL_INCONTINENCE, RedFlag.BILATERAL_RADICULAR_SYMPTOMS})
