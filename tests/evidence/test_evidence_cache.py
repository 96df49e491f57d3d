"""The validated evidence base is cached; the cache never changes what is read.

A second process reads the base from the cache without validating (no pydantic
schema module imported), gets the same records, and a cache file that is
corrupt, of another format, or crafted to run code is ignored and replaced.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from resorb.evidence import _shipped
from resorb.evidence._schema import build_evidence

_PROBE = (
    "import json, sys\n"
    "from resorb.evidence import load_evidence\n"
    "b = load_evidence()\n"
    "print(json.dumps({'n': len(b), 'validated': 'resorb.evidence._schema' in sys.modules,\n"
    "  'zou': b.values['regression_rate_extrusion_zou2023'].value}))\n"
)


def _probe(cache: Path) -> dict:
    env = os.environ | {"RESORB_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True, env=env
    ).stdout
    return json.loads(out)


def _cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "evidence").glob("*.pickle"))


def test_second_process_reads_the_cache_without_validating(tmp_path):
    first = _probe(tmp_path)
    assert first["validated"] is True and len(_cache_files(tmp_path)) == 1
    second = _probe(tmp_path)
    assert second == first | {"validated": False}


def test_cached_base_equals_the_validated_one(tmp_path):
    files = _shipped._shipped_files()
    validated = build_evidence(files)
    path = tmp_path / "base.pickle"
    _shipped._write_cache(path, validated)
    assert _shipped._read_cache(path) == validated


def test_corrupt_or_foreign_cache_is_ignored_and_replaced(tmp_path):
    _probe(tmp_path)
    (path,) = _cache_files(tmp_path)
    path.write_bytes(b"resorb-evidence-cache-1" + b"not a pickle")
    assert _probe(tmp_path)["validated"] is True
    # A pickle that would run code when loaded is refused, not executed.
    evil = pickle.dumps(os.system)
    path.write_bytes(b"resorb-evidence-cache-1" + evil)
    assert _shipped._read_cache(path) is None
    assert _probe(tmp_path)["validated"] is True
    assert _shipped._read_cache(path) is not None  # rewritten


def test_an_unwritable_cache_folder_only_costs_time(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    result = _probe(blocked)
    assert result["validated"] is True and result["n"] > 100
