"""HTML report of a cohort analysis: every plot, the tables, a TRIPOD-style checklist."""

from __future__ import annotations

import base64
import datetime as dt
import io
from pathlib import Path

import numpy as np

from resorb._atomic import write_atomic
from resorb.cohort._workflow import CohortAnalysis, calibration_curve_data

__all__ = ["cohort_figures", "render_cohort_report", "write_cohort_report"]


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def cohort_figures(analysis: CohortAnalysis) -> dict[str, object]:
    """Matplotlib figures of an analysis, by name (calibration, decision curve, ...)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from resorb.cohort._nomogram import plot_nomogram

    figs = {}
    y, p = analysis.fit.y, analysis.predicted
    cal = calibration_curve_data(y, p)
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="ideal")
    ax.plot(cal["p_sorted"], cal["smooth"], color="C0", lw=2, label="lowess (apparent)")
    ax.plot(
        cal["group_predicted"],
        cal["group_observed"],
        "o",
        color="C1",
        label="tenths of predicted risk",
    )
    curve = analysis.calibration_curve
    if curve is not None:
        n_b = min(analysis.settings.get("bootstrap", 0), 40)
        ax.plot(
            curve["predicted"],
            curve["corrected"],
            color="C0",
            ls="--",
            lw=1.5,
            label=f"bias-corrected ({n_b} bootstrap resamples)",
        )
    rug = ax.twinx()
    rug.hist(p, bins=40, color="grey", alpha=0.25)
    rug.set_yticks([])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed proportion")
    c = analysis.calibration
    text = (
        f"C = {c['c_statistic']:.3f}\nslope = {c['calibration_slope']:.2f}\n"
        f"ICI = {c['ici']:.3f}, E90 = {c['e90']:.3f}"
    )
    if analysis.validation is not None:
        text += (
            f"\noptimism-corrected: C = {analysis.validation.corrected('c_statistic'):.3f},"
            f" slope = {analysis.validation.corrected('calibration_slope'):.2f}"
        )
    ax.text(0.03, 0.97, text, va="top", fontsize=8, transform=ax.transAxes)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"Calibration: {analysis.fit.outcome}")
    fig.tight_layout()
    figs["calibration"] = fig

    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    t = analysis.thresholds
    ax.plot(t, analysis.net_benefit, color="C0", lw=2, label="model (apparent)")
    if analysis.net_benefit_corrected is not None:
        ax.plot(
            t,
            analysis.net_benefit_corrected,
            color="C0",
            ls="--",
            label="model (optimism-corrected)",
        )
    ax.plot(t, analysis._treat_all(), color="C3", lw=1, label="treat all")
    ax.axhline(0, color="black", lw=1, label="treat none")
    prev = y.mean()
    ax.set_ylim(min(-0.05, -0.1 * prev), prev * 1.1 + 0.01)
    ax.set_xlabel("threshold probability")
    ax.set_ylabel("net benefit")
    ax.set_title("Decision curve")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["decision_curve"] = fig

    if all(c.kind != "interaction" for c in analysis.fit.codings):
        figs["nomogram"] = plot_nomogram(analysis.fit)

    from resorb.cohort._contrasts import plot_partial_effects

    figs["partial_effects"] = plot_partial_effects(
        analysis.fit.partial_effects(), ylabel="log odds"
    )

    surv = analysis.survival
    if surv is not None:
        fig, ax = plt.subplots(figsize=(6.2, 4.4))
        cif = surv.cif_resorption
        ax.step(
            np.r_[0, cif.index], np.r_[0, cif["cif"]], where="post", color="C2", label="resorption"
        )
        if surv.cif_competing is not None:
            cc = surv.cif_competing
            ax.step(
                np.r_[0, cc.index],
                np.r_[0, cc["cif"]],
                where="post",
                color="C3",
                label="competing event (surgery)",
            )
        ax.axvline(surv.horizon_months, color="grey", ls=":", lw=1)
        ax.set_xlabel("months")
        ax.set_ylabel("cumulative incidence")
        ax.set_ylim(0, 1)
        ax.set_title("Aalen-Johansen cumulative incidence")
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs["cumulative_incidence"] = fig

        fig, ax = plt.subplots(figsize=(5.2, 5.0))
        cal = surv.cox_calibration
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
        ax.plot(cal["predicted"], cal["observed"], "o-", color="C0")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"predicted risk by {surv.horizon_months:g} months (Cox)")
        ax.set_ylabel("observed (1 - Kaplan-Meier)")
        ax.set_title("Cox calibration at the horizon")
        fig.tight_layout()
        figs["cox_calibration"] = fig
    return figs


def _template() -> str:
    from importlib import resources

    return resources.files("resorb.cohort").joinpath("data/report.html.j2").read_text("utf-8")


def _checklist(d: dict, definition: str | None) -> list[tuple[str, bool, str]]:
    boot = d.get("bootstrap")
    ss = d["sample_size"]
    items = [
        (
            "Outcome definition (6a)",
            bool(definition),
            definition or "no definition given (use --definition)",
        ),
        (
            "Predictors and their coding (7a)",
            True,
            f"{len(d['predictors'])} predictors, {ss['parameters']} parameters; reference levels "
            "and spline knots listed above",
        ),
        (
            "Sample size (8)",
            True,
            f"Riley criteria: minimum n {ss['n_required']}, available {ss['n_available']} "
            f"({'met' if ss['met'] else 'not met'})",
        ),
        ("Missing data (9)", True, d["missing"]["handling"]),
        (
            "Model type and fitting (10b)",
            True,
            f"logistic regression, {d['method']}"
            + (
                f"; {d['separation']['kind']} separation detected"
                if d["separation"]["detected"]
                else "; no separation"
            ),
        ),
        (
            "Internal validation (10b)",
            bool(boot),
            f"bootstrap optimism correction, {boot['n_bootstrap']} resamples, seed {boot['seed']}"
            if boot
            else "no bootstrap requested (--bootstrap 0)",
        ),
        (
            "Discrimination and calibration measures (10d)",
            True,
            "C statistic, calibration slope and intercept, Brier, ICI/E50/E90, calibration plot",
        ),
        ("Clinical usefulness (10d)", True, "decision curve (net benefit)"),
        ("Full model presented (15a)", True, "all coefficients and the nomogram"),
        (
            "External validation (10c/13)",
            False,
            "not done: the model is validated only internally on its development data",
        ),
    ]
    return items


def render_cohort_report(
    analysis: CohortAnalysis, *, data_name: str = "", definition: str | None = None
) -> str:
    """The HTML text of the report (images embedded as PNG data URIs)."""
    import jinja2

    from resorb import DISCLAIMER, __version__

    d = analysis.to_dict()
    figs = {k: _png(f) for k, f in cohort_figures(analysis).items()}
    env = jinja2.Environment(autoescape=True)
    return env.from_string(_template()).render(
        d=d,
        figs=figs,
        disclaimer=DISCLAIMER,
        version=__version__,
        data_name=data_name,
        definition=definition or "not given",
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        checklist=_checklist(d, definition),
    )


def write_cohort_report(analysis: CohortAnalysis, path: str | Path, **kwargs) -> Path:
    """Write the report atomically to ``path``."""
    path = Path(path)
    html = render_cohort_report(analysis, **kwargs)
    write_atomic(path, html)
    return path
