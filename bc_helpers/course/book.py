"""Pages that read offline: the run's rendered notebooks, its report, and the course book built from a run.

One owner for every HTML page the workbook writes, so that none of them needs the network:
- equations are typeset by MathJax copied beside the pages (`install_mathjax`), from the `jupyter-server-mathjax`
  package: MathJax 2.7, the files the Jupyter project ships for serving it without a CDN, and the MathJax that
  nbconvert's template is written for (its configuration is kept; only the web font the package ships is named);
- nbconvert's JupyterLab template is kept, so a page looks like the notebook in JupyterLab; the template's other
  CDN loads are dropped (`OFFLINE_TEMPLATE`): require.js and the widgets' manager (a static page has no kernel to
  drive a widget) and mermaid (no notebook draws a diagram);
- images from the network (the Colab and Binder badges) become their alt text, their links stay;
- `write_page` refuses a page that would still load anything from the network (`network_loads`), so a new
  nbconvert default or a new output type fails the build instead of sending readers to a CDN.

The book (`build_book`, `make book`, `python -m bc_helpers book`): a static site from an executed run, the report
as its landing page, one page per executed notebook in the course's order, a table of contents on every page,
client-side search over an index written as a script (a page opened from disk may not fetch JSON), and every local
link checked. Built with nbconvert and a few lines of its template rather than a site generator: nbconvert already
renders the run's pages, is maintained by the Jupyter project, and builds offline, while Jupyter Book 2 / mystmd
fetch their theme from the network at build time and Jupyter Book 1 (Sphinx) is in maintenance, with a far larger
dependency tree. The inputs stay plain executed notebooks, so a later move to another generator loses nothing.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .. import paths
from ..errors import WorkbookError
from ..files import write_text_atomic
from .cells import repository_url

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
{%- block codecell -%}
{%- if "solution" in cell.metadata.get("tags", []) -%}
<details class="bc-solution"><summary>Solution: try the exercise first</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock codecell -%}
{%- block input_group -%}
{%- if "check" not in cell.metadata.get("tags", []) -%}{{ super() }}{%- endif -%}
{%- endblock input_group -%}
{%- block html_head_js_mathjax -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}});
</script>
{{ super() }}
{%- endblock html_head_js_mathjax -%}
"""
# A code cell tagged `solution` is folded into a <details> block, as JupyterLab hides its source; a cell tagged
# `check` shows only its verdict (its code would give the answer away).
# Attributes through which a browser fetches something by itself; an <a href> waits for a click, so it may
# point anywhere.
FETCHING = {"src", "href", "srcset", "data", "poster", "background"}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
REMOTE_IN_CODE = re.compile(r"""(url\(|@import|import\()\s*['"]?\s*(https?:)?//""", re.IGNORECASE)
REMOTE_IMG = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']?(https?:)?//[^>]*>""", re.IGNORECASE)
ALT = re.compile(r"""\balt\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
STATIC = "_static"
ASSETS = Path(__file__).parent / "static"
SEARCH_INDEX = "search-index.js"
# What the search index keeps of a page: enough to find any word of a long notebook, small enough to load at once.
SEARCH_CHARS = 200_000


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


def broken_links(root: Path) -> list[str]:
    """Every local link or load of the pages under `root` (MathJax's own files aside) whose file is missing or
    lies outside `root`, as "page: url"; empty when the site is whole."""
    root = root.resolve()
    broken = []
    for page in sorted(root.rglob("*.html")):
        if STATIC in page.relative_to(root).parts:
            continue
        parsed = _parse(page.read_text(encoding="utf-8"))
        for url in parsed.links + parsed.fetched:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path:  # remote, data:, mailto:, or a fragment of the page
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.exists() or not target.is_relative_to(root):
                broken.append(f"{page.relative_to(root).as_posix()}: {url}")
    return broken


@dataclass
class Page:
    """One page of the book."""

    href: str  # from the book's root, e.g. "notebooks/08_cnn_lstm-sample-patient.html"
    title: str  # its line in the table of contents
    source: Path  # the executed notebook, report.html or the markdown note it renders
    notebook: str = ""  # the course notebook it executes ("08_cnn_lstm"); empty for the report and the notes
    variant: str = ""  # the run's dataset and protocol, when the notebook was run with them


def heading(markdown: str, default: str) -> str:
    """The first heading of a notebook's or a note's markdown, as its title."""
    for line in markdown.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return default


def notebook_pages(run: Path) -> list[Page]:
    """The run's executed notebooks in the course's order: by notebook, then dataset, then the patient split
    before a leaky one (as each was run: papermill records the parameters in the notebook)."""
    import nbformat

    found = []
    for path in (run / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        params = nb.metadata.get("papermill", {}).get("parameters", {})
        markdown = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        protocol = params.get("PROTOCOL")
        variant = [str(params["DATASET"])] if "DATASET" in params else []
        variant += [f"{protocol} split"] if protocol is not None else []
        page = Page(f"notebooks/{path.stem}.html", heading(markdown, path.stem), path, path.stem.split("-")[0],
                    " · ".join(variant))
        found.append(((page.notebook, str(params.get("DATASET", "")), protocol not in (None, "patient"),
                       path.stem), page))
    return [page for _, page in sorted(found, key=lambda item: item[0])]


def note_pages(folder: Path) -> list[Page]:
    """The course's markdown notes beside the notebooks (paper_notes.md), which the notebooks link to."""
    return [Page(f"notebooks/{path.stem}.html", heading(path.read_text(encoding="utf-8"), path.stem),
                 source=path) for path in sorted(folder.glob("*.md"))]


def toc(pages: list[Page], current: Page, root: str) -> str:
    """The table of contents: the report, each notebook (its runs nested when it ran more than once), the notes."""
    def link(page: Page, text: str) -> str:
        mark = " aria-current='page'" if page is current else ""
        return f"<a href='{html.escape(root + page.href)}'{mark}>{html.escape(text)}</a>"

    items: list[str] = []
    groups: dict[str, list[Page]] = {}
    for page in pages:
        groups.setdefault(page.notebook or page.href, []).append(page)
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            items.append(f"<li>{link(first, ' · '.join(filter(None, [first.title, first.variant])))}</li>")
        else:
            runs = "".join(f"<li>{link(page, page.variant or page.title)}</li>" for page in group)
            items.append(f"<li>{link(first, first.title)}<ol>{runs}</ol></li>")
    return f"<ol class='book-toc'>{''.join(items)}</ol>"


def framed(page_html: str, nav: str, root: str) -> str:
    """A rendered page with the book's table of contents and search before its content."""
    head = (f"<link rel='stylesheet' href='{root}{STATIC}/book.css'>"
            f"<script src='{root}{STATIC}/{SEARCH_INDEX}' defer></script>"
            f"<script src='{root}{STATIC}/book.js' defer></script>")
    page_html = re.sub(r"</head>", lambda _: head + "</head>", page_html, count=1, flags=re.IGNORECASE)
    return re.sub(r"<body\b[^>]*>", lambda m: m.group(0) + nav, page_html, count=1, flags=re.IGNORECASE)


def relinked(page_html: str, targets: dict[str, str]) -> str:
    """Links to a course notebook or note (`03_cnn.ipynb`, `paper_notes.md`) pointed at its page in the book, and
    to the README at the repository's page (a link, followed only when clicked)."""
    def replace(match: re.Match) -> str:
        quote, url = match.group(1), match.group(2)
        path = url.partition("#")[0]
        if path not in targets:
            return match.group(0)
        return f"href={quote}{targets[path]}{url[len(path):]}{quote}"

    return re.sub(r"""\bhref=(["'])(.*?)\1""", replace, page_html)


def search_text(page_html: str) -> str:
    """A page's reading text, whitespace collapsed, for the search index."""
    return " ".join(" ".join(_parse(page_html).text).split())[:SEARCH_CHARS]


def _clear(out: Path) -> None:
    """Empty `out` for a new build; refuse a non-empty folder that is not a book built here."""
    if out.exists() and any(out.iterdir()):
        if not (out / STATIC / "book.js").exists():
            raise WorkbookError(f"{out} is not empty and holds no book built here: give another --out")
        shutil.rmtree(out)


def build_book(run: str | Path, out: str | Path) -> Path:
    """The course book of an executed run under `out`; returns its index.html. Every page is checked to load
    nothing from the network, and every local link to resolve."""
    import nbformat

    run, out = Path(run), Path(out)
    notebooks = notebook_pages(run) if (run / "notebooks").is_dir() else []
    if not (run / "report.html").exists() or not notebooks:
        raise WorkbookError(f"{run} holds no executed run (report.html and notebooks/*.ipynb): `make run` first, "
                            "or name a run folder with RUN=")
    _clear(out)
    static = out / STATIC
    install_mathjax(static)
    index = Page("index.html", "Report", source=run / "report.html")
    pages = [index, *notebooks, *note_pages(paths.repo_root() / "notebooks")]
    # A link to a notebook leads to its first run (reversed: the first one written wins).
    targets = {f"{page.notebook}.ipynb": Path(page.href).name for page in reversed(notebooks)}
    targets |= {page.source.name: Path(page.href).name for page in pages if page.source.suffix == ".md"}
    targets["../README.md"] = f"{repository_url()}/blob/main/README.md"  # the notebooks link the README's sections
    entries = []
    for page in pages:
        target = out / page.href
        if page is index:
            body = without_remote_images(page.source.read_text(encoding="utf-8"))
        elif page.source.suffix == ".md":
            text = page.source.read_text(encoding="utf-8")
            note = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
            body = notebook_html(note, target, static)
        else:
            body = notebook_html(nbformat.read(page.source, as_version=4), target, static)
        body = relinked(body, targets)
        entries.append({"title": " · ".join(filter(None, [page.title, page.variant])), "href": page.href,
                        "text": search_text(body)})
        root = Path(os.path.relpath(out, target.parent)).as_posix() + "/"  # the book's root from this page
        root = "" if root == "./" else root
        nav = (f"<nav class='book-nav' data-root='{root}'><a class='book-home' href='{root}index.html'>Course book"
               "</a><input type='search' class='book-search' placeholder='Search the book' aria-label='Search the "
               f"book'><ol class='book-results'></ol>{toc(pages, page, root)}</nav>")
        write_page(target, framed(body, nav, root))
    write_text_atomic(static / SEARCH_INDEX, f"window.BOOK_SEARCH = {json.dumps(entries)};\n")
    for name in ("book.css", "book.js"):  # the book's style and search, shipped beside this module
        shutil.copyfile(ASSETS / name, static / name)
    broken = broken_links(out)
    if broken:
        raise WorkbookError("the book has links that lead nowhere: " + "; ".join(broken[:10]))
    return out / "index.html"

