"""The app in a real browser: `sendlens app` served, driven in headless Chromium.

Opens Compare areas from the sidebar, clicks one heatmap cell and checks that the
evidence beside the chart is that cell's passages, then follows a passage to the
letter reader. Screenshots go to tests/_artifacts/ (git-ignored) for a human to look at.

Needs Debian's chromium (`apt-get install -y chromium`); skipped when it is missing,
except under CI=true where it must be installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from appserver import served_app

from sendlens.store import Corpus, now_iso

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _need_browser() -> None:
    reason = ""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} missing: install it with `apt-get install -y chromium`"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is not installed (pip install -e .[dev])"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: the browser test must run)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory, real_pdfs: list[Path]) -> Path:
    _need_browser()
    return _tagged_by_words(tmp_path_factory.mktemp("browsercorpus"), real_pdfs[:6])


def _tagged_by_words(root: Path, pdfs: list[Path]) -> Path:
    """A corpus of `pdfs` tagged by a few words (no model to train): the app's pages
    need tags, not good ones."""
    from sendlens.importer import import_paths

    corpus = Corpus.open(root)
    import_paths(corpus, pdfs, progress=False)
    with corpus.transaction() as con:
        for r in con.execute("SELECT passage_id, section, text FROM passages").fetchall():
            text = r["text"].lower()
            themes = [t for t, w in (("health_input", "health"), ("ehc_plans", "ehc"),
                                     ("co_production", "parent")) if w in text]
            stance = {"strengths": "positive", "weaknesses": "negative"}.get(r["section"],
                                                                             "neutral")
            con.execute("INSERT INTO tags VALUES (?, ?, ?, '{}', 'browser-1', ?)",
                        (r["passage_id"], json.dumps(themes), stance, now_iso()))
        con.execute("INSERT INTO models VALUES ('browser-1', ?, 'models/x', '{}', 1)",
                    (now_iso(),))
    return root


@pytest.fixture(scope="module")
def server(corpus_dir: Path) -> Iterator[str]:
    """`sendlens app` on a free port; yields its URL, stops it afterwards."""
    with served_app(corpus_dir, corpus_dir / "server.log") as url:
        yield url


@contextmanager
def browser_page(url: str, painted: str, **options: Any) -> Iterator[Any]:
    """A headless Chromium tab (1440 x 1000 unless `options` say otherwise, as do any
    other new_page options) opened at `url`, once the app has drawn page `painted`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(**{"viewport": {"width": 1440, "height": 1000}, **options})
            page.goto(url)
            page.wait_for_selector(f"#painted-{painted}", state="attached", timeout=60_000)
            yield page
        finally:
            browser.close()


def _cell_count(corpus_dir: Path, area: str, theme: str) -> int:
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    try:
        return con.execute(
            "SELECT count(*) FROM tags t JOIN passages p USING (passage_id)"
            " JOIN letters l USING (letter_id) WHERE l.area = ? AND EXISTS"
            " (SELECT 1 FROM json_each(t.themes) WHERE value = ?)", (area, theme)
        ).fetchone()[0]
    finally:
        con.close()


def _last_tagged_passage(corpus_dir: Path) -> tuple[str, str]:
    """The letter with the most passages and its last passage that has a theme."""
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    try:
        letter = con.execute("SELECT letter_id FROM passages GROUP BY letter_id"
                             " ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        last = con.execute(
            "SELECT passage_id FROM passages JOIN tags USING (passage_id) WHERE letter_id = ?"
            " AND themes != '[]' ORDER BY seq DESC LIMIT 1", (letter,)).fetchone()[0]
    finally:
        con.close()
    return letter, last


