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
)
def test_volume_never_grows_and_stays_in_unit_interval(exposure, therapies, k_in, k_deg):
    """Degradation moves matrix from intact to fragment pools (volume kept) and only
    macrophage clearance removes it, so V/V0 is non-increasing and within [0, 1]."""
    r = simulate("extrusion", therapies=therapies, method="batch", rtol=1e-8, atol=1e-11,
                 parameters={"exposure": exposure, "k_in": k_in, "k_deg": k_deg})
    v = r.volume_fraction
    assert np.all(v <= 1.0 + 1e-9) and np.all(v >= -1e-9)
    assert np.all(np.diff(v) <= 1e-9)
    rim = r.observables["rim_enhancement"]
    assert np.all(rim >= -1e-9) and np.all(rim <= 1.0 + 1e-9)
    assert np.all(r.observables["macrophage_density_per_cm2"] >= -1e-6)
