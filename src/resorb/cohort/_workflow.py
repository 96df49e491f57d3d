"""One call from a cohort table to a validated model: what ``resorb cohort fit`` runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from resorb.cohort._logistic import FittedLogistic
from resorb.cohort._samplesize import SampleSizeCheck, riley_sample_size
from resorb.cohort._survival import (
    FittedCox,
    FittedWeibullAFT,
    aalen_johansen,
    calibration_at_horizon,
    cox_bootstrap_c,
    ici_at_horizon,
    read_survival_outcome,
    truncated_c_index,
)
from resorb.cohort._validation import (
    BootstrapValidation,
    _metrics_batch,
    bootstrap_validate,
    calibration_curve_corrected,
    calibration_smooth,
    ici_metrics,
    net_benefit,
)
from resorb.errors import InvalidInputError, ModelError

__all__ = ["CohortAnalysis", "SurvivalAnalysis", "analyse_cohort"]

DEFAULT_THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)


def _anova_rows(table: pd.DataFrame) -> list[dict]:
    """rms-style Wald table as JSON rows (term, chi2, df, p); sub-rows keep rms's indent."""
    return [
        {"term": str(t), "chi2": float(r["chi2"]), "df": int(r["df"]), "p": float(r["p"])}
        for t, r in table.iterrows()
    ]


def _effect_rows(table: pd.DataFrame) -> list[dict]:
    """Inter-quartile effects (rms ``summary``) as JSON rows."""
    return [
        {k: (v if isinstance(v, str) else float(v)) for k, v in r.items()}
        for r in table.to_dict(orient="records")
    ]


@dataclass(frozen=True)
class SurvivalAnalysis:
    """Time-to-resorption models and the competing-risk cumulative incidence."""

    horizon_months: float
    cox: FittedCox
    weibull: FittedWeibullAFT | None
    cif_resorption: pd.DataFrame
    cif_competing: pd.DataFrame | None
    cox_calibration: pd.DataFrame
    cox_c_truncated: float
    weibull_error: str | None = None
    cox_c_bootstrap: dict | None = None
    cox_ici: dict | None = None
    cox_calibration_corrected: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        def at(cif, t):
            s = cif["cif"][cif.index <= t]
            return float(s.iloc[-1]) if len(s) else 0.0

        cal = self.cox_calibration
        cox_risk = self.cox.predict_risk(self.horizon_months)
        observed = cal["observed"].to_numpy() @ cal["n"].to_numpy() / cal["n"].sum()
        out = {
            "horizon_months": self.horizon_months,
            "n": self.cox.n,
            "events": self.cox.events,
            "competing_events": self.cox.competing,
            "cox": {
                "coefficients": {k: float(v) for k, v in self.cox.fitter.params_.items()},
                "hazard_ratios": {k: float(np.exp(v)) for k, v in self.cox.fitter.params_.items()},
                "c_index": self.cox.c_index(),
                "anova": _anova_rows(self.cox.anova()),
                "effects": _effect_rows(self.cox.effects()),
                "c_index_truncated_at_horizon": self.cox_c_truncated,
                "mean_predicted_risk_at_horizon": float(cox_risk.mean()),
                "observed_risk_at_horizon_km": float(observed),
                "calibration_at_horizon": cal.to_dict(orient="records"),
                "calibration_at_horizon_optimism_corrected": (
                    None
                    if self.cox_calibration_corrected is None
                    else self.cox_calibration_corrected.to_dict(orient="records")
                ),
                "c_index_optimism_corrected": (self.cox_c_bootstrap or {}).get("corrected"),
                "c_index_bootstrap": self.cox_c_bootstrap,
                "ici_at_horizon": (self.cox_ici or {}).get("ici"),
                "e50_at_horizon": (self.cox_ici or {}).get("e50"),
                "e90_at_horizon": (self.cox_ici or {}).get("e90"),
                "calibration_at_horizon_method": (self.cox_ici or {}).get(
                    "method", (self.cox_ici or {}).get("error")
                ),
                "note": "cause-specific hazards: competing events (2) treated as censoring",
            },
            "cumulative_incidence_at_horizon": {
                "resorption": at(self.cif_resorption, self.horizon_months),
                "competing": (
                    at(self.cif_competing, self.horizon_months)
                    if self.cif_competing is not None
                    else None
                ),
                "method": "Aalen-Johansen",
            },
            "fine_gray": "not provided (see resorb.cohort._survival)",
        }
        if self.weibull is not None:
            out["weibull_aft"] = {
                "coefficients": {
                    f"{a}:{b}": float(v) for (a, b), v in self.weibull.fitter.params_.items()
                },
                "c_index": self.weibull.c_index(),
            }
        elif self.weibull_error:
            out["weibull_aft"] = {"error": self.weibull_error}
        return out


