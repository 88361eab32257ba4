"""The page `dvc plots show` writes, opened in headless Chromium without the network: every chart declared in
dvc.yaml's `plots:` draws its lines, every figure loads and fits the page's width, and no request leaves the machine.
The plots are the project's own declarations, over data files and PNGs written here (no pipeline run), in a
temporary DVC repo with the project's .dvc/config and the page template it names (built by make setup)."""
import json
import math
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import urlparse

import pytest
import yaml
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
VIEWPORT = {"width": 1280, "height": 800}
FIGURE_WIDTH = 2400  # wider than the viewport: the page must scale it down

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"no {CHROMIUM}: the plots page is checked in Debian's chromium "
                                       "(apt-get install chromium)")

# Per vega-embed container (DVC's vega renderer: one per declared data-series plot): its canvas, and how many pixel
# columns of it hold a saturated colour. Axes, grid and text are grey; the series' lines are DVC's colours and
# cross the plot, so a drawn chart colours many columns (a legend's swatches alone, a few).
CHARTS_JS = """() => [...document.querySelectorAll('.vega-embed')].map(el => {
    const canvas = el.querySelector('canvas');
    if (!canvas || !canvas.width || !canvas.height) return {id: el.id, width: 0, columns: 0};
    const {width, height} = canvas;
    const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    let columns = 0;
    for (let x = 0; x < width; x++) {
        for (let y = 0; y < height; y++) {
            const i = 4 * (y * width + x);
            const [r, g, b, a] = pixels.slice(i, i + 4);
            if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 80) { columns++; break; }
        }
    }
    return {id: el.id, width, columns};
})"""
IMAGES_JS = """() => [...document.images].map(img => {
    const box = img.getBoundingClientRect();
    return {src: img.getAttribute('src'), loaded: img.complete && img.naturalWidth > 0,
            natural: img.naturalWidth, left: box.left, right: box.right, width: box.width};
})"""


def declared_plots():
    """dvc.yaml's `plots:`: the data-series plots ({title: props}) and the image paths."""
    plots = yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["plots"]
    series = [entry for entry in plots if isinstance(entry, dict)]
    images = [entry for entry in plots if isinstance(entry, str)]
    assert all(path.endswith(IMAGES) for path in images), f"a plot entry that is neither a plot nor an image: {images}"
    return series, images


def write_series(folder, series):
    """Each data file the plots read: its x field and its y fields over six points, as TSV or JSON rows."""
    fields = {}  # path -> (x field, y fields)
    for entry in series:
        (props,) = entry.values()
        assert isinstance(props["x"], str), f"the test writes one x field per plot, not {props['x']!r}"
        for path, ys in props["y"].items():
            x, names = fields.setdefault(path, (props["x"], []))
            assert x == props["x"], f"{path}: two x fields, {x} and {props['x']}"
            names += [ys] if isinstance(ys, str) else ys
    for n, (path, (x, names)) in enumerate(fields.items()):  # each series its own curve
        rows = [{x: i, **{name: round(0.5 + 0.4 * math.sin(i + k + n), 4) for k, name in enumerate(names)}}
                for i in range(6)]
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.endswith(".tsv"):
            lines = [list(rows[0])] + [[str(value) for value in row.values()] for row in rows]
            target.write_text("".join("\t".join(line) + "\n" for line in lines))
        elif path.endswith(".json"):
            target.write_text(json.dumps(rows))
        else:
            raise AssertionError(f"{path}: the test writes .tsv and .json plot data only")


def write_figure(path):
    """A PNG wider than the viewport, a colour ramp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.linear_gradient("L").resize((FIGURE_WIDTH, 200)).convert("RGB").save(path)


def plots_project(folder):
    """A DVC repo holding only the project's plot declarations, data for each, its .dvc/config and the page template
    that config names."""
    series, images = declared_plots()
    folder.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    (folder / ".dvc").mkdir()
    config = open(os.path.join(ROOT, ".dvc", "config")).read()
    (folder / ".dvc" / "config").write_text(config)
    found = re.search(r"^\s*html_template\s*=\s*(\S+)\s*$", config, re.MULTILINE)
    assert found, ".dvc/config names no plots.html_template: dvc plots show would load vega from a CDN"
    template = os.path.normpath(os.path.join(ROOT, ".dvc", found.group(1)))
    assert os.path.isfile(template), f"{template} (plots.html_template in .dvc/config) is missing: run make setup"
    copy = folder / os.path.relpath(template, ROOT)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, copy)
    (folder / "dvc.yaml").write_text(yaml.safe_dump({"plots": series + images}, sort_keys=False))
    write_series(folder, series)
    for path in images:
        write_figure(folder / path)
    return series, images


def is_local(url):
    parsed = urlparse(url)
    return parsed.scheme in ("file", "data", "blob", "about") or parsed.hostname in LOCAL_HOSTS


@pytest.mark.parametrize("out", [None, "../elsewhere/plots"], ids=["default", "out-elsewhere"])
def test_plots_page_draws_offline(tmp_path, out):
    project = tmp_path / "project"
    series, images = plots_project(project)
    command = [sys.executable, "-m", "dvc", "plots", "show"] + (["-o", out] if out else [])
    shown = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert shown.returncode == 0, f"{' '.join(command[1:])} failed:\n{shown.stdout}\n{shown.stderr}"
    page_file = (project / (out or "dvc_plots") / "index.html").resolve()
    assert page_file.as_uri() in shown.stdout, shown.stdout
    html = page_file.read_text()
    assert "<script src=" not in html and "cdn.jsdelivr.net" not in html, "the page loads scripts from elsewhere"

    requests, errors, shot = [], [], tmp_path / "page.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.on("request", lambda request: requests.append(request.url))
            context.route(lambda url: not is_local(url), lambda route: route.abort())  # counted, never sent
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.goto(page_file.as_uri(), wait_until="load")
            drawn = f"() => ({CHARTS_JS})().filter(c => c.columns >= c.width / 4).length >= {len(series)}"
            try:
                page.wait_for_function(drawn, timeout=30_000)
            except PlaywrightTimeout:
                pass  # the assertions below say which chart did not draw
            charts, figures = page.evaluate(CHARTS_JS), page.evaluate(IMAGES_JS)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    outside = [url for url in requests if not is_local(url)]
    assert outside == [], f"the page sent requests off the machine: {outside}"
    assert errors == [], f"the page reported errors: {errors}"
    assert len(charts) == len(series), f"{len(series)} data-series plots declared, {len(charts)} charts: {charts}"
    blank = [chart for chart in charts if chart["columns"] < chart["width"] / 4]
    assert blank == [], f"charts without their lines (coloured pixel columns, canvas width; {shot}): {blank}"
    assert len(figures) == len(images), f"{len(images)} images declared, {len(figures)} on the page: {figures}"
    for figure in figures:
        assert figure["loaded"], f"{figure['src']} did not load"
        assert 0 <= figure["left"] and figure["right"] <= VIEWPORT["width"], f"cut off sideways ({shot}): {figure}"
        assert figure["width"] >= 0.9 * VIEWPORT["width"], f"not at the page's width ({shot}): {figure}"