def test_compare_cell_leads_to_its_evidence(server: str, corpus_dir: Path) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    areas = [r[0] for r in con.execute("SELECT area FROM letters ORDER BY area")]
    con.close()
    area = areas[2]  # not the first row: the evidence panel starts on the first one
    expected = _cell_count(corpus_dir, area, "health_input")
    assert expected > 0

    with browser_page(server + "/", "overview") as page:
        # Both Overview charts draw their bars (their data arrives beside the spec).
        charts = page.locator("[data-testid=stVegaLiteChart]")
        expect(charts).to_have_count(2, timeout=30_000)
        for i in range(2):
            expect(charts.nth(i).locator(".mark-rect path").first).to_be_attached(
                timeout=30_000)
        # A screen reader hears each bar once, in words, not every field twice.
        expect(charts.nth(0).locator(".mark-rect.role-mark path").first).to_have_attribute(
            "aria-label", re.compile(r"^20\d\d, [^;:]+: [\d,]+ letters?$"), timeout=30_000)
        expect(charts.nth(1).locator(".mark-rect.role-mark path").first).to_have_attribute(
            "aria-label", re.compile(r"^[^;:]+, [^;:]+: [\d,]+ letters?$"), timeout=30_000)
        page.get_by_text("Compare areas", exact=True).first.click()
        page.wait_for_selector("#painted-compare", state="attached", timeout=60_000)
        assert "page=compare" in page.url
        # A cell is named for a screen reader as its row, theme and figures.
        cell = page.locator(
            f'[data-testid=stVegaLiteChart] path[aria-label^="{area}, Health input"]')
        expect(cell).to_have_count(1, timeout=30_000)
        # Click near the cell's corner: its centre is covered by the count label.
        cell.click(position={"x": 4, "y": 4})
        summary = page.locator("[data-testid=stMarkdownContainer]",
                               has_text=f"{area} · Health input").first
        expect(summary).to_contain_text(f"{expected} passages", timeout=30_000)
        cards = page.locator(".st-key-cell-cards")
        expect(cards).to_contain_text("read in letter", timeout=30_000)
        assert "cell_row=" in page.url  # the view can be shared as a link
        # The heatmap outlines the cell whose evidence is shown, and only that one.
        outlined = page.locator(
            '[data-testid=stVegaLiteChart] .mark-rect path[stroke="#111"]')
        expect(outlined).to_have_count(1, timeout=30_000)
        expect(outlined).to_have_attribute(
            "aria-label", re.compile(f"^{re.escape(area)}, Health input"), timeout=30_000)
        page.mouse.move(5, 5)  # no tooltip over the chart in the screenshot
        page.screenshot(path=str(ARTIFACTS / "compare-cell-evidence.png"))

        # A shared link to another cell: that cell is outlined, not the first one.
        other = areas[1]
        page.goto(f"{server}/?page=compare&cell_row={quote(other)}&cell_theme=ehc_plans")
        page.wait_for_selector("#painted-compare", state="attached", timeout=60_000)
        expect(outlined).to_have_count(1, timeout=30_000)
        expect(outlined).to_have_attribute(
            "aria-label", re.compile(f"^{re.escape(other)}, EHC needs assessment"),
            timeout=30_000)
        page.get_by_text(f"{other} · EHC needs assessment and plans").wait_for(
            timeout=30_000)
        page.goto(server + "/?page=compare&cell_row=" + quote(area)
                  + "&cell_theme=health_input")
        page.wait_for_selector("#painted-compare", state="attached", timeout=60_000)

        # Follow one passage to the letter it came from.
        href = cards.locator("a").first.get_attribute("href")
        assert href and "page=reader" in href and "focus=" in href
        page.goto(server + "/" + href)
        page.wait_for_selector("#painted-reader", state="attached", timeout=60_000)
        focus = href.split("focus=")[1].split("&")[0]
        expect(page.locator(f"mark#p-{focus}")).to_have_count(1, timeout=30_000)
        assert page.locator("script", has_text="alert").count() == 0
        page.screenshot(path=str(ARTIFACTS / "reader-linked-passage.png"))

        # A link to a passage far down its letter scrolls the reader to it.
        letter, last = _last_tagged_passage(corpus_dir)
        page.goto(f"{server}/?page=reader&letter={letter}&focus={last}")
        page.wait_for_selector("#painted-reader", state="attached", timeout=60_000)
        mark = page.locator(f"mark#p-{last}")
        expect(mark).to_be_in_viewport(timeout=30_000)
        assert page.evaluate("document.querySelector('.stMain').scrollTop") > 500

        # Area profile: a letter x theme cell opens that letter with the theme's
        # passages highlighted.
        page.goto(f"{server}/?page=area&area={quote(area)}")
        page.wait_for_selector("#painted-area", state="attached", timeout=60_000)
        cell = page.locator('[data-testid=stVegaLiteChart] path[aria-label*="; Health input'
                            ' into"]')
        expect(cell).to_have_count(1, timeout=30_000)
        assert "?page=" not in (cell.get_attribute("aria-label") or "")
        box = cell.bounding_box()
        assert box
        # The centre, where the count is drawn over the cell: people click there.
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url("**page=reader**", timeout=30_000)
        assert "hl=health_input" in page.url
        page.wait_for_selector("#painted-reader", state="attached", timeout=60_000)
        # ... and scrolled to the first of them.
        expect(page.locator("mark[title*='Health input']").first).to_be_in_viewport(
            timeout=30_000)
        assert page.evaluate("document.querySelector('.stMain').scrollTop") > 200


