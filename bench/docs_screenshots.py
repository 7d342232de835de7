"""The screenshots in docs/screenshots/, from a corpus of the invented fixture letters.

    python bench/docs_screenshots.py [--corpus /tmp/fixcorpus] [--out docs/screenshots]

The corpus is built when the folder holds none: the fixture letters
(tests/fixtures/letters/*.txt) rendered to PDFs by tests/fixtures/make_pdfs.py, imported
and tagged with the real tagger (`sendlens import`, `sendlens tag`). Never point it at
the real reports: screenshots of their text are not to be committed.

Overview, Compare areas (a click on the Harrowdale x Health input cell, so its evidence
shows beside the heatmap) and the Letter reader (the Ellingford 2023 letter at a linked
passage), 1440 x 1000, in headless Chromium.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app_first_paint import LAUNCH_ARGS, _drawn, _serve
from common import REPO


def build(corpus: Path) -> None:
    """Render the fixture letters, import them and tag them (skipped if already there)."""
    if (corpus / "sendlens.db").exists():
        return
    pdfs = Path(tempfile.mkdtemp(prefix="fixpdfs-"))
    fixtures = REPO / "tests" / "fixtures"
    subprocess.run([sys.executable, str(fixtures / "make_pdfs.py"), str(pdfs)], check=True)
    cli = [sys.executable, "-m", "sendlens.cli"]
    # Some fixtures are deliberately bad inputs: import reports them and exits 1.
    subprocess.run([*cli, "import", str(pdfs), "--corpus", str(corpus)], check=False)
    subprocess.run([*cli, "tag", "--corpus", str(corpus)], check=True)


def _linked_passage(corpus: Path) -> tuple[str, str]:
    """The Ellingford 2023 letter and its first negative passage on health input."""
    import sqlite3

    con = sqlite3.connect(f"file:{corpus / 'sendlens.db'}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT p.letter_id, p.passage_id FROM passages p JOIN letters l USING (letter_id)"
            " JOIN tags t USING (passage_id) WHERE l.area = 'Ellingford'"
            " AND l.framework = 'area_send_2023' AND t.stance = 'negative'"
            " AND t.themes LIKE '%health_input%' ORDER BY p.seq LIMIT 1").fetchone()
    finally:
        con.close()
    return row[0], row[1]


def shoot(corpus: Path, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    proc, url = _serve(corpus)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
            tab = browser.new_page(viewport={"width": 1440, "height": 1000})
            tab.goto(f"{url}/?page=overview")
            _drawn(tab, "overview")
            time.sleep(1.0)  # let charts finish their transition before the picture
            tab.screenshot(path=str(out / "overview.png"))

            tab.goto(f"{url}/?page=compare")
            _drawn(tab, "compare")
            cell = tab.locator('[data-testid=stVegaLiteChart] path[aria-label^="theme_short: '
                               'Health input; area: Harrowdale;"]')
            cell.click(position={"x": 4, "y": 4})  # its centre is covered by the number
            expect(tab.locator(".st-key-cell-cards")).to_contain_text("Harrowdale",
                                                                     timeout=30_000)
            tab.mouse.move(5, 5)  # no tooltip over the chart
            time.sleep(1.0)
            tab.screenshot(path=str(out / "compare.png"))

            letter, focus = _linked_passage(corpus)
            tab.goto(f"{url}/?page=reader&letter={letter}&focus={focus}")
            _drawn(tab, "reader")
            time.sleep(1.0)
            tab.screenshot(path=str(out / "reader.png"))
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/fixcorpus"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    build(args.corpus)
    shoot(args.corpus, args.out)
    print(f"wrote {args.out}/overview.png, compare.png, reader.png")


if __name__ == "__main__":
    main()
