"""Time to resorption: Cox and Weibull AFT models (lifelines), competing risks.

Event coding of the ``event`` column: 0 = censored, 1 = resorption (the event
of interest), 2 = a competing event that ends observation of resorption,
typically surgery before resorption. Cox and Weibull models of resorption
then estimate *cause-specific* hazards (surgery is censoring); the probability
of resorption by a horizon in the presence of surgery is the Aalen-Johansen
cumulative incidence. Fine-Gray subdistribution regression is not provided:
lifelines has none, and a correct implementation needs inverse-probability-of-
censoring weights with time-varying weights (Fine & Gray, JASA 1999;94:496-509)
that we have not validated against ``cmprsk``.
"""

# ruff: noqa: N803, N806

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resorb.cohort._coding import (
    MissingReport,
    PredictorCoding,
    code_predictors,
    column_names,
    data_specs,
    design_matrix,
    parse_predictor_specs,
    prepare_columns,
)
from resorb.errors import InvalidInputError, ModelError

__all__ = [
    "FittedCox",
    "FittedWeibullAFT",
    "aalen_johansen",
    "calibration_at_horizon",
    "cox_bootstrap_c",
    "ici_at_horizon",
    "kaplan_meier_at",
    "read_survival_outcome",
    "truncated_c_index",
]

MIN_EVENTS = 10


def read_survival_outcome(df: pd.DataFrame, time: str, event: str) -> tuple[pd.Series, pd.Series]:
    """Check the time (> 0) and event (0/1, or 0/1/2 with 2 competing) columns."""
    for col, role in ((time, "time"), (event, "event")):
        if col not in df.columns:
            raise InvalidInputError(
                col, f"no such column ({role})", allowed=", ".join(map(str, df.columns))
            )
    t = pd.to_numeric(df[time], errors="coerce")
    bad = df[time].notna() & t.isna()
    if bad.any():
        raise InvalidInputError(
            time,
            f"row {int(np.flatnonzero(bad)[0]) + 1}: {df[time][bad].iloc[0]!r} is not a number",
            allowed="a follow-up time > 0",
        )
    if (t.dropna() <= 0).any():
        raise InvalidInputError(time, "has times <= 0", allowed="a follow-up time > 0")
    e = pd.to_numeric(df[event], errors="coerce")
    values = set(e.dropna().unique())
    if (df[event].notna() & e.isna()).any() or not values <= {0, 1, 2}:
        raise InvalidInputError(
            event,
            f"has values {sorted(map(str, values))[:5]}",
            allowed="0 = censored, 1 = event, 2 = competing event",
        )
    if values == {1, 2} and len(e.dropna()) >= 2:
        # R's Surv(time, status) accepts 1 = censored, 2 = event (survival::lung);
        # read as ours it would turn every censoring into an event
        raise InvalidInputError(
            event,
            "has only the values 1 and 2 and no 0: this looks "
            "like R's coding (1 = censored, 2 = event); recode it",
            allowed="0 = censored, 1 = event, 2 = competing event",
        )
    return t.astype(float), e.astype(float)