def test_a_click_counts_whatever_moved_the_evidence_since(server: str,
                                                         corpus_dir: Path) -> None:
    """The chart kept its last click when a sort, the themes or a visit to another page
    moved the evidence: a click on that cell again sent nothing and was lost, and back
    on the page the evidence was of the cell clicked before the last."""
    from playwright.sync_api import expect

    con = sqlite3.connect(corpus_dir / "sendlens.db")
    areas = [r[0] for r in con.execute("SELECT area FROM letters ORDER BY area")]
    con.close()
    first, second = areas[2], areas[3]

    def cell(area: str, theme: str) -> Any:
        return page.locator(f'[data-testid=stVegaLiteChart] path[aria-label^="{area}, {theme}"]')

    def shown(area: str, theme: str) -> None:
        expect(page.get_by_text(f"{area} · {theme}").first).to_be_attached(timeout=30_000)

    with browser_page(server + "/?page=compare", "compare") as page:
        cell(first, "Health input").click(position={"x": 4, "y": 4})
        shown(first, "Health input")
        cell(second, "EHC needs").click(position={"x": 4, "y": 4})
        shown(second, "EHC needs assessment and plans")
        # A ranking moves the evidence to its top row; the cell clicked before still counts.
        page.get_by_text("Row order and themes", exact=True).click()
        box = page.locator(".st-key-sort input")
        expect(box).to_be_attached(timeout=30_000)
        box.fill("Health")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Top of the ranking on Health input")).to_be_attached(
            timeout=30_000)
        top = page.locator("[data-testid=stMarkdownContainer]", has_text=" · Health input")
        expect(top.first).to_be_attached(timeout=30_000)
        cell(second, "EHC needs").click(position={"x": 4, "y": 4})
        shown(second, "EHC needs assessment and plans")
        # Away and back: the cell clicked last.
        page.get_by_text("Overview", exact=True).first.click()
        page.wait_for_selector("#painted-overview", state="attached", timeout=60_000)
        page.get_by_text("Compare areas", exact=True).first.click()
        page.wait_for_selector("#painted-compare", state="attached", timeout=60_000)
        shown(second, "EHC needs assessment and plans")


def test_a_tap_on_a_tablet_picks_a_cell_of_every_area(tmp_path: Path,
                                                      real_pdfs: list[Path]) -> None:
    """Every area's row (440 cells) was drawn on a canvas, where a tap selected nothing
    (Vega picks the item under the last pointer move; a tap makes none) and a screen
    reader found no cell."""
    from playwright.sync_api import expect

    _need_browser()
    root = _tagged_by_words(tmp_path / "corpus", real_pdfs)
    con = sqlite3.connect(root / "sendlens.db")
    areas = [r[0] for r in con.execute("SELECT DISTINCT area FROM letters ORDER BY area")]
    con.close()
    assert len(areas) * 8 > 200
    area = areas[4]
    with served_app(root, tmp_path / "server.log") as url, browser_page(
            url + "/?page=compare", "compare", viewport={"width": 820, "height": 1180},
            has_touch=True, is_mobile=True) as page:
        cell = page.locator(
            f'[data-testid=stVegaLiteChart] path[aria-label^="{area}, Health input"]')
        expect(cell).to_have_count(1, timeout=30_000)
        cell.scroll_into_view_if_needed()
        cell.tap(position={"x": 4, "y": 4})
        expect(page.get_by_text(f"{area} · Health input").first).to_be_attached(
            timeout=30_000)


def test_on_a_phone_evidence_comes_into_view_and_charts_keep_their_size(server: str,
                                                                 corpus_dir: Path) -> None:
    """On a narrow screen the evidence sits under the whole chart: a click that changed
    nothing in view would look broken."""
    from playwright.sync_api import expect

    con = sqlite3.connect(corpus_dir / "sendlens.db")
    areas = [r[0] for r in con.execute("SELECT area FROM letters ORDER BY area")]
    con.close()
    with browser_page(server + "/?page=compare", "compare",
                      viewport={"width": 400, "height": 300}) as page:
        heading = page.locator("#cell-evidence")
        expect(heading).to_be_attached(timeout=30_000)
        cell = page.locator(
            f'[data-testid=stVegaLiteChart] path[aria-label^="{areas[2]}, Health input"]')
        cell.scroll_into_view_if_needed()
        expect(heading).not_to_be_in_viewport(ratio=1)
        cell.click(position={"x": 4, "y": 4})
        expect(page.get_by_text(f"{areas[2]} · Health input").first).to_be_attached(
            timeout=30_000)
        expect(heading).to_be_in_viewport(ratio=1, timeout=30_000)

        # Area profile's cells keep a readable width: the chart scrolls in its box.
        page.goto(f"{server}/?page=area&area={quote(areas[0])}")
        page.wait_for_selector("#painted-area", state="attached", timeout=60_000)
        first = page.locator("[data-testid=stVegaLiteChart] .mark-rect path").first
        expect(first).to_be_attached(timeout=30_000)
        box = first.bounding_box()
        assert box and box["width"] >= 40, box
        main = page.evaluate("[document.querySelector('.stMain').scrollWidth,"
                             " document.querySelector('.stMain').clientWidth]")
        assert main[0] <= main[1], main


