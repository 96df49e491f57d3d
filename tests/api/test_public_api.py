"""The library face: ``import resorb`` is fast and documents the entry points; every
subpackage pins its public names and shows its objects under the public path."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pydoc
import subprocess
import sys
import typing

import pytest

import resorb
from cli_helpers import run_cli
from resorb._public import defined_in

#: The public names of every subpackage. A change here is a change of the public API:
#: add to it deliberately, remove from it only with a deprecation.
PINNED: dict[str, set[str]] = {
    "resorb": {
        "DISCLAIMER",
        "__version__",
        "Assessment",
        "Case",
        "CasePredictor",
        "HerniationMask",
        "InvalidInputError",
        "JoaItems",
        "Registry",
        "ResorbError",
        "ResorptionEstimate",
        "Triage",
        "VolumeForecast",
        "VolumeMeasurement",
        "analyse_cohort",
        "assess_case",
        "compare_volumes",
        "ellipsoid_volume_mm3",
        "forecast_volumes",
        "joa_recovery_rate_percent",
        "load_evidence",
        "load_model",
        "load_portable_model",
        "mask_volume",
        "mcid_improvement",
        "measure_study",
        "odi_percent",
        "read_cohort",
        "render_html",
        "render_pdf",
        "resorption_probability",
        "simulate",
        "simulate_cohort",
        "triage_case",
    },
    "resorb.domain": {
        "FINDING_ENUMS",
        "FINDING_LABELS",
        "FINDING_SCALES",
        "AxialZone",
        "CanalCompromise",
        "Case",
        "Containment",
        "FindingScale",
        "HerniationFindings",
        "HerniationMorphology",
        "IwabuchiType",
        "KomoriType",
        "MRIStudy",
        "MSUSize",
        "MSUZone",
        "Migration",
        "ModicType",
        "PLLIntegrity",
        "Patient",
        "PfirrmannGrade",
        "RedFlag",
        "RedFlagGroup",
        "RimEnhancement",
        "SchizasGrade",
        "Sex",
        "SpinalLevel",
        "Symptoms",
        "T2Signal",
        "TherapyCourse",
        "allowed_values",
        "finding_scale",
        "parse_enum",
    },
    "resorb.imaging": {
        "DAYS_PER_MONTH",
        "HerniationMask",
        "ResorptionGrade",
        "ResorptionGrading",
        "ResorptionResult",
        "VolumeErrorModel",
        "VolumeMeasurement",
        "cavalieri_volume_mm3",
        "compare_volumes",
        "count_label_voxels",
        "ellipsoid_volume_mm3",
        "mask_volume",
        "measure_study",
        "volume_error_model",
    },
    "resorb.scores": {
        "JOA_MAX",
        "JOA_RECOVERY_GRADES_CHINESE",
        "MCID",
        "MCID_RELATIVE_ID",
        "ODI_BANDS",
        "ODI_SECTIONS",
        "JoaItems",
        "McidResult",
        "OdiResult",
        "joa_recovery_grade",
        "joa_recovery_rate_percent",
        "mcid_improvement",
        "nrs_from_vas_mm",
        "odi_band",
        "odi_percent",
        "rmdq_total",
        "validate_nrs",
        "validate_vas_mm",
    },
    "resorb.evidence": {
        "Confidence",
        "EvidenceBase",
        "EvidenceSource",
        "EvidenceStatement",
        "EvidenceValue",
        "evidence_record",
        "evidence_source",
        "evidence_statement",
        "evidence_value",
        "load_evidence",
        "load_evidence_files",
    },
    "resorb.prognosis": {
        "FORECAST_HORIZONS_MONTHS",
        "BaselinePrior",
        "CaseEstimate",
        "CasePredictor",
        "Factor",
        "KineticPrior",
        "ManagementPlan",
        "ManagementStep",
        "ObservedChange",
        "OmittedFinding",
        "ResorptionEstimate",
        "Triage",
        "TriageReason",
        "VolumeForecast",
        "calibration_table",
        "default_kinetic_prior",
        "forecast_volumes",
        "kinetic_volume_mm3",
        "management_pathway",
        "resorption_probability",
        "triage_case",
    },
    "resorb.therapy": {
        "DIRECTIONS",
        "MECHANISM_TARGETS",
        "GuidelineStance",
        "MechanismTarget",
        "Therapy",
        "TherapyFinding",
        "get_therapy",
        "load_catalogue_text",
        "therapy_catalogue",
    },
    "resorb.reports": {
        "ASSESSMENT_KEYS",
        "Assessment",
        "SourceRegister",
        "assess_case",
        "factor_plot_png",
        "change_in_words",
        "format_percent",
        "render_html",
        "render_pdf",
        "volume_plot_png",
        "write_atomic",
    },
    "resorb.cohort": {
        "BootstrapValidation",
        "CASE_FIELD_MAP",
        "COLUMN_ENUMS",
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
    },
    "resorb.web": {"WebSettings", "create_app", "load_or_create_secret"},
    "resorb.interop": set(),
    "resorb.cli": {"app", "main"},
}
#: Subpackages whose names are pinned by their own area's tests
#: (tests/registry/test_registry_api.py, tests/mechanism/test_public_api.py); here
#: only checked to be declared and importable.
DECLARED = ("resorb.registry", "resorb.mechanism")


def _import(package: str):
    """The subpackage; the web app's is skipped, with the reason, without the web extra."""
    if package == "resorb.web":
        for module in ("fastapi", "jwt", "sqlalchemy"):
            pytest.importorskip(module, reason=f"resorb.web needs the web extra ({module})")
    return importlib.import_module(package)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


