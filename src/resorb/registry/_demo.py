"""A synthetic demo registry (no patient data): ``resorb registry seed-demo``.

Twenty fictional patients (pseudonyms ``DEMO-001`` ...) with visits at
presentation, 6 weeks, 3, 6 and 12 months, a baseline and one or two
follow-up MRI volumes, structured findings and a therapy course. Everything is
drawn from :class:`random.Random` with a fixed seed, so the same seed gives the
same registry.

The generating numbers are **assumptions of this demo**, chosen only to look
plausible on screen; they are not estimates and nothing is calibrated to them:
baseline volumes uniform on 400-2500 mm3; per-patient exponential shrinkage of
the volume towards a residual of 25-50 % of the baseline (a herniation that
shrinks leaves a measurable remnant, so no demo MRI falls to a few mm3, below
what MRI can measure), with a rate drawn so that sequestrations and extrusions
tend to shrink more than protrusions (the direction reported in the reviews
cited by the evidence base, not their sizes); a protrusion drawn with a
negative rate grows slowly instead; pain and ODI falling with the volume plus
noise. Every demo volume lies between about 95 and 3,400 mm3.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from sqlalchemy import func, select

from resorb.errors import InvalidInputError
from resorb.registry import _models as m
from resorb.registry._rows import (
    _add_findings,
    _add_mri,
    _add_therapy,
    _add_visit,
    _create_patient,
)
from resorb.registry._service import Registry

__all__ = ["DEMO_PREFIX", "seed_demo"]

DEMO_PREFIX = "DEMO-"

# Assumed monthly shrinkage rates (1/month) of the demo only; see the module docstring.
_DEMO_RATE_PER_MONTH = {
    "sequestration": (0.15, 0.45),
    "extrusion": (0.05, 0.30),
    "protrusion": (-0.02, 0.08),
}
_THERAPIES = ("nsaid", "physiotherapy", "epidural_steroid", "acupuncture", "exercise")
_VISIT_DAYS = (0, 42, 91, 182, 365)


def _fraction(rate: float, residual: float, months: float) -> float:
    """Demo volume over the baseline: shrinkage towards ``residual``, or slow growth."""
    if rate < 0:
        return math.exp(-rate * months)
    return residual + (1.0 - residual) * math.exp(-rate * months)


def seed_demo(
    registry: Registry,
    *,
    n_patients: int = 20,
    seed: int = 20260101,
    start: dt.date = dt.date(2025, 1, 6),
    actor: str = "demo-seed",
) -> dict[str, int]:
    """Fill ``registry`` with a synthetic demo cohort (one transaction).

    Refuses to run when demo patients are already present, so it cannot
    double the demo by accident.

    Returns
    -------
    dict
        Numbers of patients, visits, MRI studies, findings and therapies added.
    """
    from resorb.imaging import DAYS_PER_MONTH

    if not 1 <= n_patients <= 999:
        raise InvalidInputError("n_patients", f"{n_patients}", allowed="1-999")
    rng = random.Random(seed)
    counts = {"patients": 0, "visits": 0, "mri": 0, "findings": 0, "therapies": 0}
    with registry.transaction(actor=actor) as s:
        existing = s.scalar(
            select(func.count(m.Patient.id)).where(m.Patient.pseudonym.like(f"{DEMO_PREFIX}%"))
        )
        if existing:
            raise InvalidInputError(
                "db",
                f"already holds {existing} demo patients",
                allowed="an empty registry or one without DEMO- patients",
            )
        for i in range(1, n_patients + 1):
            morph = rng.choices(list(_DEMO_RATE_PER_MONTH), weights=(2, 5, 3))[0]
            first = start + dt.timedelta(days=rng.randrange(0, 180))
            p = _create_patient(
                s,
                {
                    "pseudonym": f"{DEMO_PREFIX}{i:03d}",
                    "birth_year": rng.randrange(1950, 2000),
                    "sex": rng.choice(("female", "male")),
                    "site": rng.choice(("demo-north", "demo-south")),
                    "onset_date": first - dt.timedelta(days=rng.randrange(7, 60)),
                },
            )
            counts["patients"] += 1
            lo, hi = _DEMO_RATE_PER_MONTH[morph]
            rate = rng.uniform(lo, hi)
            v0 = rng.uniform(400.0, 2500.0)
            residual = rng.uniform(0.25, 0.5)
            leg0 = rng.randrange(5, 10)
            answers0 = [rng.randrange(1, 5) for _ in range(10)]
            level = rng.choice(("L4-L5", "L5-S1", "L5-S1", "L3-L4"))
            for day in _VISIT_DAYS:
                frac = _fraction(rate, residual, day / DAYS_PER_MONTH)
                relief = min(1.0, max(0.0, 1.0 - frac + rng.uniform(-0.1, 0.2)))
                leg = max(0, min(10, round(leg0 * (1 - relief) + rng.uniform(-1, 1))))
                answers = [
                    max(0, min(5, round(a * (1 - relief) + rng.uniform(-0.6, 0.6))))
                    for a in answers0
                ]
                if rng.random() < 0.1:
                    answers[7] = None  # sex life section skipped, as often happens
                _add_visit(
                    s,
                    p.id,
                    {
                        "date": first + dt.timedelta(days=day),
                        "leg_pain_nrs": leg,
                        "back_pain_nrs": max(0, min(10, leg - rng.randrange(0, 3))),
                        "odi_answers": answers,
                        "rmdq": max(0, min(24, round(sum(a for a in answers if a) * 0.6))),
                        "motor_mrc": 5 if rng.random() < 0.8 else 4,
                        "slr_degrees": min(90, 30 + round(60 * relief)),
                        "notes": "synthetic demo visit" if day == 0 else None,
                    },
                )
                counts["visits"] += 1
            mri_days = (0, 182, 365) if rng.random() < 0.5 else (0, 365)
            base_mri = None
            for day in mri_days:
                v = v0 * _fraction(rate, residual, day / DAYS_PER_MONTH) * rng.uniform(0.95, 1.05)
                row = _add_mri(
                    s,
                    p.id,
                    {
                        "date": first + dt.timedelta(days=day + 3),
                        "volume_mm3": round(v, 1),
                        "level": level,
                        "source": "manual",
                    },
                )
                base_mri = base_mri or row
                counts["mri"] += 1
            findings = {
                "level": level,
                "morphology": morph,
                "containment": "contained" if morph == "protrusion" else "uncontained",
                "t2_signal": rng.choice(("low", "iso", "high")),
                "modic": rng.choice((0, 0, 1, 2)),
                "pfirrmann": rng.choice((2, 3, 3, 4)),
                "msu": f"{rng.choice((1, 2, 2, 3))}-{rng.choice(('A', 'AB', 'B'))}",
                "canal_compromise_percent": round(rng.uniform(10, 70), 1),
            }
            if morph != "protrusion":
                findings["rim_enhancement"] = rng.choice(("none", "partial", "complete"))
            _add_findings(s, p.id, findings, mri_id=base_mri.id, visit_id=None)
            counts["findings"] += 1
            t_start = first + dt.timedelta(days=rng.randrange(0, 10))
            _add_therapy(
                s,
                p.id,
                {
                    "name": rng.choice(_THERAPIES),
                    "start": t_start,
                    "end": t_start + dt.timedelta(days=rng.randrange(14, 90)),
                },
            )
            counts["therapies"] += 1
    return counts
