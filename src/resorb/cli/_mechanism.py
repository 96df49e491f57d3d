"""``resorb simulate`` and ``resorb model ...``: the mechanistic simulator."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import typer

from resorb.cli._common import emit, print_table
from resorb.errors import InvalidInputError

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object.")
_KEY_DAYS = (0, 14, 30, 60, 90, 180, 365, 540, 730)


def _check_out_path(path: Path | None, field: str) -> None:
    if path is None:
        return
    if not path.parent.exists():
        raise InvalidInputError(
            field,
            f"directory {str(path.parent)!r} does not exist",
            allowed="a path in an existing directory",
        )
    if path.is_dir():
        raise InvalidInputError(
            field, f"{str(path)!r} is a directory", allowed="a file path in an existing directory"
        )


def _therapy_evidence(therapies: list[str]) -> list[dict]:
    """What is known about each therapy's effect on resorption, and what is extrapolated."""
    from resorb.mechanism import load_model, parse_therapy

    model = load_model()
    out = []
    for raw in therapies:
        spec = model.therapies[parse_therapy(raw).id]
        out.append(
            {
                "id": spec.id,
                "evidence": spec.evidence,
                "evidence_sources": list(spec.evidence_sources),
                "extrapolation": spec.extrapolation,
            }
        )
    return out


def _print_therapy_evidence(rows: list[dict]) -> None:
    if not rows:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Therapies: evidence on resorption and what the model extrapolates")
    for col in ("therapy", "evidence", "extrapolation"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["evidence"], r["extrapolation"])
    Console().print(table)


def _check_days(days: float, field: str) -> None:
    from resorb.mechanism import MAX_DAYS

    if not (math.isfinite(days) and 0 < days <= MAX_DAYS):
        raise InvalidInputError(
            field,
            f"{days:g} is not a finite number of days in (0, {MAX_DAYS:g}]",
            allowed=f"0 < days <= {MAX_DAYS:g} (software limit: ten years)",
        )


