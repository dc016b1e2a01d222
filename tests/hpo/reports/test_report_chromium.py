"""The HTML report in a real headless Chromium (Debian's ``chromium`` package): it renders,
its plots draw, none of the injected strings runs, and a screenshot is taken.

Chromium is driven by its command line only: ``--dump-dom`` prints the DOM after the page's
scripts ran, and ``--screenshot`` writes a PNG. Where Chromium is missing these tests are
skipped, except under CI (``$CI`` set), where they fail: CI must run them (``.ci/run``
installs the package), as with PostgreSQL in tests/conftest.py.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from report_sweeps import IMG_PAYLOAD, PARAM_NAME_PAYLOAD, PAYLOADS, XSS_SWEEP, RecordedSweep

from hpo.reports._html import write_html_report
from trackers import Store

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1400, 3200)
LAUNCH_TIMEOUT_S = 180  # generous for a loaded machine; never asserted on


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(
            f"Chromium tests cannot run: {reason}. CI must run them: install Debian's "
            "'chromium' package (apt-get install chromium).",
            pytrace=False,
        )
    pytest.skip(f"Chromium tests skipped: {reason} (set CI=1 to make this a failure)")


@dataclass(frozen=True)
class Browser:
    exe: str
    profile: Path

    def run(self, url: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Load ``url`` headless, let its scripts run (virtual time, not a wait), do ``args``."""
        cmd = [
            self.exe,
            "--headless",
            "--no-sandbox",  # root in CI containers; the page is our own file
            "--disable-gpu",
            "--enable-unsafe-swiftshader",  # software WebGL for the parallel coordinates
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={self.profile}",
            "--virtual-time-budget=20000",
            *args,
            url,
        ]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S, check=False
        )

    def dom(self, page: Path) -> tuple[str, str]:
        """The DOM after load, and the console log."""
        run = self.run(page.as_uri(), "--dump-dom")
        assert run.returncode == 0, run.stderr[-3000:]
        console = "\n".join(line for line in run.stderr.splitlines() if ":CONSOLE" in line)
        return run.stdout, console


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Browser:
    exe = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if exe is None:
        _missing(f"none of {', '.join(BROWSERS)} is on PATH")
    return Browser(exe, tmp_path_factory.mktemp("chromium-profile"))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def xss_page(xss_sweep: RecordedSweep, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with Store(xss_sweep.store) as st:
        return write_html_report(st, xss_sweep.name, tmp_path_factory.mktemp("xss") / "r.html").path


@pytest.fixture(scope="module")
def xss_dom(browser: Browser, xss_page: Path) -> tuple[str, str]:
    return browser.dom(xss_page)


def _plot_segments(dom: str) -> dict[str, str]:
    """Each plot's part of the DOM, by section key."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'id="plot-([\w-]+)"', dom)]
    ends = [s for s, _ in starts[1:]] + [len(dom)]
    return {key: dom[s:e] for (s, key), e in zip(starts, ends)}


def test_the_report_renders_and_every_plot_draws(xss_dom: tuple[str, str], xss_page: Path) -> None:
    dom, console = xss_dom
    assert "Uncaught" not in console, console
    expected = re.findall(r'id="plot-([\w-]+)"', xss_page.read_text())
    segments = _plot_segments(dom)
    assert list(segments) == expected
    assert {"history", "importance", "parallel", "slices", "curves-0"} <= set(segments)
    for key, part in segments.items():
        assert 'class="main-svg"' in part, f"plot {key} did not draw"
    assert len(re.findall(r'class="point"', segments["history"])) > 10
    # Three parameters and the metric: four axes, drawn on WebGL canvases.
    assert 'class="parcoords"' in segments["parallel"]
    assert len(re.findall(r'class="y-axis"', segments["parallel"])) == 4
    assert "gl-canvas" in segments["parallel"]
    # A bar for each of the three parameters.
    assert len(re.findall(r'class="trace bars"', segments["importance"])) == 1
    assert len(re.findall(r'class="point"', segments["importance"])) == 3
    assert len(re.findall(r'<tr class="completed">', dom)) > 0


def test_no_injected_string_runs_and_each_shows_literally(xss_dom: tuple[str, str]) -> None:
    dom, _ = xss_dom
    title = re.search(r"<title>(.*?)</title>", dom)
    assert title is not None and title.group(1) == "hpo report: " + html.escape(XSS_SWEEP, False)
    assert "<title>PWNED" not in dom
    # No element a payload would have made exists (the page itself has none of these).
    assert re.search(r"<(img|iframe)\b", dom) is None
    assert re.search(r"<svg[^>]*\sonload", dom) is None
    assert re.search(r"<i\s+onmouseover", dom) is None
    assert re.search(r"<script>document\.title", dom) is None
    # Each payload is on the page as text, as the user wrote it.
    for payload in PAYLOADS:
        assert html.escape(payload, quote=False) in dom, payload
    # ... in the plots too: the parameter's name as a slice panel's title, the categorical
    # values as parallel-coordinates ticks.
    plots = _plot_segments(dom)
    for payload, key in [(PARAM_NAME_PAYLOAD, "slices"), (IMG_PAYLOAD, "parallel")]:
        shown = re.escape(html.escape(payload, quote=False))
        assert re.search(r"<text[^>]*>" + shown + "</text>", plots[key]), key
    # ... and never escaped twice (which would show "&lt;" to the reader).
    assert re.search(r">[^<>]*&amp;(lt|gt|amp);", dom) is None


def test_the_check_does_catch_a_script_that_runs(browser: Browser, tmp_path: Path) -> None:
    # The same detection on a page that embeds a payload raw: it must see the script run.
    page = tmp_path / "raw.html"
    page.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>{PAYLOADS[1]}</body>")
    dom, _ = browser.dom(page)
    assert "<title>PWNED-img</title>" in dom


def _png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the (filtered) image bytes of a PNG, with the standard library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
    return width, height, zlib.decompress(idat)


def test_a_screenshot_of_the_report(
    browser: Browser, demo_sweep: RecordedSweep, tmp_path: Path
) -> None:
    with Store(demo_sweep.store) as st:
        page = write_html_report(st, demo_sweep.name, tmp_path / "report.html").path
    shot = tmp_path / "report.png"
    run = browser.run(
        page.as_uri(), f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    data = shot.read_bytes()
    width, height, pixels = _png(data)
    assert (width, height) == WINDOW
    assert len(data) > 100_000  # a blank page of this size compresses to a few KB
    # One flat colour leaves a handful of distinct bytes whatever the row filters; text, lines
    # and colour scales use nearly all 256.
    assert len(set(pixels)) > 200
