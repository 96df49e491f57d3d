"""Run the ``resorb`` command in-process, as the tests of every area do.

Importable from any test module (``pythonpath = ["tests"]`` in pyproject.toml).
"""

from __future__ import annotations

import io
import sys

from resorb.cli import main

__all__ = ["run_cli"]


def run_cli(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``resorb ARGV``; ``stdin`` needs ``monkeypatch``."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        # SystemExit(None) is success; a message instead of a code is a failure.
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
