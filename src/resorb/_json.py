"""The one conversion of resorb results into plain JSON types.

Used by every layer that hands data to JSON (command line, web API, stored
assessments, audit entries, reports), so that a date, an enum or a NaN reads
the same wherever it is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

__all__ = ["to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Convert a result into plain JSON types (a deep copy).

    Dataclasses become objects, enums their value, dates and times ISO
    strings, paths strings, decimals floats, numpy scalars and arrays Python
    numbers and lists, and a NaN or infinite float ``null``.

    Examples
    --------
    >>> import datetime as dt
    >>> to_jsonable({"date": dt.date(2024, 1, 2), "x": float("nan"), "t": (1, 2)})
    {'date': '2024-01-02', 'x': None, 't': [1, 2]}
    """
    kind = type(obj)
    # Fast paths first: an assessment holds thousands of plain numbers and strings
    # (forecast curves), and the generic checks below cost more than the value.
    if kind is str or kind is int or kind is bool or obj is None:
        return obj
    if kind is float:
        return obj if math.isfinite(obj) else None
    if kind is list or kind is tuple:
        return [to_jsonable(v) for v in obj]
    if kind is dict:
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, dt.date | dt.datetime | dt.time):
        return obj.isoformat()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, decimal.Decimal):
        return to_jsonable(float(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars
        return to_jsonable(obj.tolist())
    return obj
