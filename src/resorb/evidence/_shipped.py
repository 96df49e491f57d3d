"""The evidence base shipped with resorb: validated once, then read from a cache.

Validating the YAML files builds pydantic models, which costs more CPU than a
short command needs for the whole rest of its work (``resorb volume`` checks
its result against a plausibility bound of the evidence base). So the
validated base is kept in a cache file keyed by a SHA-256 of the data files and
of the code that validates them: any change to either validates afresh. The
cache is a pickle read with an unpickler that only builds the evidence record
types, so a tampered file cannot run code; a file that is unreadable, corrupt
or of another version is ignored and replaced.

The cache folder is ``$RESORB_CACHE_DIR/evidence`` when that variable is set,
else ``$XDG_CACHE_HOME/resorb/evidence`` (default ``~/.cache/resorb/evidence``);
when it cannot be written, the base is validated on every first use.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from resorb.errors import EvidenceError
from resorb.evidence import _types
from resorb.evidence._types import EvidenceBase

__all__ = ["cache_dir", "load_evidence", "load_evidence_files"]

_FORMAT = b"resorb-evidence-cache-1"


def cache_dir() -> Path:
    """Folder of the validated-evidence cache (see the module notes)."""
    env = os.environ.get("RESORB_CACHE_DIR")
    if env:
        return Path(env) / "evidence"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "resorb" / "evidence"


def _proxy(items: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(items)


_ALLOWED: dict[str, set[str]] = {
    "resorb.evidence": {
        "Confidence",
        "EvidenceBase",
        "EvidenceSource",
        "EvidenceStatement",
        "EvidenceValue",
    },
    "resorb.evidence._types": {
        "Confidence",
        "EvidenceBase",
        "EvidenceSource",
        "EvidenceStatement",
        "EvidenceValue",
    },
    __name__: {"_proxy"},
}


class _Unpickler(pickle.Unpickler):
    """Builds only the evidence record types (and plain containers)."""

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not an evidence type")


def _dumps(base: EvidenceBase) -> bytes:
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {MappingProxyType: lambda m: (_proxy, (dict(m),))}
    pickler.dump(base)
    return buf.getvalue()


def _shipped_files() -> list[tuple[str, str]]:
    data = resources.files("resorb.evidence") / "data"
    files = [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(data.iterdir(), key=lambda e: e.name)
        if entry.name.endswith((".yaml", ".yml"))
    ]
    if not files:  # pragma: no cover - a broken installation
        raise EvidenceError("the evidence data files are missing from the installation")
    return files


def _key(files: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256(_FORMAT)
    code = Path(__file__).parent
    for module in ("_schema.py", "_types.py", "_shipped.py"):  # the code that builds the base
        digest.update((code / module).read_bytes())
    for name, text in files:
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _read_cache(path: Path) -> EvidenceBase | None:
    try:
        with path.open("rb") as fh:
            if fh.read(len(_FORMAT)) != _FORMAT:
                return None
            base = _Unpickler(fh).load()
    except (
        OSError,
        EOFError,
        pickle.UnpicklingError,
        AttributeError,
        TypeError,
        ValueError,
        IndexError,
        KeyError,
    ):
        return None
    return base if isinstance(base, _types.EvidenceBase) else None


def _write_cache(path: Path, base: EvidenceBase) -> None:
    from resorb._atomic import write_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, _FORMAT + _dumps(base))
    except (OSError, pickle.PicklingError):  # a read-only home: validate next time again
        return


@cache
def load_evidence() -> EvidenceBase:
    """The evidence base shipped with resorb (validated once, then cached).

    Examples
    --------
    >>> base = load_evidence()
    >>> base.values["regression_rate_extrusion_zou2023"].value
    0.6691
    """
    files = _shipped_files()
    path = cache_dir() / f"{_key(files)}.pickle"
    base = _read_cache(path)
    if base is None:
        from resorb.evidence._schema import build_evidence

        base = build_evidence(files)
        _write_cache(path, base)
    return base


def load_evidence_files(paths: Iterable[str | os.PathLike[str]]) -> EvidenceBase:
    """Validate other evidence files (YAML) into a base, as the shipped ones are.

    Raises
    ------
    EvidenceError
        Naming the file, the record and the field that failed.
    """
    from resorb.evidence._schema import read_evidence_files

    return read_evidence_files(paths)
