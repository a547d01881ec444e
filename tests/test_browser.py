"""The student's view: JupyterLab in a real (headless) Chromium, every cell run through the UI; and the course
book, opened from disk with the network cut off.

Needs Debian's chromium (`.ci/run` installs it) and the `playwright` package (the `browser` extra);
Playwright's own browser download is never used. Under CI (CI=true) a missing chromium or playwright fails
the test instead of skipping it. Screenshots go to runs/test-artifacts/.

Each notebook's kernel is started through the server's REST API before the page opens, so JupyterLab
attaches to that session and never asks which kernel to use (a fresh server could otherwise open its
"Select Kernel" dialog with "No Kernel" chosen).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from bc_helpers import paths
from bc_helpers.course.book import build_book

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = paths.repo_root() / "runs" / "test-artifacts"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen, not one restored behind it
IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
KERNEL = "python3"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() == "true"
# The browser test checks what the UI does (every cell runs, the widgets answer), not the training, which nbval
# and papermill cover at the defaults: 08 gets small settings, injected as papermill injects them.
SMALL = {"08_cnn_lstm": {"EPOCHS": 1, "GRID": {}, "SEEDS": [], "MAX_TRAIN_IMAGES": 600}}


def _require(found: bool, reason: str) -> None:
    """Skip with the reason on a developer's machine; fail under CI, where the test must run."""
    if not found:
        (pytest.fail if IN_CI else pytest.skip)(reason)


pytestmark = pytest.mark.slow
try:
    import playwright.sync_api as playwright
except ImportError:
    playwright = None


@pytest.fixture(scope="module", autouse=True)
def _browser_tools() -> None:
    _require(Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    _require(playwright is not None, "playwright is not installed (pip install -e '.[browser]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str, payload: dict | None = None) -> dict:
    """One call of the Jupyter server's REST API (GET, or POST with a JSON body)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{base}/api/{path}?token={token}", data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab from this environment on localhost, a token, a temporary root holding the notebooks;
    yielded once the server answers and lists the python3 kernelspec."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(paths.repo_root() / "notebooks", root / "notebooks")
    for stem, parameters in SMALL.items():
        path = root / "notebooks" / f"{stem}.ipynb"
        nbformat.write(parameterize_notebook(load_notebook_node(str(path)), parameters), path)
    port, token = _free_port(), secrets.token_hex(16)
    settings = root / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    (settings / "notebook-extension").mkdir(parents=True)  # render every cell, so every output can be checked
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = {**os.environ, "BC_RUNS_BASE": str(root), "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if KERNEL in _api(base, token, "kernelspecs").get("kernelspecs", {}):
                break
        except OSError:
            pass
        if time.time() > deadline or server.poll() is not None:
            server.kill()
            pytest.fail(f"JupyterLab did not start, or lists no {KERNEL!r} kernelspec, within 120 s")
        time.sleep(0.5)
    yield base, token
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _start_kernel(base: str, token: str, notebook: str) -> str:
    """Create the notebook's session with the python3 kernel (the page then attaches to it); its kernel id."""
    session = _api(base, token, "sessions", {"path": f"notebooks/{notebook}", "name": notebook,
                                             "type": "notebook", "kernel": {"name": KERNEL}})
    assert session["kernel"]["name"] == KERNEL, session
    return session["kernel"]["id"]


def _wait_until_attached(base: str, token: str, kernel_id: str, timeout_s: float = 120) -> None:
    """Wait until the server sees the page connected to the kernel, and the kernel idle."""
    deadline = time.time() + timeout_s
    while True:
        kernel = _api(base, token, f"kernels/{kernel_id}")
        if kernel["connections"] >= 1 and kernel["execution_state"] == "idle":
            return
        if time.time() > deadline:
            pytest.fail(f"the page did not attach to an idle {KERNEL} kernel within {timeout_s:.0f} s: {kernel}")
        time.sleep(0.5)


def _prompts(page) -> list[str]:
    return [p.strip() for p in page.locator(f"{PANEL} .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()]


def _click_run_all(page, timeout_s: float = 60) -> None:
    """Run > Run All Cells once the command is enabled (JupyterLab disables it until the kernel is usable)."""
    deadline = time.time() + timeout_s
    while True:
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=10_000)
        item = page.locator(".lm-Menu-item").filter(has=page.locator(".lm-Menu-itemLabel", has_text="Run All Cells"))
        item.first.wait_for(timeout=10_000)
        if "lm-mod-disabled" not in (item.first.get_attribute("class") or ""):
            item.first.click(timeout=10_000)
            return
        page.keyboard.press("Escape")
        if time.time() > deadline:
            pytest.fail(f"Run All Cells stayed disabled for {timeout_s:.0f} s")
        time.sleep(0.5)


def _run_all(page, base: str, token: str, notebook: str, timeout_s: float) -> None:
    """Open a notebook on its running kernel, Run > Run All Cells, and wait until every code cell has an
    execution count; fail at the first error output."""
    kernel_id = _start_kernel(base, token, notebook)
    page.goto(f"{base}/lab/tree/notebooks/{notebook}?reset&token={token}")
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", timeout=90_000)
    _wait_until_attached(base, token, kernel_id)
    dialogs = _choose_kernel_in_dialogs(page)
    _click_run_all(page)
    deadline = time.time() + timeout_s
    prompts = _prompts(page)
    while time.time() < deadline:
        errors = _errors(page)
        assert errors == [], f"{notebook}: a cell failed in the browser: {errors[0]}"
        prompts = _prompts(page)
        idle = page.locator(f"{PANEL} {IDLE}").count() > 0
        if idle and prompts and all(p[1:-2].strip().isdigit() for p in prompts):
            return
        time.sleep(1)
    pytest.fail(f"{notebook}: cells still running after {timeout_s:.0f} s: {prompts}; dialogs seen: {dialogs}")


def _choose_kernel_in_dialogs(page) -> list[str]:
    """Should a dialog still open over the notebook, pick the python3 kernel in it explicitly (never "No
    Kernel") and accept; return what the dialogs said."""
    seen = []
    for dialog in page.locator(".jp-Dialog").all():
        seen.append(dialog.inner_text()[:300])
        choice = dialog.locator("select")
        if choice.count():
            options = choice.first.locator("option").all_inner_texts()
            python = [o for o in options if o.strip().startswith("Python 3")]
            assert python, f"the kernel dialog offers no Python 3 kernel: {options}"
            choice.first.select_option(label=python[0])
        dialog.locator(".jp-mod-accept").first.click(timeout=5_000)
    return seen


def _errors(page) -> list[str]:
    texts = page.locator(f"{PANEL} .jp-OutputArea-output").all_inner_texts()
    return [t[:500] for t in texts if "Traceback" in t or "Error:" in t.split("\n")[0]]


def _wait_for_change(read, before: str | None, timeout_s: float = 60) -> str | None:
    deadline = time.time() + timeout_s
    now = read()
    while now == before and time.time() < deadline:
        time.sleep(0.5)
        now = read()
    return now


def test_exploration_notebook_runs_in_the_browser_and_its_widget_responds(lab, browser) -> None:
    base, token = lab
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _run_all(page, base, token, "01_data_exploration.ipynb", 300)
    select = page.locator(f"{PANEL} .widget-dropdown select").first
    select.scroll_into_view_if_needed()
    images = page.locator(f"{PANEL} .jupyter-widgets .jp-OutputArea-output img")
    images.first.wait_for(timeout=30_000)
    before = images.first.get_attribute("src")
    options = select.locator("option").all_inner_texts()
    select.select_option(options[1])
    after = _wait_for_change(lambda: images.first.get_attribute("src"), before)
    assert after != before, "changing the patient did not change the images"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "01_data_exploration.png"))
    page.close()


def test_cnn_lstm_notebook_runs_in_the_browser_and_its_threshold_slider_redraws(lab, browser) -> None:
    base, token = lab
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _run_all(page, base, token, "08_cnn_lstm.ipynb", 600)
    box = page.locator(f"{PANEL} .widget-vbox").filter(
        has=page.locator(".widget-slider", has_text="threshold")).last
    slider = box.locator(".widget-slider", has_text="threshold").first
    slider.scroll_into_view_if_needed()
    figure = box.locator(".jp-OutputArea-output img").first
    figure.wait_for(timeout=30_000)
    before = figure.get_attribute("src")
    readout = slider.locator(".widget-readout")
    start = readout.inner_text().strip()
    slider.locator(".noUi-handle").first.focus()  # the slider offers fixed thresholds: move it by keyboard
    page.keyboard.press("Home")
    if _wait_for_change(lambda: readout.inner_text().strip(), start, 10) == start:  # it was at the lowest already
        page.keyboard.press("End")
    after = _wait_for_change(lambda: figure.get_attribute("src"), before)
    assert readout.inner_text().strip() != start, "the threshold slider did not move"
    assert after != before, "moving the threshold did not redraw the confusion matrix"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "08_cnn_lstm.png"))
    page.close()


