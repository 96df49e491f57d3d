"""Synthetic cohorts drawn from the evidence base, for demos and tests.

The generating assumptions live in ``resorb/cohort/data/simulation.yaml``;
each number there is tagged ``exact``, ``approx`` or ``assumption`` with its
source. The morphology-specific regression rates (Zou et al. 2023) and the
probability of surgery by 12 months (Peul et al. 2007) are read from resorb's
evidence base by their record ids. The output is synthetic and says so; it is never patient data.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml
from scipy.special import expit, logit

from resorb.errors import InvalidInputError

__all__ = ["simulate_cohort", "simulation_assumptions"]


@cache
def simulation_assumptions() -> dict:
    """The generating assumptions (parsed ``simulation.yaml``), with the values
    it names in resorb's evidence base filled in (``values`` / ``value``)."""
    from resorb.evidence import evidence_value

    text = resources.files("resorb.cohort").joinpath("data/simulation.yaml").read_text("utf-8")
    a = yaml.safe_load(text)
    inc = a["morphology_incidence"]
    inc["values"] = {
        m: float(evidence_value(vid).value) for m, vid in inc["evidence_values"].items()
    }
    a["surgery"]["probability_12mo"] = float(evidence_value(a["surgery"]["evidence_value"]).value)
    return a


def simulate_cohort(n: int, *, seed: int = 0, missing_fraction: float = 0.0) -> pd.DataFrame:
    """Draw a synthetic cohort, one row per herniation.

    Parameters
    ----------
    n : int
        Number of patients (>= 1).
    seed : int, keyword-only
        Seed of ``numpy.random.default_rng``; the same seed gives the same rows.
    missing_fraction : float, keyword-only
        Share of ``rim_enhancement`` and ``symptom_duration_days`` values set
        missing completely at random (contrast MRI and onset dates are often
        unavailable), to exercise missing-data handling.

    Returns
    -------
    DataFrame
        Columns ``patient_id, age_years, sex, level, morphology,
        rim_enhancement, modic, symptom_duration_days, volume_mm3,
        resorbed_12mo`` (0/1), ``time_months`` and ``event`` (0 censored,
        1 resorption, 2 surgery before resorption).
    """
    if n < 1:
        raise InvalidInputError("n", str(n), allowed="an integer >= 1")
    if not 0 <= missing_fraction < 1:
        raise InvalidInputError("missing_fraction", str(missing_fraction), allowed="0 to <1")
    a = simulation_assumptions()
    rng = np.random.default_rng(seed)
    morph_mix = a["morphology_mix"]["values"]
    morph = rng.choice(list(morph_mix), size=n, p=list(morph_mix.values()))
    age_lo, age_hi = a["age_years"]["clip"]
    age = np.clip(
        np.round(rng.normal(a["age_years"]["mean"], a["age_years"]["sd"], n)), age_lo, age_hi
    )
    sex_mix = a["sex_mix"]["values"]
    sex = rng.choice(list(sex_mix), size=n, p=list(sex_mix.values()))
    level_mix = a["level_mix"]["values"]
    level = rng.choice(list(level_mix), size=n, p=list(level_mix.values()))
    vm, vs = a["volume_mm3"]["mean"], a["volume_mm3"]["sd"]
    sigma2 = np.log(1 + (vs / vm) ** 2)
    volume = np.round(rng.lognormal(np.log(vm) - sigma2 / 2, np.sqrt(sigma2), n))
    rim_mix = a["rim_enhancement"]["mix"]
    rim = rng.choice(list(rim_mix), size=n, p=list(rim_mix.values()))
    modic_mix = a["modic"]["mix"]
    modic = rng.choice([int(k) for k in modic_mix], size=n, p=list(modic_mix.values()))
    duration = np.ceil(rng.exponential(a["symptom_duration_days"]["mean"], n))

    # Centre each assumed effect on its expected value so that the marginal
    # regression rate per morphology stays close to the pooled incidence.
    rim_lo = a["rim_enhancement"]["log_odds"]
    rim_eff = np.array([rim_lo[r] for r in rim])
    rim_eff -= sum(rim_mix[k] * rim_lo[k] for k in rim_mix)
    modic_eff = a["modic"]["log_odds_any_change"] * ((modic > 0) - (1 - modic_mix["0"]))
    p_long = np.exp(-365 / a["symptom_duration_days"]["mean"])
    dur_eff = a["symptom_duration_days"]["log_odds_over_365"] * ((duration > 365) - p_long)
    vol_eff = a["volume_mm3"]["log_odds_per_doubling"] * (np.log2(volume) - np.log2(vm))
    age_eff = a["age_years"]["log_odds_per_year"] * (age - a["age_years"]["mean"])
    base = logit(np.array([a["morphology_incidence"]["values"][m] for m in morph]))
    risk = expit(base + rim_eff + modic_eff + dur_eff + vol_eff + age_eff)

    shape = a["time_to_resorption"]["shape"]
    scale = 12.0 / (-np.log1p(-risk)) ** (1 / shape)
    t_res = scale * rng.weibull(shape, n)
    rate_surg = -np.log(1 - a["surgery"]["probability_12mo"]) / 12.0
    t_surg = rng.exponential(1 / rate_surg, n)
    fu = a["follow_up_months"]
    t_cens = rng.uniform(fu["min"], fu["max"], n)
    time = np.minimum.reduce([t_res, t_surg, t_cens])
    event = np.where(time == t_res, 1, np.where(time == t_surg, 2, 0))

    df = pd.DataFrame(
        {
            "patient_id": [f"SIM{seed:04d}-{i + 1:05d}" for i in range(n)],
            "age_years": age.astype(int),
            "sex": sex,
            "level": level,
            "morphology": morph,
            "rim_enhancement": rim,
            "modic": modic,
            "symptom_duration_days": duration.astype(int),
            "volume_mm3": volume,
            "resorbed_12mo": (t_res <= 12).astype(int),
            "time_months": np.round(time, 3),
            "event": event,
        }
    )
    if missing_fraction > 0:
        mask = rng.random(n) < missing_fraction
        df["rim_enhancement"] = df["rim_enhancement"].where(~mask, None)
        mask = rng.random(n) < missing_fraction
        df["symptom_duration_days"] = df["symptom_duration_days"].astype(float).where(~mask)
    return df