@pytest.mark.parametrize("package", sorted(PINNED))
def test_public_names_of_each_subpackage_are_pinned(package):
    module = _import(package)
    assert set(module.__all__) == PINNED[package]
    assert len(module.__all__) == len(set(module.__all__))
    for name in module.__all__:
        if package == "resorb" and name == "Registry" and not _installed("sqlalchemy"):
            with pytest.raises(AttributeError, match="optional extra"):
                getattr(module, name)
            continue
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("package", DECLARED)
def test_other_subpackages_declare_what_they_export(package):
    pytest.importorskip("sqlalchemy", reason="the registry and web app need the web extra")
    module = importlib.import_module(package)
    assert module.__all__
    for name in module.__all__:
        getattr(module, name)


@pytest.mark.parametrize("package", sorted(set(PINNED) - {"resorb", "resorb.cli"}))
def test_objects_show_their_public_path_and_their_annotations_resolve(package):
    module = _import(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        assert not obj.__module__.startswith(package + "._"), f"{package}.{name}: {obj.__module__}"
        if inspect.isclass(obj):
            try:  # resolvable where the class is written (not a name only type checkers see)
                typing.get_type_hints(obj, globalns=vars(sys.modules[defined_in(obj)]))
            except NameError:
                continue
            typing.get_type_hints(obj)  # ... then also under the public path
    if package == "resorb.prognosis":
        assert repr(module.ResorptionEstimate) == "<class 'resorb.prognosis.ResorptionEstimate'>"


def test_import_resorb_loads_no_subpackage_and_no_numerical_library():
    code = (
        "import sys, resorb; "
        "print(sorted(m for m in sys.modules if m.startswith(('resorb.', 'numpy', "
        "'scipy', 'pandas', 'importlib.metadata'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"


def test_entry_points_are_the_subpackage_objects():
    from resorb import mechanism, prognosis, reports

    assert resorb.assess_case is reports.assess_case
    assert resorb.simulate is mechanism.simulate
    assert resorb.CasePredictor is prognosis.CasePredictor
    assert set(dir(resorb)) >= set(resorb.__all__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        resorb.no_such_thing  # noqa: B018


def test_help_resorb_shows_a_usable_api():
    text = pydoc.render_doc(resorb, renderer=pydoc.plaintext)
    head = text[: text.index("FUNCTIONS")] if "FUNCTIONS" in text else text
    for phrase in (
        "not a medical device",
        "Case.from_file",
        "assess_case",
        "render_pdf",
        "mask_volume",
        "compare_volumes",
        "odi_percent",
        "simulate",
        "analyse_cohort",
        "Registry",
        "InvalidInputError",
    ):
        assert phrase in head, phrase
    # The entry points are documented in the help itself, with their signatures.
    entries = ["assess_case(case", "resorption_probability(case", "mask_volume(", "class Case"]
    if _installed("sqlalchemy"):  # the registry is in the web extra
        entries.append("class Registry")
    for entry in entries:
        assert entry in text, entry


def test_version_option_prints_the_version(capsys):
    code, out, err = run_cli(capsys, "--version")
    assert (code, out.strip(), err) == (0, resorb.__version__, "")


def test_portable_model_is_a_case_predictor(tmp_path):
    from resorb.cohort import PortableModel
    from resorb.prognosis import CasePredictor

    assert issubclass(PortableModel, CasePredictor)
    assert not isinstance(object(), CasePredictor)
