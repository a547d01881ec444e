"""Colab: install the workbook beside Colab's own packages, keep data and runs on Google Drive, and fetch the
real data with a Kaggle token. Imports only the standard library and `packaging` (it runs before the rest of the
workbook's dependencies are installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata, util
from pathlib import Path
from typing import Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import WorkbookError

PACKAGE = "bc_helpers"
DRIVE = Path("/content/drive")
DRIVE_FOLDER = "MyDrive/bc-workbook"
STORAGES = ("local", "drive")
FETCHABLE = ("idc", "breakhis", "all")


class Secrets(Protocol):
    """google.colab.userdata: Colab's secrets."""

    def get(self, key: str) -> str: ...


class Uploads(Protocol):
    """google.colab.files: a file upload in the browser."""

    def upload(self) -> dict[str, bytes]: ...


def on_colab() -> bool:
    """True in a Colab kernel: google.colab is imported there (or at least importable)."""
    if "google.colab" in sys.modules:
        return True
    return util.find_spec("google") is not None and util.find_spec("google.colab") is not None


def installed() -> dict[str, str]:
    """Every installed distribution's canonical name and version (the first found on sys.path wins, as in import)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def core_requirements(package: str = PACKAGE) -> list[Requirement]:
    """The installed package's requirements without extras (markers evaluated for this interpreter)."""
    reqs = [Requirement(text) for text in metadata.requires(package) or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def plan(requirements: list[Requirement], present: dict[str, str]) -> tuple[list[Requirement], list[str]]:
    """(missing, kept): requirements with nothing installed, to install; and installed versions outside a
    requirement's bounds, kept as they are (Colab pins them) and named."""
    missing, kept = [], []
    for req in requirements:
        version = present.get(canonicalize_name(req.name))
        if version is None:
            missing.append(req)
        elif req.specifier and not req.specifier.contains(version, prereleases=True):
            kept.append(f"{req.name} {version} (the workbook asks for {req.specifier})")
    return missing, kept


def _pip(args: list[str], present: dict[str, str] | None = None) -> None:
    """pip install; with `present`, every installed distribution is pinned as a constraint, so that nothing
    already there changes version (pip fails rather than upgrade one)."""
    pins = []
    for name, version in (present or {}).items():
        try:
            pins.append(str(Requirement(f"{name}=={version}")))
        except InvalidRequirement:
            continue
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(pins) + "\n")
    try:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", handle.name, *args], check=True)
    finally:
        os.unlink(handle.name)


def install_on_colab(clone: str | Path) -> list[str]:
    """Install the workbook's package from `clone` (editable, without its dependencies), then only the
    requirements that nothing installed provides; never upgrade what Colab has. Says what it did and returns
    'name version' of each installed distribution; a second call installs nothing."""
    present = installed()
    done = []
    if canonicalize_name(PACKAGE) not in present:
        _pip(["--no-deps", "-e", str(clone)])  # no constraints: its build runs in pip's own isolated environment
        done.append(PACKAGE)
    missing, kept = plan(core_requirements(), present)
    if missing:
        _pip([str(r) for r in missing], present)
        done += [r.name for r in missing]
    now = installed()
    result = [f"{name} {now.get(canonicalize_name(name), '?')}" for name in done]
    for line in result:
        print(f"installed {line}")
    for line in kept:
        print(f"kept Colab's {line}")
    if not result:
        print(f"{PACKAGE} and its requirements are installed: nothing to do")
    return result


def drive_folder(root: Path = DRIVE) -> Path:
    return root / DRIVE_FOLDER


def storage_environment(folder: Path, clone: Path) -> dict[str, str]:
    """Data and runs in `folder` (Drive); the decoded-image cache stays on the runtime's local disk, where
    memory-mapped reads are fast, and is rebuilt after a reset."""
    return {"BC_DATA_DIR": str(folder / "data"), "BC_RUNS_BASE": str(folder),
            "BC_CACHE_DIR": str(clone / "data" / "cache")}


