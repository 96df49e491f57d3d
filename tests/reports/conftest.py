"""Shared fixtures of the report tests: the example cases, assessed once per session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cases"
AS_OF = dt.date(2026, 11, 26)


@pytest.fixture(scope="session")
def example_paths() -> list[Path]:
    paths = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".json"))
    assert len(paths) >= 5
    return paths


@pytest.fixture(scope="session")
def assessments(example_paths):
    from resorb.domain import Case
    from resorb.reports import assess_case

    return {
        p.stem: assess_case(Case.from_file(p, today=AS_OF), seed=0, as_of=AS_OF)
        for p in example_paths
    }
