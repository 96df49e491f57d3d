"""``resorb therapy ...``: the therapy catalogue."""

from __future__ import annotations

from typing import Any

import typer

from resorb.cli._common import emit

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object.")


def _render_list(data: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=True, box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    for col in ("name", "status", "symptoms", "resorption", "guideline"):
        table.add_column(col, overflow="fold")
    for t in data["therapies"]:
        table.add_row(
            *(
                escape(str(t[k]))
                for k in ("id", "name", "status", "symptoms", "resorption", "guideline")
            )
        )
    Console().print(table)


def _render_therapy(data: Any) -> None:
    from rich.console import Console
    from rich.markup import escape

    con = Console()
    con.print(f"[bold]{escape(data['name'])}[/bold] ({data['id']}; {data['status']})")
    con.print(escape(data["description"]))
    for part in ("symptoms", "resorption"):
        con.print(f"\n[bold]Evidence on {part}[/bold]")
        for f in data[part]:
            cites = ", ".join("/".join(f"{k} {v}" for k, v in c.items()) for c in f["citations"])
            con.print(
                escape(
                    f"- [{f['direction']}; {f['certainty']}] {f['finding']}"
                    + (f" ({cites})" if cites else "")
                )
            )
    if data["guideline"]:
        con.print("\n[bold]Guidelines[/bold]")
        for g in data["guideline"]:
            con.print(escape(f"- {g['body']}: {g['stance']} ({g['confidence']})"))
    targets = ", ".join(f"{t['target']}:{t['action']}" for t in data["mechanism_targets"])
    con.print(f"\n[bold]Mechanism targets[/bold] {targets or 'none modelled'}")


def register(app: typer.Typer) -> None:
    therapy = typer.Typer(
        help="Therapy catalogue: evidence on symptoms and on resorption, "
        "guideline stance, mechanism targets.",
        no_args_is_help=True,
    )
    app.add_typer(therapy, name="therapy")

    @therapy.command("list")
    def list_(as_json: bool = JSON_OPT) -> None:
        """List the therapies of the catalogue."""
        from resorb.therapy import therapy_catalogue

        rows = []
        for t in therapy_catalogue().values():
            rows.append(
                {
                    "id": t.id,
                    "name": t.name,
                    "category": t.category,
                    "status": t.status,
                    "symptoms": ", ".join(sorted({f.direction for f in t.symptoms})),
                    "resorption": t.resorption_evidence_summary,
                    "guideline": "; ".join(f"{g.body}: {g.stance}" for g in t.guideline),
                }
            )
        emit({"count": len(rows), "therapies": rows}, as_json=as_json, render=_render_list)

    @therapy.command("show")
    def show(
        therapy_id: str = typer.Argument(..., metavar="ID", help="Therapy id or alias."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Show one therapy with its evidence."""
        from resorb.therapy import get_therapy

        emit(get_therapy(therapy_id).to_dict(), as_json=as_json, render=_render_therapy)
