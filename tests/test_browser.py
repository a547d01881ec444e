"""The student's view: JupyterLab in a real (headless) Chromium, every cell run through the UI.

Needs Debian's chromium (`.ci/run` installs it) and the `playwright` package (the `browser` extra);
Playwright's own browser download is never used. Screenshots go to runs/test-artifacts/.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bc_helpers import paths

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = paths.repo_root() / "runs" / "test-artifacts"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen, not one restored behind it
IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                       "(apt-get install chromium; .ci/run does it)"),
]
playwright = pytest.importorskip("playwright.sync_api",
                                 reason="playwright is not installed (pip install -e '.[browser]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab from this environment on localhost, a token, a temporary root holding the notebooks."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(paths.repo_root() / "notebooks", root / "notebooks")
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
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("JupyterLab did not start")
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


def _run_all(page, base: str, token: str, notebook: str, timeout_s: float) -> None:
    """Open a notebook, Run > Run All Cells, and wait until every code cell has an execution count."""
    page.goto(f"{base}/lab/tree/notebooks/{notebook}?reset&token={token}")
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_selector(f"{PANEL} {IDLE}", timeout=90_000)
    dialogs: list[str] = []
    for _ in range(5):  # the first kernel of a fresh server may not be connected yet: try again until cells start
        dialogs += _accept_dialogs(page)
        try:
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=10_000)
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click(timeout=10_000)
        except playwright.Error:  # a dialog opened over the menu meanwhile: accept it and try again
            continue
        started = time.time()
        while time.time() - started < 15:
            prompts = [p.strip() for p in page.locator(f"{PANEL} .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()]
            if any(p != "[ ]:" for p in prompts):
                break
            time.sleep(0.5)
        else:
            continue
        break
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        prompts = [p.strip() for p in page.locator(f"{PANEL} .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()]
        idle = page.locator(f"{PANEL} {IDLE}").count() > 0
        if idle and prompts and all(p[1:-2].strip().isdigit() for p in prompts):
            return
        time.sleep(1)
    pytest.fail(f"{notebook}: cells still running after {timeout_s:.0f} s: {prompts}; dialogs seen: {dialogs}")


def _accept_dialogs(page) -> list[str]:
    """A fresh server may open a dialog over the notebook (kernel selection, say): accept it, return its text."""
    seen = []
    for dialog in page.locator(".jp-Dialog").all():
        seen.append(dialog.inner_text()[:300])
        dialog.locator(".jp-mod-accept").first.click(timeout=5_000)
    return seen


def _errors(page) -> list[str]:
    texts = page.locator(f"{PANEL} .jp-OutputArea-output").all_inner_texts()
    return [t[:500] for t in texts if "Traceback" in t or "Error:" in t.split("\n")[0]]


def test_exploration_notebook_runs_in_the_browser_and_its_widget_responds(lab, browser) -> None:
    base, token = lab
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _run_all(page, base, token, "01_data_exploration.ipynb", 300)
    assert _errors(page) == []
    select = page.locator(f"{PANEL} .widget-dropdown select").first
    select.scroll_into_view_if_needed()
    images = page.locator(f"{PANEL} .jupyter-widgets .jp-OutputArea-output img")
    images.first.wait_for(timeout=30_000)
    before = images.first.get_attribute("src")
    options = select.locator("option").all_inner_texts()
    select.select_option(options[1])
    deadline = time.time() + 60
    while images.first.get_attribute("src") == before and time.time() < deadline:
        time.sleep(0.5)
    assert images.first.get_attribute("src") != before, "changing the patient did not change the images"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "01_data_exploration.png"))
    page.close()


def test_cnn_lstm_notebook_runs_in_the_browser(lab, browser) -> None:
    base, token = lab
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _run_all(page, base, token, "08_cnn_lstm.ipynb", 600)
    assert _errors(page) == []
    assert page.locator(f"{PANEL} .widget-slider").count() >= 2, "the threshold and test-image sliders render"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "08_cnn_lstm.png"))
    page.close()
