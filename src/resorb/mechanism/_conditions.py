"""Experimental conditions as parameter overrides: morphology, therapies, modules, knockouts.

A simulation condition is a set of parameter values applied to the population
set: the herniation type sets the exposure, each therapy switches on its
regimen, a hypothesis module its switch, an in-silico knockout zeroes one
gain. Conditions never change the model's structure, so one compiled kernel
serves every condition.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from resorb.domain import HerniationMorphology, parse_enum
from resorb.errors import HypothesisModuleWarning, InvalidInputError
from resorb.mechanism._model import Model

__all__ = [
    "COCULTURE",
    "KNOCKOUTS",
    "MAX_DAYS",
    "TherapyRegimen",
    "condition_overrides",
    "parse_therapy",
]

#: Longest horizon (and latest therapy start), in days, that the simulator
#: accepts: ten years. A software limit that bounds memory and run time, not a
#: biological one (the calibration data reach two years).
MAX_DAYS = 3650.0

#: In-silico knockouts of Haro 2000 (J Clin Invest 105:133-141 and 143-150).
KNOCKOUTS: Mapping[str, Mapping[str, float]] = {
    "mmp3": {"s_P3": 0.0},  # MMP-3-null disc cells
    "mmp7": {"mmp7_capacity": 0.0},  # MMP-7-null macrophages
    "tnf": {"tnf_activity": 0.0},  # TNF-alpha neutralised
}

#: Co-culture of disc tissue with macrophages (Haro 2000): macrophages sit
#: around the tissue (direct access, no vessels), TNF comes from macrophages
#: (KAKEN 13671494: macrophage TNF-alpha rises first), no epidural DAMP route.
COCULTURE: Mapping[str, float] = {
    "coculture_macrophages": 1.0,
    "exposure": 1.0,
    "b0": 1.0,
    "t_D": 0.0,
    "s_D": 0.0,
    "k_ang": 0.0,
}


@dataclass(frozen=True, slots=True)
class TherapyRegimen:
    """A therapy id with an optional start day (default: the data file's regimen)."""

    id: str
    start_day: float | None = None


def parse_therapy(text: str | TherapyRegimen) -> TherapyRegimen:
    """``"epidural_steroid"`` or ``"epidural_steroid@45"`` (start on day 45)."""
    if isinstance(text, TherapyRegimen):
        return text
    tid, _, start = str(text).strip().partition("@")
    if start:
        try:
            day = float(start)
        except ValueError:
            raise InvalidInputError(
                "therapy",
                f"start day {start!r} is not a number",
                allowed="ID or ID@DAY, e.g. epidural_steroid@45",
            ) from None
        if not (math.isfinite(day) and 0.0 <= day <= MAX_DAYS):
            raise InvalidInputError(
                "therapy",
                f"start day {start!r} is not a finite day in [0, {MAX_DAYS:g}]",
                allowed=f"a start day 0 <= DAY <= {MAX_DAYS:g} (software limit)",
            ) from None
        return TherapyRegimen(tid.strip(), day)
    return TherapyRegimen(tid.strip())


def _unknown_therapy_message(tid: str) -> str:
    try:
        from resorb.therapy import therapy_catalogue

        catalogue = therapy_catalogue()
    except Exception:  # the catalogue is optional here; fall back to the plain message
        catalogue = {}
    if tid in catalogue:
        return f"{tid!r} cannot be simulated: it has no modelled mechanism"
    return f"{tid!r} is not a known therapy"


def morphology_exposure(model: Model, morphology: object) -> tuple[HerniationMorphology, float]:
    """The typical exposure of a herniation type (``data/model.yaml``, ``morphologies``)."""
    morph = parse_enum(HerniationMorphology, morphology, field="morphology")
    return morph, float(model.morphologies[morph.value]["exposure"])


def condition_overrides(
    model: Model,
    *,
    morphology: object | None = None,
    therapies: Iterable[str | TherapyRegimen] = (),
    modules: Iterable[str] = (),
    knockouts: Iterable[str] = (),
    coculture: bool = False,
    parameters: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], list[float]]:
    """Parameter overrides and solver breakpoints (days) for one condition.

    Raises
    ------
    InvalidInputError
        Unknown morphology, therapy, module or knockout; a catalogue therapy
        without a modelled mechanism.
    """
    over: dict[str, float] = {}
    breaks: list[float] = []
    if morphology is not None:
        _, over["exposure"] = morphology_exposure(model, morphology)
    seen: set[str] = set()
    for raw in therapies:
        reg = parse_therapy(raw)
        if reg.id in seen:
            raise InvalidInputError(
                "therapy",
                f"{reg.id!r} given twice; repeated dosing is not modelled",
                allowed="each therapy id at most once: " + ", ".join(sorted(model.therapies)),
            )
        seen.add(reg.id)
        if reg.id in model.no_mechanism:
            raise InvalidInputError(
                "therapy",
                f"{reg.id!r} cannot be simulated: {model.no_mechanism[reg.id]}",
                allowed=", ".join(sorted(model.therapies)),
            )
        if reg.id not in model.therapies:
            raise InvalidInputError(
                "therapy",
                _unknown_therapy_message(reg.id),
                allowed=", ".join(sorted(model.therapies)),
            )
        spec = model.therapies[reg.id]
        start = spec.start_day if reg.start_day is None else float(reg.start_day)
        over[f"{reg.id}_amount"] = spec.amount
        over[f"{reg.id}_start_day"] = start
        breaks.append(start)
        if spec.kind == "course":
            over[f"{reg.id}_end_day"] = start + spec.duration_days
            breaks.append(start + spec.duration_days)
    switches = model.modules
    for mod in modules:
        if mod not in switches:
            raise InvalidInputError(
                "module", f"{mod!r} is not a switchable module", allowed=", ".join(sorted(switches))
            )
        over[switches[mod]] = 1.0
        warnings.warn(
            f"module {mod!r} is a hypothesis without quantitative calibration data; "
            "its output is not calibrated",
            HypothesisModuleWarning,
            stacklevel=3,
        )
    for ko in knockouts:
        if ko not in KNOCKOUTS:
            raise InvalidInputError(
                "knockout",
                f"{ko!r} is not a modelled knockout",
                allowed=", ".join(sorted(KNOCKOUTS)),
            )
        over.update(KNOCKOUTS[ko])
    if coculture:
        over.update(COCULTURE)
    if parameters:
        names = set(model.parameter_names)
        for k in parameters:
            if k not in names:
                raise InvalidInputError(
                    "parameters",
                    f"{k!r} is not a model parameter",
                    allowed="names in resorb/mechanism/data/model.yaml",
                )
        over.update({k: float(v) for k, v in parameters.items()})
        for k, v in parameters.items():
            if k.endswith("_start_day") or k.endswith("_end_day") or k.startswith("depletion_"):
                breaks.append(float(v))
    return over, sorted(set(b for b in breaks if b > 0))
