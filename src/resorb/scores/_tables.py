"""Score tables read lazily from the evidence base (one copy of every number).

Importing :mod:`resorb.scores` must stay cheap (the case model imports it), so
the tables are views that read ``resorb.evidence`` on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar, overload

T = TypeVar("T")


def _value(value_id: str) -> Any:
    from resorb.evidence import evidence_value

    return evidence_value(value_id).value


class LazyMapping(Mapping[str, T]):
    """Read-only mapping built by ``build`` on first access."""

    def __init__(self, build: Callable[[], Mapping[str, T]]) -> None:
        self._build = cache(build)

    def __getitem__(self, key: str) -> T:
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return repr(dict(self._build()))


class LazySequence(Sequence[T]):
    """Read-only tuple built by ``build`` on first access."""

    def __init__(self, build: Callable[[], tuple[T, ...]]) -> None:
        self._build = cache(build)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        return self._build()[index]

    def __len__(self) -> int:
        return len(self._build())

    def __eq__(self, other: object) -> bool:
        return tuple(self._build()) == (tuple(other) if isinstance(other, Sequence) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._build())