@dataclass(frozen=True)
class CohortAnalysis:
    """Fitted model, its validation, decision curve, sample-size check, survival."""

    fit: FittedLogistic | None
    validation: BootstrapValidation | None
    calibration: dict
    sample_size: SampleSizeCheck | None
    thresholds: np.ndarray
    net_benefit: np.ndarray | None
    net_benefit_corrected: np.ndarray | None
    survival: SurvivalAnalysis | None = None
    settings: dict = field(default_factory=dict)
    calibration_curve: pd.DataFrame | None = None
    survival_error: str | None = None

    @property
    def predicted(self) -> np.ndarray:
        return expit(self.fit.fitted_lp)

    def to_dict(self) -> dict:
        fit, val = self.fit, self.validation
        if fit is None:  # a survival model only (no binary outcome given)
            return {
                "outcome": None,
                "settings": self.settings,
                "survival": (
                    self.survival.to_dict()
                    if self.survival is not None
                    else {"error": self.survival_error}
                ),
            }
        tab = fit.summary
        out = {
            "outcome": fit.outcome,
            "n": fit.n,
            "events": fit.events,
            "method": fit.method,
            "coefficients": {k: float(v) for k, v in tab["coef"].items()},
            "coefficient_table": [
                {
                    "term": k,
                    **{c: float(r[c]) for c in tab.columns},
                    "se_robust": None if rse is None else float(rse),
                }
                # the sandwich of one data set; not pooled over imputations
                for (k, r), rse in zip(
                    tab.iterrows(),
                    [None] * len(tab)
                    if fit.pooled is not None
                    else np.sqrt(np.diag(fit.robust_cov())),
                    strict=True,
                )
            ],
            "predictors": [c.to_dict() for c in fit.codings],
            "anova": _anova_rows(fit.anova()),
            "effects": _effect_rows(fit.effects()),
            "c_statistic": self.calibration["c_statistic"],
            "calibration_slope": self.calibration["calibration_slope"],
            "calibration_intercept": self.calibration["calibration_intercept"],
            "brier": self.calibration["brier"],
            "ici": self.calibration["ici"],
            "e50": self.calibration["e50"],
            "e90": self.calibration["e90"],
            "emax": self.calibration["emax"],
            "separation": fit.separation.to_dict(),
            "missing": fit.missing.to_dict(),
            "sample_size": self.sample_size.to_dict(),
            "decision_curve": [
                {
                    "threshold": float(t),
                    "net_benefit": float(nb),
                    "net_benefit_optimism_corrected": (
                        float(self.net_benefit_corrected[i])
                        if self.net_benefit_corrected is not None
                        else None
                    ),
                    "treat_all": float(ta),
                }
                for i, (t, nb, ta) in enumerate(
                    zip(self.thresholds, self.net_benefit, self._treat_all(), strict=True)
                )
            ],
            "settings": self.settings,
            "calibration_curve": (
                self.calibration_curve.to_dict(orient="list")
                if self.calibration_curve is not None
                else None
            ),
        }
        if val is not None:
            for metric in ("c_statistic", "calibration_slope", "calibration_intercept", "brier"):
                out[f"{metric}_optimism_corrected"] = val.corrected(metric)
            out["bootstrap"] = val.to_dict()
        else:
            for metric in ("c_statistic", "calibration_slope", "calibration_intercept", "brier"):
                out[f"{metric}_optimism_corrected"] = None
            out["bootstrap"] = None
        if fit.pooled is not None:
            out["imputation"] = {
                "m": fit.pooled.m,
                "fraction_missing_information": dict(
                    zip(fit.names, map(float, fit.pooled.fraction_missing_information), strict=True)
                ),
            }
        if self.survival is not None:
            out["survival"] = self.survival.to_dict()
        elif self.survival_error is not None:
            out["survival"] = {"error": self.survival_error}
        return out

    def _treat_all(self) -> np.ndarray:
        prev = self.fit.y.mean()
        t = self.thresholds
        return prev - (1 - prev) * t / (1 - t)