def aalen_johansen(time: np.ndarray, event: np.ndarray, *, cause: int = 1) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of ``cause`` with competing causes.

    ``CIF(t) = sum_{t_j <= t} S(t_j-) d_cause(t_j) / n(t_j)``, where ``S`` is
    the Kaplan-Meier estimate of being free of any event.

    Returns
    -------
    DataFrame indexed by the distinct event times with column ``cif``.
    """
    time = np.asarray(time, float)
    event = np.asarray(event, int)
    times = np.unique(time[event > 0])
    n_at_risk = np.array([(time >= t).sum() for t in times], float)
    d_any = np.array([((time == t) & (event > 0)).sum() for t in times], float)
    d_k = np.array([((time == t) & (event == cause)).sum() for t in times], float)
    surv = np.cumprod(1 - d_any / n_at_risk)
    surv_before = np.r_[1.0, surv[:-1]]
    cif = np.cumsum(surv_before * d_k / n_at_risk)
    return pd.DataFrame({"cif": cif}, index=pd.Index(times, name="time"))


def kaplan_meier_at(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """Kaplan-Meier survival (free of the event) at ``horizon``."""
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    times = np.unique(time[(event == 1) & (time <= horizon)])
    s = 1.0
    for t in times:
        s *= 1 - ((time == t) & (event == 1)).sum() / (time >= t).sum()
    return s


def truncated_c_index(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float
) -> float:
    """Harrell's C restricted to pairs whose earlier time is an event by ``horizon``.

    A pair (i, j) is usable when ``event_i == 1``, ``t_i <= horizon`` and
    ``t_i < t_j`` (or ``t_i == t_j`` with j censored); it is concordant
    when ``risk_i > risk_j`` (ties count 1/2). Computed as the concordance
    with follow-up censored just after the horizon (O(n log n)).
    """
    from resorb.cohort._indexes import surv_concordance

    time, event, risk = (np.asarray(a, float) for a in (time, event, risk))
    after = time > horizon
    t2 = np.where(after, np.nextafter(horizon, np.inf), time)
    e2 = np.where(after, 0.0, event)
    return float(surv_concordance(t2, e2 == 1, risk[None, :])[0])


def calibration_at_horizon(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, *, groups: int = 10
) -> pd.DataFrame:
    """Predicted vs observed (1 - Kaplan-Meier) risk by ``horizon`` in risk groups."""
    q = pd.qcut(risk, q=min(groups, len(np.unique(risk))), labels=False, duplicates="drop")
    rows = []
    for g in np.unique(q):
        m = q == g
        rows.append(
            {
                "group": int(g),
                "n": int(m.sum()),
                "predicted": float(risk[m].mean()),
                "observed": 1 - kaplan_meier_at(time[m], event[m], horizon),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class _SurvivalBase:
    time_col: str
    event_col: str
    codings: tuple[PredictorCoding, ...]
    names: tuple[str, ...]
    n: int
    events: int
    competing: int
    missing: MissingReport
    fitter: object = field(repr=False)
    X: np.ndarray = field(repr=False)
    time: np.ndarray = field(repr=False)
    event: np.ndarray = field(repr=False)

    @classmethod
    def _prepare(cls, df, time, event, predictors, splines):
        specs = (
            parse_predictor_specs(predictors, splines=splines)
            if isinstance(predictors, str)
            else parse_predictor_specs([str(p) for p in predictors], splines=splines)
        )
        t, e = read_survival_outcome(df, time, event)
        frame = prepare_columns(df, specs)
        counts = {time: int(t.isna().sum()), event: int(e.isna().sum())}
        counts.update({c: int(frame[c].isna().sum()) for c in frame.columns})
        complete = ~t.isna() & ~e.isna() & ~frame.isna().any(axis=1)
        report = MissingReport(len(df), int(complete.sum()), {k: v for k, v in counts.items() if v})
        frame, t, e = frame[complete], t[complete].to_numpy(), e[complete].to_numpy()
        n_events = int((e == 1).sum())
        if n_events < MIN_EVENTS:
            raise InvalidInputError(
                event,
                f"too few events: {n_events} in {len(e)} complete rows",
                allowed=f"at least {MIN_EVENTS} events (value 1)",
            )
        codings = code_predictors(frame, specs)
        X = design_matrix(frame, codings)
        names = tuple(column_names(codings))
        data = pd.DataFrame(X, columns=names)
        data["_T"] = t
        data["_E"] = (e == 1).astype(int)  # cause-specific: competing events are censored
        return specs, codings, names, X, t, e, data, report

    def _design(self, df: pd.DataFrame) -> pd.DataFrame:
        frame = prepare_columns(df, data_specs(self.codings))
        return pd.DataFrame(design_matrix(frame, self.codings), columns=list(self.names))

    @property
    def summary(self) -> pd.DataFrame:
        """lifelines' coefficient table."""
        return self.fitter.summary

    def c_index(self) -> float:
        """Harrell's C on the development data (lifelines ``concordance_index``)."""
        from lifelines.utils import concordance_index

        return float(concordance_index(self.time, -self.risk_score(), self.event == 1))


