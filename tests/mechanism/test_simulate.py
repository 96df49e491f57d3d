"""Simulators: reference vs batch, tolerances, quasi-steady reduction, analytic decay, results."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from resorb.errors import InvalidInputError
from resorb.mechanism import SimulationResult, simulate, simulate_parameters
from resorb.mechanism._codegen import kernel_module
from resorb.mechanism._model import _build

ALL_MODULES = ("ferroptosis", "oxidative_stress", "autophagy")
DEPLETION = {"depletion_rate": 1.0, "depletion_start_day": 14.0, "depletion_end_day": 42.0}

# (morphology, therapies, hypothesis modules, parameter overrides)
CONDITIONS = [
    ("protrusion", (), (), {}),
    ("extrusion", (), (), {}),
    ("sequestration", (), (), {}),
    ("extrusion", ("epidural_steroid", "anti_tnf@45"), (), {}),
    ("extrusion", ("nsaid", "oral_steroid", "macrophage_therapy"), (), {}),
    # every hypothesis module on, plus a macrophage-depletion window (breakpoints)
    ("sequestration", ("anti_tnf",), ALL_MODULES, DEPLETION),
]


def _max_diff(a: SimulationResult, b: SimulationResult) -> float:
    return (
        max(
            float(np.max(np.abs(a.observables[k] - b.observables[k])))
            for k in a.observables
            if k != "macrophage_density_per_cm2"
        )
        + 0.0
    )


def _run(morphology, therapies, modules, parameters, **kwargs) -> SimulationResult:
    if not modules:
        return simulate(morphology, therapies=therapies, parameters=parameters, **kwargs)
    from resorb.errors import HypothesisModuleWarning

    with pytest.warns(HypothesisModuleWarning):
        return simulate(
            morphology, therapies=therapies, modules=modules, parameters=parameters, **kwargs
        )


@pytest.mark.parametrize(("morphology", "therapies", "modules", "parameters"), CONDITIONS)
def test_reference_and_batch_paths_agree_within_1e_4(morphology, therapies, modules, parameters):
    ref = _run(morphology, therapies, modules, parameters, rtol=1e-10, atol=1e-12)
    bat = _run(morphology, therapies, modules, parameters, method="batch", rtol=1e-9, atol=1e-11)
    if modules:  # the modules are really on: their states move
        assert ref.observables["lipid_peroxidation"].max() > 0
        assert ref.observables["autophagy"].max() > 0
    assert _max_diff(ref, bat) < 1e-4
    # the macrophage density is on a cells/cm2 scale (x100): compare relative to its peak
    mac_ref = ref.observables["macrophage_density_per_cm2"]
    mac_bat = bat.observables["macrophage_density_per_cm2"]
    assert np.max(np.abs(mac_ref - mac_bat)) / mac_ref.max() < 1e-4


def test_full_variant_on_the_batch_path_matches_the_stiff_reference():
    """The compiled Dormand-Prince kernel of the full model (fast mediators as states)
    against SciPy Radau on the same right-hand side, one therapy with a jump."""
    ref = simulate(
        "extrusion",
        therapies=["epidural_steroid"],
        variant="full",
        method="reference",
        solver_method="Radau",
        rtol=1e-10,
        atol=1e-12,
        days=365,
    )
    bat = simulate(
        "extrusion",
        therapies=["epidural_steroid"],
        variant="full",
        method="batch",
        rtol=1e-9,
        atol=1e-11,
        days=365,
    )
    assert bat.solver["variant"] == "full" and bat.solver["path"] == "batch"
    assert _max_diff(ref, bat) < 1e-4


def test_two_tolerances_of_the_reference_solver_agree():
    loose = simulate("extrusion", method="reference", rtol=1e-6, atol=1e-9)
    tight = simulate("extrusion", method="reference", rtol=1e-10, atol=1e-13)
    assert np.max(np.abs(loose.volume_fraction - tight.volume_fraction)) < 1e-4


def test_two_tolerances_of_the_batch_integrator_agree():
    loose = simulate("sequestration", method="batch", rtol=1e-5, atol=1e-8)
    tight = simulate("sequestration", method="batch", rtol=1e-10, atol=1e-13)
    assert np.max(np.abs(loose.volume_fraction - tight.volume_fraction)) < 1e-3


@pytest.mark.parametrize("morphology", ["extrusion", "sequestration"])
def test_quasi_steady_reduction_tracks_the_full_stiff_model(morphology):
    """Fast mediators (relaxation 1.2-20 /day at the defaults) quasi-steady vs as states (Radau).

    The reduction error is of the order of (slow rate / fast rate); over two
    years V/V0 stays within 0.01 and the rim proxy within 0.02 of the full model.
    """
    full = simulate(
        morphology, variant="full", method="reference", solver_method="Radau", rtol=1e-8, atol=1e-10
    )
    red = simulate(morphology, rtol=1e-8, atol=1e-10)
    assert np.max(np.abs(full.volume_fraction - red.volume_fraction)) < 0.01
    assert (
        np.max(np.abs(full.observables["rim_enhancement"] - red.observables["rim_enhancement"]))
        < 0.02
    )
    # and both shrink the hernia by a similar amount at 12 months
    assert abs(full.at(365) - red.at(365)) < 0.01


def _decay_model():
    spec = {
        "name": "decay",
        "families": {"f": {"module": "core", "hypothesis": False}},
        "morphologies": {
            m: {"exposure": 0.5, "kappa": 4.0}
            for m in ("bulge", "protrusion", "extrusion", "sequestration")
        },
        "parameters": {
            "k": {
                "value": 0.0123,
                "unit": "1/day",
                "prior": [0.001, 0.1],
                "family": "f",
                "confidence": "assumption",
                "source": "test",
            },
            "V0": {
                "value": 2.5,
                "unit": "1",
                "prior": [1, 5],
                "family": "f",
                "confidence": "assumption",
                "source": "test",
            },
            "exposure": {
                "value": 0.5,
                "unit": "1",
                "prior": [0, 1],
                "family": "f",
                "confidence": "assumption",
                "source": "test",
            },
        },
        "states": [{"name": "V", "initial": "V0", "unit": "1", "family": "f"}],
        "mediators": [],
        "auxiliaries": [],
        "forcings": [],
        "rates": {"V": "-k * V"},
        "observables": [{"name": "volume_fraction", "expr": "V", "unit": "1"}],
    }
    return _build(spec, {"classes": {}, "therapies": {}}, None)


def test_integrators_reproduce_first_order_decay_analytically():
    """V' = -k V from V0: both paths against V0 * exp(-k t) (Style example 12)."""
    m = _decay_model()
    t = np.arange(0.0, 731.0, 7.0)
    p = np.asarray(m.parameter_vector())
    exact = 2.5 * np.exp(-0.0123 * t)
    for method in ("reference", "batch"):
        out = simulate_parameters(m, p, t, method=method, rtol=1e-10, atol=1e-13)
        assert np.max(np.abs(out[:, 0] - exact)) < 1e-7, method
    # the batch integrator's dense output between steps is accurate too
    k = kernel_module(m)
    ts = np.linspace(0.0, 730.0, 1001)
    out = np.empty((ts.size, 1))
    steps = k.solve_one_reduced(p, ts, np.zeros(0), 1e-8, 1e-12, 365.0, 10000, np.array([0]), out)
    assert 0 < steps < ts.size  # far fewer steps than output points: interpolated
    assert np.max(np.abs(out[:, 0] - 2.5 * np.exp(-0.0123 * ts))) < 1e-6