def analyse_cohort(
    df: pd.DataFrame,
    *,
    outcome: str | None,
    predictors: str | Sequence[str],
    splines: Sequence[str] = (),
    time: str | None = None,
    event: str | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    impute: int = 0,
    method: str = "auto",
    horizon_months: float = 12.0,
    r2_cs: float | None = None,
    thresholds: np.ndarray = DEFAULT_THRESHOLDS,
    progress: Callable[[str, int, int], None] | None = None,
) -> CohortAnalysis:
    """Fit, validate and describe a resorption prediction model.

    Parameters
    ----------
    df : DataFrame, one row per herniation
    outcome : binary outcome column; None for a survival model only (then
        ``time`` and ``event`` are required)
    predictors : predictor specifications (``"age_years:rcs4,morphology"``)
    splines : extra ``NAME[:K]`` spline requests
    time, event : optional time-to-event columns (months; 0/1/2 coding)
    bootstrap : bootstrap replicates for optimism correction (0 = none)
    seed : seed for bootstrap and imputation
    impute : 0 = complete cases, m >= 2 = multiple imputations
    method : "auto", "ml" or "firth"
    horizon_months : horizon of the survival metrics
    r2_cs : anticipated Cox-Snell R2 for the sample-size check (default: Riley's
        conservative Nagelkerke 0.15)
    thresholds : risk thresholds of the decision curve
    progress : called as ``progress(task, done, total)`` during each bootstrap

    Notes
    -----
    A survival model that cannot be fitted (too few events, no convergence)
    is reported under ``survival.error`` without losing the logistic results.
    """
    if bootstrap < 0:
        raise InvalidInputError("bootstrap", str(bootstrap), allowed="0 or more replicates")
    if (time is None) != (event is None):
        raise InvalidInputError(
            "time" if time is None else "event",
            "given without the other",
            allowed="both --time and --event, or neither",
        )
    if outcome is None:
        if time is None:
            raise InvalidInputError(
                "outcome", "missing", allowed="a binary outcome column, or --time and --event"
            )
        return _survival_only(
            df,
            time=time,
            event=event,
            predictors=predictors,
            splines=splines,
            horizon=horizon_months,
            bootstrap=bootstrap,
            seed=seed,
            thresholds=thresholds,
            progress=progress,
        )
    fit = FittedLogistic.from_data(
        df,
        outcome=outcome,
        predictors=predictors,
        splines=splines,
        method=method,
        impute=impute,
        seed=seed,
    )
    firth = fit.method == "Firth"
    designs = fit.imputed_designs or (fit.X,)
    vals, cals, nbs = [], [], []
    for design in designs:
        lp = design @ fit.coef
        p = expit(lp)
        app = {
            k: float(v[0])
            for k, v in _metrics_batch(fit.y, lp[None, :], np.ones((1, len(lp)))).items()
        }
        app.update(ici_metrics(fit.y, p))
        cals.append(app)
        nbs.append(net_benefit(fit.y, p, thresholds))
        if bootstrap:
            tick = (
                None
                if progress is None
                else (
                    lambda done, total, k=len(vals): progress(
                        f"logistic bootstrap{f' (imputation {k + 1})' if len(designs) > 1 else ''}",
                        done,
                        total,
                    )
                )
            )
            vals.append(
                bootstrap_validate(
                    design,
                    fit.y,
                    fit.coef,
                    n_bootstrap=bootstrap,
                    seed=seed,
                    firth=firth,
                    thresholds=thresholds,
                    progress=tick,
                )
            )
    calibration = {k: float(np.mean([c[k] for c in cals])) for k in cals[0]}
    validation = None
    nb_corr = None
    if vals:
        table = sum(v.table for v in vals) / len(vals)
        # with imputation: B resamples within each completed data set, metrics averaged
        validation = BootstrapValidation(
            table, bootstrap * len(vals), sum(v.n_successful for v in vals), seed, thresholds
        )
        nb_corr = np.mean([v.net_benefit_corrected for v in vals], axis=0)
    prevalence = fit.events / fit.n
    sample = riley_sample_size(
        parameters=fit.n_parameters, prevalence=prevalence, r2_cs=r2_cs, n_available=fit.n
    )
    survival, survival_error = None, None
    if time is not None:
        try:
            survival = _survival(
                df,
                time=time,
                event=event,
                predictors=predictors,
                splines=splines,
                horizon=horizon_months,
                bootstrap=bootstrap,
                seed=seed,
                progress=progress,
            )
        except (ModelError, InvalidInputError) as exc:
            survival_error = str(exc)
    curve = None
    if bootstrap:
        curve = calibration_curve_corrected(
            designs[0], fit.y, fit.coef, n_bootstrap=min(bootstrap, 40), seed=seed, firth=firth
        )
    settings = {
        "predictors": predictors if isinstance(predictors, str) else list(predictors),
        "splines": list(splines),
        "bootstrap": bootstrap,
        "seed": seed,
        "impute": impute,
        "method": method,
        "horizon_months": horizon_months,
        "time": time,
        "event": event,
    }
    return CohortAnalysis(
        fit,
        validation,
        calibration,
        sample,
        np.asarray(thresholds),
        np.mean(nbs, axis=0),
        nb_corr,
        survival,
        settings,
        curve,
        survival_error,
    )


