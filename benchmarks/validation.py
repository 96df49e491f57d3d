"""External validation and calibration tables of the resorption model (docs/validation.md).

Run ``python benchmarks/validation.py`` to regenerate ``docs/validation.md``;
``--check`` exits 1 when the file differs from what the code produces (the
test ``tests/prognosis/test_validation_doc.py`` does the same).

Validation rows compare resorb's prediction, made from the morphology alone as
a clinician would enter it, with a published cohort result that was not used
to set the parameter in question. Observed intervals are the published 95 % CI or
Wilson 95 % intervals from the published counts; predicted intervals are the
2.5-97.5 % quantiles over the uncertainty of the pooled rate.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from resorb.domain.enums import HerniationMorphology
from resorb.evidence import evidence_source, evidence_value
from resorb.prognosis import calibration_table, default_kinetic_prior
from resorb.prognosis._kinetics import class_probabilities, draw_latent

DOC = Path(__file__).resolve().parents[1] / "docs" / "validation.md"
_Z95 = 1.959963984540054
_N = 4000

#: (cohort label, subgroup, morphology or None, event, months, observed record, note)
ROWS = [
    (
        "Chiu 2015 (pooled)",
        "sequestration",
        "sequestration",
        "regressed",
        12,
        "regression_rate_sequestration_chiu2015",
        "prior set from Zou 2023, not Chiu",
    ),
    (
        "Chiu 2015 (pooled)",
        "extrusion",
        "extrusion",
        "regressed",
        12,
        "regression_rate_extrusion_chiu2015",
        "prior set from Zou 2023, not Chiu",
    ),
    (
        "Chiu 2015 (pooled)",
        "protrusion",
        "protrusion",
        "regressed",
        12,
        "regression_rate_protrusion_chiu2015",
        "prior set from Zou 2023, not Chiu",
    ),
    (
        "Chiu 2015 (pooled)",
        "bulge",
        "bulge",
        "regressed",
        12,
        "regression_rate_bulge_chiu2015",
        "prior set from Zou 2023, not Chiu",
    ),
    (
        "Wang 2020 (pooled)",
        "all morphologies",
        None,
        "regressed",
        12,
        "regression_rate_overall_wang2020",
        "prior set from Zou 2023",
    ),
    (
        "Ahn 2000",
        "sequestered",
        "sequestration",
        "regressed",
        12,
        "sequestered_regression_ahn2000",
        "Ahn's PLL counts set the PLL factor; the sequestrations did not",
    ),
    (
        "Splendiani 2004",
        "all herniations, 6 months",
        None,
        "regressed",
        6,
        "regression_6mo_splendiani2004",
        "T2 counts of this cohort set the T2 factor; the overall rate did not",
    ),
    (
        "Komori 1996",
        "disappeared by ~5 months",
        None,
        "complete",
        4.9,
        "disappeared_komori1996",
        "retrospective; morphology mix not in the abstract",
    ),
    (
        "Ramos Amador 2013",
        "disappeared within 1 year",
        None,
        "complete",
        12,
        "disappearance_1y_ramos_amador2013",
        "its 8- and 2-month shares set the kinetic, not this rate",
    ),
    (
        "Ramos Amador 2013",
        "extrusions disappeared within 1 year",
        "extrusion",
        "complete",
        12,
        "disappearance_extrusion_ramos_amador2013",
        "counts per morphology not in the abstract",
    ),
    (
        "Hornung 2023",
        "12-month regressors regressed by 3 months",
        None,
        "early",
        3,
        "early_resorption_fraction_hornung2023",
        "a check of the kinetic (not fitted)",
    ),
    (
        "Lee 2017 (Jaseng)",
        "any resorption",
        None,
        "regressed",
        12,
        "any_resorption_lee2017",
        "selected: patients with a follow-up MRI, most improved",
    ),
    (
        "Lee 2017 (Jaseng)",
        ">= 50 % resorption",
        None,
        "halved",
        12,
        "resorption_50_lee2017",
        "selected as above",
    ),
    (
        "Orthop Surg 2014 (TCM)",
        "ruptured, > 50 % at 2 years",
        "extrusion",
        "halved",
        24,
        "resorption_over_50_orthop_surg2014",
        "its SD of resorption is borrowed for the Modic factor, not for this rate",
    ),
    (
        "Cribb 2007",
        "massive herniations resolved (~24 months)",
        "extrusion",
        "halved",
        24,
        "massive_resolved_cribb2007",
        "size is not a factor of the model; 'resolved' read as >= 50 %",
    ),
]

_UNUSABLE = [
    (
        "Autio 2006",
        "resorption already significant at 2 months; group means, no subgroup "
        "counts in the abstract",
    ),
    ("bull's-eye cohort 2025", "its counts set the rim-enhancement factor (not held out)"),
    (
        "Seo 2016, Kjaer 2016",
        "their growth fractions set the growth share of the prior; "
        "the calibration table sets the same fractions beside the "
        "prior's 12-month enlargement as a consistency check, which is "
        "not a held-out one",
    ),
    ("Shan 2014", "its group means set the Modic factor (not held out)"),
]


def _wilson(events: float, total: float) -> tuple[float, float]:
    p = events / total
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = _Z95 * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate_draws(
    morph: HerniationMorphology | None, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Pooled regression rate (plug-in) and logit-normal draws over its uncertainty."""
    rid = (
        "regression_rate_overall_zou2023"
        if morph is None
        else f"regression_rate_{morph.value}_zou2023"
    )
    rec = evidence_value(rid)
    p = float(rec.value)
    logit = math.log(p / (1 - p))
    if rec.lower is not None:
        sd = (
            max(
                abs(math.log(rec.upper / (1 - rec.upper)) - logit),
                abs(logit - math.log(rec.lower / (1 - rec.lower))),
            )
            / _Z95
        )
    else:
        sd = float(evidence_value("regression_logit_sd_assumed").value)
    z = logit + sd * rng.standard_normal(_N)
    return p, 1.0 / (1.0 + np.exp(-z))


