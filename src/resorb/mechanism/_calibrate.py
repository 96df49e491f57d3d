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
from resorb.mechanism._model import Model, load_model
from resorb.mechanism._simulate import simulate

__all__ = ["FitResult", "TargetResult", "evaluate_targets", "fit_parameters", "load_targets"]

_RELATIONS = (">=", "<=", ">", "<", "in", "==", "abs")


@dataclass(frozen=True)
class TargetResult:
    """One calibration target with the model's value and the verdict."""

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
    return spec


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
    def __init__(self, model: Model, parameters: Mapping[str, float] | None, n: int,
                 seed: int, days: Sequence[float]) -> None:
        self.model, self.parameters, self.n, self.seed = model, dict(parameters or {}), n, seed
        self.days = np.asarray(sorted(set(DEFAULT_T_DAYS) | {float(d) for d in days}))
        self._cohorts: dict[tuple, Any] = {}
        self._typical: dict[tuple, Any] = {}

    def cohort(self, morphology: str, therapies: tuple[str, ...] = ()):
        key = (morphology, therapies)
        if key not in self._cohorts:
            self._cohorts[key] = simulate_cohort(
                morphology, self.n, seed=self.seed, therapies=therapies, t_days=self.days,
                parameters=self.parameters, model=self.model)
        return self._cohorts[key]

    def typical(self, morphology: str, therapies: tuple[str, ...] = (),
                parameters: Mapping[str, float] | None = None, knockouts: tuple = (),
                coculture: bool = False, days: float = 730):
        par = dict(self.parameters)
        par.update(parameters or {})
        key = (morphology, therapies, tuple(sorted(par.items())), knockouts, coculture, days)
        if key not in self._typical:
            t = np.linspace(0.0, days, 25) if coculture else None
            self._typical[key] = simulate(
                morphology, therapies=therapies, parameters=par, knockouts=knockouts,
                coculture=coculture, days=days, t_days=t, method="batch", rtol=1e-8,
                atol=1e-10, model=self.model)
        return self._typical[key]

    def value(self, metric: Mapping[str, Any]) -> float:
        kind = metric["kind"]
        morph = metric.get("morphology", "extrusion")
        ther = tuple(metric.get("therapies", ()))
        if kind == "cohort_regressed":
            return self.cohort(morph, ther).fraction_regressed(float(metric["day"]),
                                                               REGRESSION_THRESHOLD)
        if kind == "cohort_order":
            fr = [self.cohort(m).fraction_regressed(float(metric["day"]))
                  for m in metric["morphologies"]]
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
            r = self.typical(morph, knockouts=tuple(metric.get("knockouts", ())),
                             coculture=True, days=float(metric["day"]))
            return 1.0 - float(r.observables["proteoglycan_remaining"][-1])
        if kind in ("relative_volume", "relative_observable"):
            obs = metric.get("observable", "volume_fraction")
            day = float(metric["day"])
            cond = self.typical(morph, ther, parameters=metric.get("parameters"))
            ctrl = self.typical(morph)
            return cond.at(day, obs) / ctrl.at(day, obs)
        raise ModelError(f"unknown target metric {kind!r}")


def evaluate_targets(
    *,
    model: Model | None = None,
    parameters: Mapping[str, float] | None = None,
    n: int | None = None,
    seed: int | None = None,
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

    Returns
    -------
    list of TargetResult
    """
    spec = load_targets()
    model = model or load_model()
    n = int(n or spec["cohort_n"])
    seed = int(spec["cohort_seed"] if seed is None else seed)
    days = [float(t["metric"]["day"]) for t in spec["targets"] if "day" in t["metric"]]
    ev = _Evaluator(model, parameters, n, seed, days)
    out = []
    for t in spec["targets"]:
        relation = t.get("relation", "abs")
        value = float(ev.value(t["metric"]))
        tol = t.get("tolerance")
        out.append(TargetResult(
            id=t["id"], description=t["description"], expected=t["expected"],
            relation=relation, tolerance=None if tol is None else float(tol), value=value,
            passed=_judge(value, t["expected"], relation, tol),
            required=bool(t.get("required", True)), confidence=t["confidence"],
            source=dict(t["source"]), note=t.get("note", "")))
    return out


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit_parameters`."""

    values: Mapping[str, float]
    loss_before: float
    loss_after: float
    seed: int
    targets: Sequence[TargetResult] = field(default_factory=tuple)

    def to_yaml(self, path: str | Path) -> None:
        """Write the fitted values as a calibrated-parameter file (atomic)."""
        data = {"method": "scipy.optimize.differential_evolution over log-parameters "
                          "within their priors; loss = squared misses of required targets",
                "seed": int(self.seed), "loss_before": float(self.loss_before),
                "loss_after": float(self.loss_after),
                "values": {k: float(v) for k, v in self.values.items()}}
        from resorb._atomic import write_atomic

        write_atomic(Path(path), yaml.safe_dump(data, sort_keys=False))


#: Population parameters refitted by ``resorb model calibrate --fit``.
FIT_PARAMETERS = ("k_e1", "k_deg", "k_in", "D0")


def _loss(results: Sequence[TargetResult]) -> float:
    """Squared misfits of required targets; failing a band costs 100 times more."""
    total = 0.0
    for r in results:
        if r.required:
            total += r.miss() ** 2 * (1.0 if r.relation == "abs" or r.passed else 100.0)
    return float(total)


def fit_parameters(
    names: Sequence[str] = FIT_PARAMETERS,
    *,
    seed: int = 0,
    maxiter: int = 4,
    popsize: int = 4,
    n: int = 500,
    model: Model | None = None,
) -> FitResult:
    """Refit population parameters to the required targets (seeded).

    ``k_e2`` follows ``k_e1`` at the ratio 2 of Trejo et al. 2019.
    """
    from scipy.optimize import differential_evolution

    model = model or load_model()
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError("seed", f"{seed!r} is not a seed", allowed="an integer >= 0")
    params = [model.parameter(nm) for nm in names]
    for p in params:
        if not (p.prior[0] > 0 and p.prior[1] > p.prior[0]):
            raise InvalidInputError("names", f"{p.name} has no positive prior range to search")

    def values_of(x: np.ndarray) -> dict[str, float]:
        vals = {p.name: float(math.exp(v)) for p, v in zip(params, x, strict=True)}
        if "k_e1" in vals and "k_e2" not in vals:
            vals["k_e2"] = 2.0 * vals["k_e1"]
        return vals

    def objective(x: np.ndarray) -> float:
        return _loss(evaluate_targets(model=model, parameters=values_of(x), n=n))

    x0 = np.log([p.value for p in params])
    before = objective(x0)
    bounds = [(math.log(p.prior[0]), math.log(p.prior[1])) for p in params]
    res = differential_evolution(objective, bounds, seed=seed, maxiter=maxiter,
                                 popsize=popsize, polish=False, x0=x0, tol=1e-6)
    best = res.x if res.fun < before else x0
    vals = values_of(best)
    final = evaluate_targets(model=model, parameters=vals)
    return FitResult(values=vals, loss_before=float(before),
                     loss_after=float(min(res.fun, before)),
                     seed=seed, targets=tuple(final))
