"""The plain-language page for shared decision-making.

Short paragraphs for the patient, in everyday words: sciatica usually gets
better without an operation, symptoms improve before the herniation visibly
shrinks, some herniations grow, symptoms can come back, surgery is a choice
too, and when to come back at once. Every number is read from the evidence
base (never written here) and every paragraph cites its records. When triage
calls for emergency or urgent care the page says why, and gives no natural
course figures: they describe patients without red flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resorb.prognosis._triage import Triage

__all__ = ["PatientInformation", "patient_information"]


@dataclass(frozen=True, slots=True)
class PatientInformation:
    """One paragraph of the patient page.

    Attributes
    ----------
    code : str
        Stable name (``natural_course``, ``come_back_at_once`` ...).
    heading : str
    text : str
        Everyday words; numbers come from the evidence base.
    evidence_ids : tuple of str
    sources : tuple of dict
    """

    code: str
    heading: str
    text: str
    evidence_ids: tuple[str, ...]
    sources: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "heading": self.heading,
            "text": self.text,
            "evidence_ids": list(self.evidence_ids),
            "sources": [dict(s) for s in self.sources],
        }


def _v(record_id: str):
    from resorb.evidence import evidence_value

    return evidence_value(record_id)


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.0f} %"


def _in_ten(fraction: float) -> str:
    return f"about {round(10 * fraction):.0f} in 10"


def _item(code: str, heading: str, text: str, ids: tuple[str, ...]) -> PatientInformation:
    from resorb.prognosis._triage import _cite_all

    return PatientInformation(
        code=code, heading=heading, text=text, evidence_ids=ids, sources=tuple(_cite_all(ids))
    )


_COME_BACK = (
    "Go to an emergency department at once, day or night, if you notice any of "
    "these: numbness or tingling around your back passage, genitals or inner "
    "thighs; new difficulty starting to pass urine, a weak stream, or not feeling "
    "when your bladder is full; losing control of your bladder or bowel; new "
    "problems with sexual function; pain, numbness or weakness in both legs; or "
    "weakness in a leg or foot that is getting worse. These can be signs of nerve "
    "compression that needs treatment within hours."
)
_COME_BACK_IDS = ("ces_early_signs", "ces_emergency_referral", "progressive_motor_deficit_urgent")


def _urgent_page(triage: Triage) -> tuple[PatientInformation, ...]:
    if triage.cauda_equina:
        why = (
            "Some of your symptoms can be signs that the nerves at the bottom of your "
            "spine are being squeezed (cauda equina syndrome). This needs an MRI scan and "
            "a spinal specialist the same day, and sometimes an operation within hours, "
            "to protect bladder, bowel, sexual function and the legs."
        )
        ids: tuple[str, ...] = ("ces_emergency_mri_girft", "ces_emergency_referral")
    elif triage.motor_deficit:
        why = (
            "The weakness in your leg needs to be seen by a spinal surgeon soon, because "
            "an operation may be needed to give the nerve the best chance to recover."
        )
        ids = ("progressive_motor_deficit_urgent",)
    else:
        why = (
            "Some of what you told us (for example a history of cancer, weight loss you "
            "cannot explain, fever or a recent injury) means your doctor will first check "
            "for other causes of back and leg pain with tests, before treating it as a "
            "slipped disc."
        )
        ids = ("nice_exclude_serious_pathology",)
    return (
        _item("why_urgent", "Why you are being sent for an urgent assessment", why, ids),
        _item(
            "not_now",
            "What this report does not tell you today",
            "Figures about how often a slipped disc shrinks or gets better on its own are "
            "for people without these warning signs. They are left out until a specialist "
            "has seen you.",
            ids,
        ),
        _item("come_back_at_once", "When to come back at once", _COME_BACK, _COME_BACK_IDS),
    )


def patient_information(*, triage: Triage) -> tuple[PatientInformation, ...]:
    """The paragraphs of the plain-language page for one triage result.

    Parameters
    ----------
    triage : Triage
        Emergency, urgent or investigate levels get the page that explains the
        referral; otherwise the natural-course page.

    Returns
    -------
    tuple of PatientInformation
    """
    if triage.urgent_referral:
        return _urgent_page(triage)
    lo, hi = _v("sciatica_improves_3mo_fraction").value
    recovered = _v("perceived_recovery_1y_peul2007").value
    operated = _v("operated_by_1y_conservative_peul2007").value
    symptoms_months = _v("sequestration_symptom_resolution_months_macki2014").value
    image_months = _v("sequestration_radiographic_resolution_months_macki2014").value
    grew = _v("enlarged_fraction_3d_series")
    no_recurrence = _v("no_symptom_recurrence_after_resorption_lee2017")
    followup_years = no_recurrence.parameters["followup_months_mean"] / 12
    early = _v("perceived_recovery_median_weeks_early_surgery_peul2007").value
    late = _v("perceived_recovery_median_weeks_conservative_peul2007").value
    return (
        _item(
            "natural_course",
            "Most sciatica gets better without an operation",
            f"Between {100 * lo:.0f} and {_pct(hi)} of people with sciatica from a slipped "
            f"disc improve within 3 months. In a large trial {_pct(recovered)} of people "
            "felt recovered after one year, whether they had an early operation or not; "
            f"{_in_ten(operated)} of those who started without an operation chose one "
            "during that year.",
            (
                "sciatica_improves_3mo_fraction",
                "perceived_recovery_1y_peul2007",
                "operated_by_1y_conservative_peul2007",
            ),
        ),
        _item(
            "symptoms_before_size",
            "You usually feel better before the scan looks better",
            "The body can clear the slipped disc material, but slowly. In one review leg "
            f"symptoms settled after about {symptoms_months:.1f} months on average, while "
            f"the disc fragment took about {image_months:.1f} months to disappear on MRI. "
            "A scan that still shows the disc does not mean you are not getting better, "
            "so a new scan is only worth having if its answer would change what you and "
            "your doctor decide.",
            (
                "symptoms_precede_imaging",
                "sequestration_symptom_resolution_months_macki2014",
                "sequestration_radiographic_resolution_months_macki2014",
            ),
        ),
        _item(
            "some_grow",
            "The disc often shrinks, but not always",
            f"Some herniations grow: in one MRI study {grew.events} of {grew.total} "
            f"({_pct(grew.value)}) got bigger over at least 6 months. Growth on a scan "
            "matters mostly if your symptoms are not getting better.",
            ("enlarged_fraction_3d_series", "growth_with_symptoms_review"),
        ),
        _item(
            "recurrence",
            "Symptoms can come back",
            f"In a study of people whose slipped disc had shrunk, {_in_ten(no_recurrence.value)} "
            f"had no return of symptoms over about {followup_years:.0f} years; the others "
            "had symptoms again at some point. If that happens, come back: it is assessed "
            "like the first time.",
            ("recurrence_after_resorption", "no_symptom_recurrence_after_resorption_lee2017"),
        ),
        _item(
            "surgery_is_a_choice",
            "An operation is a choice, too",
            "If the pain is too much to bear, if a leg gets weaker, or if you would rather "
            "get relief sooner, an operation is a reasonable choice at any time. In the "
            f"trial, people operated on early felt better sooner (half had recovered by "
            f"about {early:.0f} weeks, against {late:.0f} weeks without an early operation), "
            "but after "
            "one year both groups were doing equally well.",
            (
                "surgery_patient_preference",
                "surgery_intractable_pain_any_stage",
                "perceived_recovery_median_weeks_early_surgery_peul2007",
                "perceived_recovery_median_weeks_conservative_peul2007",
            ),
        ),
        _item("come_back_at_once", "When to come back at once", _COME_BACK, _COME_BACK_IDS),
    )