def _survival_only(
    df, *, time, event, predictors, splines, horizon, bootstrap, seed, thresholds, progress
) -> CohortAnalysis:
    survival = _survival(
        df,
        time=time,
        event=event,
        predictors=predictors,
        splines=splines,
        horizon=horizon,
        bootstrap=bootstrap,
        seed=seed,
        progress=progress,
    )
    settings = {
        "predictors": predictors if isinstance(predictors, str) else list(predictors),
        "splines": list(splines),
        "bootstrap": bootstrap,
        "seed": seed,
        "horizon_months": horizon,
        "time": time,
        "event": event,
    }
    return CohortAnalysis(
        None, None, {}, None, np.asarray(thresholds), None, None, survival, settings
    )


def _survival(
    df, *, time, event, predictors, splines, horizon, bootstrap, seed, progress=None
) -> SurvivalAnalysis:
    cox = FittedCox.from_data(df, time=time, event=event, predictors=predictors, splines=splines)
    weibull, werr = None, None
    try:
        weibull = FittedWeibullAFT.from_data(
            df, time=time, event=event, predictors=predictors, splines=splines
        )
    except ModelError as exc:
        werr = str(exc)
    t, e = read_survival_outcome(df, time, event)
    keep = ~t.isna() & ~e.isna()
    cif1 = aalen_johansen(t[keep].to_numpy(), e[keep].to_numpy(), cause=1)
    cif2 = (
        aalen_johansen(t[keep].to_numpy(), e[keep].to_numpy(), cause=2) if (e == 2).any() else None
    )
    risk = cox.predict_risk(horizon)
    cal = calibration_at_horizon(cox.time, (cox.event == 1).astype(float), risk, horizon)
    c_trunc = truncated_c_index(cox.time, (cox.event == 1).astype(float), cox.risk_score(), horizon)
    tick = None if progress is None else (lambda d, t: progress("Cox bootstrap", d, t))
    boot = (
        cox_bootstrap_c(cox, n_bootstrap=bootstrap, seed=seed, progress=tick) if bootstrap else None
    )
    try:
        ici = ici_at_horizon(cox, horizon)
    except (ModelError, ValueError) as exc:  # e.g. too few distinct risks for 3 knots
        ici = {"error": str(exc)}
    corrected = None
    if bootstrap:
        from resorb.cohort._coxvalidate import cox_calibrate_km

        # rms calibrate.cph defaults: 40 resamples, about 150 patients per group
        tick = None if progress is None else (lambda d, t: progress("Cox calibration", d, t))
        corrected = cox_calibrate_km(
            cox.X,
            cox.time,
            cox.event == 1,
            cox.fitter.params_.to_numpy(),
            horizon,
            n_bootstrap=min(bootstrap, 40),
            seed=seed,
            progress=tick,
        )
    return SurvivalAnalysis(
        horizon, cox, weibull, cif1, cif2, cal, c_trunc, werr, boot, ici, corrected
    )


def calibration_curve_data(y: np.ndarray, p: np.ndarray, *, groups: int = 10) -> dict:
    """Smoothed (lowess) and grouped calibration data for plotting."""
    order = np.argsort(p)
    smooth = calibration_smooth(y, p)[order]
    q = pd.qcut(p, q=groups, labels=False, duplicates="drop")
    grouped = pd.DataFrame({"p": p, "y": y, "g": q}).groupby("g").mean()
    return {
        "p_sorted": p[order],
        "smooth": smooth,
        "group_predicted": grouped["p"].to_numpy(),
        "group_observed": grouped["y"].to_numpy(),
    }
