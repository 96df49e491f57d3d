"""resorb.mechanism: the mechanistic model of herniated-disc resorption.

One declarative definition (:func:`load_model`, data in ``data/*.yaml``) of the
eight mechanism families of the review (inflammatory response, macrophage
activation and M1/M2 polarisation, ECM enzyme balance, neovascularisation,
ferroptosis, mitochondrial function, oxidative stress, autophagy; the last
four are switchable hypothesis modules), from which are generated:

- a SciPy reference simulator and a numba batch simulator (:func:`simulate`),
- SBML Level 3 Version 2 (:func:`to_sbml`),
- virtual cohorts (:func:`simulate_cohort`), calibration against published
  targets (:func:`evaluate_targets`, :func:`fit_parameters`) and Sobol sensitivity
  (:func:`sobol_sensitivity`).

Therapies act as perturbations with simple pharmacokinetics
(``data/therapies.yaml``). Research software: the model is calibrated to
population-level, partly animal data and predicts no individual course.
"""

from resorb._public import publish as _publish
from resorb.mechanism._calibrate import (
    FIT_PARAMETERS,
    FitResult,
    TargetResult,
    evaluate_targets,
    fit_parameters,
    load_targets,
)
from resorb.mechanism._cohort import (
    REGRESSION_THRESHOLD,
    SEED_BLOCK,
    CohortResult,
    simulate_cohort,
)
from resorb.mechanism._conditions import (
    COCULTURE,
    KNOCKOUTS,
    MAX_DAYS,
    TherapyRegimen,
    condition_overrides,
    parse_therapy,
)
from resorb.mechanism._model import (
    CONFIDENCE_TAGS,
    VARIANTS,
    Mediator,
    Model,
    Parameter,
    State,
    TherapySpec,
    load_model,
)
from resorb.mechanism._sbml import to_sbml, write_sbml
from resorb.mechanism._sensitivity import SobolResult, sobol_sensitivity
from resorb.mechanism._simulate import SimulationResult, simulate, simulate_parameters

__all__ = [
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
]

_publish(__name__, globals())