def test_on_a_laptop_the_heatmap_is_never_cut_off_without_a_word(server: str) -> None:
    """With the sidebar open, a 1000 px window left the chart a column narrower than it:
    its last themes and key were out of sight with no scroll bar in view."""

    def layout(width: int) -> dict[str, Any]:
        with browser_page(server + "/?page=compare", "compare",
                          viewport={"width": width, "height": 900}) as page:
            page.locator(".st-key-heatmap-box [data-testid=stVegaLiteChart]").first.wait_for()
            return page.evaluate("""() => {
                const box = document.querySelector('.st-key-heatmap-box');
                const ev = document.querySelector('#cell-evidence').getBoundingClientRect();
                return {fits: box.scrollWidth <= box.clientWidth,
                        hint: getComputedStyle(box.querySelector('.sendlens-sideways'))
                              .display !== 'none',
                        beside: ev.left > box.getBoundingClientRect().right};
            }""")

    wide, laptop = layout(1440), layout(1000)
    assert wide == {"fits": True, "hint": False, "beside": True}, wide
    # Too narrow for both: the evidence goes under the chart, and the chart fits, or
    # says that it scrolls.
    assert not laptop["beside"], laptop
    assert laptop["fits"] or laptop["hint"], laptop


def _contrast(a: str, b: str, alpha: float = 1.0) -> float:
    """WCAG contrast of two colours as SVG writes them (#rgb, #rrggbb, rgb(), names), `b`
    drawn at `alpha` on white (a faded cell)."""
    def channels(colour: str) -> list[float]:
        named = {"white": "#ffffff", "black": "#000000"}
        colour = named.get(colour.strip(), colour.strip())
        if colour.startswith("#"):
            hexa = colour[1:] if len(colour) == 7 else "".join(c * 2 for c in colour[1:4])
            return [int(hexa[i:i + 2], 16) for i in (0, 2, 4)]
        return [float(v) for v in re.findall(r"[\d.]+", colour)[:3]]

    def luminance(colour: str) -> float:
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
               for c in (v / 255 for v in channels(colour))]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    solid = [v * alpha + 255 * (1 - alpha) for v in channels(b)]
    hi, lo = sorted((luminance(a), luminance("rgb({}, {}, {})".format(*solid))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_a_heatmap_cell_no_passage_judges_is_grey_not_a_colour_of_the_scale(
    server: str
) -> None:
    """Vega-Lite drew a missing share in the colour of 0: a theme never mentioned looked
    like "0% negative" (or, by net stance, "balanced"). Never mentioned is blank, every
    passage neutral grey. A screen reader hears the same in words, once per cell, and
    every number is readable on its cell (4.5:1)."""
    from sendlens.ui.common import GREY

    for metric in ("share_negative", "net_stance"):
        with browser_page(f"{server}/?page=compare&metric={metric}", "compare") as page:
            page.locator("[data-testid=stVegaLiteChart] .mark-rect path").first.wait_for()
            cells = page.evaluate("""() => [...document.querySelectorAll(
                '[data-testid=stVegaLiteChart] .mark-rect.role-mark path')]
                .map(p => [p.getAttribute('aria-label') || '', p.getAttribute('fill')])""")
            spoken_counts = page.locator(
                "[data-testid=stVegaLiteChart] .mark-text [aria-label]").count()
            # Each number against its cell's fill: fixed cut-offs on the value left white
            # on a mid blue at 2.5:1 and #222 on a mid red at 4.2:1.
            numbers = page.evaluate("""() => {
                const cells = [...document.querySelectorAll(
                  '[data-testid=stVegaLiteChart] .mark-rect.role-mark path')].map(p => {
                  const r = p.getBoundingClientRect();
                  return [r.x + r.width / 2, r.y + r.height / 2, p.getAttribute('fill'),
                          +(p.getAttribute('opacity') || 1)]; });
                return [...document.querySelectorAll(
                  '[data-testid=stVegaLiteChart] .mark-text.role-mark text')]
                  .filter(t => t.textContent).map(t => {
                    const r = t.getBoundingClientRect(), x = r.x + r.width / 2,
                          y = r.y + r.height / 2;
                    const c = cells.reduce((a, b) => Math.hypot(b[0] - x, b[1] - y)
                                           < Math.hypot(a[0] - x, a[1] - y) ? b : a);
                    return [t.getAttribute('fill'), c[2], c[3], t.textContent]; }); }""")
        assert numbers
        low = [(n, text, fill, alpha) for text, fill, alpha, n in numbers
               if _contrast(text, fill, alpha) < 4.5]
        assert not low, (metric, low)
        name = metric.replace("_", " ")
        never = [fill for label, fill in cells if label.endswith(": never mentioned")]
        neutral = [fill for label, fill in cells if label.endswith(", every passage is neutral")]
        judged = [fill for label, fill in cells
                  if re.search(rf"\d+ letters?, {name} [-+\u2212]?\d", label)]
        assert never and neutral and judged, cells[:3]
        # Every cell is one of the three, named in words: no "theme_short: ...; null".
        assert len(never) + len(neutral) + len(judged) == len(cells), cells
        assert spoken_counts == 0  # the number drawn on a cell is not read a second time
        assert set(never) == {"#ffffff"}, (metric, set(never))  # blank
        assert set(neutral) == {GREY}, (metric, set(neutral))
        assert GREY not in judged and "#ffffff" not in judged, metric


def test_a_radio_option_reached_by_keyboard_shows_a_focus_ring(server: str) -> None:
    """Streamlit marks a focused radio option with a faint grey (about 1.1:1 on white):
    keyboard users lost their place in the page list."""
    with browser_page(server + "/?page=overview", "overview") as page:
        # The page list may be drawn after the page's own marker; and if the focus
        # starts past it, the Tab order wraps round the page (about 13 stops) first.
        page.wait_for_selector("[data-testid=stRadioOption]", timeout=30_000)
        ring = None
        for _ in range(30):
            page.keyboard.press("Tab")
            ring = page.evaluate("""() => {
                const option = document.activeElement.closest("[data-testid=stRadioOption]");
                return option && getComputedStyle(option).outlineStyle; }""")
            if ring:
                break
    assert ring == "solid"


def test_choosing_a_sort_by_keyboard_keeps_the_focus_on_it(server: str) -> None:
    """The first ranking chosen opened its expander anew (`expanded` changed): Streamlit
    drew a new one and the keyboard focus fell back to the top of the page."""
    from playwright.sync_api import expect

    with browser_page(server + "/?page=compare", "compare") as page:
        page.get_by_text("Row order and themes", exact=True).click()
        box = page.locator(".st-key-sort input")
        expect(box).to_be_attached(timeout=30_000)
        box.focus()
        page.keyboard.type("Health")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Top of the ranking on Health input")).to_be_attached(
            timeout=30_000)
        page.wait_for_timeout(500)  # the rerun's last paint
        inside = page.evaluate("() => !!document.activeElement.closest('.st-key-sort')")
        assert inside, page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)")


