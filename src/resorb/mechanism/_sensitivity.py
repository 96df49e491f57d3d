"""Global sensitivity analysis (Sobol indices with SALib) of the mechanistic model.

Every parameter with a non-degenerate prior range (therapy regimens and module
switches excluded) is sampled within its prior (Saltelli/Sobol sequence):
log-uniformly where the range spans a factor of :data:`LOG_UNIFORM_SPAN` or
more (rate constants known to an order of magnitude), uniformly otherwise. The
typical patient of one herniation type is simulated on the batch path, and
first-order and total Sobol indices of the chosen output (default: V/V0 at 365
days) are estimated with bootstrap confidence intervals. Convergence is
reported: the indices from the first half of the sample against the whole, and
the widest confidence interval against the largest index. Hypothesis-module
parameters only matter when their module is switched on.
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

__all__ = [
    "DEFAULT_N",
    "LOG_UNIFORM_SPAN",
    "SobolResult",
    "plot_sobol",
    "sensitivity_parameters",
    "sobol_sensitivity",
]

#: A prior range with high / low >= this is sampled log-uniformly.
LOG_UNIFORM_SPAN = 10.0
#: Default base sample size: (D + 2) * 1024 simulations, a few seconds; the
#: confidence intervals are then small against the leading indices (the
#: convergence report in the result says by how much).
DEFAULT_N = 1024


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
    sampling: tuple[str, ...] = ()
    convergence: dict[str, Any] | None = None

    def summary(self, top: int | None = None) -> dict[str, Any]:
        order = np.argsort(-self.ST)
        rows = [
            {
                "name": self.names[i],
                "S1": float(self.S1[i]),
                "S1_conf": float(self.S1_conf[i]),
                "ST": float(self.ST[i]),
                "ST_conf": float(self.ST_conf[i]),
                "sampling": self.sampling[i] if self.sampling else "uniform",
            }
            for i in order
        ]
        if top is not None:
            rows = rows[:top]
        return {
            "output": self.output,
            "method": "Sobol (SALib; Saltelli sampling within "
            "each parameter's prior: log-uniform where the range spans a factor of "
            f"{LOG_UNIFORM_SPAN:g} or more, uniform otherwise)",
            "n_base": self.n_base,
            "n_evaluations": self.n_evaluations,
            "seed": self.seed,
            "convergence": dict(self.convergence or {}),
            "parameters": rows,
        }


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
    n: int = DEFAULT_N,
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
        raise InvalidInputError(
            "n",
            f"{n!r} is not a valid base sample size",
            allowed="a power of 2 >= 8 (8, 16, 32, 64, ...)",
        )
    from resorb.mechanism._simulate import check_days

    day = check_days(day, "day")
    model = model or load_model()
    modules = tuple(modules)
    over, breaks = condition_overrides(model, morphology=morphology, modules=modules)
    names = sensitivity_parameters(model, modules)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    unit = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    samples = np.empty_like(unit)
    sampling = []
    for j, nm in enumerate(names):
        lo, hi = model.parameter(nm).prior
        if lo > 0 and hi / lo >= LOG_UNIFORM_SPAN:
            samples[:, j] = np.exp(np.log(lo) + unit[:, j] * (np.log(hi) - np.log(lo)))
            sampling.append("log-uniform")
        else:
            samples[:, j] = lo + unit[:, j] * (hi - lo)
            sampling.append("uniform")
    base = np.asarray(model.parameter_vector(over))
    pmat = np.repeat(base[None, :], samples.shape[0], axis=0)
    index = [model.parameter_names.index(nm) for nm in names]
    pmat[:, index] = samples
    k = kernel_module(model)
    t = np.array([0.0, float(day)])
    out = np.empty((samples.shape[0], 2, 1))
    steps = np.zeros(samples.shape[0], dtype=np.int64)
    k.solve_batch_reduced(
        pmat,
        t,
        np.asarray(breaks, dtype=float),
        1e-6,
        1e-9,
        30.0,
        500_000,
        np.array([0], dtype=np.int64),
        out,
        steps,
    )
    if np.any(steps < 0):
        raise ModelError(
            "sensitivity run: the batch integrator "
            + step_failure_message(int(steps[steps < 0][0]))
            + f" for {int(np.sum(steps < 0))} sample(s)"
        )
    y_out = out[:, 1, 0]
    res = sobol_analyze.analyze(
        problem, y_out, calc_second_order=False, seed=seed, print_to_console=False
    )
    # convergence: the first half of the base sample (rows are grouped per base
    # point, D + 2 each) against the whole
    half = sobol_analyze.analyze(
        problem,
        y_out[: (n // 2) * (len(names) + 2)],
        calc_second_order=False,
        seed=seed,
        print_to_console=False,
    )
    st, st_conf = np.asarray(res["ST"]), np.asarray(res["ST_conf"])
    s1, s1_conf = np.asarray(res["S1"]), np.asarray(res["S1_conf"])
    convergence = {
        "max_index": float(max(st.max(), s1.max())),
        "max_ST_conf": float(st_conf.max()),
        "max_S1_conf": float(s1_conf.max()),
        "max_conf_over_max_index": float(max(st_conf.max(), s1_conf.max()) / max(st.max(), 1e-12)),
        "max_abs_change_ST_half_to_full": float(np.max(np.abs(st - np.asarray(half["ST"])))),
        "max_abs_change_S1_half_to_full": float(np.max(np.abs(s1 - np.asarray(half["S1"])))),
        "S1_above_ST_beyond_intervals": int(np.sum(s1 - s1_conf > st + st_conf)),
    }
    return SobolResult(
        names=tuple(names),
        S1=s1,
        S1_conf=s1_conf,
        ST=st,
        ST_conf=st_conf,
        output=f"volume_fraction at day {day:g} ({morphology}, typical patient)",
        n_base=n,
        n_evaluations=int(samples.shape[0]),
        seed=seed,
        sampling=tuple(sampling),
        convergence=convergence,
    )


def plot_sobol(result: SobolResult, path, top: int = 20) -> None:
    """Bar chart of the ``top`` parameters' first-order and total indices with their
    95 % bootstrap intervals, written atomically as PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from resorb._atomic import write_atomic

    order = np.argsort(-result.ST)[:top][::-1]
    y = np.arange(order.size)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * order.size + 1.6))
    ax.barh(
        y + 0.2,
        result.ST[order],
        height=0.4,
        xerr=result.ST_conf[order],
        color="C0",
        label="total index (ST)",
    )
    ax.barh(
        y - 0.2,
        result.S1[order],
        height=0.4,
        xerr=result.S1_conf[order],
        color="C1",
        label="first-order index (S1)",
    )
    ax.set_yticks(y, [result.names[i] for i in order], fontsize=8)
    ax.set_xlabel("Sobol index (bars: 95 % bootstrap interval)")
    ax.set_title(
        f"Sensitivity of {result.output}\n{result.n_evaluations} simulations "
        f"(base sample {result.n_base})",
        fontsize=10,
    )
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=110, format="png")
    finally:
        plt.close(fig)
    write_atomic(path, buf.getvalue())
