"""``resorb assess CASE``: the assessment of one case, as a summary, JSON, HTML or PDF."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from resorb.cli._common import check_output_path, emit

__all__ = ["register"]


def _render_summary(d: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    from resorb.reports import change_in_words
    from resorb.reports import format_percent as _pct

    console = Console()
    findings = {row["field"]: row["value"] for row in d["case"]["herniation"]}
    title = f"{findings.get('level', '')} {findings.get('morphology', '')}".strip()
    t = d["triage"]
    if t["urgent_referral"]:
        heading = {
            "emergency": "EMERGENCY: SUSPECTED CAUDA EQUINA SYNDROME",
            "investigate": "INVESTIGATE SERIOUS PATHOLOGY FIRST",
        }.get(t.get("level"), "URGENT REFERRAL")
        body = (
            f"[bold red]{heading}[/]\n"
            + "\n".join(f"- {r['text']}" for r in t["reasons"])
            + f"\n{t['action']}"
        )
    else:
        body = "[green]No red flag recorded[/] (" + "; ".join(t["checked"]) + ")"
        if not t["action"].startswith("No red flag recorded:"):  # not asked, or check first
            body = f"[yellow]{t['action']}[/] (" + "; ".join(t["checked"]) + ")"
    console.print(Panel(body, title=f"resorb assessment: {title}", expand=False))
    for w in d.get("warnings") or []:
        console.print(f"[bold yellow]Check {w['field']}:[/] {w['message']}")
    r = d["resorption"]
    withheld = bool(r.get("withheld"))
    if withheld:
        console.print(
            "[bold]Resorption estimate and volume forecast:[/] withheld beside the referral."
        )
    else:
        console.print(
            f"[bold]Resorption within {r['horizon_months']:g} months:[/] "
            f"{_pct(r['probability'])} (95 % interval {_pct(r['interval'][0])}"
            f" - {_pct(r['interval'][1])}); model: {r.get('model', 'evidence')}"
            + ("; given the follow-up MRIs" if r.get("conditional_on_mri") else "")
        )
        if r.get("observed"):
            console.print(r["observed"]["statement"])
    if d["measurements"]:
        table = Table(title="MRI volumes", show_edge=False)
        for col in ("date", "volume mm3", "method", "change vs first", "grade", "beyond MDC"):
            table.add_column(col)
        for m in d["measurements"]:
            if m["baseline"]:
                table.add_row(m["date"], f"{m['volume_mm3']:.0f}", m["method"], "baseline", "", "")
            else:
                table.add_row(
                    m["date"],
                    f"{m['volume_mm3']:.0f}",
                    m["method"],
                    change_in_words(m["resorption_percent"]),
                    m["grade"],
                    "no" if m["within_mdc"] else "yes",
                )
        console.print(table)
    f = d["forecast"]
    if f.get("available") and not withheld:
        pts = ", ".join(
            f"{p['months_after_baseline']} mo {p['volume_mm3']:.0f} mm3 "
            f"[{p['interval_mm3'][0]:.0f}-{p['interval_mm3'][1]:.0f}]"
            for p in f["points"]
        )
        extra = ""
        if f.get("probability_complete_by_24_months") is not None:
            extra = (
                f"; complete resolution by 24 months "
                f"{_pct(f['probability_complete_by_24_months'])}; growth of >= 25 % by "
                f"12 months {_pct(f['probability_growth_by_12_months'])}"
            )
        console.print(
            f"[bold]Forecast[/] ({f['basis']}): {pts}; P(>= 50 % resorbed by 12 "
            f"months) {_pct(f['probability_50pct_by_12_months'])}{extra}"
            + (
                "; [bold yellow]growth beyond measurement error[/]"
                if f["growth"]["flagged"]
                else ""
            )
        )
    m = d["management"]
    table = Table(title=f"Management ({m['label']})", show_edge=False)
    for col in ("when", "step", "status"):
        table.add_column(col)
    for s in m["steps"]:
        status = "date passed" if s["status"] == "passed" else s["status"] or ""
        table.add_row(s["due_date"] or s["timing"], s["title"], status)
    console.print(table)
    given = d["therapies"]["given"]
    if given:

        def evidence(g) -> str:
            found = {x["direction"].replace("_", " ") for x in g["therapy"]["resorption"]}
            return ", ".join(sorted(found)) or "none"

        console.print(
            "[bold]Therapies:[/] "
            + "; ".join(
                f"{g['therapy']['name']} (resorption evidence: {evidence(g)})" for g in given
            )
        )
    console.print(f"[dim]{len(d['sources'])} sources; {d['disclaimer']}[/]")


def _load_model(path: Path):
    """A portable model file (``resorb cohort fit --save-model``)."""
    from resorb.cohort import load_portable_model

    return load_portable_model(path)


def register(app: typer.Typer) -> None:
    @app.command("assess")
    def assess(
        case_file: Path = typer.Argument(..., help="Case file (.yaml, .yml or .json)."),
        html: Path | None = typer.Option(None, "--html", help="Write the report as HTML."),
        pdf: Path | None = typer.Option(None, "--pdf", help="Write the report as PDF."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo steps."),
        model: Path | None = typer.Option(
            None,
            "--model",
            help="Portable prediction model fitted on a clinic's own data "
            "(resorb cohort); replaces the evidence model for the probability.",
        ),
    ) -> None:
        """Assess a case: resorption probability, triage, volumes, forecast, management."""
        from resorb.domain import Case
        from resorb.reports import assess_case, render_html, render_pdf, write_atomic

        for path, option in ((html, "--html"), (pdf, "--pdf")):
            if path is not None:
                check_output_path(path, option)
        case = Case.from_file(case_file)
        fitted = None
        if model is not None:
            fitted = _load_model(model)
        assessment = assess_case(case, model=fitted, seed=seed)
        if html is not None:
            write_atomic(html, render_html(assessment))
        if pdf is not None:
            render_pdf(assessment, pdf)
        emit(assessment.to_dict(), as_json=as_json, render=_render_summary)