def test_captions_are_readable_and_a_focused_chart_toolbar_shows(server: str) -> None:
    """Captions (how to pick a cell without a mouse) were 3.9:1 on white; a chart's
    toolbar ("Show data", the keyboard's way to its numbers) stayed invisible while one
    of its buttons had the focus."""
    from playwright.sync_api import expect

    with browser_page(server + "/?page=compare", "compare") as page:
        colours = page.evaluate("""() => [...document.querySelectorAll(
            '[data-testid=stCaptionContainer]')].map(c => getComputedStyle(
            c.querySelector('p') || c).color)""")
        assert colours and all(_contrast(c, "#ffffff") >= 4.5 for c in colours), colours
        button = page.locator("[data-testid=stElementToolbar] button").first
        expect(button).to_be_attached(timeout=30_000)
        button.focus()
        page.mouse.move(0, 0)
        page.wait_for_timeout(400)  # past the toolbar's fade
        opacity = page.evaluate("""() => getComputedStyle(document.activeElement.closest(
            '[data-testid=stElementToolbar]')).opacity""")
        assert float(opacity) == 1.0


def _open_list_by_keyboard(page: Any, selector: str) -> None:
    """Focus a select box and open its list with the Down key. On a loaded machine the key
    can land while a rerun still redraws the box (the focus then goes with the old one), so
    it is pressed again, up to three times, until the list shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        page.locator(selector).focus()
        page.keyboard.press("ArrowDown")
        try:
            page.get_by_role("listbox").wait_for(state="visible", timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def test_saving_a_correction_by_keyboard_keeps_the_place(corpus_dir: Path,
                                                        tmp_path: Path) -> None:
    """After "Save correction" the rerun dropped the keyboard focus to the top of the page,
    and nothing said the correction was saved; so did removing one, and a first filter."""
    import shutil

    from playwright.sync_api import expect

    work = tmp_path / "corpus"  # a copy: the other tests' server keeps its corpus as it was
    shutil.copytree(corpus_dir, work, ignore=shutil.ignore_patterns("server.log"))
    with sqlite3.connect(work / "sendlens.db") as con:
        (pid,) = con.execute("SELECT passage_id FROM tags LIMIT 1").fetchone()
        (area,) = con.execute("SELECT area FROM letters ORDER BY area LIMIT 1").fetchone()
    con.close()
    with served_app(work, tmp_path / "server.log") as url, \
            browser_page(f"{url}/?page=label&pid={pid}", "label") as page:
        button = page.get_by_role("button", name="Save correction")
        expect(button).to_be_attached(timeout=30_000)
        button.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_text("Your correction, saved")).to_be_attached(timeout=30_000)
        page.wait_for_timeout(500)  # the script that moves the focus
        focused = page.evaluate("() => [document.activeElement.id, "
                                "document.activeElement.getAttribute('aria-label')]")
        assert focused == ["label-saved", "Correction saved"]
        # "Remove it" takes its button away, and the first area chosen under Filters (or
        # the last cleared) redrew the panel: the focus fell to the top of the page.
        _open_list_by_keyboard(page, ".st-key-unlabel input")
        page.get_by_role("option").nth(1).click()  # the one saved ("–" first)
        remove = page.get_by_role("button", name="Remove it")
        expect(remove).to_be_attached(timeout=30_000)
        remove.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_text("Removed.", exact=False)).to_be_attached(timeout=30_000)
        page.wait_for_timeout(500)  # the script that moves the focus
        focused = page.evaluate("() => [document.activeElement.id, "
                                "document.activeElement.getAttribute('aria-label')]")
        assert focused == ["label-removed", "Correction removed"]
        page.goto(f"{url}/?page=compare")
        page.wait_for_selector("#painted-compare", state="attached", timeout=60_000)
        page.get_by_text("Filters", exact=True).click()
        box = page.locator(".st-key-c_areas input")
        expect(box).to_be_attached(timeout=30_000)
        box.focus()
        page.keyboard.type(area[:5])
        page.keyboard.press("Enter")
        expect(page.locator(".st-key-c_areas").get_by_text(area, exact=True)).to_be_attached(
            timeout=30_000)
        page.wait_for_timeout(800)  # the rerun's last paint
        inside = page.evaluate("() => !!document.activeElement.closest('.st-key-c_areas')")
        assert inside, page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)")


@pytest.mark.parametrize(("width", "folded"), [(390, "true"), (1440, "false")],
                         ids=["phone", "desktop"])
def test_a_page_chosen_on_a_phone_is_not_left_under_the_sidebar(
        server: str, width: int, folded: str) -> None:
    """On a phone the sidebar stayed open over 300 of 390 pixels of the page just chosen;
    on a wide screen it stays where it is."""
    from playwright.sync_api import expect

    with browser_page(server + "/?page=overview", "overview",
                      viewport={"width": width, "height": 844}) as page:
        sidebar = page.locator("[data-testid=stSidebar]")
        if sidebar.get_attribute("data-collapsed") == "true":  # folded at first on a phone
            page.locator("[data-testid=stExpandSidebarButton]").click()
        expect(sidebar).to_have_attribute("data-collapsed", "false", timeout=30_000)
        page.get_by_text("Compare areas", exact=True).click()
        page.wait_for_selector("#painted-compare", state="attached", timeout=60_000)
        expect(sidebar).to_have_attribute("data-collapsed", folded, timeout=30_000)
        if folded == "false":
            page.wait_for_timeout(1000)  # time for a fold that must not come
            assert sidebar.get_attribute("data-collapsed") == "false"


def test_download_buttons_are_named_for_their_table(server: str) -> None:
    """Nine buttons a screen reader called "CSV", "Excel" and "Markdown" on the Export
    page: which table each downloads was not said."""
    from playwright.sync_api import expect

    with browser_page(server + "/?page=export", "export") as page:
        expect(page.get_by_role("button", name="CSV: letters.csv")).to_have_count(
            1, timeout=30_000)
        names = page.evaluate("""() => [...document.querySelectorAll(
            '[class*=st-key-dl-] button')].map(b => b.getAttribute('aria-label'))""")
        assert len(names) == 9 and len(set(names)) == 9, names
        assert all(n.split(":")[0] in ("CSV", "Excel", "Markdown") for n in names), names


# Each page and the charts it draws (every area of the test corpus has one letter).
PAGES = {"overview": 2, "compare": 1, "area": 1, "themes": 0, "reader": 0, "label": 0,
         "export": 0}


@pytest.mark.parametrize("width", [1440, 420], ids=["desktop", "phone"])
def test_every_page_draws_its_charts_without_console_complaints(server: str,
                                                                width: int) -> None:
    """Each page, opened by a link, draws every chart at a readable size, with nothing in
    the browser's console: Vega reports there what it could not draw as asked."""
    from playwright.sync_api import expect

    with browser_page(server + "/", "overview",
                      viewport={"width": width, "height": 1000}) as page:
        said: list[str] = []
        page.on("console", lambda m: said.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: said.append(f"page error: {e}"))
        for name, n_charts in PAGES.items():
            page.goto(f"{server}/?page={name}")
            page.wait_for_selector(f"#painted-{name}", state="attached", timeout=60_000)
            charts = page.locator("[data-testid=stVegaLiteChart]")
            expect(charts).to_have_count(n_charts, timeout=30_000)
            for i in range(n_charts):
                # The marks (bars, cells) as drawn: a collapsed chart is a strip of axis
                # labels with its marks squeezed to a few pixels.
                marks = charts.nth(i).locator(".mark-rect").first
                expect(marks).to_be_attached(timeout=30_000)
                box = marks.bounding_box()
                assert box and box["height"] >= 30 and box["width"] >= 60, (name, i, box)
            page.wait_for_timeout(300)  # Vega warns as it lays the chart out
            assert page.locator("[data-testid=stException]").count() == 0, name
            assert not said, (name, said)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, name
            # Nor does the main area pan sideways: a wide table scrolls by itself.
            main = page.evaluate("[document.querySelector('.stMain').scrollWidth,"
                                 " document.querySelector('.stMain').clientWidth]")
            assert main[0] <= main[1], (name, main)
            # For a screen reader: no heading level skipped (the sections were h3 under
            # the h1), each chart named for what it shows (all were "Vega
            # visualization"), and the tab named for its page (letters open in tabs).
            levels = page.evaluate("""() => [...document.querySelectorAll(
                '.stMain h1, .stMain h2, .stMain h3, .stMain h4')].map(h => +h.tagName[1])""")
            assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:])), (
                name, levels)
            named = page.evaluate("""() => [...document.querySelectorAll(
                '[data-testid=stVegaLiteChart]')].map(e => e.getAttribute('aria-label'))""")
            assert len(named) == n_charts and all(
                a and "Vega" not in a for a in named), (name, named)
            assert page.title().endswith(" · sendlens") and page.title() != "sendlens", name


