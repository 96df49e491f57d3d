"""Global sensitivity analysis (Sobol indices with SALib) of the mechanistic model.

Every parameter with a non-degenerate prior range (therapy regimens and module
switches excluded) is sampled uniformly within its prior (Saltelli/Sobol
sequence), the typical patient of one herniation type is simulated on the
batch path, and first-order and total Sobol indices of the chosen output
(default: V/V0 at 365 days) are estimated with bootstrap confidence intervals.
Hypothesis-module parameters only matter when their module is switched on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from resorb.errors import InvalidInputError, ModelError, require_extra
from resorb.mechanism._codegen import kernel_module, step_failure_message
from resorb.mechanism._conditions import condition_overrides
from resorb.mechanism._model import Model, load_model

__all__ = ["SobolResult", "sensitivity_parameters", "sobol_sensitivity"]


@dataclass(frozen=True)
class SobolResult:
    """First-order (``S1``) and total (``ST``) Sobol indices per parameter."""

    names: tuple[str, ...]
    S1: np.ndarray
    S1_conf: np.ndarray
    ST: np.ndarray
    ST_conf: np.ndarray
    output: str
    n_base: int
    n_evaluations: int
    seed: int

    def summary(self, top: int | None = None) -> dict[str, Any]:
        order = np.argsort(-self.ST)
        rows = [{"name": self.names[i], "S1": float(self.S1[i]),
                 "S1_conf": float(self.S1_conf[i]), "ST": float(self.ST[i]),
                 "ST_conf": float(self.ST_conf[i])} for i in order]
        if top is not None:
            rows = rows[:top]
        return {"output": self.output, "method": "Sobol (SALib; Saltelli sampling, "
                "uniform within each parameter's prior)", "n_base": self.n_base,
                "n_evaluations": self.n_evaluations, "seed": self.seed, "parameters": rows}


def sensitivity_parameters(model: Model, modules: Iterable[str] = ()) -> list[str]:
    """Names of the parameters varied: non-degenerate priors, no therapy or switch."""
    switches = set(model.modules.values())
    fams_on = set()
    for mod in modules:
        fams_on |= {f for f, spec in model.families.items() if spec["module"] == mod}
    hyp = {f for f, spec in model.families.items() if spec["hypothesis"]}
    out = []
    for p in model.parameters:
        if p.family == "therapy" or p.name in switches or p.prior[0] >= p.prior[1]:
            continue
        if p.name == "exposure":
            continue  # set by the herniation type
        if p.family in hyp and p.family not in fams_on:
            continue
        out.append(p.name)
    return out


def sobol_sensitivity(
    morphology: object = "extrusion",
    *,
    n: int = 64,
    seed: int = 0,
    day: float = 365.0,
    modules: Iterable[str] = (),
    model: Model | None = None,
) -> SobolResult:
    """Sobol indices of V/V0 at ``day`` for the typical patient of ``morphology``.

    Parameters
    ----------
    n : int
        Base sample size (a power of 2, >= 8); ``n * (D + 2)`` simulations.
    seed : int
        Seed of the sampling and of the bootstrap.
    modules : iterable of str
        Hypothesis modules to switch on (their parameters are then varied too).
    """
    require_extra("SALib", "mechanism")
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if isinstance(n, bool) or not isinstance(n, int) or n < 8 or n & (n - 1):
        raise InvalidInputError("n", f"{n!r} is not a valid base sample size",
                                allowed="a power of 2 >= 8 (8, 16, 32, 64, ...)")
    from resorb.mechanism._simulate import check_days

    day = check_days(day, "day")
    model = model or load_model()
    modules = tuple(modules)
    over, breaks = condition_overrides(model, morphology=morphology, modules=modules)
    names = sensitivity_parameters(model, modules)
    problem = {"num_vars": len(names), "names": names,
               "bounds": [list(model.parameter(nm).prior) for nm in names]}
    samples = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    base = np.asarray(model.parameter_vector(over))
    pmat = np.repeat(base[None, :], samples.shape[0], axis=0)
    index = [model.parameter_names.index(nm) for nm in names]
    pmat[:, index] = samples
    k = kernel_module(model)
    t = np.array([0.0, float(day)])
    out = np.empty((samples.shape[0], 2, 1))
    steps = np.zeros(samples.shape[0], dtype=np.int64)
    k.solve_batch_reduced(pmat, t, np.asarray(breaks, dtype=float), 1e-6, 1e-9, 30.0,
                          500_000, np.array([0], dtype=np.int64), out, steps)
    if np.any(steps < 0):
        raise ModelError("sensitivity run: the batch integrator "
                         + step_failure_message(int(steps[steps < 0][0]))
                         + f" for {int(np.sum(steps < 0))} sample(s)")
    y_out = out[:, 1, 0]
    res = sobol_analyze.analyze(problem, y_out, calc_second_order=False, seed=seed,
                                print_to_console=False)
    return SobolResult(names=tuple(names), S1=np.asarray(res["S1"]),
                       S1_conf=np.asarray(res["S1_conf"]), ST=np.asarray(res["ST"]),
                       ST_conf=np.asarray(res["ST_conf"]),
                       output=f"volume_fraction at day {day:g} ({morphology}, typical patient)",
                       n_base=n, n_evaluations=int(samples.shape[0]), seed=seed)
