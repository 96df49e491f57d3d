"""Calibration: evaluate the published targets and refit population parameters.

Targets live in ``data/targets.yaml`` with their sources and confidence tags;
the shipped calibrated parameter set in ``data/calibrated.yaml``. Each target
is computed from the model the way the source measured it (a cohort share, a
typical patient's trajectory, a co-culture knockout, a paired therapy
comparison) and compared with its expected value or range.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from resorb.errors import InvalidInputError, ModelError
from resorb.mechanism._cohort import DEFAULT_T_DAYS, REGRESSION_THRESHOLD, simulate_cohort
from resorb.mechanism._model import Model, calibrated_values, load_model
from resorb.mechanism._simulate import simulate

__all__ = ["FitResult", "TargetResult", "evaluate_targets", "fit_parameters", "load_targets"]

_RELATIONS = (">=", "<=", ">", "<", "in", "==", "abs")
#: Preregistered roles of a calibration target (see ``data/targets.yaml``).
ROLES = ("fitted", "held_out", "check")


@dataclass(frozen=True)
class TargetResult:
    """One calibration target with the model's value and the verdict.

    ``role`` is the preregistered role (``fitted``: in the likelihood of the
    fit, no independent check; ``held_out``: never used to choose parameters;
    ``check``: a structural or directional property); ``fitted`` is
    ``role == "fitted"``. ``evidence`` is the id of the study in
    :mod:`resorb.evidence` when the evidence base has it.
    """

    id: str
    description: str
    expected: Any
    relation: str
    tolerance: float | None
    value: float
    passed: bool
    required: bool
    confidence: str
    source: Mapping[str, str]
    note: str = ""
    fitted: bool = False
    evidence: str | None = None
    role: str = "check"
    sd: float | None = None

    def miss(self) -> float:
        """Misfit used by fitting: distance outside the band (0 inside), or for point
        targets the distance from the expected value in tolerance units."""
        v, e = self.value, self.expected
        if self.relation == "in":
            return max(e[0] - v, 0.0, v - e[1])
        if self.relation in (">=", ">"):
            return max(e - v, 0.0) + (1e-3 if not self.passed else 0.0)
        if self.relation in ("<=", "<"):
            return max(v - e, 0.0) + (1e-3 if not self.passed else 0.0)
        if self.relation == "abs":
            # distance from the point target in units of its tolerance, so a fit
            # moves towards the centre instead of stopping at the band's edge
            return abs(v - e) / (self.tolerance or 1.0)
        return 0.0 if self.passed else 1.0


def load_targets() -> dict[str, Any]:
    """The target file as data (``cohort_n``, ``cohort_seed``, ``targets``)."""
    text = resources.files("resorb.mechanism").joinpath("data", "targets.yaml").read_text("utf-8")
    spec = yaml.safe_load(text)
    for t in spec["targets"]:
        if t.get("confidence") not in ("exact", "approx", "assumption"):
            raise ModelError(f"target {t.get('id')}: confidence tag missing")
        if not any(k in t.get("source", {}) for k in ("doi", "pmid", "citation")):
            raise ModelError(f"target {t['id']}: source missing")
        rel = t.get("relation", "abs")
        if rel not in _RELATIONS:
            raise ModelError(f"target {t['id']}: unknown relation {rel!r}")
        role = t.get("role")
        if role not in ROLES:
            raise ModelError(f"target {t['id']}: role {role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(t.get("required", True), bool):
            raise ModelError(f"target {t['id']}: required must be true or false")
        if role == "fitted":
            sd = t.get("sd")
            if not (isinstance(sd, int | float) and sd > 0):
                raise ModelError(f"target {t['id']}: a fitted target needs sd > 0")
    fit = (spec.get("preregistration") or {}).get("fit") or {}
    if not fit.get("parameters"):
        raise ModelError("targets.yaml: preregistration.fit.parameters missing")
    return spec


def _resolve_days(model: Model, metric: Mapping[str, Any]) -> dict[str, Any]:
    """``day_after_start: D`` -> ``day``: D days after the (single) therapy's start day."""
    metric = dict(metric)
    if "day_after_start" in metric:
        ther = metric.get("therapies") or ()
        if len(ther) != 1:
            raise ModelError("day_after_start needs exactly one therapy")
        start = model.therapies[str(ther[0]).partition("@")[0]].start_day
        metric["day"] = float(start) + float(metric.pop("day_after_start"))
    return metric


