"""Invariants of the model, checked with Hypothesis over exposures, therapies and rates."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resorb.mechanism import simulate

THERAPIES = ["nsaid", "oral_steroid", "epidural_steroid", "anti_tnf", "macrophage_therapy"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exposure=st.floats(0.0, 1.0),
    therapies=st.lists(st.sampled_from(THERAPIES), unique=True, max_size=3),
    k_in=st.floats(0.2, 2.0),
    k_deg=st.floats(0.03, 0.3),
    q_ext=st.floats(0.0, 1.0),
)
def test_volume_stays_between_zero_and_the_initial_volume_plus_the_extrusion_reservoir(
    exposure, therapies, k_in, k_deg, q_ext
):
    """Degradation moves matrix from intact to fragment pools (volume kept), only
    macrophage clearance removes it and only further extrusion from the parent disc
    (at most q_ext of the initial volume) adds to it: 0 <= V/V0 <= 1 + q_ext."""
    r = simulate(
        "extrusion",
        therapies=therapies,
        method="batch",
        rtol=1e-8,
        atol=1e-11,
        parameters={"exposure": exposure, "k_in": k_in, "k_deg": k_deg, "q_ext": q_ext},
    )
    v = r.volume_fraction
    assert np.all(v <= 1.0 + q_ext + 1e-9) and np.all(v >= -1e-9)
    rim = r.observables["rim_enhancement"]
    assert np.all(rim >= -1e-9) and np.all(rim <= 1.0 + 1e-9)
    assert np.all(r.observables["macrophage_density_per_cm2"] >= -1e-6)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exposure=st.floats(0.0, 1.0), k_ext=st.floats(0.001, 0.1))
def test_without_further_extrusion_a_herniation_never_grows(exposure, k_ext):
    r = simulate(
        "extrusion",
        method="batch",
        rtol=1e-8,
        atol=1e-11,
        parameters={"exposure": exposure, "k_ext": k_ext, "q_ext": 0.0},
    )
    assert np.all(np.diff(r.volume_fraction) <= 1e-9)


def test_a_contained_herniation_with_extrusion_left_grows_and_then_stalls():
    """Exposure 0 (no resorption machinery) and nucleus material left to extrude:
    V/V0 rises towards 1 + q_ext and levels off (growth, then no change)."""
    r = simulate("bulge", method="batch", parameters={"exposure": 0.0, "q_ext": 0.3, "k_ext": 0.02})
    v = r.volume_fraction
    assert v[365] > 1.2
    assert np.all(np.diff(v) >= -1e-9)
    assert v[730] - v[700] < 0.01 * (v[365] - 1.0)
