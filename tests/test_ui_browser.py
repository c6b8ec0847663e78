"""End to end in a real browser: ``python app.py`` in a subprocess, Debian's Chromium driven by Playwright.

Upload a real clip, run both trackers, and check what a person would see: two videos that the
browser can actually decode (``videoWidth > 0``), the quality/weight plot, the summary numbers and
the downloads; then reload and check the page finds its job again. A screenshot is saved to
``test-artifacts/``. Skips with the reason when Chromium, Playwright, the checkpoint or the clips
are missing (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.helpers import labelled_zip
from tests.test_api import CLIP, baseline_checkpoint_or_skip, build_plumbing_vsd_checkpoint

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FRAMES = 10

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.shared]


def chromium_or_skip() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no system Chromium: apt-get install chromium chromium-driver (.ci/run does)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(videos_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python app.py`` exactly as a newcomer runs it, on a free local port."""
    chromium_or_skip()
    pytest.importorskip("playwright.sync_api", reason="python playwright not installed (requirements-dev.txt)")
    baseline = baseline_checkpoint_or_skip()
    tmp = tmp_path_factory.mktemp("browser")
    vsd = build_plumbing_vsd_checkpoint(baseline, tmp / "vsd_plumbing.pt")
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "VSDMOT_BASELINE_CHECKPOINT": str(baseline),
           "VSDMOT_VSDMOT_CHECKPOINT": str(vsd), "VSDMOT_JOBS_DIR": str(tmp / "jobs"),
           "VSDMOT_VIDEOS_DIR": str(videos_dir), "GRADIO_ANALYTICS_ENABLED": "False",
           "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    log = (tmp / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"python app.py exited with {process.returncode}:\n{(tmp / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /health in 120 s:\n{(tmp / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def demo_page(server: str, height: int) -> Iterator:
    """The demo's page in headless Chromium, loaded and ready (the Track button drawn); closed after."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.goto(server + "/")
            page.wait_for_selector("#run", timeout=60_000)
            yield page
        finally:
            browser.close()


def test_track_a_clip_in_the_browser_and_see_both_trackers(server: str, videos_dir: Path) -> None:
    with demo_page(server, height=1700) as page:
        assert "Uploads up to" in page.locator("#limits").inner_text()  # limits shown up front
        assert "Baseline" in page.locator("#model-status").inner_text()

        # The first example is the one that shows the point of the demo (several people from frame 1).
        assert CLIP in page.locator(".gallery, [class*=examples]").first.inner_text()
        # Student/DSWR act on VSD-MOT only: greyed out for "Baseline only".
        page.get_by_label("Baseline only").check()
        page.wait_for_function("document.querySelector('#student input').disabled", timeout=10_000)
        page.get_by_label("Both side by side").check()
        page.wait_for_function("!document.querySelector('#student input').disabled", timeout=10_000)

        upload(page, videos_dir / CLIP)
        set_frames(page, FRAMES)
        choose_degradation(page, "medium")
        page.locator("#run").click()

        # One synchronised video is the main result; while it runs, progress is shown once.
        page.wait_for_selector(".progress-text, .eta-bar", timeout=60_000)
        assert page.locator(".eta-bar").count() <= 1
        wait_for_video(page, "#video-side-by-side video")
        width = page.evaluate("document.querySelector('#video-side-by-side video').videoWidth")
        height = page.evaluate("document.querySelector('#video-side-by-side video').videoHeight")
        assert width > 1.5 * height  # two panels in one frame
        page.locator("#separate-videos button, #separate-videos .label-wrap").first.click()  # the optional players
        for video in ("#video-baseline video", "#video-vsdmot video"):
            wait_for_video(page, video)
        page.wait_for_selector("#quality-plot .js-plotly-plot", timeout=30_000)
        plot_text = page.locator("#quality-plot").inner_text()
        assert "semantic weight w" in plot_text and "noise (penalty" in plot_text and "Visible tracks" in plot_text
        summary = page.locator("#summary").inner_text()
        assert "identities" in summary and "baseline" in summary and "vsd-mot" in summary
        assert f"{FRAMES} of 45 frames of {CLIP}" in summary
        downloads = page.locator("#downloads").inner_text().replace("\n", "")  # names render as name | .ext
        assert "baseline.txt" in downloads and "side_by_side.mp4" in downloads
        job_id = page.locator("#job-id textarea, #job-id input").first.input_value()
        assert len(job_id) == 32
        page.screenshot(path=str(ARTIFACTS / "ui-browser.png"), full_page=True)

        assert "medium" in page.locator("#run-history").inner_text()  # the run is in the history

        page.reload()  # the job id lives in the browser's storage: the page finds its results again
        wait_for_video(page, "#video-side-by-side video")
        page.wait_for_function(f"document.querySelector('#summary').innerText.includes('{FRAMES} of 45 frames')",
                               timeout=60_000)
        # ... and the form shows the options that produced them, not the defaults.
        page.wait_for_function("document.querySelector('#degrade input').value === 'medium'", timeout=30_000)
        assert page.locator("#max-frames input[type=number]").input_value() == str(FRAMES)
        history = page.locator("#run-history").inner_text()
        assert history.count(job_id[:8]) == 2  # one row per tracker, not repeated by the reload

    assert httpx.get(f"{server}/jobs/{job_id}", timeout=10).json()["state"] == "done"


def upload(page, path: Path) -> None:
    page.set_input_files("#clip input[type=file]", str(path))
    page.wait_for_selector(f"#clip :text('{path.stem}')", timeout=30_000)


def set_frames(page, frames: int) -> None:
    box = page.locator("#max-frames input[type=number]")
    box.fill(str(frames))
    box.press("Enter")


def choose_degradation(page, preset: str) -> None:
    page.locator("#degrade input").click()
    page.get_by_role("option", name=preset, exact=True).click()
    page.wait_for_function(f"document.querySelector('#degrade input').value === '{preset}'", timeout=10_000)


def wait_for_video(page, selector: str, timeout_ms: int = 240_000) -> None:
    page.wait_for_selector(selector, timeout=timeout_ms)
    page.wait_for_function(f"document.querySelector('{selector}').videoWidth > 0", timeout=30_000)


def test_a_robustness_sweep_plots_every_level_in_the_browser(server: str, videos_dir: Path) -> None:
    with demo_page(server, height=2200) as page:
        upload(page, videos_dir / CLIP)
        set_frames(page, 6)
        page.locator("#sweep input").check()
        page.locator("#run").click()
        page.wait_for_selector("#sweep-plot .js-plotly-plot", timeout=300_000)
        text = page.locator("#sweep-plot").inner_text()
        assert "Agreement with the clean run" in text and "not accuracy" in text
        for level in ("none", "mild", "medium", "severe", "realesrgan"):
            assert level in text
        assert "Robustness sweep" in page.locator("#summary").inner_text()
        page.locator("#sweep-plot").screenshot(path=str(ARTIFACTS / "ui-sweep.png"))
        page.screenshot(path=str(ARTIFACTS / "ui-sweep-page.png"), full_page=True)


def test_score_a_labelled_zip_in_the_browser_and_see_a_mismatch_refused(server: str, pets_dir: Path,
                                                                        tmp_path: Path) -> None:
    good = labelled_zip(pets_dir, tmp_path / "pets-labelled.zip", 8)
    bad = labelled_zip(pets_dir, tmp_path / "pets-wrong-gt.zip", 4, gt_shift=30)
    with demo_page(server, height=1900) as page:
        upload(page, bad)
        page.locator("#run").click()
        page.wait_for_selector(":text('the ground truth belongs to another clip')", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "ui-labelled-refused.png"))

        page.locator("#clip button[aria-label*='Clear' i], #clip button[title*='Clear' i]").first.click()
        upload(page, good)
        page.locator("#run").click()
        wait_for_video(page, "#video-side-by-side video")
        page.wait_for_function("document.querySelector('#summary').innerText.includes('Accuracy against')",
                               timeout=60_000)
        summary = page.locator("#summary").inner_text()
        for column in ("HOTA", "DetA", "AssA", "MOTA", "IDF1"):
            assert column in summary
        assert "baseline" in summary and "vsd-mot" in summary
        assert "HOTA (labelled)" in page.locator("#run-history").inner_text()
        page.screenshot(path=str(ARTIFACTS / "ui-labelled-scores.png"), full_page=True)


def test_api_docs_render_with_every_outside_request_blocked(server: str) -> None:
    """``/docs`` and ``/redoc`` come up with the network cut off: nothing is fetched from a CDN."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []

    def only_this_server(route) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.route("**/*", only_this_server)
            page.goto(server + "/docs")
            try:
                page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
            finally:
                page.screenshot(path=str(ARTIFACTS / "api-docs-offline.png"))
            assert "/track" in page.locator(".swagger-ui").inner_text()
            page.goto(server + "/redoc")
            page.wait_for_selector("redoc h1, redoc [role=search]", timeout=30_000)
            assert "/track" in page.locator("redoc").inner_text()
        finally:
            browser.close()
    # ReDoc's bundle asks for its own "powered by" logo from its CDN; blocked, the page renders all the same.
    decorative = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
    assert not set(outside) - decorative, f"the docs pages asked for outside resources: {outside}"
