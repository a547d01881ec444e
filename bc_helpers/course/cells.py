"""The repository's address and the two cells every notebook shares, generated from it: the title cell's
Colab and Binder badges, and the setup code cell. The address lives in pyproject.toml's [project.urls]."""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

from ..errors import WorkbookError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has no tomllib; pyproject requires tomli there
    import tomli as tomllib

URL_KEY = "Repository"
BRANCH = "main"
PACKAGE = "bc_helpers"
TITLE, SETUP = 0, 2  # the positions of the generated cells
BADGE_MARK = "colab-badge.svg"
SETUP_CELL = '''\
# Setup. On Colab and Kaggle: clone the workbook (BC_REPO_URL: another address or a local path), install only what
# they lack (keeping their TensorFlow, Keras, widgets); Kaggle: data from /kaggle/input. Elsewhere: no install.
import importlib.util
import os
import subprocess
import sys

REPO = os.environ.get("BC_REPO_URL", "{url}")
kaggle = "KAGGLE_KERNEL_RUN_TYPE" in os.environ
CLONE = os.environ.get("BC_HOME", "/kaggle/working/{name}" if kaggle else "/content/{name}")
colab = importlib.util.find_spec("google") is not None and importlib.util.find_spec("google.colab") is not None
if "google.colab" in sys.modules or colab or kaggle:
    if not os.path.isdir(CLONE):
        subprocess.run(["git", "clone", "-q", "--depth", "1", REPO, CLONE], check=True)
    if CLONE not in sys.path:
        sys.path.insert(0, CLONE)
    from bc_helpers.course.colab import install_on_colab

    install_on_colab(CLONE)
if kaggle:
    from bc_helpers.course.kaggle import use_kaggle

    use_kaggle()
try:
    from bc_helpers.course.notebook import setup  # noqa: E402  (after the Colab install above)
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(f"this kernel lacks {{error.name}}: run `make setup` in the repository, then choose "
                              "the kernel 'bc-workbook (.venv)'") from None

setup()  # prints versions and the device (CPU or GPU)
'''


def pyproject_url(pyproject: Path) -> str:
    """[project.urls] Repository from a pyproject.toml."""
    urls = tomllib.loads(pyproject.read_text())["project"].get("urls", {})
    if URL_KEY not in urls:
        raise WorkbookError(f"{pyproject} has no [project.urls] {URL_KEY} = \"https://github.com/OWNER/NAME\": add it")
    return urls[URL_KEY]


def metadata_url() -> str | None:
    """The same address from the installed package's metadata (a wheel carries [project.urls] as Project-URL)."""
    try:
        entries = metadata.metadata(PACKAGE).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    found = dict(entry.split(", ", 1) for entry in entries if ", " in entry)
    return found.get(URL_KEY)


def repository_url(root: Path | None = None) -> str:
    """The repository's address: pyproject.toml's where the repository is at hand (the one source, read
    fresh after an edit), else the installed package's metadata."""
    from ..paths import repo_root

    pyproject = (root or repo_root()) / "pyproject.toml"
    if pyproject.is_file():
        return pyproject_url(pyproject)
    url = metadata_url()
    if url is None:
        raise WorkbookError(f"no {pyproject} and no installed {PACKAGE} with a {URL_KEY} URL: reinstall the package")
    return url


def github_slug(url: str) -> str:
    """'OWNER/NAME' of a GitHub address: Colab's and Binder's badges need one."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url)
    if not match:
        raise WorkbookError(f"the repository address {url!r} is not https://github.com/OWNER/NAME: "
                            f"Colab and Binder open notebooks from GitHub; fix [project.urls] in pyproject.toml")
    return f"{match[1]}/{match[2]}"


def badges(url: str, stem: str) -> str:
    """The Colab, Kaggle and Binder badges of notebooks/<stem>.ipynb, one markdown line."""
    slug = github_slug(url)
    colab = f"https://colab.research.google.com/github/{slug}/blob/{BRANCH}/notebooks/{stem}.ipynb"
    kaggle = f"https://kaggle.com/kernels/welcome?src=https://github.com/{slug}/blob/{BRANCH}/notebooks/{stem}.ipynb"
    binder = f"https://mybinder.org/v2/gh/{slug}/{BRANCH}?labpath=notebooks%2F{stem}.ipynb"
    return (f"[![Open In Colab](https://colab.research.google.com/assets/{BADGE_MARK})]({colab}) "
            f"[![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]({kaggle}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})")


def title_cell(source: str, url: str, stem: str) -> str:
    """A title cell with its badges regenerated: the title line and the text after the badges are kept."""
    lines = source.splitlines()
    rest = [line for line in lines[1:] if BADGE_MARK not in line]
    while rest and not rest[0].strip():
        rest.pop(0)
    return "\n".join([lines[0], "", badges(url, stem)] + ([""] + rest if rest else []))


def setup_cell(url: str) -> str:
    """The setup code cell, the same in every notebook."""
    return SETUP_CELL.format(url=url, name=github_slug(url).split("/")[1]).rstrip("\n")


def sync_notebook(path: Path, url: str, check: bool = False) -> bool:
    """Regenerate a notebook's title badges and setup cell; True when they differed (written unless `check`).
    Nothing else in the notebook is touched."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    if len(cells) <= SETUP or cells[TITLE].cell_type != "markdown" or cells[SETUP].cell_type != "code":
        raise WorkbookError(f"{path} does not start with a title (markdown), a markdown cell and the setup code")
    wanted = {TITLE: title_cell(cells[TITLE].source, url, path.stem), SETUP: setup_cell(url)}
    changed = any(cells[i].source != text for i, text in wanted.items())
    if changed and not check:
        for i, text in wanted.items():
            cells[i].source = text
        nbformat.write(nb, path)
    return changed


def sync_notebooks(folder: Path, url: str | None = None, check: bool = False) -> list[Path]:
    """Every notebook in `folder` synchronised with the repository's address; returns those that changed."""
    url = url or repository_url()
    return [path for path in sorted(folder.glob("*.ipynb")) if sync_notebook(path, url, check)]


def notebooks_command(args: argparse.Namespace) -> int:
    """`python -m bc_helpers notebooks [--sync]`: name the notebooks whose badges or setup cell differ from the
    generated ones (exit 1), or rewrite them with --sync."""
    from ..paths import repo_root

    url = repository_url()
    changed = sync_notebooks(repo_root() / "notebooks", url, check=not args.sync)
    verb = "rewritten" if args.sync else "differ from the generated cells (run with --sync)"
    print(f"{url}: {len(changed)} notebook(s) {verb}" + "".join(f"\n  {path.name}" for path in changed))
    return 1 if changed and not args.sync else 0
