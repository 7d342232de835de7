"""First paint of every app page on the real reports and on a synthetic 10x corpus.

    python bench/app_first_paint.py [--letters DIR] [--out bench/out] [--shots DIR]
                                    [--repeat N] [--pages overview,compare,...]

For each corpus and page, a fresh `sendlens app` server is started (it computes every
page's first view into its caches before it serves: the time until it answers is
reported as `start_s`), the page is opened in headless Chromium and timed from
navigation until the page is drawn: the app's `#painted-<page>` marker (written after
the page's last element) is in the DOM, nothing left over from a previous page is shown,
*and* every visible chart has its SVG/canvas and every visible data grid its canvas.
That is the cold first paint, the headline figure. Then it is opened again (`warm_s`:
the second visitor). Every visit is a new browser context, so the browser's own cache
is empty each time, as on a researcher's first visit: "warm" means warm on the server
only. Then `returning_s`: a researcher who has used the app in this browser before
opens the page in a new tab (a new session; Streamlit's files come from the browser's
cache, where they are kept as immutable). With --repeat N each figure is the median of N
(N fresh servers for cold).

Then, in one session on one fresh server, the researcher's usual case: Overview is
opened, and every page is chosen in turn from the sidebar's Page radio (and Overview
again last), timed from the click until that page is drawn (`switch_s`). The browser
has by then loaded Streamlit and whatever earlier pages needed.

Results go to bench/out/app_first_paint.json. Target: cold first paint <= 2 s on the
55 reports and <= 3 s on the 10x corpus.

The same is measured, in the same run, for a trivial Streamlit page (a title, a line of
text, the marker) served with the same options and settings: the floor set by loading
Streamlit's own front end on this machine, which makes a figure taken on a loaded machine
interpretable. Then for that page with one selectbox: the floor of any page with a form
widget (selectbox, radio, text input and multiselect share their code), which every page
of the app has. Then for that page with one small Vega-Lite chart as well (16 cells): the
floor of a page with a chart (Overview, Compare areas, Area profile), which must also load
and run Vega. The load average is recorded before and after each corpus.

Corpora for measuring the app: the real reports, tagged, and a synthetic 10x copy.

Tags come from the real tagger when `textmine.tag` can tag the corpus, else from a small
deterministic keyword rule (good enough for timing: the app never computes tags).
The 10x corpus is made in SQL by copying every letter, its sections, passages and tags
under another area name ("Dorset 2", "Dorset 3"...), with new letter ids and hashes:
much faster than importing the PDFs 550 times, and identical in shape.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import REPO, letters_dir, need_folder

from sendlens.store import Corpus, now_iso

FAKE_MODEL = "bench-keywords-1"
# Keyword rule per theme id of the packaged codebook (used only when no tagger exists).
KEYWORDS: dict[str, str] = {
    "co_production": r"co-?produc|parent carer|families|parents|carers|voice",
    "health_input": r"health|nhs|therap|clinic|paediatric|camhs|mental",
    "local_offer": r"local offer",
    "post16_transition": r"post-16|adulthood|transition|employment",
    "ehc_plans": r"\behc|education, health and care plan|needs assessment",
    "joint_commissioning": r"commission|leaders|strategy|partnership",
    "inclusion": r"school|exclu|inclusion|sen support|attendance",
    "social_care": r"social care|short break|respite",
}
SECTION_STANCE = {"strengths": "positive", "weaknesses": "negative", "actions": "negative"}
POSITIVE = re.compile(r"\b(well|effective|strong|good|improv\w*|timely)\b", re.I)
NEGATIVE = re.compile(r"\b(not|too long|delay\w*|weak\w*|poor|inconsistent|lack\w*)\b", re.I)


def keyword_tag(text: str, section: str) -> tuple[list[str], str]:
    themes = [t for t, rx in KEYWORDS.items() if re.search(rx, text, re.I)]
    pos, neg = bool(POSITIVE.search(text)), bool(NEGATIVE.search(text))
    stance = SECTION_STANCE.get(section) or (
        "mixed" if pos and neg else "positive" if pos else "negative" if neg else "neutral"
    )
    return themes, stance


def fake_tag(corpus: Corpus) -> int:
    """Tag every untagged passage with the keyword rule; register a models row."""
    with corpus.transaction() as con:
        rows = con.execute(
            "SELECT passage_id, section, text FROM passages"
            " WHERE passage_id NOT IN (SELECT passage_id FROM tags)"
        ).fetchall()
        stamp = now_iso()
        batch = []
        for r in rows:
            themes, stance = keyword_tag(r["text"], r["section"])
            batch.append((r["passage_id"], json.dumps(themes), stance,
                          json.dumps({t: 1.0 for t in themes}), FAKE_MODEL, stamp))
        con.executemany("INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)", batch)
        con.execute("UPDATE models SET is_current = 0")
        con.execute(
            "INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, 1)",
            (FAKE_MODEL, stamp, "models/" + FAKE_MODEL,
             json.dumps({"note": "keyword rule for benchmarks", "theme_macro_f1": 0.5})),
        )
    return len(rows)


def build_real(letters_dir: Path, dest: Path) -> Corpus:
    """Import the real reports into `dest` (kept if already built) and tag them."""
    from sendlens.importer import import_paths

    corpus = Corpus.open(dest)
    if corpus.counts()["letters"] == 0:
        import_paths(corpus, [letters_dir], progress=False)
    if corpus.counts()["tags"] == 0:
        fake_tag(corpus)
    return corpus


def build_scaled(source: Corpus, dest: Path, factor: int = 10) -> Corpus:
    """A copy of `source` with every letter repeated `factor` times under new area names."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    src = sqlite3.connect(source.db_path)
    out = sqlite3.connect(dest / "sendlens.db")
    src.backup(out)
    src.close()
    out.execute("PRAGMA journal_mode=WAL")
    out.execute("BEGIN")
    letter_cols = [r[1] for r in out.execute("PRAGMA table_info(letters)")]
    originals = out.execute("SELECT letter_id, sha256, area FROM letters").fetchall()
    for copy in range(2, factor + 1):
        for letter_id, sha, area in originals:
            new_sha = hashlib.sha256(f"{sha}-{copy}".encode()).hexdigest()
            new_id = new_sha[:12]
            cols = ", ".join(letter_cols)
            select = ", ".join(
                "?" if c in ("letter_id", "sha256", "area") else c for c in letter_cols
            )
            params = [{"letter_id": new_id, "sha256": new_sha, "area": f"{area} {copy}"}[c]
                      for c in letter_cols if c in ("letter_id", "sha256", "area")]
            # la_code stays with the real area only, so "Dorset 2" is not read as Dorset.
            out.execute(f"INSERT INTO letters ({cols}) SELECT {select} FROM letters"
                        " WHERE letter_id = ?", [*params, letter_id])
            out.execute("UPDATE letters SET la_code = NULL WHERE letter_id = ?", (new_id,))
            out.execute("INSERT INTO sections SELECT ?, seq, canonical, heading, char_start,"
                        " char_end FROM sections WHERE letter_id = ?", (new_id, letter_id))
            out.execute(
                "INSERT INTO passages (passage_id, letter_id, seq, section, heading, paragraph,"
                " char_start, char_end, text) SELECT ? || substr(passage_id, 13), ?, seq,"
                " section, heading, paragraph, char_start, char_end, text FROM passages"
                " WHERE letter_id = ?", (new_id, new_id, letter_id))
            out.execute(
                "INSERT INTO tags SELECT ? || substr(t.passage_id, 13), themes, stance, scores,"
                " model_version, tagged_at FROM tags t JOIN passages p USING (passage_id)"
                " WHERE p.letter_id = ?", (new_id, letter_id))
    out.execute("COMMIT")
    out.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out.close()
    return Corpus.open(dest)


