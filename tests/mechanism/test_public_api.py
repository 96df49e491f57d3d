"""The public namespace of resorb.mechanism is deliberate: pin it."""

from __future__ import annotations

import resorb.mechanism as mech

EXPECTED = {
    "COCULTURE",
    "CONFIDENCE_TAGS",
    "FIT_PARAMETERS",
    "KNOCKOUTS",
    "MAX_DAYS",
    "REGRESSION_THRESHOLD",
    "SEED_BLOCK",
    "VARIANTS",
    "CohortResult",
    "FitResult",
    "Mediator",
    "Model",
    "Parameter",
    "SimulationResult",
    "SobolResult",
    "State",
    "TargetResult",
    "TherapyRegimen",
    "TherapySpec",
    "condition_overrides",
    "evaluate_targets",
    "fit_parameters",
    "load_model",
    "load_targets",
    "parse_therapy",
    "simulate",
    "simulate_cohort",
    "simulate_parameters",
    "sobol_sensitivity",
    "to_sbml",
    "write_sbml",
}


def test_public_api_is_pinned():
    assert set(mech.__all__) == EXPECTED
    for name in EXPECTED:
        assert hasattr(mech, name), name