def _fit_quietly(fitter, data, **kwargs):
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fitter.fit(data, duration_col="_T", event_col="_E", **kwargs)
        except (ConvergenceError, ConvergenceWarning) as exc:
            raise ModelError(
                f"{type(fitter).__name__} did not converge: {str(exc).splitlines()[0]}"
            ) from None
    return fitter


@dataclass(frozen=True)
class EfronCoxFit:
    """A Cox fit by :func:`resorb.cohort._coxph.fit_cox_batch` (Efron ties, as coxph)."""

    params_: pd.Series
    summary: pd.DataFrame
    log_likelihood_: float
    log_likelihood_null: float
    iterations: int
    centre: float
    cov: np.ndarray = field(repr=False)
    event_times: np.ndarray = field(repr=False)
    baseline_cumulative_hazard: np.ndarray = field(repr=False)

    @classmethod
    def fit(
        cls, X: np.ndarray, time: np.ndarray, event: np.ndarray, names: Sequence[str]
    ) -> EfronCoxFit:
        from scipy import stats

        from resorb.cohort._coxph import breslow_efron_hazard, fit_cox_batch

        res = fit_cox_batch(X, time, event, max_iter=50, eps=1e-12)
        beta = res["beta"][0]
        if not res["converged"][0]:
            raise ModelError(
                "Cox model did not converge: the information matrix is "
                "singular or the likelihood still changed after 50 iterations "
                "(a predictor constant among those at risk, or collinear "
                "predictors)"
            )
        try:
            cov = np.linalg.inv(res["information"][0])
        except np.linalg.LinAlgError:
            raise ModelError(
                "Cox model: singular information matrix (collinear predictors)"
            ) from None
        se = np.sqrt(np.diag(cov))
        z = beta / se
        zq = stats.norm.ppf(0.975)
        summary = pd.DataFrame(
            {
                "coef": beta,
                "exp(coef)": np.exp(beta),
                "se(coef)": se,
                "coef lower 95%": beta - zq * se,
                "coef upper 95%": beta + zq * se,
                "exp(coef) lower 95%": np.exp(beta - zq * se),
                "exp(coef) upper 95%": np.exp(beta + zq * se),
                "z": z,
                "p": 2 * stats.norm.sf(np.abs(z)),
            },
            index=pd.Index(names, name="covariate"),
        )
        times, hazard, centre = breslow_efron_hazard(X, time, event, beta)
        return cls(
            pd.Series(beta, index=list(names), name="coef"),
            summary,
            float(res["loglik"][0]),
            float(res["loglik0"][0]),
            int(res["iterations"][0]),
            centre,
            cov,
            times,
            hazard,
        )

    def cumulative_hazard_at(self, horizon: float, lp: np.ndarray) -> np.ndarray:
        """Cumulative hazard at ``horizon`` for linear predictors ``lp`` (Efron's
        estimator, as ``survival::survfit.coxph`` after an Efron fit)."""
        k = np.searchsorted(self.event_times, horizon, side="right")
        h0 = float(self.baseline_cumulative_hazard[k - 1]) if k else 0.0
        return h0 * np.exp(np.asarray(lp, float) - self.centre)


