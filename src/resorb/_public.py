"""Show exported objects under their public path.

A subpackage calls :func:`publish` at the end of its ``__init__``: every class
and function it exports from one of its private modules (``_name``) then
reports the subpackage as its ``__module__``, so reprs, ``help()`` and the API
reference say ``resorb.prognosis.ResorptionEstimate`` rather than
``resorb.prognosis._probability.ResorptionEstimate``.

:func:`typing.get_type_hints` reads a class's string annotations in the module
named by ``__module__``; so that they stay resolvable, :func:`publish` first
evaluates each class's own annotations in the module that wrote them (an
annotation naming something imported only for type checkers stays a string,
as it was). Pydantic models keep their defining module: pydantic resolves
their fields there.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["defined_in", "publish"]

#: Published object -> the private module that defines it.
_DEFINED_IN: dict[object, str] = {}


def _is_pydantic_model(obj: type) -> bool:
    return any(base.__module__.startswith("pydantic") for base in obj.__mro__[1:])


def _resolve_annotations(cls: type) -> None:
    own = vars(cls).get("__annotations__")  # the class's own dict, changed in place
    if not own:
        return
    module_globals = vars(sys.modules[cls.__module__])
    local = dict(vars(cls))
    for key, value in list(own.items()):
        if isinstance(value, str):
            # A name only type checkers import stays a string, as before.
            with contextlib.suppress(Exception):
                own[key] = eval(value, module_globals, local)


def publish(package: str, namespace: Mapping[str, Any]) -> None:
    """Set ``__module__`` of the exports of ``package`` defined in its private modules."""
    prefix = package + "._"
    for name in namespace.get("__all__", ()):
        obj = namespace[name]
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not (getattr(obj, "__module__", "") or "").startswith(prefix):
            continue
        if inspect.isclass(obj):
            if _is_pydantic_model(obj):
                continue
            _resolve_annotations(obj)
        _DEFINED_IN[obj] = obj.__module__
        obj.__module__ = package


def defined_in(obj: object) -> str:
    """The module that defines a published object (its ``__module__`` otherwise)."""
    return _DEFINED_IN.get(obj, getattr(obj, "__module__", ""))
