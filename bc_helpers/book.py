"""Pages that read offline: the run's rendered notebooks, and its report.

One owner for every HTML page the workbook writes, so that none of them needs the network:
- equations are typeset by MathJax copied beside the pages (`install_mathjax`), from the `jupyter-server-mathjax`
  package: MathJax 2.7, the files the Jupyter project ships for serving it without a CDN, and the MathJax that
  nbconvert's template is written for (its configuration is kept; only the web font the package ships is named);
- nbconvert's JupyterLab template is kept, so a page looks like the notebook in JupyterLab; the template's other
  CDN loads are dropped (`OFFLINE_TEMPLATE`): require.js and the widgets' manager (the executed notebooks keep
  no live widget to drive) and mermaid (no notebook draws a diagram);
- images from the network (the Colab and Binder badges) become their alt text, their links stay;
- `write_page` refuses a page that would still load anything from the network (`network_loads`), so a new
  nbconvert default or a new output type fails the build instead of sending readers to a CDN.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WorkbookError
from .files import write_text_atomic

if TYPE_CHECKING:  # nbformat comes with the `run` extra; the report imports write_page on Colab too
    import nbformat

# The configuration file that the package ships (nbconvert's default names one that only the CDN has); Safe
# keeps a notebook's markdown from running script through MathJax, as nbconvert's default does. The package
# ships one web font, STIX-Web, which OFFLINE_TEMPLATE names (MathJax would look for its TeX fonts first, miss
# them, and fall back to the reader's system fonts), as the classic Jupyter Notebook does for the same files.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}});
</script>
{{ super() }}
{%- endblock html_head_js_mathjax -%}
"""
# Attributes through which a browser fetches something by itself; an <a href> waits for a click, so it may
# point anywhere.
FETCHING = {"src", "href", "srcset", "data", "poster", "background"}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
REMOTE_IN_CODE = re.compile(r"""(url\(|@import|import\()\s*['"]?\s*(https?:)?//""", re.IGNORECASE)
REMOTE_IMG = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']?(https?:)?//[^>]*>""", re.IGNORECASE)
ALT = re.compile(r"""\balt\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)


def mathjax_source() -> Path:
    """The MathJax files inside the installed jupyter-server-mathjax package, found without importing it (its
    import starts a Jupyter server extension's machinery)."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or spec.origin is None:
        raise WorkbookError("jupyter-server-mathjax is not installed: pip install -e '.[run]' (it serves MathJax "
                            "to the rendered pages without a network)")
    return Path(spec.origin).parent / "static"


def install_mathjax(static: Path) -> Path:
    """MathJax under static/mathjax, copied once. The run renders notebooks in several processes at once, so the
    copy is made under a temporary name and renamed into place; a process that loses the race drops its copy."""
    target = static / "mathjax"
    if (target / "MathJax.js").exists():
        return target
    static.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".mathjax-", dir=static))
    shutil.copytree(mathjax_source(), staging, dirs_exist_ok=True)
    try:
        staging.rename(target)
    except OSError:  # another process renamed its copy first
        shutil.rmtree(staging)
    return target


def relative_url(target: Path, page: Path) -> str:
    """`target` as a link from the page `page` (both paths under one site)."""
    return Path(os.path.relpath(target, page.parent)).as_posix()


def notebook_html(notebook: nbformat.NotebookNode, page: Path, static: Path) -> str:
    """A notebook as nbconvert's JupyterLab page for `page`, loading MathJax from `static` (installed there)."""
    import jinja2
    from nbconvert import HTMLExporter

    mathjax = install_mathjax(static) / "MathJax.js"
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                            template_file="offline.html.j2",
                            mathjax_url=f"{relative_url(mathjax, page)}?config={MATHJAX_CONFIG}")
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": page.stem}})
    return without_remote_images(body)


def without_remote_images(page: str) -> str:
    """Each image fetched from the network replaced by its alt text (the badges: a link around one still works
    online, and nothing is requested when the page opens)."""
    def alt_text(match: re.Match) -> str:
        alt = ALT.search(match.group(0))
        return alt.group(2) if alt else ""

    return REMOTE_IMG.sub(alt_text, page)


class _Page(HTMLParser):
    """What a page holds: the URLs it fetches by itself (scripts, styles, images, frames), its links, the code of
    its scripts and styles, and its reading text (for the search index)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fetched: list[str] = []
        self.links: list[str] = []
        self.code: list[str] = []
        self.text: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None or name not in FETCHING:
                continue
            if tag == "a" and name == "href":
                self.links.append(value)
            elif name == "srcset":
                self.fetched += [part.split()[0] for part in value.split(",") if part.strip()]
            else:
                self.fetched.append(value)
        self._in_code = tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._in_code = False

    def handle_data(self, data: str) -> None:
        (self.code if self._in_code else self.text).append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def network_loads(page: str) -> list[str]:
    """What the page would load from the network when opened: remote src/href of anything but a link, and
    remote url(), @import and import() in its scripts and styles; empty for a page that reads offline."""
    parsed = _parse(page)
    found = [url for url in parsed.fetched if REMOTE.match(url)]
    for code in parsed.code:
        found += [m.group(0) for m in REMOTE_IN_CODE.finditer(code)]
    return found


def write_page(path: Path, page: str) -> Path:
    """Write an HTML page, refusing one that would load anything from the network."""
    loads = network_loads(page)
    if loads:
        raise WorkbookError(f"{path.name} would load from the network, which a reader offline does not have: "
                            + ", ".join(loads[:5]))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, page)


def write_notebook_html(notebook: Path, target: Path, static: Path) -> Path:
    """An executed notebook as a page that reads offline, its MathJax under `static` (the runner's pages)."""
    import nbformat

    return write_page(target, notebook_html(nbformat.read(notebook, as_version=4), target, static))