def predict(morphology: str | None, event: str, months: float) -> tuple[float, float, float]:
    """resorb's prediction for a cohort described only by its morphology: point, 95 % range."""
    morph = None if morphology is None else HerniationMorphology(morphology)
    prior = default_kinetic_prior(morph)
    lat = draw_latent(prior, 0)
    rng = np.random.default_rng(0)
    p, draws = _rate_draws(morph, rng)
    if event == "early":
        num = lat.class_means(lat.event("regressed", months).astype(float))
        den = lat.q_regressed_12
        pi, pid = class_probabilities(p, lat), class_probabilities(draws, lat)
        point = float(pi @ num / (pi @ den))
        vals = (pid @ num) / (pid @ den)
    else:
        q = lat.class_means(lat.event(event, float(months)).astype(float))
        point = float(class_probabilities(p, lat) @ q)
        vals = class_probabilities(draws, lat) @ q
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return point, float(min(lo, point)), float(max(hi, point))


def _observed(record_id: str) -> tuple[float, tuple[float, float] | None, str]:
    rec = evidence_value(record_id)
    value = float(rec.value)
    if rec.lower is not None:
        return value, (float(rec.lower), float(rec.upper)), "published 95 % CI"
    if rec.events is not None and rec.total:
        return value, _wilson(rec.events, rec.total), f"{rec.events:g}/{rec.total:g}"
    return value, None, "no counts or CI published"


def _cite(record_id: str) -> str:
    rec = evidence_value(record_id)
    src = evidence_source(rec.sources[0])
    if src.pmid:
        return f"PMID {src.pmid}"
    if src.doi:
        return f"doi:{src.doi}"
    return src.url or src.id


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def validation_rows() -> list[dict]:
    out = []
    for cohort, subgroup, morph, event, months, rid, note in ROWS:
        obs, obs_ci, basis = _observed(rid)
        pred, lo, hi = predict(morph, event, months)
        inside = obs_ci is not None and obs_ci[0] <= pred <= obs_ci[1]
        out.append(
            {
                "cohort": cohort,
                "subgroup": subgroup,
                "morphology": morph or "all",
                "event": event,
                "months": months,
                "observed": obs,
                "observed_ci": obs_ci,
                "basis": basis,
                "predicted": pred,
                "predicted_range": (lo, hi),
                "agrees": inside if obs_ci is not None else None,
                "source": _cite(rid),
                "evidence_id": rid,
                "note": note,
            }
        )
    return out


_EVENTS = {
    "regressed": "regression (>= 10 % decrease)",
    "complete": "complete resolution",
    "halved": ">= 50 % reduction",
    "early": "share regressed by then",
}


