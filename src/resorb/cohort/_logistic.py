# ruff: noqa: N803, N806  (matrix notation: X design, W weights, B resamples)
"""Logistic prediction models: maximum likelihood (statsmodels) or Firth."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import expit

from resorb.cohort._coding import (
    MissingReport,
    PredictorCoding,
    PredictorSpec,
    code_predictors,
    column_names,
    data_specs,
    design_matrix,
    parse_predictor_specs,
    prepare_columns,
    read_binary_outcome,
)
from resorb.cohort._impute import PooledEstimates, mice_impute, rubin_pool
from resorb.cohort._irls import fit_logistic_batch
from resorb.errors import InvalidInputError, ModelError

__all__ = ["FittedLogistic", "SeparationCheck", "check_separation", "firth_logistic"]

#: Fewer events (or non-events) than this and no model is fitted.
MIN_EVENTS = 10


@dataclass(frozen=True, slots=True)
class SeparationCheck:
    """Result of the linear-programming check for (quasi-)complete separation.

    Konis K. Linear programming algorithms for detecting separated data in
    binary logistic regression models. DPhil thesis, Oxford 2007 (the method
    of R's ``detectseparation``): the data are separated if some direction
    ``b`` orders every row by its outcome, ``(2y - 1) x'b >= 0`` for all rows
    with at least one strict inequality.
    """

    detected: bool
    kind: str | None = None  # "complete" | "quasi-complete"
    columns: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"detected": self.detected, "kind": self.kind, "columns": list(self.columns)}


def check_separation(
    X: np.ndarray, y: np.ndarray, names: Sequence[str], *, tol: float = 1e-7
) -> SeparationCheck:
    """Detect separation by linear programming (see :class:`SeparationCheck`).

    Parameters
    ----------
    X : (n, p) ndarray including the intercept column
    y : (n,) ndarray of 0/1
    names : column names of ``X``
    """
    s = 2 * y - 1
    A = s[:, None] * X  # rows that must stay >= 0
    scale = np.maximum(np.abs(X).max(axis=0), 1e-12)
    As = A / scale
    res = optimize.linprog(
        -As.sum(axis=0),
        A_ub=-As,
        b_ub=np.zeros(len(y)),
        bounds=[(-1, 1)] * X.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun <= tol * len(y):
        return SeparationCheck(False)
    # complete separation: some direction puts every row strictly on its side
    strict = optimize.linprog(
        np.zeros(X.shape[1]),
        A_ub=-As,
        b_ub=-np.ones(len(y)),
        bounds=[(None, None)] * X.shape[1],
        method="highs",
    )
    kind = "complete" if strict.status == 0 else "quasi-complete"
    cols = tuple(n for n, b in zip(names, res.x, strict=True) if abs(b) > 1e-6)
    return SeparationCheck(True, kind, cols)


def firth_logistic(
    X: np.ndarray,
    y: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray]:
    """Firth-penalised logistic regression.

    Maximises ``l(beta) + 0.5 log|I(beta)|`` (Firth D. Biometrika
    1993;80:27-38; Heinze G, Schemper M. Stat Med 2002;21:2409-19) by
    Newton-Raphson on the modified score with step halving.

    Returns
    -------
    beta : (p,) ndarray
    cov : (p, p) ndarray
        Inverse of the information matrix at ``beta`` (Wald standard errors;
        logistf's profile-likelihood intervals are not computed).
    """
    w = np.ones((1, len(y))) if weights is None else np.asarray(weights, float)[None, :]
    beta, ok = fit_logistic_batch(X, y, w, firth=True, max_iter=max_iter, tol=tol)
    if not ok[0] and not np.isfinite(beta).all():
        raise ModelError("Firth logistic regression did not converge")
    b = beta[0]
    p = expit(X @ b)
    info = X.T @ (X * (w[0] * p * (1 - p))[:, None])
    return b, np.linalg.inv(info)


@dataclass(frozen=True)
class FittedLogistic:
    """A fitted logistic prediction model (a new object per fit, never mutated).

    Build it with :meth:`from_data`. ``coef`` is ordered as ``names``, the
    intercept first.
    """

    outcome: str
    codings: tuple[PredictorCoding, ...]
    names: tuple[str, ...]
    coef: np.ndarray
    cov: np.ndarray
    method: str  # "maximum likelihood" | "Firth"
    n: int
    events: int
    separation: SeparationCheck
    missing: MissingReport
    X: np.ndarray = field(repr=False)  # design with intercept, development data
    y: np.ndarray = field(repr=False)
    #: Designs of the imputed data sets when fitted with multiple imputation.
    imputed_designs: tuple[np.ndarray, ...] = field(default=(), repr=False)
    pooled: PooledEstimates | None = field(default=None, repr=False)

    @classmethod
    def from_data(
        cls,
        df: pd.DataFrame,
        *,
        outcome: str,
        predictors: Sequence[str] | str | Sequence[PredictorSpec],
        splines: Sequence[str] = (),
        method: str = "auto",
        impute: int = 0,
        seed: int = 0,
    ) -> FittedLogistic:
        """Fit a logistic model on the complete cases of ``df``.

        Parameters
        ----------
        df : DataFrame
            One row per herniation.
        outcome : str
            Binary (0/1) outcome column, e.g. ``resorbed_12mo``.
        predictors : str or sequence
            Predictor specifications (see :mod:`resorb.cohort._coding`), e.g.
            ``"age_years:rcs4,morphology,rim_enhancement"``.
        splines : sequence of str
            Extra ``NAME[:K]`` spline requests.
        method : {"auto", "ml", "firth"}
            ``auto`` fits by maximum likelihood unless separation is detected,
            then by Firth's penalised likelihood (and says so).
        impute : int
            0 (default): complete cases. ``m >= 2``: multiple imputation of
            missing predictor values by chained equations (outcome must be
            complete), coefficients pooled with Rubin's rules.
        seed : int
            Seed of the imputations.

        Raises
        ------
        InvalidInputError
            Missing or non-binary outcome, unknown category, too few events.
        """
        if method not in {"auto", "ml", "firth"}:
            raise InvalidInputError("method", repr(method), allowed="auto, ml, firth")
        specs = _as_specs(predictors, splines)
        y_all = read_binary_outcome(df, outcome)
        frame = prepare_columns(df, specs)
        missing_counts = {outcome: int(y_all.isna().sum())}
        missing_counts.update({c: int(frame[c].isna().sum()) for c in frame.columns})
        complete = ~y_all.isna() & ~frame.isna().any(axis=1)
        counts = {k: v for k, v in missing_counts.items() if v}
        if impute:
            return cls._fit_imputed(
                frame,
                y_all,
                outcome=outcome,
                specs=specs,
                counts=counts,
                n_complete=int(complete.sum()),
                method=method,
                m=impute,
                seed=seed,
            )
        report = MissingReport(len(df), int(complete.sum()), counts)
        return cls._fit(
            frame[complete],
            y_all[complete].to_numpy(),
            outcome=outcome,
            specs=specs,
            missing=report,
            method=method,
        )

    @classmethod
    def _fit_imputed(
        cls, frame, y_all, *, outcome, specs, counts, n_complete, method, m, seed
    ) -> FittedLogistic:
        keep = ~y_all.isna()
        frame, y = frame[keep], y_all[keep].to_numpy()
        codings = code_predictors(frame, specs)  # levels and knots from observed values
        report = MissingReport(
            len(y_all),
            n_complete,
            counts,
            handling=f"multiple imputation (chained equations, m={m}, "
            f"seed={seed}); rows with a missing outcome dropped",
        )
        if not frame.isna().any(axis=None):
            report = MissingReport(
                len(y_all), n_complete, counts, handling="nothing to impute; complete cases"
            )
            return cls._fit(
                frame,
                y,
                outcome=outcome,
                specs=specs,
                missing=report,
                method=method,
                codings=codings,
            )
        completed = mice_impute(frame, y, m=m, seed=seed)
        fits = [
            cls._fit(
                f, y, outcome=outcome, specs=specs, missing=report, method=method, codings=codings
            )
            for f in completed
        ]
        if len({f.method for f in fits}) > 1:
            # separation in some imputations only: one method for all, Firth
            fits = [
                cls._fit(
                    f,
                    y,
                    outcome=outcome,
                    specs=specs,
                    missing=report,
                    method="firth",
                    codings=codings,
                )
                for f in completed
            ]
        pooled = rubin_pool([f.coef for f in fits], [f.cov for f in fits])
        first = fits[0]
        return cls(
            outcome,
            codings,
            first.names,
            pooled.coef,
            pooled.total,
            first.method,
            first.n,
            first.events,
            first.separation,
            report,
            first.X,
            y,
            tuple(f.X for f in fits),
            pooled,
        )

    @classmethod
    def _fit(
        cls,
        frame: pd.DataFrame,
        y: np.ndarray,
        *,
        outcome: str,
        specs: Sequence[PredictorSpec],
        missing: MissingReport,
        method: str,
        codings: Sequence[PredictorCoding] | None = None,
    ) -> FittedLogistic:
        events = int(y.sum())
        if min(events, len(y) - events) < MIN_EVENTS:
            raise InvalidInputError(
                outcome,
                f"too few events: {events} events and "
                f"{len(y) - events} non-events in {len(y)} complete rows",
                allowed=f"at least {MIN_EVENTS} of each",
            )
        codings = tuple(codings) if codings is not None else code_predictors(frame, specs)
        X = np.column_stack([np.ones(len(y)), design_matrix(frame, codings)])
        names = ("Intercept", *column_names(codings))
        if np.linalg.matrix_rank(X) < X.shape[1]:
            raise InvalidInputError(
                "predictors",
                "the design matrix is rank deficient (collinear predictors or an empty category)",
                allowed="predictors that are not linear combinations of each other",
            )
        sep = check_separation(X, y, names)
        use_firth = method == "firth" or (method == "auto" and sep.detected)
        if method == "ml" and sep.detected:
            raise ModelError(
                f"{sep.kind} separation on {', '.join(sep.columns)}: maximum "
                "likelihood estimates do not exist; use method='firth'"
            )
        if use_firth:
            coef, cov = firth_logistic(X, y)
            label = "Firth"
        else:
            import statsmodels.api as sm
            from statsmodels.tools.sm_exceptions import ConvergenceWarning

            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                try:
                    res = sm.Logit(y, X).fit(method="newton", disp=0, maxiter=100)
                except (ConvergenceWarning, np.linalg.LinAlgError) as exc:
                    raise ModelError(f"logistic regression did not converge: {exc}") from None
            coef, cov = np.asarray(res.params), np.asarray(res.cov_params())
            label = "maximum likelihood"
        return cls(outcome, codings, names, coef, cov, label, len(y), events, sep, missing, X, y)

    # -- predictions -------------------------------------------------------
    def linear_predictor(self, df: pd.DataFrame) -> np.ndarray:
        """Linear predictor (log-odds) for the rows of ``df``."""
        frame = prepare_columns(df, data_specs(self.codings))
        X = np.column_stack([np.ones(len(frame)), design_matrix(frame, self.codings)])
        return X @ self.coef

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted probability of the outcome for the rows of ``df``."""
        return expit(self.linear_predictor(df))

    @property
    def fitted_lp(self) -> np.ndarray:
        """Linear predictor on the development data."""
        return self.X @ self.coef

    @property
    def summary(self) -> pd.DataFrame:
        """Coefficient table: coef, se, z, p, 95% CI, odds ratio and its CI."""
        se = np.sqrt(np.diag(self.cov))
        z = self.coef / se
        lo, hi = self.coef - 1.959963984540054 * se, self.coef + 1.959963984540054 * se
        return pd.DataFrame(
            {
                "coef": self.coef,
                "se": se,
                "z": z,
                "p": 2 * stats.norm.sf(np.abs(z)),
                "ci_lower": lo,
                "ci_upper": hi,
                "odds_ratio": np.exp(self.coef),
                "or_ci_lower": np.exp(lo),
                "or_ci_upper": np.exp(hi),
            },
            index=pd.Index(self.names, name="term"),
        )

    @property
    def n_parameters(self) -> int:
        """Number of predictor parameters (excluding the intercept)."""
        return len(self.names) - 1

    def anova(self) -> pd.DataFrame:
        """Wald tests of predictors, non-linearity and interactions (rms ``anova``)."""
        from resorb.cohort._anova import wald_anova

        return wald_anova(self.coef[1:], self.cov[1:, 1:], self.codings)

    def pentrace(self, penalties, *, which: str = "aic_c") -> tuple[pd.DataFrame, float]:
        """Penalised refits over ``penalties`` and the best by corrected AIC (rms ``pentrace``)."""
        from resorb.cohort._penalised import pentrace

        return pentrace(self.X, self.y, self.codings, penalties, which=which)

    def penalised(self, penalty: float) -> dict:
        """Penalised maximum likelihood fit (rms ``lrm(penalty=)``): coef, cov, df, lr."""
        from resorb.cohort._penalised import fit_penalised, penalty_matrix

        return fit_penalised(
            self.X, self.y, penalty_matrix(self.codings, self.X[:, 1:]), penalty, beta0=self.coef
        )

    def robust_cov(self) -> np.ndarray:
        """Huber-White sandwich covariance (rms ``robcov`` without clusters).

        ``V = I^-1 (sum_i u_i u_i') I^-1`` with ``u_i = x_i (y_i - p_i)`` the
        score of each row and ``I^-1`` the model covariance.
        """
        u = self.X * (self.y - expit(self.X @ self.coef))[:, None]
        return self.cov @ (u.T @ u) @ self.cov

    def bootstrap_cov(
        self, *, n_bootstrap: int = 200, seed: int | None = 0
    ) -> tuple[np.ndarray, int]:
        """Covariance of the coefficients over bootstrap refits (rms ``bootcov``).

        Refits as ``bootcov`` runs ``lrm.fit`` (deviance change < 1e-4 plus
        one step, failed after 15 iterations): a quasi-separated resample keeps
        its large coefficient, as in rms, and inflates that coefficient's
        variance. Returns the sample covariance (n - 1) of the kept refits and
        their count.
        """
        from resorb.cohort._validation import bootstrap_indices

        idx = bootstrap_indices(self.n, n_bootstrap, seed)
        W = np.stack([np.bincount(r, minlength=self.n) for r in idx]).astype(float)
        if self.method == "Firth":
            beta, ok = fit_logistic_batch(self.X, self.y, W, beta0=self.coef, firth=True)
        else:
            beta, ok = fit_logistic_batch(self.X, self.y, W, deviance_tol=1e-4, max_iter=15)
        return np.cov(beta[ok], rowvar=False), int(ok.sum())

    def effects(self) -> pd.DataFrame:
        """Inter-quartile odds ratios and level contrasts (rms ``summary``)."""
        from resorb.cohort._contrasts import interquartile_effects

        return interquartile_effects(
            self.coef[1:], self.cov[1:, 1:], self.codings, self.X[:, 1:], ratio="odds ratio"
        )

    def partial_effects(self, n_points: int = 200) -> dict[str, pd.DataFrame]:
        """Log odds over each predictor's range, others adjusted (rms ``Predict``)."""
        from resorb.cohort._contrasts import partial_effects

        return partial_effects(
            self.coef, self.cov, self.codings, self.X[:, 1:], intercept=True, n_points=n_points
        )

    def refit(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Coefficients on another design with the same coding (used by bootstrap)."""
        beta, ok = fit_logistic_batch(
            X, y, np.ones((1, len(y))), beta0=self.coef, firth=self.method == "Firth"
        )
        return beta[0] if ok[0] else np.full_like(self.coef, np.nan)


def _as_specs(predictors, splines) -> tuple[PredictorSpec, ...]:
    if isinstance(predictors, str):
        return parse_predictor_specs(predictors, splines=splines)
    items = list(predictors)
    if items and all(isinstance(p, PredictorSpec) for p in items):
        return tuple(items)
    return parse_predictor_specs([str(p) for p in items], splines=splines)
