"""Fit and validate resorption prediction models on a clinic's own data.

The workflow R users know from rms, in Python: read a cohort (CSV/Parquet, one
row per herniation) with findings coded on the domain scales; fit logistic
models (restricted cubic splines on request, Firth penalisation when
separation is detected), Cox and Weibull AFT models of time to resorption, and
the Aalen-Johansen cumulative incidence with surgery as a competing event;
validate with Harrell's bootstrap optimism correction, calibration slope and
intercept, Brier, ICI/E50/E90, decision curves and Riley's sample-size
criteria; present with a nomogram, an HTML report, and a portable JSON model
file that ``resorb assess --model`` applies to a case.
"""

from resorb._public import publish as _publish
from resorb.cohort._coding import (
    COLUMN_ENUMS,
    MissingReport,
    PredictorCoding,
    PredictorSpec,
    parse_predictor_specs,
    read_cohort,
)
from resorb.cohort._impute import PooledEstimates, mice_impute, rubin_pool
from resorb.cohort._logistic import (
    FittedLogistic,
    SeparationCheck,
    check_separation,
    firth_logistic,
)
from resorb.cohort._nomogram import nomogram_points, plot_nomogram
from resorb.cohort._portable import (
    CASE_FIELD_MAP,
    CasePrediction,
    PortableModel,
    case_predictor_values,
    load_portable_model,
    portable_from_fit,
)
from resorb.cohort._report import cohort_figures, render_cohort_report, write_cohort_report
from resorb.cohort._samplesize import SampleSizeCheck, max_r2_cs, riley_sample_size
from resorb.cohort._simulate import simulate_cohort, simulation_assumptions
from resorb.cohort._splines import rcs_basis, rcs_knots
from resorb.cohort._survival import (
    FittedCox,
    FittedWeibullAFT,
    aalen_johansen,
    calibration_at_horizon,
    cox_bootstrap_c,
    ici_at_horizon,
    kaplan_meier_at,
    truncated_c_index,
)
from resorb.cohort._validation import (
    BootstrapValidation,
    bootstrap_validate,
    brier_score,
    c_statistic,
    calibration_curve_corrected,
    calibration_in_the_large,
    calibration_intercept,
    calibration_slope,
    calibration_smooth,
    ici_metrics,
    net_benefit,
)
from resorb.cohort._workflow import CohortAnalysis, SurvivalAnalysis, analyse_cohort

__all__ = [
    "CASE_FIELD_MAP",
    "COLUMN_ENUMS",
    "BootstrapValidation",
    "CasePrediction",
    "CohortAnalysis",
    "FittedCox",
    "FittedLogistic",
    "FittedWeibullAFT",
    "MissingReport",
    "PooledEstimates",
    "PortableModel",
    "PredictorCoding",
    "PredictorSpec",
    "SampleSizeCheck",
    "SeparationCheck",
    "SurvivalAnalysis",
    "aalen_johansen",
    "analyse_cohort",
    "bootstrap_validate",
    "brier_score",
    "c_statistic",
    "calibration_at_horizon",
    "calibration_curve_corrected",
    "calibration_in_the_large",
    "calibration_intercept",
    "calibration_slope",
    "calibration_smooth",
    "case_predictor_values",
    "check_separation",
    "cohort_figures",
    "cox_bootstrap_c",
    "firth_logistic",
    "ici_at_horizon",
    "ici_metrics",
    "kaplan_meier_at",
    "load_portable_model",
    "max_r2_cs",
    "mice_impute",
    "net_benefit",
    "nomogram_points",
    "parse_predictor_specs",
    "plot_nomogram",
    "portable_from_fit",
    "rcs_basis",
    "rcs_knots",
    "read_cohort",
    "render_cohort_report",
    "riley_sample_size",
    "rubin_pool",
    "simulate_cohort",
    "simulation_assumptions",
    "truncated_c_index",
    "write_cohort_report",
]

_publish(__name__, globals())
