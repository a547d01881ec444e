"""The course book and the pages that read offline, built from a miniature executed run (conftest's fake_run).

The checks here read the written files with their own small parsers, not with bc_helpers.course.book's, so that a
fault in the book's own link check cannot hide a broken link."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from conftest import FAKE_EQUATION, FAKE_RUN
from nbformat.v4 import new_markdown_cell, new_notebook

from bc_helpers import cli
from bc_helpers.course.book import build_book, write_page
from bc_helpers.errors import WorkbookError

URL = re.compile(r"""\b(src|href)=(["'])(.*?)\2""", re.IGNORECASE)
# A script, a style sheet or an image taken from the network (or protocol-relative, //host/...).
REMOTE_LOAD = re.compile(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)=["']?\s*(https?:)?//""", re.IGNORECASE)
COURSE_ORDER = ["index.html", "notebooks/00_index.html", "notebooks/03_cnn-sample-patient.html",
                "notebooks/08_cnn_lstm-sample-patient.html", "notebooks/08_cnn_lstm-sample-patient.html",
                "notebooks/08_cnn_lstm-sample-paper.html", "notebooks/paper_notes.html"]


def _pages(site: Path) -> dict[str, str]:
    """Every HTML page of a site (MathJax's own files aside), by its path from the site's root."""
    return {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in sorted(site.rglob("*.html"))
            if "_static" not in p.relative_to(site).parts}


def _local_urls(page: str) -> list[str]:
    return [url for _, _, url in URL.findall(page)
            if not urlsplit(url).scheme and not url.startswith(("#", "//"))]


@pytest.fixture(scope="module")
def book(fake_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake run's book, built through the command line as `make book` builds it."""
    out = tmp_path_factory.mktemp("book") / "site"
    assert cli.main(["book", "--run", str(fake_run), "--out", str(out)]) == 0
    return out


def test_the_book_has_the_report_as_its_landing_page_and_a_page_per_executed_notebook(book: Path) -> None:
    pages = _pages(book)
    assert set(pages) == {"index.html", "notebooks/paper_notes.html"} | {f"notebooks/{n}.html" for n in FAKE_RUN}
    assert "<h1>Workbook report</h1>" in pages["index.html"]
    paper_split = pages["notebooks/08_cnn_lstm-sample-paper.html"]
    assert "trained 08_cnn_lstm-sample-paper" in paper_split and "data:image/png;base64," in paper_split
    assert "Notes on the paper this course checks" in pages["notebooks/paper_notes.html"]


def test_every_local_link_of_the_book_resolves_inside_it(book: Path) -> None:
    checked = 0
    for name, page in _pages(book).items():
        for url in _local_urls(page):
            target = (book / name).parent / unquote(urlsplit(url).path)
            assert target.exists() and target.resolve().is_relative_to(book.resolve()), f"{name}: {url}"
            checked += 1
    assert checked > 50
    # The links the notebooks' markdown and the report hold lead to pages of the book.
    page_08 = _pages(book)["notebooks/08_cnn_lstm-sample-patient.html"]
    assert 'href="03_cnn-sample-patient.html#Training"' in page_08 and 'href="paper_notes.html"' in page_08
    assert "href='notebooks/08_cnn_lstm-sample-paper.html'" in _pages(book)["index.html"]


def test_no_page_of_the_book_or_of_the_run_loads_anything_from_the_network(book: Path, fake_run: Path) -> None:
    pages = {**_pages(book), **{f"run/{k}": v for k, v in _pages(fake_run).items()}}
    assert len(pages) == 2 * len(FAKE_RUN) + 3  # the book's pages, the run's notebooks and its report
    for name, page in pages.items():
        assert not REMOTE_LOAD.search(page), f"{name}: {REMOTE_LOAD.search(page).group(0)}"
        assert "cdn" not in " ".join(u for _, _, u in URL.findall(page)).lower(), name
    page_08 = pages["notebooks/08_cnn_lstm-sample-patient.html"]
    assert ">Open In Colab</a>" in page_08  # the badge's image is gone, its link stays


def test_equations_are_typeset_by_a_mathjax_served_beside_the_pages(book: Path, fake_run: Path) -> None:
    for site, name in [(book, "notebooks/08_cnn_lstm-sample-patient.html"),
                       (fake_run, "notebooks/08_cnn_lstm-sample-patient.html")]:
        page = (site / name).read_text(encoding="utf-8")
        scripts = [url for url in re.findall(r"<script\b[^>]*\bsrc=[\"']([^\"']+)", page) if "MathJax.js" in url]
        assert scripts == ["../_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"], scripts
        assert (site / "_static" / "mathjax" / "MathJax.js").is_file()
        assert (site / "_static" / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
        assert FAKE_EQUATION.replace("<", "&lt;") in page


def test_the_table_of_contents_follows_the_course_on_every_page(book: Path) -> None:
    for name, page in _pages(book).items():
        toc = re.search(r"<ol class='book-toc'>.*?</nav>", page, re.DOTALL).group(0)
        root = "" if name == "index.html" else "../"
        assert [u.removeprefix(root) for _, _, u in URL.findall(toc)] == COURSE_ORDER, name
        assert re.search(rf"href='{re.escape(root + name)}' aria-current='page'", toc), name
    toc = re.search(r"<ol class='book-toc'>.*?</nav>", _pages(book)["index.html"], re.DOTALL).group(0)
    assert ">sample · patient split</a>" in toc and ">sample · paper split</a>" in toc


def test_the_search_index_holds_every_page_and_its_outputs(book: Path) -> None:
    script = (book / "_static" / "search-index.js").read_text(encoding="utf-8")
    assert script.startswith("window.BOOK_SEARCH = ") and script.rstrip().endswith(";")
    entries = json.loads(script.removeprefix("window.BOOK_SEARCH = ").rstrip().removesuffix(";"))
    assert [e["href"] for e in entries] == list(dict.fromkeys(COURSE_ORDER))
    paper = next(e for e in entries if e["href"] == "notebooks/08_cnn_lstm-sample-paper.html")
    assert paper["title"] == "08 · The paper's CNN-LSTM · sample · paper split"
    assert "trained 08_cnn_lstm-sample-paper" in paper["text"] and "--jp-" not in paper["text"]  # no style sheet
    for name, page in _pages(book).items():  # every page loads the index and the script that searches it
        root = "" if name == "index.html" else "../"
        assert f"src='{root}_static/search-index.js'" in page and f"src='{root}_static/book.js'" in page
    assert "BOOK_SEARCH" in (book / "_static" / "book.js").read_text()


def test_write_page_refuses_a_page_that_loads_from_the_network(tmp_path: Path) -> None:
    for head in ["<script src='https://cdn.example/x.js'></script>",
                 '<link rel="stylesheet" href="//cdn.example/x.css">',
                 "<style>@import url(https://fonts.example/f.css);</style>",
                 "<img src=http://example/badge.svg>"]:
        with pytest.raises(WorkbookError, match="network"):
            write_page(tmp_path / "p.html", f"<html><head>{head}</head><body></body></html>")
    assert not (tmp_path / "p.html").exists()
    write_page(tmp_path / "p.html", "<html><body><a href='https://example.org'>a link waits for a click</a></body>")
    assert (tmp_path / "p.html").exists()


def test_a_link_that_leads_nowhere_fails_the_build(fake_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(fake_run, run)
    nbformat.write(new_notebook(cells=[new_markdown_cell("# 09 · Comparison\n\n[the data](../data/README.md)")]),
                   run / "notebooks" / "09_comparison.ipynb")
    with pytest.raises(WorkbookError, match=r"lead nowhere: notebooks/09_comparison\.html: \.\./data/README\.md"):
        build_book(run, tmp_path / "book")


def test_the_book_replaces_its_last_build_but_never_another_folder(fake_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "book"
    build_book(fake_run, out)
    (out / "stale.html").write_text("from the last build")
    assert build_book(fake_run, out) == out / "index.html" and not (out / "stale.html").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    with pytest.raises(WorkbookError, match="holds no book"):
        build_book(fake_run, other)
    assert (other / "mine.txt").read_text() == "keep"
    with pytest.raises(WorkbookError, match="make run"):
        build_book(tmp_path / "nothing-ran-here", tmp_path / "book2")


def test_a_link_to_the_readme_points_at_the_repository(book: Path) -> None:
    page = (book / "notebooks" / "00_index.html").read_text()
    assert "/blob/main/README.md#troubleshooting" in page and 'href="../README.md' not in page
