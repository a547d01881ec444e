"""The licence and the citation: LICENSE (MIT, the code), the course text's CC BY 4.0 in the README, and a
CITATION.cff that parses and names the paper and the three dataset papers."""

from __future__ import annotations

import yaml

from bc_helpers import paths
from bc_helpers.course import cells as course

ROOT = paths.repo_root()
REQUIRED = {"cff-version", "message", "title", "authors"}  # what the Citation File Format 1.2.0 requires
DOIS = {"10.1038/s41598-025-88459-6": ("Kaddes", 2025), "10.4103/2153-3539.186902": ("Janowczyk", 2016),
        "10.1117/12.2043872": ("Cruz-Roa", 2014), "10.1109/TBME.2015.2496264": ("Spanhol", 2016)}


def test_citation_file_is_valid_yaml_with_the_papers_and_datasets() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert REQUIRED <= cff.keys() and cff["cff-version"] == "1.2.0"
    assert cff["title"] and cff["authors"] and all(a.get("name") or a.get("family-names") for a in cff["authors"])
    project = course.tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert cff["license"] == project["license"] == "MIT"
    assert cff["repository-code"] == course.repository_url() and cff["version"] == project["version"]
    found = {ref["doi"]: (ref["authors"][0]["family-names"], ref["year"]) for ref in cff["references"]}
    assert found == DOIS


def test_licence_files_and_the_readme_agree() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    readme = (ROOT / "README.md").read_text()
    assert "[MIT](LICENSE)" in readme and "CC BY 4.0" in readme
    assert "https://creativecommons.org/licenses/by/4.0/" in readme