PAGES = ("overview", "compare", "area", "themes", "reader", "label", "export")
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HELLO = """import streamlit as st

st.title("hello")
st.markdown("A trivial page: what loading Streamlit's front end alone costs.")
st.html('<span id="painted-hello"></span>')
"""
# The same page with one selectbox: what the code of Streamlit's form widgets (selectbox,
# radio, text input, multiselect share it) adds before a page that has one can be drawn.
HELLO_SELECT = HELLO.replace('st.title("hello")\n',
                             'st.title("hello")\nst.selectbox("Area", ["A", "B", "C"])\n')
# And with one small chart: what Vega's code adds before a page with a chart is drawn.
HELLO_CHART = HELLO_SELECT.replace('st.markdown(', """import pandas as pd

cells = pd.DataFrame({"x": list("abcd") * 4, "y": [c for c in "pqrs" for _ in range(4)],
                      "v": range(16)})
st.vega_lite_chart(cells, {"mark": "rect", "encoding": {
    "x": {"field": "x", "type": "nominal"}, "y": {"field": "y", "type": "nominal"},
    "color": {"field": "v", "type": "quantitative"}}}, width="stretch")
st.markdown(""", 1)
# Serves a hello page as `sendlens app` serves the app: Streamlit's CLI in-process, after
# the same server settings, so that the floor is comparable.
SERVE_HELLO = """import sys
from streamlit.web import cli
from sendlens.commands.app import no_delay_connections, skip_direct_run_check, warm_imports
warm_imports(("pandas", "pyarrow", "altair"))  # as the app does, for the chart page
skip_direct_run_check()
no_delay_connections()
cli.main.main(args=sys.argv[1:], prog_name="streamlit", standalone_mode=False)
"""


