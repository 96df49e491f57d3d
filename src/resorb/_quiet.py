"""Library warnings and log messages off while reading or de-identifying files.

nibabel prints its header fixes to stderr through its own handler and pydicom
logs and warns about odd values, often quoting them (a value may be a name or
an ID). Readers and the de-identifier run inside :func:`silenced_libraries`, so
that a refusal is one line naming the problem, never a library message before
it. One place for the list of such libraries, below every package that reads
files (imaging, interop).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

__all__ = ["LIBRARY_LOGGERS", "silenced_libraries"]

#: Loggers of the libraries that report header problems.
LIBRARY_LOGGERS = ("nibabel", "nibabel.global", "pydicom")


@contextlib.contextmanager
def silenced_libraries() -> Iterator[None]:
    """Library warnings and log messages off for the duration (restored afterwards)."""
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
