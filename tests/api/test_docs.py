"""The user documentation stands alone and stays true to the code.

The case-file guide names every key the reader accepts, every value of every
scale and every accepted alias; every page is in the site's navigation; and
nothing in the project points to files outside it. (The site itself is built
with warnings as errors by ``bash scripts/docs.sh``.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from resorb.domain import FINDING_SCALES, RedFlag, Sex, enums
from resorb.domain import _schema as schema
from resorb.domain.instruments import JOA_ITEM_RANGES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def case_file_doc() -> str:
    return (DOCS / "case-file.md").read_text(encoding="utf-8")


def _code_words(text: str) -> set[str]:
    """The inline code spans of a Markdown page (fenced blocks left out)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return set(re.findall(r"`([^`\n]+)`", text))


def test_case_file_guide_names_every_key_the_reader_accepts(case_file_doc):
    words = _code_words(case_file_doc) | {w.split(" ")[0] for w in _code_words(case_file_doc)}
    models = {
        "patient": schema.PatientIn,
        "symptoms": schema.SymptomsIn,
        "herniation": schema.HerniationIn,
        "mri": schema.MRIIn,
        "therapies": schema.TherapyIn,
        "case": schema.CaseIn,
    }
    for section, model in models.items():
        for key in model.model_fields:
            assert key in words, f"{section}.{key} is not documented"
    for item in [*JOA_ITEM_RANGES, "bladder"]:
        assert item in words, f"joa_items.{item} is not documented"


def test_case_file_guide_lists_every_value_and_alias(case_file_doc):
    words = _code_words(case_file_doc)
    text = case_file_doc
    for entry in FINDING_SCALES:
        if entry.key in ("msu_size", "msu_zone"):  # written together as `msu`
            continue
        for member in entry.scale:
            assert str(member.value) in text, f"{entry.key}: {member.value}"
    for member in [*RedFlag, *Sex]:
        assert member.value in words, member.value
    for table in enums._ALIASES.values():
        for alias in table:
            assert alias in words or alias.upper() in words, alias


def test_every_page_is_in_the_site_navigation():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from pages(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from pages(value)

    in_nav = set(pages(config["nav"]))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert on_disk <= in_nav, f"pages missing from the nav: {sorted(on_disk - in_nav)}"
    assert in_nav <= on_disk, f"nav entries without a page: {sorted(in_nav - on_disk)}"


def test_nothing_in_the_project_points_outside_it():
    try:
        files = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (git ls-files lists the project's files)")
    pattern = re.compile(r"DESIGN\.md|\.\./shared|/work/shared")
    offenders = []
    for name in files:
        path = ROOT / name
        if (
            path.suffix
            not in {
                ".py",
                ".md",
                ".yaml",
                ".yml",
                ".toml",
                ".sh",
                ".cfg",
                ".txt",
                ".html",
                ".j2",
                ".json",
                ".cff",
            }
            or not path.is_file()
        ):
            continue
        if name == "tests/api/test_docs.py":
            continue
        if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
            offenders.append(name)
    assert offenders == []


def test_citation_file_names_the_installed_version():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    import resorb

    assert cff["cff-version"] == "1.2.0"
    assert str(cff["version"]) == resorb.__version__