def _serve(corpus: Path | None, hello: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`sendlens app` on the corpus, or `streamlit run` of a hello page with the same
    server options and settings. Returns once the server answers (after its cache
    warm-up)."""
    port = _free_port()
    if hello is not None:
        from sendlens.commands.app import streamlit_args

        cmd = [sys.executable, "-c", SERVE_HELLO,
               *streamlit_args(hello, port=port, host="localhost", headless=True)]
    else:
        cmd = [sys.executable, "-m", "sendlens.cli", "app", "--corpus", str(corpus), "--port",
               str(port), "--headless"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    raise RuntimeError("the app did not start")


# True once every visible chart and data grid has drawn (hidden ones never draw) and no
# element of the previous page is still shown (Streamlit marks those stale until the
# new page's script run has finished).
DRAWN = """() => {
  const visible = (sel) => [...document.querySelectorAll(sel)].filter(e => e.checkVisibility());
  return visible('[data-testid=stVegaLiteChart]').every(e => e.querySelector('svg, canvas'))
      && visible('[data-testid=stDataFrame]').every(e => e.querySelector('canvas'))
      && visible('[data-stale=true]').length === 0;
}"""


def _drawn(tab: Any, page: str) -> None:
    tab.wait_for_selector(f"#painted-{page}", state="attached", timeout=60_000)
    tab.wait_for_function(DRAWN, timeout=60_000, polling=20)


def _visit(tab: Any, url: str, page: str) -> float:
    """Seconds from opening `page` in `tab` until it is drawn."""
    start = time.perf_counter()
    tab.goto(f"{url}/?page={page}")
    _drawn(tab, page)
    return time.perf_counter() - start


def _open(browser: Any, url: str, page: str, shot: Path | None = None) -> float:
    # browser.new_page() makes a new context: an empty HTTP cache, like a first visit.
    tab = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        elapsed = _visit(tab, url, page)
        if shot is not None:
            time.sleep(1.0)  # let charts finish their transition before the picture
            tab.screenshot(path=str(shot))
        return elapsed
    finally:
        tab.close()


def _open_returning(browser: Any, url: str, page: str) -> float:
    """A researcher who has used the app in this browser before: Overview is opened and
    closed first, so Streamlit's files are in the browser's HTTP cache (they are served as
    immutable), then the page is opened in a new tab (a new session) and timed."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        first = context.new_page()
        _visit(first, url, "overview")
        first.close()
        return _visit(context.new_page(), url, page)
    finally:
        context.close()


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def measure(corpus: Path | None, shots: Path | None = None,
            pages: tuple[str, ...] = PAGES, hello: Path | None = None, repeat: int = 1,
            ) -> dict[str, dict[str, Any]]:
    """Cold (fresh server) and warm (second visit) first paint of every page, seconds,
    and the server's start time; with `hello`, of the trivial page instead (once per
    name in `pages`). Medians of `repeat` runs."""
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, Any]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
        try:
            for name in pages:
                page = "hello" if hello is not None else name
                colds, warms, returns, starts = [], [], [], []
                for i in range(repeat):
                    started = time.perf_counter()
                    proc, url = _serve(corpus, hello)
                    starts.append(time.perf_counter() - started)
                    try:
                        colds.append(_open(browser, url, page))
                        shot = shots / f"{page}.png" if shots is not None and i == 0 else None
                        warms.append(_open(browser, url, page, shot))
                        if hello is None:
                            returns.append(_open_returning(browser, url, page))
                    finally:
                        os.killpg(proc.pid, signal.SIGTERM)
                        proc.wait(timeout=10)
                out[name] = {"cold_s": _median(colds), "warm_s": _median(warms),
                             "start_s": _median(starts)}
                if returns:
                    out[name]["returning_s"] = _median(returns)
                if repeat > 1:
                    out[name]["cold_runs_s"] = [round(c, 2) for c in colds]
                print(f"  {name:<9} cold {out[name]['cold_s']:5.2f} s  warm "
                      f"{out[name]['warm_s']:5.2f} s"
                      + (f"  returning {out[name]['returning_s']:5.2f} s" if returns else "")
                      + f"  (server start {out[name]['start_s']:.1f} s"
                      + (f"; cold runs {out[name]['cold_runs_s']}" if repeat > 1 else "")
                      + ")", flush=True)
        finally:
            browser.close()
    return out


