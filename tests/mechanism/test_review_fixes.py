"""Behaviours fixed after the review of the mechanistic simulator (issue 4).

Each test would have failed on the code before its fix.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cli_helpers import run_cli
from resorb.domain import HerniationMorphology
from resorb.errors import InvalidInputError, ModelError
from resorb.mechanism import (
    MAX_DAYS,
    SEED_BLOCK,
    load_model,
    parse_therapy,
    simulate,
    simulate_cohort,
)
from resorb.mechanism._codegen import step_failure_message

run = run_cli


# -- finding 4: repeated doses were silently overwritten ----------------------------------


def test_a_therapy_given_twice_is_refused_not_overwritten():
    with pytest.raises(InvalidInputError, match="given twice; repeated dosing is not modelled"):
        simulate("extrusion", days=100, therapies=["anti_tnf@30", "anti_tnf@90"])
    with pytest.raises(InvalidInputError, match="therapy"):
        simulate_cohort("extrusion", 10, therapies=["nsaid", "nsaid@5"])


def test_two_different_therapies_are_still_accepted():
    r = simulate("extrusion", days=60, method="batch", therapies=["nsaid", "anti_tnf@30"])
    assert [t["id"] for t in r.condition["therapies"]] == ["nsaid", "anti_tnf"]


# -- finding 6: non-finite and unbounded inputs ----------------------------------------------


@pytest.mark.parametrize("text", ["nsaid@inf", "nsaid@nan", "nsaid@-1", "nsaid@1e9"])
def test_therapy_start_day_must_be_finite_and_bounded(text):
    with pytest.raises(InvalidInputError) as info:
        parse_therapy(text)
    assert info.value.field == "therapy"
    assert "is negative" not in str(info.value)  # nan used to be called negative
    assert f"{MAX_DAYS:g}" in str(info.value)


@pytest.mark.parametrize("days", [0, -1, math.inf, math.nan, 1e9, MAX_DAYS + 1])
def test_simulation_horizon_is_finite_and_bounded(days):
    with pytest.raises(InvalidInputError) as info:
        simulate("extrusion", days=days)
    assert info.value.field == "days"


def test_cohort_and_sensitivity_horizons_are_bounded():
    from resorb.mechanism import sobol_sensitivity

    with pytest.raises(InvalidInputError) as info:
        simulate_cohort("extrusion", 10, t_days=[0, 365, 1e7])
    assert info.value.field == "t_days"
    with pytest.raises(InvalidInputError) as info:
        simulate_cohort("extrusion", 10, t_days=[0, math.inf])
    assert info.value.field == "t_days"
    for day in (math.inf, 1e7, math.nan):
        with pytest.raises(InvalidInputError) as info:
            sobol_sensitivity("extrusion", n=8, day=day)
        assert info.value.field == "day"


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["simulate", "-m", "extrusion", "--days", "1e9"], "days"),
        (["simulate", "-m", "extrusion", "--days", "inf"], "days"),
        (["simulate", "-m", "extrusion", "--cohort", "10", "--days", "1e7"], "days"),
        (["simulate", "-m", "extrusion", "-t", "nsaid@inf"], "therapy"),
        (["simulate", "-m", "extrusion", "-t", "nsaid@nan"], "therapy"),
        (["simulate", "-m", "extrusion", "-t", "anti_tnf@30", "-t", "anti_tnf@90"], "therapy"),
        (["model", "sensitivity", "--day", "inf"], "day"),
        (["model", "sensitivity", "--day", "1e7"], "day"),
        # finding 5: cohort mode used to start the progress bar before validating
        (["simulate", "-m", "disc", "--cohort", "10"], "morphology"),
        (["simulate", "-m", "extrusion", "-t", "nsaid@x", "--cohort", "10"], "therapy"),
        (["simulate", "-m", "extrusion", "-t", "unicorn", "--cohort", "10"], "therapy"),
    ],
)
def test_bad_input_gives_exit_2_and_exactly_one_line_naming_the_field(capsys, argv, field):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"{field}:" in lines[0]


# -- finding 16: CLI paths and scheduler ------------------------------------------------------


def test_sbml_out_that_is_a_folder_gives_one_line_naming_out(capsys, tmp_path):
    code, _, err = run(capsys, "model", "sbml", "-m", "extrusion", str(tmp_path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "OUT:" in lines[0] and "directory" in lines[0]


def test_unreachable_scheduler_is_named_in_one_line(capsys, monkeypatch):
    # port 9 (discard) on localhost: nothing listens, the connection is refused; the
    # client retries until the timeout (10 s by default, 2 s here to keep the test short)
    import resorb.mechanism._cohort as cohort_module

    monkeypatch.setattr(cohort_module, "SCHEDULER_TIMEOUT_S", 2)
    code, _, err = run(
        capsys,
        "simulate",
        "-m",
        "extrusion",
        "--cohort",
        "10",
        "--json",
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "scheduler:" in lines[0]


def test_sbml_module_option_switches_the_module_on(capsys, tmp_path):
    import libsbml

    path = tmp_path / "m.xml"
    code, out, err = run(
        capsys, "model", "sbml", "-m", "extrusion", "--module", "ferroptosis", str(path), "--json"
    )
    assert code == 0, err
    assert "ferroptosis" in err  # the hypothesis warning, once
    doc = libsbml.readSBMLFromFile(str(path))
    assert doc.getModel().getParameter("module_ferroptosis").getValue() == 1.0
    assert json.loads(out)["modules"] == ["ferroptosis"]


# -- finding 7: the enum crashed simulate_cohort ----------------------------------------------


def test_cohort_accepts_the_morphology_enum():
    a = simulate_cohort(HerniationMorphology.SEQUESTRATION, 30, seed=4)
    b = simulate_cohort("sequestration", 30, seed=4)
    assert a.morphology == "sequestration"
    np.testing.assert_array_equal(a.volume_fraction, b.volume_fraction)


# -- finding 8: the cohort depended on chunk_size ---------------------------------------------


def test_the_same_seed_gives_the_same_cohort_whatever_the_chunk_size():
    n = SEED_BLOCK + 250  # spans two seeded blocks
    whole = simulate_cohort("extrusion", n, seed=11, t_days=[0, 365])
    small = simulate_cohort("extrusion", n, seed=11, t_days=[0, 365], chunk_size=333)
    np.testing.assert_array_equal(whole.exposure, small.exposure)
    np.testing.assert_array_equal(whole.volume_fraction, small.volume_fraction)
    # a smaller cohort is the prefix of a larger one with the same seed
    prefix = simulate_cohort("extrusion", 40, seed=11, t_days=[0, 365], chunk_size=7)
    np.testing.assert_array_equal(prefix.exposure, whole.exposure[:40])


# -- finding 3: cohort provenance ---------------------------------------------------------------


def test_cohort_records_version_parameters_variability_therapies_chunking_and_seed(tmp_path):
    import pyarrow.parquet as pq

    from resorb import __version__

    model = load_model()
    res = simulate_cohort(
        "protrusion",
        20,
        seed=5,
        therapies=["anti_tnf@45"],
        chunk_size=8,
        parameters={"k_deg": 0.12},
    )
    prov = res.summary()["provenance"]
    assert prov["version"] == __version__
    assert set(prov["base_parameters"]) == set(model.parameter_names)
    assert prov["base_parameters"]["k_deg"] == 0.12
    assert prov["overrides"]["k_deg"] == 0.12
    assert prov["overrides"]["anti_tnf_start_day"] == 45.0
    assert [(x["id"], x["start_day"]) for x in prov["therapies"]] == [("anti_tnf", 45.0)]
    assert {k: v["cv"] for k, v in prov["variability"].items()} == {
        k: float(v["cv"]) for k, v in model.variability.items()
    }
    assert prov["exposure_distribution"]["mean"] == model.morphologies["protrusion"]["exposure"]
    assert (prov["seed"], prov["chunk_size"], prov["seed_block"]) == (5, 8, SEED_BLOCK)
    # default regimen start days are resolved too
    default = simulate_cohort("extrusion", 5, seed=1, therapies=["epidural_steroid"])
    assert [(x["id"], x["start_day"]) for x in default.provenance["therapies"]] == [
        ("epidural_steroid", model.therapies["epidural_steroid"].start_day)
    ]
    path = tmp_path / "c.parquet"
    res.to_parquet(path)
    meta = json.loads(pq.read_table(path).schema.metadata[b"resorb.cohort"])
    assert meta["provenance"] == json.loads(json.dumps(prov))


# -- finding 16: one-shot module iterators, failed integrator steps ---------------------------


def test_a_generator_of_modules_is_recorded_in_the_provenance():
    from resorb.errors import HypothesisModuleWarning

    with pytest.warns(HypothesisModuleWarning):
        r = simulate("extrusion", days=30, method="batch", modules=(m for m in ["autophagy"]))
    assert r.condition["modules"] == ["autophagy"]
    assert r.parameters["module_autophagy"] == 1.0


def test_batch_integrator_reports_a_step_it_cannot_take_instead_of_accepting_it():
    """A non-finite right-hand side (k_deg = nan) used to shrink the step to 1e-10 and
    then accept it silently, returning NaN volumes; now the integrator returns -2."""
    with pytest.raises(ModelError, match="smallest step size"):
        simulate("extrusion", days=30, method="batch", parameters={"k_deg": math.nan})
    assert "step limit" in step_failure_message(-1)


# -- finding 9: extrapolated therapy effects are labelled -------------------------------------


def test_every_therapy_states_its_evidence_and_extrapolation_with_resolvable_sources():
    from resorb.evidence import evidence_source

    model = load_model()
    for tid, spec in model.therapies.items():
        assert spec.evidence and spec.extrapolation, tid
        assert spec.evidence_sources, tid
        for sid in spec.evidence_sources:
            evidence_source(sid)  # raises EvidenceError if unknown
    assert "no human" in model.therapies["nsaid"].evidence
    assert "no human" in model.therapies["oral_steroid"].evidence
    assert "rat data only" in model.therapies["macrophage_therapy"].evidence
    assert "did not" in model.therapies["epidural_steroid"].evidence
    assert "did not" in model.therapies["anti_tnf"].evidence


def test_simulate_output_carries_the_therapy_evidence(capsys, monkeypatch):
    code, out, err = run(
        capsys, "simulate", "-m", "extrusion", "-t", "oral_steroid", "--days", "60", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    (row,) = data["therapy_evidence"]
    assert row["id"] == "oral_steroid" and "extrapolation" in row["extrapolation"]
    assert data["therapies"][0]["extrapolation"] == row["extrapolation"]
    code, out, err = run(
        capsys,
        "simulate",
        "-m",
        "extrusion",
        "-t",
        "macrophage_therapy",
        "--cohort",
        "20",
        "--json",
    )
    assert code == 0, err
    assert "rat data only" in json.loads(out)["therapy_evidence"][0]["evidence"]
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run(capsys, "simulate", "-m", "extrusion", "-t", "nsaid", "--days", "30")
    assert code == 0, err
    assert "extrapolat" in out and "no human data" in out