@dataclass(frozen=True)
class FittedCox(_SurvivalBase):
    """Cox proportional-hazards model of time to resorption (Efron ties, as ``coxph``)."""

    @classmethod
    def from_data(
        cls,
        df: pd.DataFrame,
        *,
        time: str,
        event: str,
        predictors: Sequence[str] | str,
        splines: Sequence[str] = (),
    ) -> FittedCox:
        """Fit on complete cases; ``event`` 2 (competing) is treated as censoring."""
        _, codings, names, X, t, e, _, report = cls._prepare(df, time, event, predictors, splines)
        fitter = EfronCoxFit.fit(X, t, (e == 1).astype(float), names)
        return cls(
            time,
            event,
            codings,
            names,
            len(t),
            int((e == 1).sum()),
            int((e == 2).sum()),
            report,
            fitter,
            X,
            t,
            e,
        )

    @property
    def summary(self) -> pd.DataFrame:
        """Coefficient table (coef, exp(coef), se(coef), 95 % limits, z, p)."""
        return self.fitter.summary

    def c_index(self) -> float:
        """Harrell's C on the development data (``survival::concordance``'s convention)."""
        from resorb.cohort._indexes import surv_concordance

        return float(surv_concordance(self.time, self.event == 1, self.risk_score()[None])[0])

    def risk_score(self, df: pd.DataFrame | None = None) -> np.ndarray:
        """Linear predictor ``x'beta`` (higher = earlier resorption)."""
        X = self.X if df is None else self._design(df).to_numpy()
        return X @ self.fitter.params_.to_numpy()

    def anova(self) -> pd.DataFrame:
        """Wald tests of predictors, non-linearity and interactions (rms ``anova``)."""
        from resorb.cohort._anova import wald_anova

        return wald_anova(self.fitter.params_.to_numpy(), self.fitter.cov, self.codings)

    def bootstrap_cov(
        self, *, n_bootstrap: int = 200, seed: int | None = 0
    ) -> tuple[np.ndarray, int]:
        """Covariance of the coefficients over bootstrap refits (rms ``bootcov``).

        Refits as ``bootcov`` runs ``coxphFit`` (eps 1e-4, failed at 15
        iterations); returns the sample covariance (n - 1) of the kept refits
        and their count.
        """
        from resorb.cohort._coxph import fit_cox_batch
        from resorb.cohort._validation import bootstrap_indices

        idx = bootstrap_indices(self.n, n_bootstrap, seed)
        W = np.stack([np.bincount(r, minlength=self.n) for r in idx]).astype(float)
        fit = fit_cox_batch(
            self.X, self.time, (self.event == 1).astype(float), W, eps=1e-4, max_iter=15
        )
        ok = fit["converged"] & (fit["iterations"] < 15)
        return np.cov(fit["beta"][ok], rowvar=False), int(ok.sum())

    def effects(self) -> pd.DataFrame:
        """Inter-quartile hazard ratios and level contrasts (rms ``summary``)."""
        from resorb.cohort._contrasts import interquartile_effects

        return interquartile_effects(
            self.fitter.params_.to_numpy(),
            self.fitter.cov,
            self.codings,
            self.X,
            ratio="hazard ratio",
        )

    def partial_effects(self, n_points: int = 200) -> dict[str, pd.DataFrame]:
        """Log relative hazard over each predictor's range against the adjust-to patient."""
        from resorb.cohort._contrasts import partial_effects

        return partial_effects(
            self.fitter.params_.to_numpy(),
            self.fitter.cov,
            self.codings,
            self.X,
            intercept=False,
            n_points=n_points,
        )

    def predict_risk(self, horizon: float, df: pd.DataFrame | None = None) -> np.ndarray:
        """Probability of resorption by ``horizon`` (cause-specific, 1 - S(t|x))."""
        return -np.expm1(-self.fitter.cumulative_hazard_at(horizon, self.risk_score(df)))


