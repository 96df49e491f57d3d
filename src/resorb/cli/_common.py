"""Shared plumbing of the command line: output, JSON encoding, error reporting."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from resorb._json import to_jsonable

__all__ = ["check_output_path", "emit", "fail", "print_table", "to_jsonable"]


def emit(
    data: Mapping[str, Any],
    *,
    as_json: bool,
    render: Callable[[Mapping[str, Any]], None] | None = None,
) -> None:
    """Print a result: one JSON object with ``--json``, else a readable table."""
    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(data), ensure_ascii=False) + "\n")
        return
    if render is not None:
        render(data)
    else:
        print_table(data)


def print_table(data: Mapping[str, Any], title: str | None = None) -> None:
    """Two-column table of the top-level keys of a result."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in to_jsonable(data).items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False)
        table.add_row(str(key), str(value))
    Console().print(table)


def check_output_path(path: Path | None, option: str) -> None:
    """Refuse an output path whose folder is missing, before any work is done.

    Raises
    ------
    InvalidInputError
        Named after ``option``: the folder does not exist, or ``path`` is a folder.
    """
    from resorb.errors import InvalidInputError

    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidInputError(
            option, f"folder {folder} does not exist", allowed="a file path in an existing folder"
        )
    if path.is_dir():
        raise InvalidInputError(option, f"{path} is a folder", allowed="a file path")


#: Characters that end a line for str.splitlines() or a terminal, plus the other
#: C0/C1 controls (escape sequences): never printed raw in an error line.
_UNPRINTABLE = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit (2 = bad input).

    Control characters in the message (a line break or an escape sequence
    quoted from a hostile file) are shown escaped, so the refusal stays one line.
    """
    sys.stderr.write(f"resorb: error: {str(message).translate(_UNPRINTABLE)}\n")
    raise SystemExit(code)