#: Djuric et al. 2020 (PMID 31802274) CD68+ density categories, cells/cm2.
DJURIC_CATEGORIES = (
    ("mild", 0.0, 10.0),
    ("moderate", 10.0, 100.0),
    ("considerable", 100.0, math.inf),
)


def _judge(value: float, expected: Any, relation: str, tol: float | None) -> bool:
    if not math.isfinite(value):
        return False
    if relation == ">=":
        return value >= expected
    if relation == "<=":
        return value <= expected
    if relation == ">":
        return value > expected
    if relation == "<":
        return value < expected
    if relation == "in":
        return expected[0] <= value <= expected[1]
    if relation == "==":
        return value == expected
    return abs(value - expected) <= (tol or 0.0)


class _Evaluator:
    def __init__(
        self,
        model: Model,
        parameters: Mapping[str, float] | None,
        n: int,
        seed: int,
        days: Sequence[float],
    ) -> None:
        self.model, self.parameters, self.n, self.seed = model, dict(parameters or {}), n, seed
        self.days = np.asarray(sorted(set(DEFAULT_T_DAYS) | {float(d) for d in days}))
        self._cohorts: dict[tuple, Any] = {}
        self._typical: dict[tuple, Any] = {}

    def cohort(self, morphology: str, therapies: tuple[str, ...] = (), extra: tuple[str, ...] = ()):
        key = (morphology, therapies, extra)
        if key not in self._cohorts:
            self._cohorts[key] = simulate_cohort(
                morphology,
                self.n,
                seed=self.seed,
                therapies=therapies,
                t_days=self.days,
                parameters=self.parameters,
                model=self.model,
                extra_observables=extra,
            )
        return self._cohorts[key]

    def _pooled(
        self, morphologies: Sequence[str], observable: str, day: float, days: Sequence[float]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``observable`` at ``day`` and V/V0 at ``days`` of cohorts pooled over morphologies."""
        obs, vols = [], [[] for _ in days]
        for m in morphologies:
            c = self.cohort(m, extra=(observable,))
            j = int(np.searchsorted(c.t_days, day))
            obs.append(c.extra[observable][:, j].astype(float))
            for q, d in enumerate(days):
                vols[q].append(c._at(float(d)))
        return np.concatenate(obs), [np.concatenate(v) for v in vols]

    def typical(
        self,
        morphology: str,
        therapies: tuple[str, ...] = (),
        parameters: Mapping[str, float] | None = None,
        knockouts: tuple = (),
        coculture: bool = False,
        days: float = 730,
    ):
        par = dict(self.parameters)
        par.update(parameters or {})
        key = (morphology, therapies, tuple(sorted(par.items())), knockouts, coculture, days)
        if key not in self._typical:
            t = np.linspace(0.0, days, 25) if coculture else None
            self._typical[key] = simulate(
                morphology,
                therapies=therapies,
                parameters=par,
                knockouts=knockouts,
                coculture=coculture,
                days=days,
                t_days=t,
                method="batch",
                rtol=1e-8,
                atol=1e-10,
                model=self.model,
            )
        return self._typical[key]

    def value(self, metric: Mapping[str, Any]) -> float:
        kind = metric["kind"]
        morph = metric.get("morphology", "extrusion")
        ther = tuple(metric.get("therapies", ()))
        if kind == "cohort_regressed":
            return self.cohort(morph, ther).fraction_regressed(
                float(metric["day"]), REGRESSION_THRESHOLD
            )
        if kind == "cohort_order":
            fr = [
                self.cohort(m).fraction_regressed(float(metric["day"]))
                for m in metric["morphologies"]
            ]
            return float(all(a > b for a, b in itertools.pairwise(fr)))
        if kind == "cohort_mean_reduction":
            return 1.0 - float(self.cohort(morph, ther)._at(float(metric["day"])).mean())
        if kind == "cohort_mean_reduction_change":
            day = float(metric["day"])
            treated = 1.0 - float(self.cohort(morph, ther)._at(day).mean())
            control = 1.0 - float(self.cohort(morph)._at(day).mean())
            return treated - control
        if kind == "typical_reduction":
            return 1.0 - self.typical(morph, ther).at(float(metric["day"]))
        if kind == "typical_reduction_gain":
            r = self.typical(morph, ther)
            return r.at(float(metric["day_from"])) - r.at(float(metric["day_to"]))
        if kind == "peak_day":
            r = self.typical(morph, ther)
            return float(r.t_days[int(np.argmax(r.observables[metric["observable"]]))])
        if kind == "peak_gap":
            r = self.typical(morph, ther)
            a = r.t_days[int(np.argmax(r.observables[metric["first"]]))]
            b = r.t_days[int(np.argmax(r.observables[metric["second"]]))]
            return float(b - a)
        if kind == "coculture_loss":
            r = self.typical(
                morph,
                knockouts=tuple(metric.get("knockouts", ())),
                coculture=True,
                days=float(metric["day"]),
            )
            return 1.0 - float(r.observables["proteoglycan_remaining"][-1])
        if kind in ("relative_volume", "relative_observable"):
            obs = metric.get("observable", "volume_fraction")
            day = float(metric["day"])
            cond = self.typical(morph, ther, parameters=metric.get("parameters"))
            ctrl = self.typical(morph)
            return cond.at(day, obs) / ctrl.at(day, obs)
        if kind == "peak_value":
            return float(np.max(self.typical(morph, ther).observables[metric["observable"]]))
        if kind == "relative_to_peak":
            r = self.typical(morph, ther)
            x = r.observables[metric["observable"]]
            return r.at(float(metric["day"]), metric["observable"]) / float(np.max(x))
        if kind in (
            "cohort_fraction_grown",
            "cohort_fraction_unchanged",
            "cohort_fraction_regressed_pooled",
        ):
            morphs = metric.get("morphologies") or [morph]
            v = np.concatenate([self.cohort(m, ther)._at(float(metric["day"])) for m in morphs])
            thr = float(metric.get("threshold", 0.0))
            if kind == "cohort_fraction_grown":
                return float(np.mean(v > 1.0 + thr + 1e-9))
            if kind == "cohort_fraction_regressed_pooled":
                return float(np.mean(v <= 1.0 - thr))
            return float(np.mean((v > 1.0 - thr) & (v < 1.0 + thr)))
        if kind == "rim_stratum_regressed":
            b0, b1 = float(metric["day_baseline"]), float(metric["day_followup"])
            rim, (v0, v1) = self._pooled(metric["morphologies"], "rim_enhancement", b0, (b0, b1))
            lo, hi = metric["rim_range"]
            sel = (rim >= lo) & (rim < hi)
            if not np.any(sel):
                return math.nan
            return float(np.mean(v1[sel] / v0[sel] <= 1.0 - REGRESSION_THRESHOLD))
        if kind == "macrophage_category_order":
            d0, d1 = float(metric["day_sample"]), float(metric["day_followup"])
            dens, (v1,) = self._pooled(
                metric["morphologies"], "macrophage_density_per_cm2", d0, (d1,)
            )
            means = []
            for _name, lo, hi in DJURIC_CATEGORIES:
                sel = (dens >= lo) & (dens < hi)
                if np.sum(sel) < int(metric.get("min_patients", 20)):
                    return 0.0  # a category the model does not populate: no ordering
                means.append(float(np.mean(1.0 - v1[sel])))
            return float(all(a < b for a, b in itertools.pairwise(means)))
        raise ModelError(f"unknown target metric {kind!r}")


def evaluate_targets(
    *,
    model: Model | None = None,
    parameters: Mapping[str, float] | None = None,
    n: int | None = None,
    seed: int | None = None,
    roles: Sequence[str] = ROLES,
) -> list[TargetResult]:
    """Compute every calibration target with the model.

    Parameters
    ----------
    model : Model, optional
        Defaults to the shipped calibrated model.
    parameters : mapping, optional
        Population parameter overrides (used by :func:`fit_parameters`).
    n, seed : int, optional
        Cohort size and seed (defaults from ``targets.yaml``).
    roles : sequence of str
        Evaluate only targets with these preregistered roles (the fit reads
        ``("fitted",)`` only).

    Returns
    -------
    list of TargetResult
    """
    default = model is None and parameters is None and n is None and seed is None
    key = (tuple(roles), load_model().digest, tuple(sorted(calibrated_values().items())))
    if default and key in _DEFAULT_RESULTS:
        return list(_DEFAULT_RESULTS[key])
    spec = load_targets()
    model = model or load_model()
    n = int(n or spec["cohort_n"])
    seed = int(spec["cohort_seed"] if seed is None else seed)
    targets = [t for t in spec["targets"] if t["role"] in roles]
    metrics = [_resolve_days(model, t["metric"]) for t in targets]
    days = [float(v) for m in metrics for k, v in m.items() if k == "day" or k.startswith("day_")]
    ev = _Evaluator(model, parameters, n, seed, days)
    out = []
    for t, metric in zip(targets, metrics, strict=True):
        relation = t.get("relation", "abs")
        value = float(ev.value(metric))
        tol = t.get("tolerance")
        out.append(
            TargetResult(
                id=t["id"],
                description=t["description"],
                expected=t["expected"],
                relation=relation,
                tolerance=None if tol is None else float(tol),
                value=value,
                passed=_judge(value, t["expected"], relation, tol),
                required=bool(t.get("required", True)),
                confidence=t["confidence"],
                source=dict(t["source"]),
                note=t.get("note", ""),
                fitted=t["role"] == "fitted",
                evidence=t.get("evidence"),
                role=t["role"],
                sd=None if t.get("sd") is None else float(t["sd"]),
            )
        )
    if default:
        _DEFAULT_RESULTS[key] = tuple(out)
    return out


#: Results of evaluate_targets() for the shipped model (deterministic: seeded
#: cohorts), kept for the process so repeated reports do not rerun the cohorts.
_DEFAULT_RESULTS: dict[tuple, tuple[TargetResult, ...]] = {}


@dataclass(frozen=True)
class FitResult:
    """Posterior of :func:`fit_parameters` (importance-weighted prior draws).

    ``values`` are the posterior medians (the shipped point set), ``posterior``
    gives per parameter the weighted mean, median and 2.5/97.5 % quantiles,
    ``draws``/``weights`` the weighted sample itself, ``ess`` its effective
    sample size; ``targets`` are every target evaluated at ``values``.
    """

    values: Mapping[str, float]
    posterior: Mapping[str, Mapping[str, float]]
    draws: np.ndarray
    weights: np.ndarray
    names: tuple[str, ...]
    ess: float
    log_likelihood_max: float
    seed: int
    n_patients: int
    fitted_targets: tuple[str, ...]
    targets: Sequence[TargetResult] = field(default_factory=tuple)

    def summary(self) -> dict[str, Any]:
        return {
            "method": "importance sampling of a scrambled Sobol sample of the "
            "log-uniform prior; normal likelihood of the fitted targets",
            "parameters": list(self.names),
            "posterior": {k: dict(v) for k, v in self.posterior.items()},
            "values": dict(self.values),
            "draws": int(self.draws.shape[0]),
            "effective_sample_size": float(self.ess),
            "log_likelihood_max": float(self.log_likelihood_max),
            "fitted_targets": list(self.fitted_targets),
            "seed": int(self.seed),
            "patients_per_cohort": int(self.n_patients),
        }

    def to_yaml(self, path: str | Path) -> None:
        """Write the posterior medians and the posterior summary (atomic)."""
        data = {
            "method": self.summary()["method"],
            "seed": int(self.seed),
            "draws": int(self.draws.shape[0]),
            "effective_sample_size": float(self.ess),
            "patients_per_cohort": int(self.n_patients),
            "fitted_targets": list(self.fitted_targets),
            "posterior": {
                k: {q: float(x) for q, x in v.items()} for k, v in self.posterior.items()
            },
            "values": {k: float(v) for k, v in self.values.items()},
        }
        from resorb._atomic import write_atomic

        write_atomic(Path(path), yaml.safe_dump(data, sort_keys=False))


def fit_parameter_names() -> tuple[str, ...]:
    """The parameters the preregistration (``targets.yaml``) declares as fitted."""
    return tuple(load_targets()["preregistration"]["fit"]["parameters"])


#: Population parameters refitted by ``resorb model calibrate --fit`` (preregistered).
FIT_PARAMETERS = ("k_e1", "k_in", "k_ext", "q_ext")


def _log_likelihood(results: Sequence[TargetResult]) -> float:
    """Independent normal log-likelihood of the fitted targets (up to a constant)."""
    total = 0.0
    for r in results:
        if not math.isfinite(r.value):
            return -math.inf
        total -= 0.5 * ((r.value - float(r.expected)) / float(r.sd)) ** 2
    return total


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return float(x[order][min(int(np.searchsorted(cw, q * cw[-1])), x.size - 1)])


def fit_parameters(
    names: Sequence[str] | None = None,
    *,
    seed: int = 0,
    draws: int = 256,
    n: int = 400,
    model: Model | None = None,
    progress: Any = None,
) -> FitResult:
    """Posterior of the preregistered parameters given the fitted targets.

    Draws ``draws`` points of a scrambled Sobol sample of the log-uniform prior
    (each parameter's prior range in ``model.yaml``), evaluates only the targets
    whose preregistered role is ``fitted`` (virtual cohorts of ``n`` patients,
    common random numbers across draws) and weights each draw by the normal
    likelihood of those targets with their declared SDs. ``k_e2`` follows
    ``k_e1`` at the ratio 2 of Trejo et al. 2019. Held-out and check targets
    are evaluated only afterwards, at the posterior medians.
    """
    from scipy.stats import qmc

    model = model or load_model()
    names = tuple(names or fit_parameter_names())
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError("seed", f"{seed!r} is not a seed", allowed="an integer >= 0")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 8 or draws & (draws - 1):
        raise InvalidInputError(
            "draws", f"{draws!r} is not a number of prior draws", allowed="a power of 2 >= 8"
        )
    params = [model.parameter(nm) for nm in names]
    for p in params:
        if not (p.prior[0] > 0 and p.prior[1] > p.prior[0]):
            raise InvalidInputError("names", f"{p.name} has no positive prior range to search")
    lo = np.log([p.prior[0] for p in params])
    hi = np.log([p.prior[1] for p in params])
    unit = qmc.Sobol(d=len(params), scramble=True, seed=seed).random(draws)
    xs = np.exp(lo + unit * (hi - lo))

    def values_of(x: np.ndarray) -> dict[str, float]:
        vals = {p.name: float(v) for p, v in zip(params, x, strict=True)}
        if "k_e1" in vals and "k_e2" not in vals:
            vals["k_e2"] = 2.0 * vals["k_e1"]
        return vals

    loglik = np.empty(draws)
    fitted_ids: tuple[str, ...] = ()
    for i, x in enumerate(xs):
        res = evaluate_targets(model=model, parameters=values_of(x), n=n, roles=("fitted",))
        fitted_ids = tuple(r.id for r in res)
        loglik[i] = _log_likelihood(res)
        if progress is not None:
            progress(i + 1, draws)
    if not np.any(np.isfinite(loglik)):
        raise ModelError("fit: no prior draw gave finite target values")
    w = np.exp(loglik - np.max(loglik))
    w /= w.sum()
    ess = float(1.0 / np.sum(w * w))
    posterior = {}
    for j, p in enumerate(params):
        col = xs[:, j]
        posterior[p.name] = {
            "mean": float(np.sum(w * col)),
            "q025": _weighted_quantile(col, w, 0.025),
            "median": _weighted_quantile(col, w, 0.5),
            "q975": _weighted_quantile(col, w, 0.975),
            "prior_low": p.prior[0],
            "prior_high": p.prior[1],
        }
    vals = values_of(np.array([posterior[p.name]["median"] for p in params]))
    final = evaluate_targets(model=model, parameters=vals)
    return FitResult(
        values=vals,
        posterior=posterior,
        draws=xs,
        weights=w,
        names=names,
        ess=ess,
        log_likelihood_max=float(np.max(loglik)),
        seed=seed,
        n_patients=n,
        fitted_targets=fitted_ids,
        targets=tuple(final),
    )
