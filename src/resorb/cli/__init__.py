"""The ``resorb`` command line (Typer), a thin layer over the public API.

Every command that computes something takes ``--json`` and then prints one JSON
object on stdout. Bad input exits with code 2 and one line on stderr naming the
field; no traceback reaches the user (set ``RESORB_DEBUG=1`` to see one).

Command groups live in private modules, each with a ``register(app)``
function; heavy imports happen inside the commands so that ``resorb --help``
stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from resorb.cli._common import fail
from resorb.errors import MissingExtraError, ResorbError

try:  # Typer >= 0.2x ships its own copy of click
    from typer._click import exceptions as _click_exc
except ImportError:  # pragma: no cover - older Typer uses click itself
    from click import exceptions as _click_exc  # type: ignore[no-redef]

__all__ = ["app", "main"]

app = typer.Typer(
    name="resorb",
    help="Decision support and research software for spontaneous resorption of lumbar disc "
    "herniation. Not a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules that add commands; each defines ``register(app)``.
_COMMAND_MODULES = (
    "resorb.cli._scores",
    "resorb.cli._imaging",
    "resorb.cli._registry",
    "resorb.cli._pacs",
    "resorb.cli._evidence",
    "resorb.cli._therapy",
    "resorb.cli._assess",
    "resorb.cli._web",
    "resorb.cli._mechanism",
    "resorb.cli._cohort",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _print_version(value: bool) -> None:
    """``--version``: print the version and stop before any command is looked for."""
    if value:
        from resorb import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        is_eager=True,
        callback=_print_version,
    ),
) -> None:
    """Decision support and research software for spontaneous resorption of lumbar disc
    herniation. Not a medical device."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``resorb`` script."""
    debug = bool(os.environ.get("RESORB_DEBUG"))
    try:
        rv = app(args=argv, prog_name="resorb", standalone_mode=False)
    except _click_exc.NoArgsIsHelpError as exc:
        # Bare ``resorb`` or a bare group: show the help, as a usage error would.
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else "")
        raise SystemExit(2) from None
    except _click_exc.UsageError as exc:
        if debug:
            raise
        fail(exc.format_message().replace("\n", " "))
    except typer.Abort:
        fail("aborted", code=130)
    except MissingExtraError as exc:
        fail(str(exc))
    except ResorbError as exc:
        if debug:
            raise
        fail(str(exc))
    except (OSError, ValueError) as exc:
        if debug:
            raise
        fail(f"{exc.__class__.__name__}: {exc}")
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except Exception as exc:  # an internal error: one line, exit 1
        if debug:
            raise
        fail(
            f"internal error ({exc.__class__.__name__}: {exc}); "
            "rerun with RESORB_DEBUG=1 and report it",
            code=1,
        )
    if isinstance(rv, int) and rv != 0:
        sys.exit(rv)