def render() -> str:
    lines = [
        "# Validation of the resorption model against published cohorts",
        "",
        "Generated by `python benchmarks/validation.py` from the evidence base and the "
        "model; `tests/prognosis/test_validation_doc.py` regenerates it and fails when this "
        "file is out of date. Do not edit by hand.",
        "",
        "## External validation",
        "",
        "Each row predicts a published cohort result from the morphology alone (the cohort's "
        "other findings are not in the abstracts), at the cohort's follow-up time. None of "
        "these results set the parameter in question (the note says which part of the "
        "cohort did). Observed interval: the published 95 % CI, else Wilson 95 % from the counts. "
        "Predicted range: 2.5-97.5 % over the uncertainty of the pooled rate. "
        "'agrees' = the prediction lies inside the observed interval.",
        "",
        "| cohort | subgroup | morphology | event | months | observed | observed 95 % | "
        "predicted | predicted range | agrees | source | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = validation_rows()
    for r in rows:
        ci = (
            "n/a"
            if r["observed_ci"] is None
            else f"{_pct(r['observed_ci'][0])} - {_pct(r['observed_ci'][1])}"
        )
        agrees = {True: "yes", False: "**no**", None: "n/a"}[r["agrees"]]
        lo, hi = r["predicted_range"]
        lines.append(
            f"| {r['cohort']} | {r['subgroup']} | {r['morphology']} | {_EVENTS[r['event']]} "
            f"| {r['months']:g} | {_pct(r['observed'])} ({r['basis']}) | {ci} | "
            f"{_pct(r['predicted'])} | {_pct(lo)} - {_pct(hi)} | {agrees} | {r['source']} | "
            f"{r['note']} |"
        )
    n_ci = sum(r["agrees"] is not None for r in rows)
    n_ok = sum(bool(r["agrees"]) for r in rows)
    lines += [
        "",
        f"{n_ok} of the {n_ci} rows with an observed interval agree. The misses say where "
        "the model is weakest: complete disappearance is rarer in the model (Chiu 2015's "
        "15 % for extrusions) than in Ramos Amador 2013's contrast-MRI cohort (83 % of "
        "extrusions gone within a year), and selected or treated cohorts (Lee 2017, Cribb "
        "2007) resorb more than the pooled natural-history rates.",
        "",
        "Cohorts that cannot serve as a held-out check:",
        "",
    ]
    lines += [f"- {name}: {why}." for name, why in _UNUSABLE]
    from resorb.prognosis._factors import _UNVERIFIED_REASONS

    lines += [
        "",
        "## Findings that do not enter the estimate",
        "",
        "Dependent findings enter as one construct (PLL/containment, rim enhancement and "
        "Komori migration; T2 signal and Modic change), so an unfavourable finding never "
        "raises the estimate. These findings have a published direction but no effect size "
        "that could be read, and are listed as omitted in every assessment that records them:",
        "",
    ]
    lines += [f"- {name.replace('_', ' ')}: {why}." for name, why in _UNVERIFIED_REASONS.items()]
    lines += [
        "- calcification of the herniation: no field in the case file, and no study giving its "
        "effect on resorption was found in the sources read.",
        "- Iwabuchi type, MSU and Schizas grade: codings of the predictive equations not "
        "published (Suzhou 2018).",
    ]
    lines += [
        "",
        "## Calibration of the forecast prior",
        "",
        "The four-course prior (complete resolution, partial shrinkage, no change, growth) "
        "is our assumption, calibrated to the targets below (one MRI, no other finding). "
        "'fitted': the prior was set to match it (the regression rates exactly; the kinetic "
        "by least squares over Ramos Amador's two shares and Zou's >= 50 % rate); 'check': "
        "not used to set it (the growth rows excepted: Seo 2016 and Kjaer 2016 set the "
        "growth share, and their rows only check that the prior's 12-month enlargement is "
        "of the same order).",
        "",
        "| quantity | morphology | target | prior | role | evidence record |",
        "|---|---|---|---|---|---|",
    ]
    for r in calibration_table():
        lines.append(
            f"| {r['quantity']} | {r['morphology']} | {_pct(r['target'])} | "
            f"{_pct(r['prior'])} | {r['role']} | `{r['evidence_id']}` |"
        )
    lines += [
        "",
        "Known misses, stated rather than tuned away: Hornung 2023's early-resorption share "
        "(23/90 by 3 months) cannot be met together with Ramos Amador's disappearance times "
        "under one first-order kinetic (the model puts most measurable decrease early); the "
        "growth fractions of Seo 2016 (any growth in 3D, 37.5 %) and Kjaer 2016 (a general-"
        "population cohort over 8 years, 12.5 %) are not 12-month enlargement rates and are "
        "shown as checks; the complete-resolution rate of sequestrations falls short of Chiu's "
        "43 % because the regression rate caps the complete course.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/validation.md is out of date"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(
                "docs/validation.md is out of date: run python benchmarks/validation.py",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
