"""Bounded fuzzing of the files users hand resorb, through the CLI (issue 11, item 6).

Hypothesis draws the seeds of the mutational generators in ``inputs.py`` (case
files, registry CSVs, masks); every input must end in a result (exit 0) or a
refusal on exactly one stderr line (exit 2): no crash, no traceback, no
library warning before the error line, no hang. CI runs a few dozen inputs of
each kind; the campaign of 10,000+ inputs is ``python tests/fuzz/campaign.py
--n 10000`` (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inputs import run_cli, write_inputs

EXAMPLES = int(os.environ.get("RESORB_FUZZ_EXAMPLES", "20"))
_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory):
    from resorb.registry import Registry

    path = tmp_path_factory.mktemp("fuzz-registry") / "template.db"
    reg = Registry(f"sqlite:///{path}")
    reg.upgrade()
    reg.close()
    return path


def _check(kind: str, seed: int, folder, template) -> None:
    argv = write_inputs(folder, kind, random.Random(seed), registry_template=template)
    outcome, code, err, _ = run_cli(argv, timeout_s=30)
    assert outcome in ("ok", "refused"), f"{kind} seed {seed}: {outcome} (exit {code}): {err}"


@pytest.mark.slow
@_SETTINGS
@given(seed=st.integers(0, 2**40))
def test_fuzzed_case_files_give_a_result_or_one_line(seed, tmp_path_factory):
    _check("case", seed, tmp_path_factory.mktemp("case"), None)


@pytest.mark.slow
@_SETTINGS
@given(seed=st.integers(0, 2**40))
def test_fuzzed_registry_csvs_give_a_result_or_one_line(seed, tmp_path_factory, registry_template):
    _check("csv", seed, tmp_path_factory.mktemp("csv"), registry_template)


@pytest.mark.slow
@_SETTINGS
@given(seed=st.integers(0, 2**40))
def test_fuzzed_masks_give_a_result_or_one_line(seed, tmp_path_factory):
    _check("mask", seed, tmp_path_factory.mktemp("mask"), None)


@pytest.mark.parametrize(
    "name, text",
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("deep.yaml", "a:\n" + "".join("  " * i + "- \n" for i in range(1, 300))),
        (
            "bomb.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
            "herniation: {level: L5-S1, morphology: extrusion}\n",
        ),
        (
            "big.json",
            '{"herniation": {"level": "L5-S1", "morphology": "extrusion"}, "mri": ['
            + '{"date": "2026-01-01", "volume_mm3": 1},' * 150_000
            + '{"date": "2026-01-01", "volume_mm3": 1}]}',
        ),
        (
            "bigint.json",
            '{"herniation": {"level": "L5-S1", "morphology": "extrusion"}, '
            '"patient": {"age_years": 1' + "0" * 5000 + "}}",
        ),
    ],
)
def test_hostile_case_files_are_refused_on_one_line_quickly(tmp_path, name, text):
    """Findings: deeply nested YAML gave a RecursionError; a 6 MB case file took
    23-55 s to parse. Both are now refused on one line before any deep work."""
    path = tmp_path / name
    path.write_text(text)
    outcome, code, err, _ = run_cli(["assess", str(path), "--json"], timeout_s=30)
    assert outcome == "refused" and code == 2, err
    assert "Recursion" not in err