def use_storage(storage: str, mount: Callable[[str], object] | None = None, root: Path = DRIVE) -> Path | None:
    """STORAGE="drive" on Colab: mount Google Drive (if it is not) and keep data/ and runs/ in MyDrive/bc-workbook,
    so a run interrupted by a runtime reset resumes there. "local": nothing. Returns the Drive folder, or None."""
    if storage not in STORAGES:
        raise WorkbookError(f"STORAGE must be one of {', '.join(STORAGES)}, not {storage!r}")
    if storage == "local":
        return None
    if not on_colab():
        print("STORAGE='drive' works on Colab only; here data/ and runs/ stay in the repository "
              "(BC_DATA_DIR and BC_RUNS_BASE move them).")
        return None
    if not (root / "MyDrive").is_dir():
        if mount is None:
            from google.colab import drive

            mount = drive.mount
        mount(str(root))
    folder = drive_folder(root)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    from ..paths import repo_root

    os.environ.update(storage_environment(folder, repo_root()))
    print(f"data and runs on Google Drive: {folder}")
    return folder


def resume_drive_storage(root: Path = DRIVE) -> Path | None:
    """In any notebook on Colab: when Drive is mounted and holds the workbook's folder (made by 00 with
    STORAGE='drive'), keep using it. Returns the folder, or None."""
    folder = drive_folder(root)
    if not (on_colab() and folder.is_dir()):
        return None
    from ..paths import repo_root

    os.environ.update(storage_environment(folder, repo_root()))
    return folder


def write_kaggle_token(username: str, key: str, home: Path | None = None) -> Path:
    """~/.kaggle/kaggle.json, readable by its owner only (mode 600)."""
    path = (home or Path.home()) / ".kaggle" / "kaggle.json"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"username": username, "key": key}, handle)
    os.chmod(path, 0o600)
    return path


def kaggle_token(userdata: Secrets, files: Uploads) -> tuple[str, str]:
    """(username, key) from Colab's secrets KAGGLE_USERNAME and KAGGLE_KEY (the key icon in Colab's left bar),
    else from an uploaded kaggle.json (kaggle.com > Settings > API > Create New Token)."""
    try:
        return userdata.get("KAGGLE_USERNAME"), userdata.get("KAGGLE_KEY")
    except Exception:  # Colab raises its own SecretNotFoundError or NotebookAccessError
        print("no Kaggle secrets (KAGGLE_USERNAME, KAGGLE_KEY): upload kaggle.json instead")
    uploaded = files.upload()
    if not uploaded:
        raise WorkbookError("no file was uploaded: choose the kaggle.json that kaggle.com gave you")
    name, content = next(iter(uploaded.items()))
    try:
        token = json.loads(content)
        return token["username"], token["key"]
    except (ValueError, KeyError, TypeError):
        raise WorkbookError(f"{name} is not a Kaggle token (a JSON object with username and key): download a new "
                            "one at kaggle.com > Settings > API > Create New Token") from None


def fetch_real_data(dataset: str, script: Path | None = None, home: Path | None = None,
                    userdata: Secrets | None = None, files: Uploads | None = None) -> bool:
    """On Colab: take the Kaggle token (secrets or upload), write it with mode 600, run data/fetch.sh DATASET.
    Elsewhere: say what to do instead and do nothing. "" does nothing. Returns True when fetch.sh ran."""
    if not dataset:
        return False
    if dataset not in FETCHABLE:
        raise WorkbookError(f"FETCH must be one of {', '.join(FETCHABLE)} or \"\", not {dataset!r}")
    from ..paths import repo_root

    script = script or repo_root() / "data" / "fetch.sh"
    if not on_colab():
        print(f"Not on Colab: save your Kaggle token as ~/.kaggle/kaggle.json (mode 600), then run "
              f"`{script} {dataset}` in a terminal.")
        return False
    if userdata is None or files is None:
        from google.colab import files as colab_files
        from google.colab import userdata as colab_userdata

        userdata, files = colab_userdata, colab_files
    path = write_kaggle_token(*kaggle_token(userdata, files), home=home)
    print(f"Kaggle token written to {path} (mode 600)")
    subprocess.run(["bash", str(script), dataset], check=True, env={**os.environ, "HOME": str(path.parent.parent)})
    return True
