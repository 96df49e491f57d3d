"""Plausibility warnings of one case: values that are valid but probably wrong.

They do not stop the assessment (``resorb assess`` still exits 0); each names
the case-file field and says what to check:

- a nonzero herniation volume below ``plausible_min_herniation_volume_mm3``
  (typed, or measured from a mask) looks like cm3 or mL;
- three diameters whose largest is below ``plausible_min_herniation_diameter_mm``
  look like centimetres;
- a mask with several labels read without ``label`` counted them all together;
- a symptom onset after the first MRI.

Both thresholds are our own assumptions, labelled so in the evidence base.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resorb.domain.case import Case

__all__ = ["PlausibilityWarning", "plausibility_warnings"]

_MIN_VOLUME_ID = "plausible_min_herniation_volume_mm3"
_MIN_DIAMETER_ID = "plausible_min_herniation_diameter_mm"


@dataclass(frozen=True, slots=True)
class PlausibilityWarning:
    """A value that is accepted but looks wrong.

    Attributes
    ----------
    field : str
        Case-file field (``mri[0].diameters_mm``).
    message : str
        What looks wrong and what to check, in clinical words.
    """

    field: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "kind": "plausibility"}


def _threshold(record_id: str) -> float:
    from resorb.evidence import evidence_value

    return float(evidence_value(record_id).value)


def _mask_labels(study) -> tuple[int, ...]:
    from resorb.imaging import HerniationMask

    return HerniationMask.from_file(study.mask).present_labels()


def plausibility_warnings(
    case: Case, volumes_mm3: Sequence[float] = ()
) -> tuple[PlausibilityWarning, ...]:
    """Warnings for values of ``case`` that look like the wrong unit or date.

    Parameters
    ----------
    case : Case
    volumes_mm3 : sequence of float, optional
        The measured volume of each MRI (same order as ``case.mri``); a
        mask-derived volume is checked only when given.

    Returns
    -------
    tuple of PlausibilityWarning
        In case-file order.
    """
    out: list[PlausibilityWarning] = []
    onset = case.symptoms.onset_date
    if onset is not None and case.mri and onset > case.mri[0].date:
        out.append(
            PlausibilityWarning(
                "symptoms.onset_date",
                f"Symptom onset {onset} is after the first MRI ({case.mri[0].date}). Check both "
                "dates: the management timings count from the onset.",
            )
        )
    min_volume = _threshold(_MIN_VOLUME_ID)
    min_diameter = _threshold(_MIN_DIAMETER_ID)
    for i, study in enumerate(case.mri):
        where = f"mri[{study.index}]"
        if study.volume_mm3 is not None and 0 < study.volume_mm3 < min_volume:
            v = study.volume_mm3
            # Suggest cm3 only when the value in cm3 would be a measurable herniation.
            unit = (
                f"If the value was in cm³ or mL it is {v * 1000:g} mm³: check the unit."
                if v * 1000 >= min_volume
                else "Check the value and its unit."
            )
            out.append(
                PlausibilityWarning(
                    f"{where}.volume_mm3",
                    f"{v:g} mm³ is smaller than a herniation that MRI can measure (below "
                    f"{min_volume:g} mm³). {unit}",
                )
            )
        if study.diameters_mm is not None:
            largest = max(study.diameters_mm)
            if 0 < largest < min_diameter:
                shown = " × ".join(f"{d:g}" for d in study.diameters_mm)
                as_mm = " × ".join(f"{10 * d:g}" for d in study.diameters_mm)
                out.append(
                    PlausibilityWarning(
                        f"{where}.diameters_mm",
                        f"Diameters {shown} mm are all below {min_diameter:g} mm and look like "
                        f"centimetres ({as_mm} mm): check the unit.",
                    )
                )
        if study.mask is not None:
            if study.label is None:
                labels = _mask_labels(study)
                if len(labels) > 1:
                    out.append(
                        PlausibilityWarning(
                            f"{where}.label",
                            f"The mask {study.mask.name} holds {len(labels)} labels "
                            f"({', '.join(str(n) for n in labels)}) and no label was given, so "
                            "all of them were counted as one herniation. Give the label of the "
                            "herniation for this MRI.",
                        )
                    )
            if i < len(volumes_mm3) and 0 < volumes_mm3[i] < min_volume:
                out.append(
                    PlausibilityWarning(
                        f"{where}.mask",
                        f"The mask of {study.mask.name} measures {volumes_mm3[i]:.3g} mm³, smaller "
                        f"than a herniation that MRI can measure (below {min_volume:g} mm³): check "
                        "the voxel size stored in the image (centimetres instead of millimetres?) "
                        "and the label.",
                    )
                )
    return tuple(out)