def test_contained_tissue_without_exposure_does_not_resorb():
    r = simulate("extrusion", parameters={"exposure": 0.0}, method="batch")
    assert r.at(730) > 0.99


def test_result_records_parameters_solver_and_version_and_round_trips(tmp_path):
    from resorb import __version__

    r = simulate("extrusion", therapies=["epidural_steroid@40"], days=120, method="reference")
    assert r.version == __version__
    assert r.solver["path"] == "reference" and r.solver["method"] == "LSODA"
    assert r.solver["breakpoints_days"] == [40.0]
    assert r.parameters["epidural_steroid_start_day"] == 40.0
    assert r.condition["therapies"][0]["id"] == "epidural_steroid"
    back = SimulationResult.from_json(r.to_json())
    assert np.array_equal(back.volume_fraction, r.volume_fraction)
    assert back.parameters == r.parameters
    path = tmp_path / "run.parquet"
    r.to_parquet(path)
    pq = SimulationResult.from_parquet(path)
    assert np.allclose(pq.observables["rim_enhancement"], r.observables["rim_enhancement"])
    assert pq.solver == json.loads(json.dumps(r.solver))
    assert pq.version == r.version
    frame = r.to_frame()
    assert list(frame.columns[:2]) == ["day", "volume_fraction"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"days": -3}, "days"),
        ({"days": math.inf}, "days"),
        ({"variant": "tiny"}, "variant"),
        ({"method": "euler"}, "method"),
        ({"therapies": ["acupuncture"]}, "therapy"),
        ({"therapies": ["nsaid@-4"]}, "therapy"),
        ({"parameters": {"nope": 1.0}}, "parameters"),
    ],
)
def test_bad_simulation_input_names_the_field(kwargs, field):
    with pytest.raises(InvalidInputError) as info:
        simulate("extrusion", **kwargs)
    assert info.value.field == field


def test_therapy_without_mechanism_is_refused_with_a_reason():
    with pytest.raises(InvalidInputError, match=r"traction.*no mechanism"):
        simulate("extrusion", therapies=["traction"])
