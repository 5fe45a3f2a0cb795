"""The repository stands on its own: nothing in tests or docs points outside the clone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OWN = ["tests", "inputs", "bench", "docs", "README.md", "python/seimd/mtp", "python/seimd/active",
       "python/seimd/build", "python/seimd/sei/reference_structures.py", "lammps_plugin/kernel"]


def _texts(paths):
    for rel in paths:
        p = REPO / rel
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()
                                          and f.suffix in {".py", ".md", ".in", ".h", ".cpp", ".toml"}]
        for f in files:
            if f.name == Path(__file__).name:
                continue
            yield f, f.read_text(errors="replace")


def test_no_path_outside_the_repository():
    bad = []
    for f, text in _texts(OWN):
        for m in re.finditer(r"(?<![\w.])(?:\.\./)?shared/reference|/work/shared|/work/main", text):
            bad.append(f"{f.relative_to(REPO)}: {m.group(0)}")
    assert not bad, bad


def test_cited_docs_exist():
    missing = set()
    for f, text in _texts(OWN + ["python/seimd"]):
        for m in re.finditer(r"docs/\s*([a-z-]+\.md)", text):
            if not (REPO / "docs" / m.group(1)).is_file():
                missing.add(f"{f.relative_to(REPO)} -> docs/{m.group(1)}")
    assert not missing, sorted(missing)


def test_test_data_is_in_the_repository():
    import conftest

    assert conftest.SAMPLE_MTP.is_file() and conftest.SAMPLE_CFG.is_file()
    assert REPO in conftest.SAMPLE_MTP.resolve().parents
    assert "shared" not in Path(conftest.__file__).read_text()


def test_every_sei_example_states_its_length_and_speed():
    """Each `sei.in` command in README.md and inputs/README.md has the expected ns/day (and so
    how long it runs) within a few lines of it."""
    missing = []
    for rel in ("README.md", "inputs/README.md"):
        lines = (REPO / rel).read_text().splitlines()
        for i, line in enumerate(lines):
            if re.search(r"-in \S*sei\.in -var", line):
                window = " ".join(lines[max(0, i - 4): i + 9])
                if "ns/day" not in window:
                    missing.append(f"{rel}:{i + 1}: {line.strip()[:80]}")
    assert not missing, missing
