"""Atomic file writes: a file appears complete or not at all.

Every writer in resorb (reports, model files, cohort tables, registry exports)
goes through here. The data are written to a temporary file in the target's
own folder (so the final rename stays on one file system), flushed and
fsynced, then renamed over the target with :func:`os.replace`. On any error
the temporary file is removed and an existing target is left as it was.

The new file gets the permissions of the file it replaces, or for a new file
the ordinary ones (0o666 less the umask) rather than the 0o600 of
:func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_writer", "write_atomic"]


def _temp_path(target: Path) -> tuple[int, Path]:
    folder = target.parent if str(target.parent) else Path(".")
    for _ in range(100):
        tmp = folder / f".{target.name}.{secrets.token_hex(6)}.part"
        try:
            # O_EXCL: never reuse a name; mode 0o666 lets the kernel apply the umask.
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            )
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        return fd, tmp
    raise FileExistsError(f"no free temporary name beside {target}")  # pragma: no cover


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort; not every platform allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    *,
    binary: bool = False,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces ``path`` when the block ends.

    For writers that stream (``DataFrame.to_parquet(fh)``, ``csv.writer``). If the
    block raises, ``path`` is untouched and the temporary file is removed.

    Parameters
    ----------
    path : path-like
        The file to write; its folder must exist.
    binary : bool, keyword-only
        Yield a binary file (``"wb"``) instead of a text file.
    encoding, newline : keyword-only
        As for :func:`open`, text mode only.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
    >>> with atomic_writer(out, newline="") as fh:
    ...     _ = fh.write("a,b\\n1,2\\n")
    >>> out.read_text()
    'a,b\\n1,2\\n'
    """
    target = Path(path)
    fd, tmp = _temp_path(target)
    fh: IO[Any]
    try:
        if binary:
            fh = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(tmp.parent)


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    The file appears complete or not at all: on any error the temporary file
    is removed and an existing ``path`` is left as it was.

    Parameters
    ----------
    path : path-like
        The file to write; its folder must exist.
    data : str or bytes
        Text is written as UTF-8, unchanged (no newline translation).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_writer(path, binary=True) as fh:
        fh.write(payload)
    return Path(path)
