"""``resorb cohort ...``: fit, validate and report prediction models; synthetic cohorts."""

from __future__ import annotations

from pathlib import Path

import typer

from resorb.cli._common import check_output_path, emit

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object.")


def _analyse(
    csv: Path,
    outcome: str | None,
    predictors: str,
    time: str | None,
    event: str | None,
    spline: list[str] | None,
    bootstrap: int,
    seed: int,
    impute: int,
    method: str,
    horizon_months: float,
    r2_cs: float | None,
):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from resorb.cohort import analyse_cohort, read_cohort

    splines = [s for item in (spline or []) for s in item.split(",") if s.strip()]
    df = read_cohort(csv)
    # the bar appears with the first bootstrap block, so a refused input prints
    # nothing but its one error line
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, object] = {}

    def tick(task: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()
        if task not in tasks:
            tasks[task] = bar.add_task(task, total=total)
        bar.update(tasks[task], completed=done)

    try:
        return analyse_cohort(
            df,
            outcome=outcome,
            predictors=predictors,
            splines=splines,
            time=time,
            event=event,
            bootstrap=bootstrap,
            seed=seed,
            impute=impute,
            method=method,
            horizon_months=horizon_months,
            r2_cs=r2_cs,
            progress=tick,
        )
    finally:
        if tasks:
            bar.stop()


def _penalties(text: str) -> list[float]:
    from resorb.errors import InvalidInputError

    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not (v >= 0 and v < float("inf")) for v in values) or len(values) > 200:
        raise InvalidInputError(
            "pentrace", repr(text)[:80], allowed="1-200 comma-separated penalties >= 0"
        )
    return values


