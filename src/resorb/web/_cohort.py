"""Cohort dashboard data: resorption by morphology and Kaplan-Meier time to resorption.

Works on the registry's pseudonymised view, so clinicians and researchers see
the same figures and no identifying field is needed. Dates there are shifted
per patient, which keeps every interval, and intervals are all that is used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CohortSummary", "summarise_cohort"]

_MORPHOLOGY_ORDER = ("bulge", "protrusion", "extrusion", "sequestration")


@dataclass(frozen=True, slots=True)
class CohortSummary:
    """What the dashboard shows.

    Attributes
    ----------
    definition : str
        What counts as resorbed (the event of the Kaplan-Meier analysis).
    grading : dict
        Grade thresholds with their source (from :mod:`resorb.imaging`).
    resorption_percent : dict of str to list of float
        Resorption at the last MRI (vs the first MRI of the same level) per morphology.
    survival : dict of str to (list of float, list of int)
        Per morphology: follow-up months to the first resorbed MRI (event 1) or
        to the last MRI (censored, event 0).
    n_patients, n_with_followup : int
    excluded : dict of str to int
        Patients left out and why.
    """

    definition: str
    grading: dict[str, Any]
    resorption_percent: dict[str, list[float]] = field(default_factory=dict)
    survival: dict[str, tuple[list[float], list[int]]] = field(default_factory=dict)
    n_patients: int = 0
    n_with_followup: int = 0
    excluded: dict[str, int] = field(default_factory=dict)

    def kaplan_meier(self) -> dict[str, dict[str, Any]]:
        """Kaplan-Meier estimate per morphology (lifelines), with 95 % intervals."""
        from resorb.errors import require_extra

        KaplanMeierFitter = require_extra("lifelines", "stats").KaplanMeierFitter  # noqa: N806

        out: dict[str, dict[str, Any]] = {}
        for group, (months, events) in self.survival.items():
            if not months:
                continue
            kmf = KaplanMeierFitter(alpha=0.05).fit(months, event_observed=events, label=group)
            sf = kmf.survival_function_[group]
            ci = kmf.confidence_interval_survival_function_
            median = kmf.median_survival_time_
            out[group] = {
                "months": [float(t) for t in sf.index],
                "survival": [float(v) for v in sf.to_numpy()],
                "lower": [float(v) for v in ci.iloc[:, 0].to_numpy()],
                "upper": [float(v) for v in ci.iloc[:, 1].to_numpy()],
                "n": len(months),
                "events": int(sum(events)),
                "median_months": None if median == float("inf") else float(median),
            }
        return out

    def table(self) -> list[dict[str, Any]]:
        """One row per morphology: n, median resorption, events, KM median."""
        import numpy as np

        km = self.kaplan_meier()
        rows = []
        for group in self.resorption_percent:
            vals = np.asarray(self.resorption_percent[group], dtype=float)
            rows.append(
                {
                    "morphology": group,
                    "n": int(vals.size),
                    "median_resorption_percent": float(np.median(vals)) if vals.size else None,
                    "q1_percent": float(np.percentile(vals, 25)) if vals.size else None,
                    "q3_percent": float(np.percentile(vals, 75)) if vals.size else None,
                    "events": km.get(group, {}).get("events", 0),
                    "km_median_months": km.get(group, {}).get("median_months"),
                }
            )
        return rows


def _months(d0: dt.date, d1: dt.date) -> float:
    from resorb.imaging import DAYS_PER_MONTH

    return (d1 - d0).days / DAYS_PER_MONTH


def _as_date(v: Any) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))


def summarise_cohort(rows: Iterable[Mapping[str, Any]]) -> CohortSummary:
    """Summarise pseudonymised registry rows (``Registry.pseudonymised_view``).

    Per patient: the morphology of the last findings record; the MRI series of
    that level (or without a level) with a volume; the first MRI is the
    baseline. Resorbed = graded ``significant`` or ``complete`` by
    :func:`resorb.imaging.compare_volumes` with the evidence-based thresholds
    *and* a volume change larger than the minimal detectable change of that
    pair of volumes (:func:`resorb.imaging.volume_error_model`): a change
    within measurement error is not counted as an event.
    """
    from resorb.imaging import ResorptionGrading, compare_volumes

    grading = ResorptionGrading.from_evidence()
    definition = (
        f"resorbed = volume reduced by at least {grading.significant_percent:g} % "
        "of the baseline MRI (grade 'significant' or 'complete') and by more than "
        "the minimal detectable change of that pair of volumes (measurement "
        "error relative to the size of the herniation); time from the "
        "baseline MRI to the first follow-up MRI that shows it, censored at the "
        "last MRI otherwise"
    )
    excluded: dict[str, int] = {}
    resorption: dict[str, list[float]] = {}
    survival: dict[str, tuple[list[float], list[int]]] = {}
    n_patients = n_followup = 0
    for row in rows:
        n_patients += 1
        findings = row.get("findings") or []
        if not findings:
            excluded["no findings"] = excluded.get("no findings", 0) + 1
            continue
        last = findings[-1]
        morphology, level = str(last["morphology"]), last.get("level")
        series = sorted(
            (
                (_as_date(m["date"]), float(m["volume_mm3"]))
                for m in row.get("mri") or []
                if m.get("volume_mm3") is not None and m.get("level") in (None, level)
            ),
            key=lambda x: x[0],
        )
        if len(series) < 2 or not series[0][1] > 0:
            excluded["fewer than two MRI volumes"] = (
                excluded.get("fewer than two MRI volumes", 0) + 1
            )
            continue
        n_followup += 1
        (d0, v0), follow = series[0], series[1:]
        event_month = None
        for d, v in follow:
            r = compare_volumes(v0, v, warn=False, grading=grading)
            if r.grade.value in ("significant", "complete") and not r.within_mdc:
                event_month = _months(d0, d)
                break
        last_pct = compare_volumes(
            v0, follow[-1][1], warn=False, grading=grading
        ).resorption_percent
        resorption.setdefault(morphology, []).append(float(last_pct))
        months, events = survival.setdefault(morphology, ([], []))
        months.append(event_month if event_month is not None else _months(d0, follow[-1][0]))
        events.append(1 if event_month is not None else 0)
    order = {m: i for i, m in enumerate(_MORPHOLOGY_ORDER)}
    return CohortSummary(
        definition=definition,
        grading=grading.to_dict(),
        resorption_percent=dict(sorted(resorption.items(), key=lambda kv: order.get(kv[0], 99))),
        survival=dict(sorted(survival.items(), key=lambda kv: order.get(kv[0], 99))),
        n_patients=n_patients,
        n_with_followup=n_followup,
        excluded=excluded,
    )