@dataclass(frozen=True)
class FittedWeibullAFT(_SurvivalBase):
    """Weibull accelerated-failure-time model (lifelines ``WeibullAFTFitter``)."""

    @classmethod
    def from_data(
        cls,
        df: pd.DataFrame,
        *,
        time: str,
        event: str,
        predictors: Sequence[str] | str,
        splines: Sequence[str] = (),
    ) -> FittedWeibullAFT:
        """Fit on complete cases; ``event`` 2 (competing) is treated as censoring."""
        from lifelines import WeibullAFTFitter

        _, codings, names, X, t, e, data, report = cls._prepare(
            df, time, event, predictors, splines
        )
        fitter = _fit_quietly(WeibullAFTFitter(), data)
        return cls(
            time,
            event,
            codings,
            names,
            len(t),
            int((e == 1).sum()),
            int((e == 2).sum()),
            report,
            fitter,
            X,
            t,
            e,
        )

    def risk_score(self, df: pd.DataFrame | None = None) -> np.ndarray:
        """Minus the log of the predicted median time (higher = earlier resorption)."""
        design = pd.DataFrame(self.X, columns=list(self.names)) if df is None else self._design(df)
        return -np.log(self.fitter.predict_median(design).to_numpy())

    def predict_risk(self, horizon: float, df: pd.DataFrame | None = None) -> np.ndarray:
        design = pd.DataFrame(self.X, columns=list(self.names)) if df is None else self._design(df)
        s = self.fitter.predict_survival_function(design, times=[horizon])
        return 1 - s.to_numpy()[0]


def cox_bootstrap_c(
    model: FittedCox, *, n_bootstrap: int = 200, seed: int | None = 0, progress=None
) -> dict[str, float]:
    """Harrell's bootstrap optimism correction of the Cox model (rms ``validate.cph``).

    Returns the C index's apparent, optimism and corrected values, the number
    of resamples used, and the full ``validate.cph`` index table under
    ``indexes`` (see :func:`resorb.cohort._coxvalidate.cox_validate`).
    """
    from resorb.cohort._coxvalidate import cox_validate

    v = cox_validate(
        model.X,
        model.time,
        model.event == 1,
        model.fitter.params_.to_numpy(),
        n_bootstrap=n_bootstrap,
        seed=seed,
        progress=progress,
    )
    row = v.table.loc["c_index"]
    return {
        "apparent": float(row["apparent"]),
        "optimism": float(row["optimism"]),
        "corrected": float(row["corrected"]),
        "n_bootstrap": n_bootstrap,
        "n_successful": v.n_successful,
        "seed": seed,
        "indexes": v.to_dict()["metrics"],
    }


def ici_at_horizon(model: FittedCox, horizon: float) -> dict[str, float]:
    """ICI, E50 and E90 of the predicted risk by ``horizon`` (in sample).

    Austin PC, Harrell FE Jr, van Klaveren D. Graphical calibration curves and
    the integrated calibration index (ICI) for survival models. Stat Med
    2020;39:2714-42, doi:10.1002/sim.8570; their Cox-model recipe: ``cll =
    log(-log(1 - p))`` of each predicted risk ``p``; a Cox model of the outcome
    on a restricted cubic spline of ``cll`` with 3 knots (rms ``rcs``
    defaults); the observed risk of each patient is 1 - that model's survival
    at the horizon; ICI/E50/E90 are the mean, median and 90th percentile of
    ``|p - observed|``.
    """
    from resorb.cohort._splines import rcs_basis, rcs_knots

    # risks kept within [1e-12, 1 - 1e-12]: a risk of exactly 1 has no cll
    p = np.clip(model.predict_risk(horizon), 1e-12, 1 - 1e-12)
    cll = np.log(-np.log1p(-p))
    basis = rcs_basis(cll, rcs_knots(cll, n_knots=3))
    fit = EfronCoxFit.fit(basis, model.time, (model.event == 1).astype(float), ["cll", "cll'"])
    observed = -np.expm1(-fit.cumulative_hazard_at(horizon, basis @ fit.params_.to_numpy()))
    err = np.abs(p - observed)
    return {
        "ici": float(err.mean()),
        "e50": float(np.median(err)),
        "e90": float(np.quantile(err, 0.9)),
        "emax": float(err.max()),
        "method": "Austin 2020: Cox model on a 3-knot spline of log(-log(1 - risk))",
    }