def test_the_book_reads_offline_its_equations_typeset_and_its_figures_drawn(browser, fake_run: Path,
                                                                            tmp_path: Path) -> None:
    """The book of a miniature run (conftest's fake_run) opened from disk, every request that would leave the
    machine refused and recorded: the table of contents leads to 08, whose equation MathJax typesets from the
    book's own copy and whose figure is drawn; the search finds a page by its printed output."""
    index = build_book(fake_run, tmp_path / "book")
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    remote: list[str] = []
    context.route("http*://**", lambda route: (remote.append(route.request.url), route.abort()))
    page = context.new_page()
    page.goto(index.as_uri())
    page.locator(".book-toc a", has_text="08 · The paper's CNN-LSTM").first.click()
    page.wait_for_url("**/notebooks/08_cnn_lstm-sample-patient.html")
    page.locator(".MathJax_Display .MathJax").first.wait_for(timeout=60_000)  # MathJax's output element
    assert page.locator(".MathJax_Display").first.bounding_box()["height"] > 30  # a fraction over a sum, not TeX
    assert "\\frac" not in page.locator("main").inner_text()
    figure = page.locator(".jp-OutputArea-output img").first
    assert figure.evaluate("img => img.complete && img.naturalWidth") == 30
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "book_08.png"))
    page.locator(".book-search").fill("trained 08_cnn_lstm-sample-paper")
    results = page.locator(".book-results a")
    assert results.all_inner_texts() == ["08 · The paper's CNN-LSTM · sample · paper split"]
    results.first.click()
    page.wait_for_url("**/notebooks/08_cnn_lstm-sample-paper.html")
    assert remote == [], f"the book asked the network for {remote}"
    context.close()