def test_export_downloads_say_what_they_hold(server: str, corpus_dir: Path,
                                             tmp_path: Path) -> None:
    import pandas as pd

    from sendlens.export import LETTER_COLUMNS

    view = ("/?page=export&x_sec=weaknesses&x_theme=health_input&x_stance=negative"
            "&x_by=region&x_pt=ehc_plans")
    with browser_page(server + view, "export") as page:

        def download(label: str) -> Path:
            # Each button is named for its table (its format, then the file's name).
            return _download(page, page.get_by_role("button", name=label), tmp_path)

        letters = download("CSV: letters.csv")  # as `sendlens export letters`
        assert letters.name == "letters.csv"
        assert list(pd.read_csv(letters).columns) == LETTER_COLUMNS
        # The themes table as shown, one theme's: it downloaded every theme's, under a
        # name and notes that did not say which the screen had shown.
        themes = download("Markdown: themes-by-region")
        assert themes.name == "themes-by-region-ehc_plans-weaknesses.md"
        text = themes.read_text(encoding="utf-8")
        rows = [line for line in text.splitlines() if line.startswith("| ")][2:]
        assert rows and all("| ehc_plans |" in line for line in rows), rows[:3]
        assert "theme ehc_plans" in text
        evidence = download("Excel: evidence-")
        assert evidence.name == "evidence-health_input-negative-weaknesses.xlsx"
        table = pd.read_excel(evidence, sheet_name="Table")
        assert len(table) and set(table["stance"]) == {"negative"}
        assert set(table["section"]) == {"weaknesses"}
        about = dict(pd.read_excel(evidence, sheet_name="About", header=None)
                     .itertuples(index=False))
        assert (about["theme"], about["stance"], about["sections"]) == (
            "health_input", "negative", "weaknesses")
        # The link reproduces the view it was downloaded from.
        assert about["view"].startswith(server.rstrip("/") + "/?page=")  # a URL as written
        assert "x_sec=weaknesses" in about["view"]