def _page_labels() -> dict[str, str]:
    """The page names as the sidebar shows them. Importing the app outside a server logs
    a harmless warning per cached function: keep the bench's output readable."""
    from sendlens.commands.app import quiet_cache_warnings

    with quiet_cache_warnings():
        from sendlens.ui.common import PAGES as LABELS

    return dict(LABELS)


def switches(corpus: Path, pages: tuple[str, ...] = PAGES, repeat: int = 1,
             ) -> dict[str, float]:
    """Seconds from a click on a page's name in the sidebar until that page is drawn, in
    one browser session (Overview first, every page in turn, then Overview again);
    medians of `repeat` sessions, each on a fresh server."""
    from playwright.sync_api import sync_playwright

    labels = _page_labels()

    order = [p for p in pages if p != "overview"] + ["overview"]
    runs: dict[str, list[float]] = {p: [] for p in order}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
        try:
            for _ in range(repeat):
                proc, url = _serve(corpus)
                tab = browser.new_page(viewport={"width": 1440, "height": 1000})
                try:
                    tab.goto(f"{url}/?page=overview")
                    _drawn(tab, "overview")
                    sidebar = tab.locator("[data-testid=stSidebar]")
                    for page in order:
                        option = sidebar.get_by_text(labels[page], exact=True)
                        option.wait_for(timeout=60_000)
                        start = time.perf_counter()
                        option.click()
                        _drawn(tab, page)
                        runs[page].append(time.perf_counter() - start)
                finally:
                    tab.close()
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=10)
        finally:
            browser.close()
    out = {page: _median(v) for page, v in runs.items()}
    print("  switch from the sidebar: " + ", ".join(f"{k} {v:.2f} s" for k, v in out.items()),
          flush=True)
    return out


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--letters", type=Path, default=letters_dir() / "area-send-2023")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "sendlens-bench")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--shots", type=Path, default=None,
                        help="Save a screenshot of every page (55-report corpus) here. They "
                             "show real letters' text: look, do not commit them.")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1,
                        help="Median of this many runs of every figure (default 1).")
    parser.add_argument("--pages", default=",".join(PAGES),
                        help="Comma-separated pages to measure (default: all).")
    parser.add_argument("--only", choices=("x1", "scaled"), default=None,
                        help="Measure one corpus only (the 55 reports or the scaled one).")
    args = parser.parse_args()
    need_folder(args.letters, "--letters")
    wanted = tuple(p for p in args.pages.split(",") if p in PAGES)
    real = build_real(args.letters, args.work / "x1")
    scaled_dir = args.work / f"x{args.factor}"
    if args.only != "x1" and (args.only is None or not (scaled_dir / "sendlens.db").exists()
                              or Corpus.open(scaled_dir).counts()["letters"]
                              != args.factor * real.counts()["letters"]):
        scaled = build_scaled(real, scaled_dir, args.factor)
    else:
        scaled = Corpus.open(scaled_dir) if args.only == "scaled" else real
    results: dict[str, Any] = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    hello = args.work / "hello" / "hello.py"
    hello.parent.mkdir(parents=True, exist_ok=True)
    hello.write_text(HELLO)
    hello_select = hello.with_name("hello_select.py")
    hello_select.write_text(HELLO_SELECT)
    hello_chart = hello.with_name("hello_chart.py")
    hello_chart.write_text(HELLO_CHART)
    corpora = [("x1", real, 2.0, args.shots), (f"x{args.factor}", scaled, 3.0, None)]
    if args.only:
        corpora = corpora[:1] if args.only == "x1" else corpora[1:]
    results["repeat"] = args.repeat
    for name, corpus, budget, shots in corpora:
        counts = corpus.counts()
        load_before = os.getloadavg()
        print(f"{name}: {counts['letters']} letters, {counts['passages']} passages; load "
              f"average {load_before[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
        print("  trivial Streamlit page (the floor on this machine now):", flush=True)
        floor = measure(None, pages=("hello-1", "hello-2", "hello-3"), hello=hello)
        print("  the same page with one selectbox (the floor of a page with a form widget):",
              flush=True)
        widget_floor = measure(None, pages=("select-1", "select-2", "select-3"),
                               hello=hello_select)
        print("  ... and one small chart (the floor of a page with a chart):", flush=True)
        chart_floor = measure(None, pages=("chart-1", "chart-2", "chart-3"), hello=hello_chart)
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
        pages = measure(corpus.root, shots, wanted, repeat=args.repeat)
        switch = switches(corpus.root, wanted, repeat=args.repeat)
        for page, seconds in switch.items():
            pages.setdefault(page, {})["switch_s"] = seconds
        worst = max(v.get("cold_s", 0.0) for v in pages.values())
        worst_warm = max(v.get("warm_s", 0.0) for v in pages.values())
        worst_switch = max(switch.values())
        worst_returning = max(v.get("returning_s", 0.0) for v in pages.values())
        floor_cold = max(v["cold_s"] for v in floor.values())
        results[name] = {"letters": counts["letters"], "passages": counts["passages"],
                         "budget_s": budget, "worst_cold_s": worst, "worst_warm_s": worst_warm,
                         "worst_switch_s": worst_switch,
                         "worst_returning_s": worst_returning,
                         "hello_worst_cold_s": floor_cold,
                         "hello_median_cold_s": _median([v["cold_s"] for v in floor.values()]),
                         "hello": floor,
                         "hello_select_median_cold_s": _median(
                             [v["cold_s"] for v in widget_floor.values()]),
                         "hello_select": widget_floor,
                         "hello_chart_median_cold_s": _median(
                             [v["cold_s"] for v in chart_floor.values()]),
                         "hello_chart": chart_floor,
                         "load_average_before": load_before,
                         "load_average_after": os.getloadavg(), "pages": pages}
        print(f"  worst cold first paint {worst:.2f} s, warm {worst_warm:.2f} s, returning "
              f"visitor {worst_returning:.2f} s, switch {worst_switch:.2f} s (budget "
              f"{budget:.0f} s cold); trivial page {results[name]['hello_median_cold_s']:.2f}"
              f" s, with a selectbox "
              f"{results[name]['hello_select_median_cold_s']:.2f} s, and a chart "
              f"{results[name]['hello_chart_median_cold_s']:.2f} s (medians); load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "app_first_paint.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out / 'app_first_paint.json'}")


if __name__ == "__main__":
    main()