def _plot_png(result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from resorb import DISCLAIMER

    obs = result.observables
    t = result.t_days
    fig, axes = plt.subplots(
        3, 1, figsize=(8, 8.5), sharex=True, gridspec_kw={"height_ratios": [2, 1, 1]}
    )
    cond = result.condition
    ther = ", ".join(f"{x['id']} (day {x['start_day']:g})" for x in cond["therapies"]) or "none"
    axes[0].plot(t, obs["volume_fraction"], color="C0", lw=2)
    axes[0].set_ylabel("herniated volume V/V0")
    axes[0].set_ylim(0, 1.05)
    axes[0].axhline(0.75, color="grey", ls=":", lw=1)
    axes[0].text(
        t[-1], 0.76, ">= 25 % reduction", ha="right", va="bottom", fontsize=8, color="grey"
    )
    axes[0].set_title(f"Simulated course: {cond['morphology']}; therapies: {ther}", fontsize=11)
    axes[1].plot(t, obs["rim_enhancement"], color="C3", label="rim-enhancement proxy (0-1)")
    axes[1].plot(t, obs["np_cell_viability"], color="C2", ls="--", label="viable NP cells")
    axes[1].set_ylabel("relative")
    axes[1].legend(fontsize=8, loc="upper right")
    axes[2].plot(t, obs["macrophage_density_per_cm2"], color="C1")
    axes[2].set_ylabel("macrophages\n(CD68+/cm², model scale)")
    axes[2].set_xlabel("days since onset")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.text(
        0.01,
        0.005,
        "Mechanistic model, population-calibrated; not a prediction for an "
        "individual. " + DISCLAIMER,
        fontsize=6.5,
        wrap=True,
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    import io

    from resorb._atomic import write_atomic

    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=110, format="png")
    finally:
        plt.close(fig)
    write_atomic(path, buf.getvalue())


def _progress_runner(enabled: bool, description: str = "simulating chunks"):
    """A (callback, context manager) pair drawing a rich progress bar on stderr."""
    import contextlib

    if not enabled:
        return None, contextlib.nullcontext()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = {}

    def callback(done: int, total: int) -> None:
        if "id" not in task:
            task["id"] = progress.add_task(description, total=total)
        progress.update(task["id"], completed=done, total=total)

    return callback, progress


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        morphology: str = typer.Option(
            ..., "--morphology", "-m", help="bulge, protrusion, extrusion or sequestration."
        ),
        therapy: list[str] = typer.Option(
            [],
            "--therapy",
            "-t",
            help="Therapy id, optionally ID@DAY (start day); repeat for several.",
        ),
        days: float = typer.Option(730.0, "--days", help="Horizon in days (> 0)."),
        module: list[str] = typer.Option(
            [],
            "--module",
            help="Switch on a hypothesis module (ferroptosis, oxidative_stress, autophagy).",
        ),
        variant: str = typer.Option(
            "reduced", "--variant", help="reduced (quasi-steady mediators) or full."
        ),
        method: str = typer.Option(
            "batch",
            "--method",
            help="batch (compiled Dormand-Prince, the default) or "
            "reference (SciPy LSODA; slower, same numbers "
            "within 1e-6).",
        ),
        cohort: int | None = typer.Option(
            None, "--cohort", help="Simulate a virtual cohort of N patients."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the virtual cohort."),
        scheduler: str | None = typer.Option(
            None, "--scheduler", help="Dask scheduler address for the cohort."
        ),
        csv: Path | None = typer.Option(None, "--csv", help="Write the daily trajectory."),
        png: Path | None = typer.Option(None, "--png", help="Plot the trajectory to PNG."),
        parquet: Path | None = typer.Option(
            None,
            "--parquet",
            help="Write the trajectory (or the cohort's per-patient volumes) with provenance.",
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Simulate the mechanistic model: one typical patient, or a virtual cohort."""
        import warnings

        from resorb import DISCLAIMER
        from resorb.errors import HypothesisModuleWarning
        from resorb.mechanism import simulate, simulate_cohort

        _check_days(days, "days")
        for field, p in (("csv", csv), ("png", png), ("parquet", parquet)):
            _check_out_path(p, field)
        if cohort is not None:
            if cohort < 1:
                raise InvalidInputError(
                    "cohort", f"{cohort} is not a cohort size", allowed="an integer >= 1"
                )
            if seed < 0:
                raise InvalidInputError("seed", f"{seed} is not a seed", allowed="an integer >= 0")
            if module or csv or png or variant != "reduced" or method != "batch":
                raise InvalidInputError(
                    "cohort",
                    "--module, --variant, --method, --csv and "
                    "--png apply to single simulations only",
                )
            from resorb.mechanism import condition_overrides, load_model, parse_therapy
            from resorb.mechanism._cohort import DEFAULT_T_DAYS

            # validate everything before the progress bar starts (one stderr line on error)
            condition_overrides(
                load_model(), morphology=morphology, therapies=[parse_therapy(x) for x in therapy]
            )
            t_days = sorted(
                {float(d) for d in DEFAULT_T_DAYS if d <= days} | {float(math.floor(days))}
            )
            callback, ctx = _progress_runner(not as_json)
            with ctx:
                res = simulate_cohort(
                    morphology,
                    cohort,
                    seed=seed,
                    therapies=therapy,
                    t_days=t_days,
                    scheduler=scheduler,
                    progress=callback,
                )
            if parquet is not None:
                res.to_parquet(parquet)
            out = res.summary()
            out["therapy_evidence"] = _therapy_evidence(therapy)
            out["notice"] = DISCLAIMER
            if as_json:
                emit(out, as_json=True)
                return
            print_table(
                {
                    k: out[k]
                    for k in (
                        "morphology",
                        "n",
                        "seed",
                        "therapies",
                        "fraction_regressed_12mo",
                        "fraction_grown_12mo",
                        "definition",
                    )
                },
                title="Virtual cohort",
            )
            from rich.console import Console
            from rich.table import Table

            table = Table(title="V/V0 quantiles by day")
            table.add_column("day")
            for q in out["volume_fraction_quantiles"]:
                table.add_column(q)
            for j, d in enumerate(out["t_days"]):
                table.add_row(
                    f"{d:g}", *(f"{v[j]:.3f}" for v in out["volume_fraction_quantiles"].values())
                )
            Console().print(table)
            _print_therapy_evidence(out["therapy_evidence"])
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", HypothesisModuleWarning)
            result = simulate(
                morphology,
                therapies=therapy,
                days=days,
                modules=module,
                variant=variant,
                method=method,
            )
        notes = [str(w.message) for w in caught if issubclass(w.category, HypothesisModuleWarning)]
        for note in notes:
            sys.stderr.write(f"resorb: warning: {note}\n")
        frame = result.to_frame()
        if csv is not None:
            from resorb._atomic import write_atomic

            write_atomic(csv, frame.to_csv(index=False, float_format="%.8g"))
        if parquet is not None:
            result.to_parquet(parquet)
        if png is not None:
            _plot_png(result, png)
        key = {f"day_{int(d)}": result.at(d) for d in _KEY_DAYS if d <= result.t_days[-1]}
        data = {
            "morphology": result.condition["morphology"],
            "therapies": result.condition["therapies"],
            "modules": result.condition["modules"],
            "therapy_evidence": _therapy_evidence(therapy),
            "hypothesis_warnings": notes,
            "volume_fraction_at": key,
            "trajectory": {c: frame[c].to_numpy() for c in frame.columns},
            "solver": result.solver,
            "model": result.model,
            "version": result.version,
            "notice": DISCLAIMER,
        }
        if as_json:
            emit(data, as_json=True)
            return
        rows = {
            "morphology": data["morphology"],
            "therapies": ", ".join(t["id"] for t in data["therapies"]) or "none",
        }
        rows.update({f"V/V0 day {k[4:]}": round(v, 4) for k, v in key.items()})
        print_table(rows, title="Simulated herniated volume (typical patient)")
        _print_therapy_evidence(data["therapy_evidence"])

    model_app = typer.Typer(
        help="The mechanistic model: SBML export, calibration, sensitivity.", no_args_is_help=True
    )
    app.add_typer(model_app, name="model")

    @model_app.command("sbml")
    def sbml_cmd(
        out: Path = typer.Argument(..., help="Output SBML file (.xml)."),
        morphology: str = typer.Option(..., "--morphology", "-m"),
        therapy: list[str] = typer.Option([], "--therapy", "-t", help="ID or ID@DAY."),
        variant: str = typer.Option("reduced", "--variant", help="reduced or full."),
        module: list[str] = typer.Option(
            [], "--module", help="Switch on a hypothesis module in the export."
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Write SBML Level 3 Version 2 of the model (observable volume_fraction = V/V0)."""
        import warnings

        from resorb.errors import HypothesisModuleWarning
        from resorb.mechanism import write_sbml

        _check_out_path(out, "OUT")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", HypothesisModuleWarning)
            path = write_sbml(out, morphology, therapies=therapy, variant=variant, modules=module)
        for w in caught:
            if issubclass(w.category, HypothesisModuleWarning):
                sys.stderr.write(f"resorb: warning: {w.message}\n")
        emit(
            {
                "path": str(path),
                "level": 3,
                "version": 2,
                "variant": variant,
                "modules": sorted(module),
                "observable": "volume_fraction",
            },
            as_json=as_json,
        )

    @model_app.command("calibrate")
    def calibrate_cmd(
        fit: bool = typer.Option(
            False,
            "--fit",
            help="Fit the preregistered parameters "
            "to the fitted targets first (posterior by importance "
            "sampling).",
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the fit's prior sample."),
        draws: int = typer.Option(256, "--draws", help="Prior draws of the fit (power of 2 >= 8)."),
        out: Path | None = typer.Option(
            None, "--out", help="With --fit: write the posterior and the posterior medians (YAML)."
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Print every calibration target with its preregistered role, the model's
        value and pass or fail."""
        from resorb.mechanism import evaluate_targets, fit_parameters, load_targets

        if seed < 0:
            raise InvalidInputError("seed", f"{seed} is not a seed", allowed="an integer >= 0")
        if draws < 8 or draws & (draws - 1):
            raise InvalidInputError(
                "draws", f"{draws} is not a number of prior draws", allowed="a power of 2 >= 8"
            )
        _check_out_path(out, "out")
        if out is not None and not fit:
            raise InvalidInputError("out", "only meaningful with --fit")
        prereg = load_targets()["preregistration"]
        fitted = None
        if fit:
            callback, ctx = _progress_runner(not as_json, "fitting: prior draws")
            with ctx:
                fitted = fit_parameters(seed=seed, draws=draws, progress=callback)
            results = fitted.targets
            if out is not None:
                fitted.to_yaml(out)
        else:
            results = evaluate_targets()
        rows = [
            {
                "id": r.id,
                "description": r.description,
                "role": r.role,
                "value": r.value,
                "expected": r.expected,
                "relation": r.relation,
                "tolerance": r.tolerance,
                "sd": r.sd,
                "passed": r.passed,
                "required": r.required,
                "fitted": r.fitted,
                "confidence": r.confidence,
                "source": r.source,
                "evidence": r.evidence,
                "note": r.note,
            }
            for r in results
        ]
        data = {
            "preregistration": prereg,
            "targets": rows,
            "passed": sum(r.passed for r in results),
            "by_role": {
                role: [r.id for r in results if r.role == role]
                for role in ("fitted", "held_out", "check")
            },
            "failed_required": [r.id for r in results if r.required and not r.passed],
            "failed_not_required": [r.id for r in results if not r.required and not r.passed],
            "failed_held_out": [r.id for r in results if r.role == "held_out" and not r.passed],
            "fitted": [r.id for r in results if r.fitted],
        }
        if fitted is not None:
            data["fit"] = fitted.summary()
            data["fit"]["written_to"] = None if out is None else str(out)
        if as_json:
            emit(data, as_json=True)
            return
        from rich.console import Console
        from rich.table import Table

        console = Console()
        console.print(
            f"Roles declared before any fit ({prereg['declared']}, model version "
            f"{prereg['model_version']}): fitted targets enter the fit; held-out "
            "targets and checks never do."
        )
        for role, title in (
            ("fitted", "Fitted targets (in the likelihood; not independent checks)"),
            ("held_out", "Held-out targets (never used to choose parameters)"),
            ("check", "Structural and directional checks"),
        ):
            table = Table(title=title)
            table.add_column("target", no_wrap=True)
            for col in ("model", "expected", "result", "required", "confidence", "source"):
                table.add_column(col)
            for r in results:
                if r.role != role:
                    continue
                exp = (
                    f"{r.relation} {r.expected}"
                    if r.relation != "abs"
                    else f"{r.expected} ± {r.tolerance}"
                )
                verdict = "pass" if r.passed else ("FAIL" if r.required else "fail (declared)")
                if r.source.get("pmid"):
                    src = f"PMID {r.source['pmid']}"
                else:
                    src = r.source.get("doi") or r.source.get("citation", "")
                table.add_row(
                    r.id,
                    f"{r.value:.4g}",
                    exp,
                    verdict,
                    "yes" if r.required else "no",
                    r.confidence,
                    str(src)[:40],
                )
            console.print(table)
        if fitted is not None:
            table = Table(
                title=f"Posterior ({fitted.draws.shape[0]} prior draws, effective "
                f"sample size {fitted.ess:.1f})"
            )
            for col in ("parameter", "2.5 %", "median", "97.5 %", "prior range"):
                table.add_column(col)
            for name, q in fitted.posterior.items():
                table.add_row(
                    name,
                    f"{q['q025']:.4g}",
                    f"{q['median']:.4g}",
                    f"{q['q975']:.4g}",
                    f"{q['prior_low']:g} - {q['prior_high']:g}",
                )
            console.print(table)

    @model_app.command("sensitivity")
    def sensitivity_cmd(
        n: int = typer.Option(
            1024,
            "--n",
            help="Base sample size (power of 2 >= 8); (parameters + 2) x n simulations.",
        ),
        seed: int = typer.Option(0, "--seed"),
        morphology: str = typer.Option("extrusion", "--morphology", "-m"),
        day: float = typer.Option(365.0, "--day", help="Output day of V/V0."),
        module: list[str] = typer.Option([], "--module", help="Hypothesis module to include."),
        top: int = typer.Option(15, "--top", help="Rows to show in the table and plot."),
        png: Path | None = typer.Option(None, "--png", help="Plot the indices to PNG."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Global sensitivity (Sobol indices, SALib) of V/V0 at a given day."""
        import warnings

        from resorb.errors import HypothesisModuleWarning
        from resorb.mechanism import sobol_sensitivity

        if seed < 0:
            raise InvalidInputError("seed", f"{seed} is not a seed", allowed="an integer >= 0")
        _check_days(day, "day")
        _check_out_path(png, "png")
        if top < 1:
            raise InvalidInputError("top", f"{top} is too small", allowed="an integer >= 1")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", HypothesisModuleWarning)
            res = sobol_sensitivity(morphology, n=n, seed=seed, day=day, modules=module)
        for w in caught:
            sys.stderr.write(f"resorb: warning: {w.message}\n")
        if png is not None:
            from resorb.mechanism._sensitivity import plot_sobol

            plot_sobol(res, png, top=top)
        data = res.summary()
        if as_json:
            emit(data, as_json=True)
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(
            title=f"Sobol indices: {data['output']} ({data['n_evaluations']} simulations)"
        )
        for col in ("parameter", "S1", "±", "ST", "±"):
            table.add_column(col)
        for row in data["parameters"][:top]:
            table.add_row(
                row["name"],
                f"{row['S1']:.3f}",
                f"{row['S1_conf']:.3f}",
                f"{row['ST']:.3f}",
                f"{row['ST_conf']:.3f}",
            )
        Console().print(table)
        conv = data["convergence"]
        change = conv["max_abs_change_ST_half_to_full"]
        Console().print(
            f"Convergence: widest 95 % interval {conv['max_ST_conf']:.3f} (ST) "
            f"against a largest index of {conv['max_index']:.3f}; largest change "
            f"of ST from half to the full sample {change:.3f}."
        )