def _download(page: Any, button: Any, folder: Path) -> Path:
    """Click a download button; the file saved in `folder`. On a loaded machine a click
    can land on a button a rerun is replacing, and nothing downloads (seen once in a full
    run, never alone): it is clicked again, up to three times."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        try:
            with page.expect_download(timeout=15_000) as got:
                button.click()
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    path = folder / got.value.suggested_filename
    got.value.save_as(path)
    return path


def test_a_theme_search_download_says_what_was_asked(server: str, tmp_path: Path) -> None:
    """The Theme explorer's download named its outcome filter but not the theme, stance
    and search words: a pasted table of one stance's passages read as all of them."""
    view = "/?page=themes&theme=ehc_plans&stance=negative&q=timely+plans"
    with browser_page(server + view, "themes") as page:
        path = _download(page, page.get_by_role("button", name="Markdown").first, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "| negative |" in text
    assert "Counted: theme ehc_plans; stance negative; words timely plans." in text


def test_a_compare_cell_download_names_its_row_theme_and_stance(
    server: str, corpus_dir: Path, tmp_path: Path
) -> None:
    """The cell's table was saved as "evidence.csv" whoever's cell and stance it held."""
    area = sqlite3.connect(corpus_dir / "sendlens.db").execute(
        "SELECT area FROM letters ORDER BY area").fetchone()[0]
    view = f"/?page=compare&cell_row={quote(area)}&cell_theme=ehc_plans&cell_stance=negative"
    with browser_page(server + view, "compare") as page:
        page.get_by_text("All passages of this cell as a sortable table").click()
        path = _download(page, page.get_by_role("button", name="Markdown").first, tmp_path)
    assert path.name == f"evidence-{area.replace(' ', '_')}-ehc_plans-negative.md"
    text = path.read_text(encoding="utf-8")
    assert "| negative |" in text and "| positive |" not in text
    assert f"Counted: theme ehc_plans; stance negative; area {area}." in text


def test_a_download_says_what_its_table_was_drawn_from(corpus_dir: Path,
                                                       tmp_path: Path) -> None:
    """The table is made when the page is drawn, what the file says of it when the button
    is clicked: a `sendlens tag` run between the two named the new model under the old
    table."""
    import shutil

    work = tmp_path / "c"
    shutil.copytree(corpus_dir, work, ignore=shutil.ignore_patterns("server.log"))
    with served_app(work, tmp_path / "app.log") as url:
        with browser_page(url + "/?page=export", "export") as page:
            with sqlite3.connect(work / "sendlens.db") as con:  # another model's tags, now
                con.execute("UPDATE tags SET model_version = 'browser-2'")
            path = _download(page, page.get_by_role("button", name="Markdown: themes-by-"),
                             tmp_path)
    note = path.read_text(encoding="utf-8").rstrip().splitlines()[-1]
    assert "Tags of model browser-1." in note and "browser-2" not in note


def test_a_browser_in_dark_mode_gets_the_light_page_the_colours_were_chosen_for(
    server: str
) -> None:
    with browser_page(server + "/?page=reader", "reader", color_scheme="dark") as page:
        background = page.evaluate(
            "getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        assert background == "rgb(255, 255, 255)"


def test_app_as_a_user_starts_it_opens_the_browser_and_offers_no_installs(
    corpus_dir: Path, tmp_path: Path
) -> None:
    # Started the way a researcher does (not headless), on a machine with an AI coding
    # agent's folder in $HOME: Streamlit would then print, and show in the page, a nudge
    # to install its "agent skills" into the app's folder.
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opened = tmp_path / "opened.txt"
    # The desktop's "open this URL" command, standing in for the researcher's browser.
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    opener.chmod(0o755)
    log = tmp_path / "app.log"
    env = {"HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with served_app(corpus_dir, log, headless=False, env=env) as server:
        with browser_page(server + "/", "overview") as page:
            page.wait_for_timeout(3000)  # the nudge came a moment after the page
            assert page.get_by_text("Install", exact=True).count() == 0
            assert page.get_by_text("skills").count() == 0
        deadline = time.monotonic() + 10
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert opened.read_text().startswith("http://localhost:")  # the browser was opened
    printed = log.read_text()
    assert "sendlens app on http://localhost:" in printed
    assert "skills" not in printed


def test_chromium_path_documented() -> None:
    # The CI script installs exactly this binary; keep the test and the script in step.
    ci = Path(__file__).resolve().parent.parent / ".ci" / "run"
    assert "chromium" in ci.read_text()
    assert shutil.which("chromium") in (None, str(CHROMIUM), "/bin/chromium")
