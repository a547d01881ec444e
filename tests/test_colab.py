"""Colab: the setup cell in a simulated Colab (slow), and Drive storage and the Kaggle token with fakes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import sysconfig
import types
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bc_helpers import paths
from bc_helpers.course import cells as course
from bc_helpers.course import colab

ROOT = paths.repo_root()
WHEELS = Path(os.environ.get("BC_WHEEL_CACHE", Path.home() / ".cache" / "bc-workbook-wheels"))
ABSENT_ON_FAKE_COLAB = "imbalanced-learn"  # a core requirement the simulated Colab lacks, so the cell installs it


@pytest.fixture
def fake_colab(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google.colab", module)
    return module


def test_plan_installs_only_what_is_missing_and_names_what_it_keeps() -> None:
    reqs = [Requirement("numpy>=1.26"), Requirement("ipywidgets>=8.1"), Requirement("seaborn>=0.13")]
    missing, kept = colab.plan(reqs, {"numpy": "2.0.1", "ipywidgets": "7.7.1"})
    assert [r.name for r in missing] == ["seaborn"]
    assert kept == ["ipywidgets 7.7.1 (the workbook asks for >=8.1)"]


def test_core_requirements_drop_the_extras_and_other_pythons(monkeypatch: pytest.MonkeyPatch) -> None:
    requires = ["keras<4,>=3.3", "tomli>=2.0; python_version < \"3.0\"", "papermill>=2.5; extra == \"run\"",
                "tensorflow-cpu<2.22,>=2.16; extra == \"cpu\""]
    monkeypatch.setattr(colab.metadata, "requires", lambda name: requires if name == "bc_helpers" else None)
    assert [str(r) for r in colab.core_requirements()] == ["keras<4,>=3.3"]


def test_drive_storage_mounts_and_moves_data_and_runs(fake_colab, tmp_path: Path, monkeypatch) -> None:
    for name in ("BC_DATA_DIR", "BC_RUNS_BASE", "BC_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    mounted = []

    def mount(where: str) -> None:
        mounted.append(where)
        (Path(where) / "MyDrive").mkdir(parents=True)

    folder = colab.use_storage("drive", mount=mount, root=tmp_path)
    assert mounted == [str(tmp_path)] and folder == tmp_path / "MyDrive" / "bc-workbook"
    assert paths.data_dir() == folder / "data" and os.environ["BC_RUNS_BASE"] == str(folder)
    assert not paths.cache_dir().is_relative_to(tmp_path)
    assert colab.use_storage("drive", mount=mount, root=tmp_path) == folder and len(mounted) == 1
    monkeypatch.delenv("BC_DATA_DIR")
    assert colab.resume_drive_storage(tmp_path) == folder and paths.data_dir() == folder / "data"


def test_storage_outside_colab_changes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(colab, "on_colab", lambda: False)
    monkeypatch.delenv("BC_DATA_DIR", raising=False)
    assert colab.use_storage("drive", mount=pytest.fail, root=tmp_path) is None
    assert "Colab only" in capsys.readouterr().out and "BC_DATA_DIR" not in os.environ
    assert colab.use_storage("local") is None and colab.resume_drive_storage(tmp_path) is None
    with pytest.raises(colab.WorkbookError, match="STORAGE"):
        colab.use_storage("cloud")


class Secrets:
    def __init__(self, values: dict[str, str] | None) -> None:
        self.values = values

    def get(self, name: str) -> str:
        if self.values is None:
            raise RuntimeError("SecretNotFoundError")
        return self.values[name]


class Uploads:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.calls = files, 0

    def upload(self) -> dict[str, bytes]:
        self.calls += 1
        return self.files


def _fake_fetch(tmp_path: Path) -> Path:
    script = tmp_path / "fetch.sh"
    script.write_text('#!/bin/bash\nstat -c "%a $1" "$HOME/.kaggle/kaggle.json" > "$HOME/fetched"\n')
    return script


def test_kaggle_token_from_secrets_written_600_then_fetch(fake_colab, tmp_path: Path) -> None:
    uploads = Uploads({})
    ran = colab.fetch_real_data("idc", script=_fake_fetch(tmp_path), home=tmp_path,
                                userdata=Secrets({"KAGGLE_USERNAME": "ann", "KAGGLE_KEY": "k1"}), files=uploads)
    token = tmp_path / ".kaggle" / "kaggle.json"
    assert ran and uploads.calls == 0 and json.loads(token.read_text()) == {"username": "ann", "key": "k1"}
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert (tmp_path / "fetched").read_text().split() == ["600", "idc"]


def test_kaggle_token_from_an_upload_when_there_are_no_secrets(fake_colab, tmp_path: Path) -> None:
    uploads = Uploads({"kaggle.json": b'{"username": "bo", "key": "k2"}'})
    colab.fetch_real_data("breakhis", script=_fake_fetch(tmp_path), home=tmp_path, userdata=Secrets(None),
                          files=uploads)
    assert uploads.calls == 1
    assert json.loads((tmp_path / ".kaggle" / "kaggle.json").read_text()) == {"username": "bo", "key": "k2"}
    with pytest.raises(colab.WorkbookError, match="uploaded"):
        colab.kaggle_token(Secrets(None), Uploads({}))
    with pytest.raises(colab.WorkbookError, match="notes.txt is not a Kaggle token"):
        colab.kaggle_token(Secrets(None), Uploads({"notes.txt": b"hello"}))


def test_fetch_outside_colab_says_what_to_do_and_does_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(colab, "on_colab", lambda: False)
    assert not colab.fetch_real_data("idc", script=_fake_fetch(tmp_path), home=tmp_path)
    assert "fetch.sh idc" in capsys.readouterr().out and not (tmp_path / ".kaggle").exists()
    assert not colab.fetch_real_data("")
    with pytest.raises(colab.WorkbookError, match="FETCH"):
        colab.fetch_real_data("imagenet")


def _setup_cell() -> str:
    return "".join(json.loads((ROOT / "notebooks" / "00_index.ipynb").read_text())["cells"][course.SETUP]["source"])


def test_setup_cell_in_a_kernel_without_the_package_names_make_setup(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    (tmp_path / "cell.py").write_text(_setup_cell())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "cell.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1 and last == ("ModuleNotFoundError: this kernel lacks bc_helpers: run `make setup` in "
                                             "the repository, then choose the kernel 'bc-workbook (.venv)'")


# The simulated Colab --------------------------------------------------------------------------------------------


def _wheels() -> Path:
    """A wheel folder for an offline install: setuptools for the package's build, and the package the fake Colab
    lacks at the version this environment has. Filled once from PyPI (CI has the network), then reused."""
    version = metadata.version(ABSENT_ON_FAKE_COLAB)
    wanted = ["setuptools>=77", f"{ABSENT_ON_FAKE_COLAB}=={version}"]
    names = [p.name.lower() for p in WHEELS.glob("*.whl")]
    if not (any(n.startswith("setuptools-") for n in names)
            and any(n.startswith(f"imbalanced_learn-{version}-") for n in names)):
        WHEELS.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(WHEELS), *wanted],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"no wheels in {WHEELS} and pip download failed: {done.stderr.strip()[-200:]}")
    return WHEELS


def _colab_site(folder: Path) -> Path:
    """This environment's site-packages as Colab would have it: every distribution but the workbook's package and
    the one Colab lacks, as symbolic links (read-only use: pip never writes outside its own environment)."""
    site = Path(sysconfig.get_paths()["purelib"])
    hidden = set()
    wanted = {canonicalize_name(course.PACKAGE), canonicalize_name(ABSENT_ON_FAKE_COLAB)}
    # Only the installed distributions: a checkout's own bc_helpers.egg-info (on sys.path when pytest runs from
    # the repository's root) is not what the environment holds.
    for dist in metadata.distributions(path=[str(site)]):
        if canonicalize_name(dist.metadata["Name"]) in wanted:
            hidden |= {Path(str(f)).parts[0] for f in dist.files or []}
    folder.mkdir()
    for entry in site.iterdir():
        if entry.name in hidden or entry.suffix == ".pth" or entry.name.startswith("__editable__"):
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def _freeze(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                         check=True).stdout
    return {canonicalize_name(d["name"]): d["version"] for d in json.loads(out)}


@pytest.mark.slow
def test_setup_cell_on_a_simulated_colab(tmp_path: Path) -> None:
    """Notebook 00's setup cell, run twice in a fresh virtual environment (no system site-packages) that sees
    what Colab would have of our dependencies. Installing TensorFlow into a fresh environment takes minutes, so
    the environment reuses this one's site-packages read-only, through symbolic links listed in a .pth file,
    minus bc_helpers and imbalanced-learn. A fake `google.colab` module makes the cell take its Colab branch;
    BC_REPO_URL is this repository (its committed HEAD), BC_HOME the clone's folder; pip works offline from a
    wheel folder. Asserts: the cell installs the package and the missing requirement and says so, bc_helpers
    imports from the clone, no distribution that was there changed version, and a second run installs nothing."""
    wheels = _wheels()
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    venv_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    fake = tmp_path / "fake" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""A stand-in for Colab\'s module: its presence is what the cell checks."""\n')
    (venv_site / "colab_site.pth").write_text(f"{tmp_path / 'fake'}\n{_colab_site(tmp_path / 'colab-site')}\n")
    (tmp_path / "cell.py").write_text(_setup_cell())
    env = {**os.environ, "BC_REPO_URL": str(ROOT), "BC_HOME": str(tmp_path / "clone"), "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": str(wheels), "MPLBACKEND": "Agg", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    before = _freeze(python)
    assert canonicalize_name(course.PACKAGE) not in before and ABSENT_ON_FAKE_COLAB not in before

    first = subprocess.run([str(python), "cell.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    installed = {canonicalize_name(line.split()[1]) for line in first.stdout.splitlines()
                 if line.startswith("installed ")}
    assert installed == {canonicalize_name(course.PACKAGE), ABSENT_ON_FAKE_COLAB}
    after = _freeze(python)
    assert {k: v for k, v in after.items() if k not in installed} == before
    assert "tensorflow" in first.stdout  # setup() ran and printed the versions

    check = ("import bc_helpers, pathlib; from bc_helpers.course import cells as course; print(bc_helpers.__file__); "
             "print(course.repository_url(pathlib.Path('/nonexistent')))")
    where = subprocess.run([str(python), "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    assert where[0].startswith(str(tmp_path / "clone")) and where[1] == course.repository_url()

    second = subprocess.run([str(python), "cell.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "nothing to do" in second.stdout and "installed " not in second.stdout
    assert _freeze(python) == after
