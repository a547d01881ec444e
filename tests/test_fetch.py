"""data/fetch.sh against a stub `kaggle` executable that serves a zip built from sample files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bc_helpers import paths

FETCH = paths.repo_root() / "data" / "fetch.sh"
SECRET = "s3cr3t-key-never-printed"
STUB = r"""#!/usr/bin/env bash
# Stub of the Kaggle client: `kaggle datasets download -d SLUG -p DIR` copies $STUB_ZIP.
echo "$*" >> "$STUB_LOG"
while [ $# -gt 0 ]; do case "$1" in -p) dir="$2"; shift 2;; -d) slug="$2"; shift 2;; *) shift;; esac; done
out="$dir/${slug#*/}.zip"
if [ -n "${STUB_INTERRUPT:-}" ] && [ ! -f "$STUB_LOG.interrupted" ]; then
  head -c 1000 "$STUB_ZIP" > "$out"; touch "$STUB_LOG.interrupted"; echo "connection lost" >&2; exit 1
fi
cp "$STUB_ZIP" "$out"
"""


def _zip_of(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for f in sorted(folder.rglob("*")):
            zf.write(f, f.relative_to(folder))
    return out


@pytest.fixture
def env(tmp_path: Path, tiny_sample: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "kaggle"
    stub.write_text(STUB)
    stub.chmod(0o755)
    home = tmp_path / "home"
    (home / ".kaggle").mkdir(parents=True)
    creds = home / ".kaggle" / "kaggle.json"
    creds.write_text(f'{{"username": "student", "key": "{SECRET}"}}')
    creds.chmod(0o600)
    base = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE")}
    return base | {
        "PATH": f"{bin_dir}:{base['PATH']}",
        "HOME": str(home),
        "PYTHON": sys.executable,
        "BC_DATA_DIR": str(tmp_path / "data"),
        "STUB_ZIP": str(_zip_of(tiny_sample / "idc", tmp_path / "idc.zip")),
        "STUB_LOG": str(tmp_path / "stub.log"),
        "BC_EXPECT_IMAGES": str(sum(1 for _ in (tiny_sample / "idc").rglob("*.png"))),
    }


def _fetch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(FETCH), *args], env=env, capture_output=True, text=True, timeout=300)


def test_fetch_downloads_unpacks_and_checks(env: dict[str, str]) -> None:
    out = _fetch(env, "idc")
    assert out.returncode == 0, out.stderr
    dest = Path(env["BC_DATA_DIR"]) / "raw" / "idc"
    assert (dest / ".fetched.json").exists()
    assert "datasets download -d paultimothymooney/breast-histopathology-images" in Path(env["STUB_LOG"]).read_text()
    again = _fetch(env, "idc")
    assert again.returncode == 0 and "already in" in again.stdout
    assert SECRET not in out.stdout + out.stderr + again.stdout + again.stderr


def test_without_credentials_it_stops_at_once(env: dict[str, str]) -> None:
    (Path(env["HOME"]) / ".kaggle" / "kaggle.json").unlink()
    out = _fetch(env, "idc")
    assert out.returncode == 3 and "kaggle.json" in out.stderr and "chmod 600" in out.stderr
    assert not Path(env["STUB_LOG"]).exists(), "the client must not be called"


def test_world_readable_credentials_are_fixed(env: dict[str, str]) -> None:
    creds = Path(env["HOME"]) / ".kaggle" / "kaggle.json"
    creds.chmod(0o644)
    out = _fetch(env, "idc")
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600 and "now 600" in out.stderr
    assert SECRET not in out.stdout + out.stderr


def test_interrupted_download_resumes_on_the_next_run(env: dict[str, str]) -> None:
    first = _fetch({**env, "STUB_INTERRUPT": "1"}, "idc")
    assert first.returncode != 0 and "run data/fetch.sh idc again" in first.stderr
    assert not (Path(env["BC_DATA_DIR"]) / "raw" / "idc").exists()
    second = _fetch({**env, "STUB_INTERRUPT": "1"}, "idc")
    assert second.returncode == 0, second.stderr


def test_a_bad_archive_leaves_existing_data_intact(env: dict[str, str], tmp_path: Path) -> None:
    Path(env["STUB_ZIP"]).write_bytes(b"PK\x03\x04 not really a zip")
    out = _fetch(env, "idc")
    assert out.returncode == 2 and "not a complete zip archive" in out.stderr
    assert not (Path(env["BC_DATA_DIR"]) / "raw" / "idc").exists()
    mine = Path(env["BC_DATA_DIR"]) / "raw" / "idc"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    Path(env["STUB_ZIP"]).unlink()
    _zip_of(tmp_path / "home", Path(env["STUB_ZIP"]))
    out = _fetch(env, "idc")
    assert out.returncode == 2 and "not made by data/fetch.sh" in out.stderr
    assert (mine / "notes.txt").read_text() == "mine"


def test_a_wrong_image_count_is_an_error(env: dict[str, str]) -> None:
    out = _fetch({**env, "BC_EXPECT_IMAGES": "277524"}, "idc")
    assert out.returncode == 2 and "not the expected 277,524" in out.stderr
    assert sorted(p.name for p in (Path(env["BC_DATA_DIR"]) / "raw").iterdir()) == []


def test_unknown_dataset_shows_usage(env: dict[str, str]) -> None:
    out = _fetch(env, "nonsense")
    assert out.returncode == 2 and "usage: data/fetch.sh idc|breakhis|all|sample" in out.stderr