def _write_effects_plot(fit, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from resorb._atomic import atomic_writer
    from resorb.cohort._contrasts import plot_partial_effects

    fig = plot_partial_effects(fit.partial_effects(), ylabel="log odds")
    try:
        with atomic_writer(path, binary=True) as fh:
            fig.savefig(fh, format=path.suffix.lower().lstrip("."), dpi=110)
    finally:
        plt.close(fig)


def _render_anova(console, rows) -> None:
    from rich.markup import escape
    from rich.table import Table

    a = Table(title="Wald tests: each predictor with its non-linear and interaction terms")
    for col in ("factor", "chi-square", "d.f.", "p"):
        a.add_column(col, justify="left" if col == "factor" else "right")
    for r in rows:
        a.add_row(escape(r["term"]), f"{r['chi2']:.2f}", str(r["df"]), f"{r['p']:.3g}")
    console.print(a)


def _render_effects(console, rows) -> None:
    from rich.markup import escape
    from rich.table import Table

    if not rows:
        return
    e = Table(
        title="Effects: lower to upper quartile, or each category against the "
        "reference; others at their median or most frequent category"
    )
    for col in ("factor", "low", "high", rows[0]["ratio_name"] + " (95% CI)"):
        e.add_column(col, justify="left" if col == "factor" else "right")
    for r in rows:
        fmt = (lambda v: v) if isinstance(r["low"], str) else (lambda v: f"{v:.4g}")
        e.add_row(
            escape(r["factor"]),
            fmt(r["low"]),
            fmt(r["high"]),
            f"{r['ratio']:.2f} ({r['ratio_lower']:.2f}-{r['ratio_upper']:.2f})",
        )
    console.print(e)


def _render_survival(s) -> None:
    from rich.console import Console

    console = Console()
    if "error" in s:
        console.print(f"Survival model not fitted: {s['error']}")
        return
    cox = s["cox"]
    boot = cox.get("c_index_bootstrap")
    corrected = (
        f", optimism-corrected {boot['corrected']:.3f} ({boot['n_successful']} of "
        f"{boot['n_bootstrap']} resamples used)"
        if boot
        else ""
    )
    console.print(
        f"Cox model: n = {s['n']}, events = {s['events']}; Harrell C "
        f"{cox['c_index']:.3f}{corrected}"
    )
    if cox.get("ici_at_horizon") is not None:
        console.print(
            f"Calibration by {s['horizon_months']:g} months (Austin 2020): ICI "
            f"{cox['ici_at_horizon']:.4f}, E50 {cox['e50_at_horizon']:.4f}, "
            f"E90 {cox['e90_at_horizon']:.4f}"
        )
    console.print(
        f"Aalen-Johansen resorption by {s['horizon_months']:g} months: "
        f"{s['cumulative_incidence_at_horizon']['resorption']:.3f}"
    )


def _render_fit(d) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if d.get("outcome") is None:
        _render_survival(d["survival"])
        return
    t = Table(
        title=f"Logistic model for {d['outcome']} ({d['method']}), n = {d['n']}, "
        f"events = {d['events']}"
    )
    for col in ("term", "coef", "SE", "OR (95% CI)", "p"):
        t.add_column(col, justify="left" if col == "term" else "right")
    for r in d["coefficient_table"]:
        t.add_row(
            escape(r["term"]),
            f"{r['coef']:.4f}",
            f"{r['se']:.4f}",
            f"{r['odds_ratio']:.2f} ({r['or_ci_lower']:.2f}-{r['or_ci_upper']:.2f})",
            f"{r['p']:.3g}",
        )
    console.print(t)
    _render_anova(console, d["anova"])
    _render_effects(console, d["effects"])
    boot = d.get("bootstrap")
    caption = (
        f"bootstrap: {boot['n_successful']} of {boot['n_bootstrap']} resamples used "
        f"(seed {boot['seed']})"
        if boot
        else "no bootstrap validation"
    )
    p = Table(title="Performance", show_header=True, caption=caption)
    for col in ("metric", "apparent", "optimism-corrected"):
        p.add_column(col)
    for m in ("c_statistic", "calibration_slope", "calibration_intercept", "brier"):
        corr = d.get(f"{m}_optimism_corrected")
        p.add_row(m, f"{d[m]:.4f}", "-" if corr is None else f"{corr:.4f}")
    if boot:
        for m in ("dxy", "r2", "emax", "d", "u", "q", "g", "gp"):
            row = boot["metrics"][m]
            p.add_row(m, f"{row['apparent']:.4f}", f"{row['corrected']:.4f}")
    p.add_row("ICI / E90", f"{d['ici']:.4f} / {d['e90']:.4f}", "")
    console.print(p)
    ss = d["sample_size"]
    console.print(
        f"Riley minimum n: {ss['n_required']} (available {ss['n_available']}, "
        f"{'met' if ss['met'] else 'NOT met'}); missing: {d['missing']['handling']}; "
        f"separation: {d['separation']['kind'] or 'none'}"
    )
    if d.get("pentrace"):
        pt = d["pentrace"]
        console.print(
            f"Penalised fit: best penalty {pt['best_penalty']:g} by corrected AIC "
            f"(effective d.f. {pt['effective_df']:.2f}); coefficients: "
            + ", ".join(f"{escape(k)} {v:.4f}" for k, v in pt["coefficients"].items())
        )
    if d.get("survival"):
        _render_survival(d["survival"])
    if d.get("model_file"):
        console.print(f"model saved to {d['model_file']}")


def register(app: typer.Typer) -> None:
    cohort = typer.Typer(
        help="Prediction models on a clinic's own cohort: fit, validate, "
        "report; synthetic cohorts for demos.",
        no_args_is_help=True,
    )
    app.add_typer(cohort, name="cohort")

    csv_arg = typer.Argument(..., help="Cohort table (.csv or .parquet), one row per herniation.")
    outcome_opt = typer.Option(..., "--outcome", help="Binary (0/1) outcome column.")
    predictors_opt = typer.Option(
        ...,
        "--predictors",
        help="Comma-separated predictor columns; NAME:rcs4 for a spline, NAME:ref=LEVEL for "
        "the reference level, NAME:cat to force categorical (codes such as 1/2), "
        "A*B for an interaction.",
    )
    time_opt = typer.Option(None, "--time", help="Follow-up time column (months).")
    event_opt = typer.Option(
        None, "--event", help="Event column: 0 censored, 1 resorption, 2 competing (surgery)."
    )
    spline_opt = typer.Option(
        None,
        "--spline",
        help="Restricted cubic spline for a predictor: NAME or NAME:K "
        "(3-7 knots, default 4). Repeatable.",
    )
    bootstrap_opt = typer.Option(
        200,
        "--bootstrap",
        min=0,
        help="Bootstrap replicates for optimism correction (0 = none); "
        "with --time also for the Cox model.",
    )
    seed_opt = typer.Option(0, "--seed", help="Seed of bootstrap and imputation.")
    impute_opt = typer.Option(
        0, "--impute", min=0, help="Multiple imputations (chained equations); 0 = complete cases."
    )
    method_opt = typer.Option("auto", "--method", help="auto (Firth if separation), ml or firth.")
    horizon_opt = typer.Option(12.0, "--horizon-months", help="Horizon of survival metrics.")
    r2_opt = typer.Option(
        None,
        "--r2-cs",
        help="Anticipated Cox-Snell R2 for the sample-size check (default: Nagelkerke 0.15).",
    )
    definition_opt = typer.Option(
        None, "--definition", help="Outcome definition stored with the model and report."
    )

    @cohort.command("fit")
    def fit(
        csv: Path = csv_arg,
        outcome: str | None = typer.Option(
            None,
            "--outcome",
            help="Binary (0/1) outcome column; may be left out for a "
            "survival model only (--time and --event).",
        ),
        predictors: str = predictors_opt,
        time: str | None = time_opt,
        event: str | None = event_opt,
        spline: list[str] | None = spline_opt,
        bootstrap: int = bootstrap_opt,
        seed: int = seed_opt,
        impute: int = impute_opt,
        method: str = method_opt,
        horizon_months: float = horizon_opt,
        r2_cs: float | None = r2_opt,
        definition: str | None = definition_opt,
        model_horizon: float | None = typer.Option(
            None,
            "--model-horizon-months",
            help="Horizon of the binary outcome (e.g. 12 for resorbed_12mo), stored in the "
            "model file.",
        ),
        doi: str | None = typer.Option(None, "--doi", help="DOI of the model's publication."),
        pmid: str | None = typer.Option(None, "--pmid", help="PMID of the publication."),
        save_model: Path | None = typer.Option(
            None, "--save-model", help="Write the portable model file (JSON)."
        ),
        pentrace: str | None = typer.Option(
            None,
            "--pentrace",
            help="Comma-separated penalties (e.g. 0,1,2,4,8,16): penalised refits of the "
            "logistic model, the best by corrected AIC, and its coefficients.",
        ),
        effects_plot: Path | None = typer.Option(
            None,
            "--effects-plot",
            help="Write the partial-effect plot of the logistic "
            "model (each predictor with a 95 % interval): "
            ".png or .svg.",
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Fit a logistic and/or survival model and validate it (bootstrap, calibration)."""
        from resorb.errors import InvalidInputError

        check_output_path(save_model, "--save-model")
        check_output_path(effects_plot, "--effects-plot")
        if effects_plot is not None and effects_plot.suffix.lower() not in {".png", ".svg"}:
            raise InvalidInputError(
                "effects-plot",
                f"unsupported file type {effects_plot.suffix!r}",
                allowed=".png, .svg",
            )
        penalties = _penalties(pentrace) if pentrace is not None else None
        if penalties is not None and impute:
            raise InvalidInputError(
                "pentrace", "not with multiple imputation", allowed="--pentrace without --impute"
            )
        for path, option in (
            (save_model, "save-model"),
            (effects_plot, "effects-plot"),
            (penalties, "pentrace"),
        ):
            if path is not None and outcome is None:
                raise InvalidInputError(
                    option, "needs the logistic model", allowed=f"--outcome with --{option}"
                )
        analysis = _analyse(
            csv,
            outcome,
            predictors,
            time,
            event,
            spline,
            bootstrap,
            seed,
            impute,
            method,
            horizon_months,
            r2_cs,
        )
        d = analysis.to_dict()
        if save_model is not None:
            from resorb.cohort import portable_from_fit

            perf = {
                k: d[k]
                for k in (
                    "c_statistic",
                    "c_statistic_optimism_corrected",
                    "calibration_slope_optimism_corrected",
                    "calibration_intercept_optimism_corrected",
                    "brier",
                    "ici",
                    "e90",
                )
            }
            cite = {k: v for k, v in (("doi", doi), ("pmid", pmid)) if v}
            model = portable_from_fit(
                analysis.fit,
                definition=definition,
                horizon_months=model_horizon,
                performance=perf,
                citation=cite,
                data_path=csv,
            )
            model.save(save_model)
            d["model_file"] = str(save_model)
        if penalties is not None:
            table, best = analysis.fit.pentrace(penalties)
            pen = analysis.fit.penalised(best)
            d["pentrace"] = {
                "table": table.to_dict(orient="records"),
                "best_penalty": best,
                "criterion": "corrected AIC",
                "coefficients": dict(zip(analysis.fit.names, map(float, pen["coef"]), strict=True)),
                "effective_df": float(pen["df"]),
            }
        if effects_plot is not None:
            _write_effects_plot(analysis.fit, effects_plot)
            d["effects_plot"] = str(effects_plot)
        emit(d, as_json=as_json, render=_render_fit)

    @cohort.command("report")
    def report(
        csv: Path = csv_arg,
        outcome: str = outcome_opt,
        predictors: str = predictors_opt,
        html: Path = typer.Option(..., "--html", help="Write the HTML report here."),
        time: str | None = time_opt,
        event: str | None = event_opt,
        spline: list[str] | None = spline_opt,
        bootstrap: int = bootstrap_opt,
        seed: int = seed_opt,
        impute: int = impute_opt,
        method: str = method_opt,
        horizon_months: float = horizon_opt,
        r2_cs: float | None = r2_opt,
        definition: str | None = definition_opt,
        as_json: bool = JSON_OPT,
    ) -> None:
        """Fit, validate and write an HTML report with every plot and a checklist."""
        from resorb.cohort import write_cohort_report

        check_output_path(html, "--html")
        analysis = _analyse(
            csv,
            outcome,
            predictors,
            time,
            event,
            spline,
            bootstrap,
            seed,
            impute,
            method,
            horizon_months,
            r2_cs,
        )
        write_cohort_report(analysis, html, data_name=csv.name, definition=definition)
        d = analysis.to_dict()
        emit(
            {
                "html": str(html),
                "n": d["n"],
                "events": d["events"],
                "c_statistic": d["c_statistic"],
                "c_statistic_optimism_corrected": d["c_statistic_optimism_corrected"],
                "calibration_slope_optimism_corrected": d["calibration_slope_optimism_corrected"],
                "brier": d["brier"],
                "bootstrap_resamples_used": (d["bootstrap"] or {}).get("n_successful"),
                "bootstrap_resamples": (d["bootstrap"] or {}).get("n_bootstrap"),
            },
            as_json=as_json,
        )

    @cohort.command("simulate")
    def simulate(
        n: int = typer.Option(..., "--n", help="Number of synthetic patients."),
        seed: int = typer.Option(0, "--seed", help="Seed (same seed, same cohort)."),
        out: Path = typer.Option(..., "--out", help="Output table (.csv or .parquet)."),
        missing: float = typer.Option(
            0.0,
            "--missing",
            help="Share of rim_enhancement and symptom duration values left missing (0-1).",
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Draw a synthetic cohort from the evidence base (generating assumptions cited)."""
        from resorb._atomic import atomic_writer, write_atomic
        from resorb.cohort import simulate_cohort
        from resorb.errors import InvalidInputError

        check_output_path(out, "--out")
        suffix = out.suffix.lower()
        if suffix not in {".csv", ".parquet"}:
            raise InvalidInputError(
                "out", f"unsupported file type {suffix!r}", allowed=".csv, .parquet"
            )
        df = simulate_cohort(n, seed=seed, missing_fraction=missing)
        if suffix == ".csv":
            write_atomic(out, df.to_csv(index=False))
        else:
            with atomic_writer(out, binary=True) as fh:
                df.to_parquet(fh, index=False)
        emit(
            {
                "out": str(out),
                "n": n,
                "seed": seed,
                "resorbed_12mo": float(df["resorbed_12mo"].mean()),
                "events": {
                    str(k): int(v) for k, v in df["event"].value_counts().sort_index().items()
                },
                "assumptions": "resorb/cohort/data/simulation.yaml",
                "synthetic": True,
            },
            as_json=as_json,
        )
