"""Notebook 05's explorer in a real browser: JupyterLab served on localhost, the notebook run top to
bottom in headless Chromium (Debian's ``chromium`` driven by Playwright's Python client; no browser
download), the ipywidgets explorer rendered, its image slider moved, the figure redrawn, and no
widget error in the page or its console. ``make browser-test`` installs what it needs and runs it;
elsewhere it skips with the reason."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTEBOOK = "05_results.ipynb"
SHOTS = os.environ.get("MDSEG_BROWSER_SHOTS")  # a folder to keep the screenshots in (default: the test's tmp)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on localhost serving a copy of notebook 05, with the ci profile and a private workdir."""
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed: `make browser-test` installs it")
    pytest.importorskip("playwright", reason="Playwright's Python client is not installed: `make browser-test`")
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine: `apt-get install chromium` (Debian), then `make browser-test`")
    served = tmp_path / "notebooks"
    served.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, served / NOTEBOOK)
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)  # render every cell (JupyterLab 4 windows long notebooks: cells out of view are not in the page)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = _free_port(), "mdseg-browser-test"
    env = {**os.environ, "MDSEG_PROFILE": "ci", "MDSEG_WORKDIR": str(tmp_path / "work"), "MPLBACKEND": "",
           "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings")}
    env.pop("MPLBACKEND")
    root_user = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers, CI
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
                               "--ServerApp.ip=127.0.0.1", *root_user], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "lab.log", "w"))
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        if server.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
    yield f"{base}/lab/tree/{NOTEBOOK}?token={token}", tmp_path
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.slow
def test_the_explorer_renders_and_its_slider_redraws_the_figure(lab):
    from playwright.sync_api import sync_playwright

    url, tmp_path = lab
    shots = Path(SHOTS) if SHOTS else tmp_path
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        page.wait_for_selector(".jp-StatusBar-Widget >> text=Idle", timeout=120_000)  # the kernel is up
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        # the last cell prints this once every cell above it has run (models included)
        done = page.locator(".jp-OutputArea-output", has_text="The deployed model has exactly")
        failed = page.locator("[data-mime-type='application/vnd.jupyter.error']")  # a traceback stops Run All
        deadline = time.monotonic() + 900
        while not (done.count() or failed.count()) and time.monotonic() < deadline:
            page.wait_for_timeout(2000)
        page.screenshot(path=str(shots / "notebook.png"), full_page=True)
        assert failed.count() == 0, failed.first.inner_text()[-3000:]
        assert done.count() == 1, "notebook 05 did not finish within 15 minutes"
        assert page.locator("text=Error displaying widget").count() == 0
        explorer = page.locator(".widget-interact").first
        explorer.scroll_into_view_if_needed()
        image = explorer.locator(".jp-OutputArea-output img").first
        image.wait_for(timeout=60_000)
        before = image.get_attribute("src")
        explorer.screenshot(path=str(shots / "explorer-before.png"))
        slider = explorer.locator(".widget-slider").first
        readout = slider.locator(".widget-readout")
        assert readout.inner_text().strip() == "0"
        slider.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("([el, old]) => { const i = el.querySelector('.jp-OutputArea-output img'); "
                               "return i && i.getAttribute('src') !== old; }",
                               arg=[explorer.element_handle(), before], timeout=60_000)
        after = explorer.locator(".jp-OutputArea-output img").first.get_attribute("src")
        explorer.screenshot(path=str(shots / "explorer-after.png"))
        assert readout.inner_text().strip() == "1" and after != before
        assert page.locator("text=Error displaying widget").count() == 0
        browser.close()
    widget_errors = [e for e in errors if "widget" in e.lower()]
    assert not widget_errors, widget_errors
