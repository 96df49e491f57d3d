"""Tests that need an optional extra are skipped, with the reason, when it is missing.

resorb's core (``pip install resorb``) covers case files, scores, evidence,
prognosis and therapies; imaging, cohort statistics, the mechanistic model,
PDF reports and the registry/web app come with extras. A checkout installed
without an extra runs the rest of the suite and reports each skipped test
with the extra and the missing library; CI installs every extra, so nothing is
skipped there for this reason. Folders whose own ``conftest.py`` checks its
libraries (registry, web, interop) are not listed here.
"""

from __future__ import annotations

import importlib.util
from functools import cache

import pytest

#: Extra -> the libraries it installs that the tests import.
EXTRAS: dict[str, tuple[str, ...]] = {
    "imaging": ("nibabel", "pydicom", "highdicom", "nrrd"),
    "stats": ("statsmodels", "lifelines", "dcurves", "sklearn", "numba"),
    "mechanism": ("numba", "SALib", "libsbml"),
    "report": ("weasyprint",),
}

#: Test module or folder (relative to the repository) -> extras it needs.
NEEDS: dict[str, tuple[str, ...]] = {
    "tests/imaging/test_io.py": ("imaging",),
    "tests/imaging/test_imaging_cli.py": ("imaging",),
    "tests/imaging/test_mask_fuzz.py": ("imaging",),
    "tests/imaging/test_mask_geometry.py": ("imaging",),
    "tests/imaging/test_volumetry.py": ("imaging",),
    "tests/cohort": ("stats",),
    "tests/mechanism": ("mechanism",),
    "tests/reports": ("imaging", "report"),
    "tests/prognosis/test_probability.py": ("stats",),
    "tests/prognosis/test_validation_doc.py": ("stats",),
    "tests/cli/test_design_contract.py": ("imaging", "stats", "mechanism"),
}


@cache
def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def _skip_reason(relpath: str) -> str | None:
    for prefix, extras in NEEDS.items():
        if relpath == prefix or relpath.startswith(prefix + "/"):
            for extra in extras:
                for module in EXTRAS[extra]:
                    if _missing(module):
                        return f"needs the {extra} extra ({module} is not installed)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        try:
            relpath = item.path.relative_to(root).as_posix()
        except ValueError:
            continue
        reason = _skip_reason(relpath)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
