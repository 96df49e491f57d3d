"""``resorb evidence ...``: browse the evidence base."""

from __future__ import annotations

from typing import Any

import typer

from resorb.cli._common import emit
from resorb.errors import InvalidInputError

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object.")
_KINDS = ("source", "value", "statement")


def _render_list(data: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=True, box=None, pad_edge=False)
    for col in ("kind", "id", "confidence"):
        table.add_column(col, no_wrap=True)
    table.add_column("summary")
    for rec in data["records"]:
        table.add_row(rec["kind"], rec["id"], rec.get("confidence") or "", escape(rec["summary"]))
    Console().print(table)
    Console().print(f"{data['count']} records")


def _render_record(data: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            value = "; ".join(
                ", ".join(f"{k} {v}" for k, v in item.items())
                if isinstance(item, dict)
                else str(item)
                for item in value
            )
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        table.add_row(str(key), escape(str(value)))
    Console().print(table)


def register(app: typer.Typer) -> None:
    evidence = typer.Typer(
        help="The evidence base: studies, numbers and recommendations "
        "with their DOI/PMID and confidence.",
        no_args_is_help=True,
    )
    app.add_typer(evidence, name="evidence")

    @evidence.command("list")
    def list_(
        kind: str = typer.Option(
            None, "--kind", help="Only records of this kind: source, value or statement."
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """List the records of the evidence base."""
        from resorb.evidence import load_evidence

        if kind is not None and kind not in _KINDS:
            raise InvalidInputError(
                "--kind", f"{kind!r} is not a record kind", allowed=", ".join(_KINDS)
            )
        base = load_evidence()
        records = []
        if kind in (None, "source"):
            records += [
                {
                    "kind": "source",
                    "id": s.id,
                    "confidence": None,
                    "summary": f"{s.short}: {s.title}",
                    "citation": s.citation,
                }
                for s in base.sources.values()
            ]
        if kind in (None, "value"):
            records += [
                {
                    "kind": "value",
                    "id": v.id,
                    "confidence": v.confidence.value,
                    "summary": v.quantity,
                    "citation": list(v.citations),
                }
                for v in base.values.values()
            ]
        if kind in (None, "statement"):
            records += [
                {
                    "kind": "statement",
                    "id": s.id,
                    "confidence": s.confidence.value,
                    "summary": s.text[:100],
                    "citation": list(s.citations),
                }
                for s in base.statements.values()
            ]
        emit({"count": len(records), "records": records}, as_json=as_json, render=_render_list)

    @evidence.command("show")
    def show(
        record_id: str = typer.Argument(
            ..., metavar="ID", help="Id of a source, value or statement."
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Show one source, value or statement with its provenance."""
        from resorb.evidence import load_evidence

        base = load_evidence()
        record = None
        for table in (base.values, base.sources, base.statements):
            if record_id in table:
                record = table[record_id]
        if record is None:
            raise InvalidInputError(
                "ID",
                f"{record_id!r} is not in the evidence base",
                allowed="an id listed by 'resorb evidence list'",
            )
        emit(record.to_dict(), as_json=as_json, render=_render_record)
