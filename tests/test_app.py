"""The Streamlit app, page by page, with Streamlit's AppTest on a small real corpus.

Four real reports are imported into a temporary corpus and tagged directly in SQL with
known themes and stances (so the numbers on the pages are known, and the tests do not
depend on the model), plus a models row with a measured figure.
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from sendlens.store import Corpus, now_iso

pytest.importorskip("streamlit.testing.v1")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parent.parent / "app.py"
TIMEOUT = 60


def current_meta() -> dict[str, object]:
    """What a model trained now by this sendlens records of its codebook and libraries,
    so that the app does not call the test's stand-in model stale."""
    from textmine.codebook import load_codebook
    from textmine.model import MODEL_FORMAT

    codebook = load_codebook()
    return {"format": MODEL_FORMAT, "codebook_sha256": codebook.sha256,
            "themes": codebook.theme_ids}


def _tag(corpus: Corpus) -> None:
    """Deterministic tags: health_input on passages that say 'health', ehc_plans on 'EHC';
    stance from the section (strengths positive, weaknesses/actions negative)."""
    with corpus.transaction() as con:
        rows = con.execute("SELECT passage_id, section, text FROM passages").fetchall()
        for r in rows:
            text = r["text"].lower()
            themes = [t for t, w in (("health_input", "health"), ("ehc_plans", "ehc"))
                      if w in text]
            stance = {"strengths": "positive", "weaknesses": "negative",
                      "actions": "negative"}.get(r["section"], "neutral")
            con.execute("INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)",
                        (r["passage_id"], json.dumps(themes), stance, "{}", "test-1", now_iso()))
        con.execute(
            "INSERT INTO models VALUES ('test-1', ?, 'models/test-1', ?, 1)",
            (now_iso(), json.dumps({**current_meta(), "quality": {"cross-validation": {
                "theme_macro_f1": 0.81, "stance_accuracy": 0.7, "gold": "mine.jsonl",
                "intervals": {"theme_macro_f1": [0.74, 0.872]},
                "sentences": 40, "folds": 5, "measured_at": now_iso()}}})),
        )


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory, real_pdfs: list[Path]) -> Path:
    from sendlens.importer import import_paths

    root = tmp_path_factory.mktemp("appcorpus")
    corpus = Corpus.open(root)
    import_paths(corpus, real_pdfs[:4], progress=False)
    _tag(corpus)
    return root


def copy_of(corpus_dir: Path, dest: Path) -> Path:
    """A copy of the shared corpus, for a test that writes to it."""
    shutil.copytree(corpus_dir, dest)
    return dest


@pytest.fixture
def facts(corpus_dir: Path) -> dict[str, object]:
    """What the pages should show, counted independently of the app."""
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    areas = [r[0] for r in con.execute("SELECT area FROM letters ORDER BY area")]
    health = con.execute(
        "SELECT l.area, count(*), sum(t.stance = 'negative'), sum(t.stance = 'positive')"
        " FROM tags t"
        " JOIN passages p USING (passage_id) JOIN letters l USING (letter_id)"
        " WHERE EXISTS (SELECT 1 FROM json_each(t.themes) WHERE value = 'health_input')"
        " GROUP BY l.area ORDER BY l.area"
    ).fetchall()
    con.close()
    return {"areas": areas, "health": {a: (n, neg) for a, n, neg, _ in health},
            "health_positive": {a: pos for a, _, _, pos in health}}


def run(corpus: Path, monkeypatch: pytest.MonkeyPatch, **params: str | list[str]) -> AppTest:
    monkeypatch.setenv("SENDLENS_CORPUS", str(corpus))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def evidence_of(at: AppTest):  # noqa: ANN201 - a DataFrame
    """The evidence table on the page: the data grid with a citation column."""
    for frame in at.dataframe:
        if "citation" in frame.value.columns:
            return frame.value
    raise AssertionError("no evidence table on the page")


def md_tables(at: AppTest) -> list[list[dict[str, str]]]:
    """The Markdown tables on the page as rows of {header: cell}, escapes removed."""
    out = []
    for m in at.markdown:
        lines = [ln for ln in m.value.splitlines() if ln.startswith("|")]
        if len(lines) < 2:
            continue
        split = [[re.sub(r"\\(.)", r"\1", c.strip()) for c in ln.strip("|").split(" | ")]
                 for ln in lines]
        out.append([dict(zip(split[0], row, strict=True)) for row in split[2:]])
    return out


def open_expander(at: AppTest, key: str) -> AppTest:
    """Open a lazily drawn expander, as a click on it would."""
    at.session_state[key] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures_of(at: AppTest) -> dict[str, str]:
    """The key figures on the page (ui.common.figures: <dt>label</dt><dd>value</dd>)."""
    out: dict[str, str] = {}
    for h in at.get("html"):
        out.update(re.findall(r"<dt[^>]*>(.*?)</dt><dd[^>]*>(.*?)</dd>", str(h.proto.body)))
    return out


def letters_caption(at: AppTest) -> str:
    """Compare areas' caption under the controls: '<n> letters. Colour = ...'."""
    return next(c.value for c in at.caption if re.search(r" letters?\. Colour = ", c.value))


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [str(h.proto.body) for h in at.get("html")]
    parts += [i.value for i in at.info] + [w.value for w in at.warning]
    return "\n".join(parts)


def test_the_page_icon_is_a_file_of_the_package() -> None:
    # Streamlit takes a missing path for a URL without a word; offline, the Material icon
    # it replaced was fetched from Google (an error on every page).
    import sendlens.app_main as app_main

    assert app_main.ICON.is_file() and app_main.ICON.read_bytes().startswith(b"\x89PNG")


def test_empty_corpus_shows_start_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run(tmp_path / "nothing-here", monkeypatch)
    assert at.title[0].value == "sendlens"
    assert "No letters in this corpus yet" in at.header[0].value
    code = at.code[0].value
    assert "sendlens scrape" in code and "sendlens import" in code
    assert not at.error


def test_overview_says_when_letters_were_read_by_an_older_sendlens(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    assert not any("older version" in w.value for w in run(corpus_dir, monkeypatch).warning)
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET parser_version = '1' WHERE rowid = "
                    "(SELECT min(rowid) FROM letters)")
    [warning] = run(copy, monkeypatch).warning
    assert warning.value.startswith("1 letter was read by an older version of sendlens")
    assert "`sendlens import --reparse`" in warning.value


def test_every_page_warns_when_the_tags_are_an_earlier_models(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `classify` or `train` made a newer model current, and nothing re-tagged since.

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE models SET is_current = 0")
        con.execute("INSERT INTO models VALUES ('test-2', ?, 'models/test-2', ?, 1)",
                    (now_iso(), json.dumps(current_meta())))
        n = con.execute("SELECT count(*) FROM tags").fetchone()[0]
    at = run(copy, monkeypatch)
    assert "Current model **`test-2`**" in texts(at)
    [warning] = at.warning
    assert warning.value.startswith(f"{n:,} passages carry tags of an older model than the "
                                    "current one, which every table and chart counts until "
                                    "`sendlens tag` (or Retrain on the Label page) re-tags")
    # On every page, and in what a page downloads (it was said on Overview alone).
    with Corpus.open(copy).transaction() as con:  # a theme since taken out of the codebook
        con.execute("UPDATE tags SET themes = '[\"transport\"]' WHERE rowid = 1")
    for page in ("compare", "themes", "area", "export"):
        at = run(copy, monkeypatch, page=page)
        said = [w.value for w in at.warning if "older model" in w.value]
        assert len(said) == 1 and "those tags name transport, no longer in the codebook" \
            in said[0].replace("\\", ""), (page, said)
    from sendlens.ui.common import download_warnings

    assert "carry tags of an older model" in download_warnings(str(copy))


def test_the_label_page_offers_the_retrain_every_page_points_to_for_older_tags(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `sendlens train` run while the app was open: every page said to re-tag with
    # "Retrain on the Label page", whose button was off ("Save a correction above first").
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE models SET is_current = 0")
        con.execute("INSERT INTO models VALUES ('test-2', ?, 'models/test-2', ?, 1)",
                    (now_iso(), json.dumps(current_meta())))
    at = run(copy, monkeypatch, page="label")
    assert any("Retrain on the Label page" in w.value for w in at.warning)
    assert not at.button(key="retrain").disabled
    assert any("It also brings the tags up to date" in c.value for c in at.caption)


def test_every_page_says_when_the_model_is_stale_or_the_codebook_broken(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `sendlens info` and `export` said a codebook edit had made the model stale; the app
    # showed the old tags without a word (a new theme: "No passages match").

    from textmine.codebook import PACKAGED_CODEBOOK

    copy = copy_of(corpus_dir, tmp_path / "c")
    text = PACKAGED_CODEBOOK.read_text()
    (copy / "codebook.yaml").write_text(text.replace(
        "\n  negative:\n", '\n  negative:\n    - "edition 2 of no report"\n', 1))
    for page in ("overview", "compare", "themes", "export"):
        [stale] = [w for w in run(copy, monkeypatch, page=page).warning
                   if "stale" in w.value]
        assert stale.value.startswith("The model behind these tags is stale: codebook changed")
        assert "run `sendlens tag` (or Retrain on the Label page) to retrain" in stale.value
    # The spreadsheet downloaded says so in its About sheet.
    from sendlens import appdata as ad

    problems = ad.problem_text(ad.model_problems(str(copy), ad.stamp(copy)))
    assert "stale" in problems
    # ... but not the letters table's, which holds no tags (as `export letters`).
    from sendlens.ui.common import download_warnings

    assert "stale" in download_warnings(str(copy))
    assert download_warnings(str(copy), counts_tags=False) == ""
    # An edited definition shows at the next page view (it was cached by path alone).
    (copy / "codebook.yaml").write_text(text.replace(
        "The Local Offer website or directory:", "EDITED: the Local Offer website:", 1))
    assert "EDITED: the Local Offer website:" in texts(
        run(copy, monkeypatch, page="themes", theme="local_offer")).replace("\\", "")
    # A codebook that cannot be read is an error on the page, not theme ids in silence.
    (copy / "codebook.yaml").write_text(text.replace('"local offer"', '"local (offer"', 1))
    [error] = run(copy, monkeypatch).error
    assert "The codebook cannot be read" in error.value and "local \\(offer" in error.value
    # YAML's message keeps its lines, so that its ^ stands under the fault.
    (copy / "codebook.yaml").write_text("themes: [\n  - a: b\n")
    [error] = run(copy, monkeypatch).error
    assert "\n```\n" in error.value and "\n      - a: b\n      ^" in error.value


def test_every_page_says_when_letters_imported_since_tag_are_left_out(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A letter imported while the app was open fell out of every table, chart and
    # download without a word ("No passages match", a South West of 4 letters of 5).

    copy = copy_of(corpus_dir, tmp_path / "c")
    assert not any("not tagged yet" in w.value for w in run(copy, monkeypatch).warning)
    with Corpus.open(copy).transaction() as con:
        letter = con.execute("SELECT letter_id FROM letters ORDER BY letter_id").fetchone()[0]
        n = con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM "
                        "passages WHERE letter_id = ?)", (letter,)).rowcount
    for page in ("overview", "compare", "themes", "area", "export"):
        [said] = [w for w in run(copy, monkeypatch, page=page).warning
                  if "left out of the theme tables" in w.value]
        assert said.value == (f"{n} passages of 1 letter in the corpus not tagged yet are "
                              "left out of the theme tables, charts and evidence; run "
                              "`sendlens tag` (or Retrain on the Label page) to count them.")
    # That letter's own pages say it waits (its empty cells read as "never mentioned"),
    # and a link to its area does not blame filters no one set.
    with Corpus.open(copy).reading() as con:
        area = con.execute("SELECT area FROM letters WHERE letter_id = ?",
                           (letter,)).fetchone()[0]
    assert any("of " + area + " not tagged yet" in w.value.replace("\\", "")
               for w in run(copy, monkeypatch, page="area", area=area).warning)
    assert any(w.value.startswith("This letter is not tagged yet")
               for w in run(copy, monkeypatch, page="reader", letter=letter).warning)
    told = " ".join(i.value for i in run(copy, monkeypatch, page="compare", cell_row=area,
                                         cell_theme="ehc_plans").info).replace("\\", "")
    assert f"{area}: its letters are not tagged yet" in told and "filters" not in told
    # Downloads carry it in their About sheet and under a Markdown table.
    from sendlens.ui.common import download_warnings

    assert download_warnings(str(copy)) == said.value.replace("`", "").replace(
        " (or Retrain on the Label page)", "")  # a file is read away from the app
    assert download_warnings(str(corpus_dir)) == ""
    # Not the letters table, which lists every letter, tagged or not, nor a letter's
    # passages in the reader, where the untagged ones are, their tags blank.
    assert download_warnings(str(copy), counts_tags=False) == ""
    assert download_warnings(str(copy), lists_passages=True) == ""
    # The Label page's Retrain does what `sendlens tag` would: offered with no correction.
    label = run(copy, monkeypatch, page="label")
    assert not label.button(key="retrain").disabled
    assert "brings the tags up to date" in texts(label)


def test_overview_counts_and_model(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                   facts: dict) -> None:
    at = run(corpus_dir, monkeypatch)
    assert at.title[0].value == "Overview"
    metrics = figures_of(at)
    assert metrics["Letters"] == "4"
    assert metrics["Passages tagged"] == "100%"
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    themed, tagged = con.execute("SELECT sum(themes != '[]'), count(*) FROM tags").fetchone()
    con.close()
    assert 0 < themed < tagged  # the fixture's tags leave some passages without a theme
    assert metrics["With a theme"] == f"{themed / tagged:.0%}"
    assert not at.warning  # every passage tagged by the current model
    assert "test-1" in texts(at)
    # The model's measured quality, as `sendlens evaluate` recorded it, and how.
    quality = md_tables(at)[0][0]
    # With its 95% interval over letters where one was measured.
    # Rounded outwards; a non-breaking hyphen keeps it on one line in a narrow column.
    assert quality["Theme macro-F1"] == "0.810 (0.74\u20110.88)"
    assert quality["Stance accuracy"] == "0.700"
    assert "In brackets: 95% intervals from resampling the letters." in texts(at)
    assert quality["Measured on"].startswith("cross-validation: mine.jsonl, 40 sentences, 5 folds")
    # No data grid nor st.metric on the first page: small tables are drawn as Markdown,
    # figures as one HTML element (each would load code of its own before first paint).
    assert not at.dataframe and not at.metric
    # No ':word:' in Markdown (a timestamp's 'T22:31:37'): it loads an emoji library.
    assert not re.search(r":(?!material/)[\w+-][\w_+-]*:", "\n".join(m.value for m in at.markdown))
    recent = md_tables(at)[1]
    assert len(recent) == 4 and {r["Area"] for r in recent} == set(
        facts["areas"])  # type: ignore[arg-type]


def page_url_of(page: str, **params: str) -> str:
    from sendlens.ui.common import page_url

    return page_url(page, **params)


def test_compare_evidence_follows_the_chosen_cell(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare")
    assert at.title[0].value == "Compare areas"
    # No selectbox or multiselect on the first view: each would delay the first paint.
    assert not at.selectbox and not at.multiselect
    # An area whose positive and negative passages differ in number: a swap of the two
    # shows.
    area = next(a for a in facts["health"]
                if facts["health"][a][1] != facts["health_positive"][a])
    n, neg = facts["health"][area]
    open_expander(at, "cell_pick")
    at.selectbox(key="cell_row").set_value(area)
    at.selectbox(key="cell_theme").set_value("health_input")
    at.run()
    assert not at.exception
    assert not at.dataframe  # the sortable table is only built once its expander is opened
    open_expander(at, "cell-table")
    summary = texts(at)
    assert f"{n} passages in 1 of 1 letter:" in summary
    # Each stance's count in its place (a swap of positive and negative read as praise).
    pos = facts["health_positive"][area]
    assert f": {pos} positive, {neg} negative, 0 mixed, " in summary
    assert f"({page_url_of('area', area=area)})" in summary  # on to the area's profile
    # The table of the cell lists exactly those passages, each with a citation.
    table = evidence_of(at)
    assert len(table) == n
    assert table["citation"].str.startswith(area).all()
    # Those behind the colour first: neutral passages (the background, first in a letter)
    # judge nothing, and come last.
    neutral = table["stance"].eq("neutral").tolist()
    assert any(neutral) and neutral == sorted(neutral)
    assert "neutral (listed last)." in summary
    # Choosing a stance narrows the evidence (and no neutral passage is listed to come last).
    at.radio(key="cell_stance").set_value("negative").run()
    assert len(evidence_of(at)) == neg
    assert "(listed last)" not in texts(at)
    assert at.query_params["cell_stance"] in ("negative", ["negative"])  # shareable URL


def test_compare_makes_room_for_a_long_theme_name_added_to_the_codebook(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The last column's slanted label ran past the chart's edge and was cut off ("Home to
    # school t"): the evidence now goes under the chart at a wider window instead.

    from textmine.codebook import PACKAGED_CODEBOOK

    def stacks_below(corpus: Path) -> int:
        at = run(corpus, monkeypatch, page="compare")
        css = next(str(h.proto.body) for h in at.get("html")
                   if "st-key-compare-cols" in str(h.proto.body))
        return int(re.search(r"@container \(max-width: (\d+)px\)", css).group(1))

    copy = copy_of(corpus_dir, tmp_path / "c")
    extra = ("  - id: transport\n    name: Home to school transport and travel assistance\n"
             "    definition: Travel.\n    patterns: [\"home to school transport\"]\n\n"
             "stance:\n")
    (copy / "codebook.yaml").write_text(
        PACKAGED_CODEBOOK.read_text().replace("\nstance:\n", "\n" + extra, 1))
    with Corpus.open(copy).transaction() as con:  # as if retrained: a model that knows it
        con.execute("UPDATE models SET meta = json_set(meta, '$.themes[#]', 'transport')")
    plain, longer = stacks_below(corpus_dir), stacks_below(copy)
    # One more 40 px column, and the label's reach past it (about 100 px at 35°).
    assert longer - plain > (40 + 60) / 0.62, (plain, longer)
    # No further than the axis draws a label (cut at 200 px): a full theme name of 60
    # characters reaches as far as one of 31.
    from sendlens.ui.common import slant_overhang

    assert slant_overhang("x" * 60, 40) == slant_overhang("x" * 31, 40)


def test_compare_leaves_out_a_theme_added_since_tagging_and_says_why(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its column was all blanks, read as "no letter mentions it": it was never asked.

    from textmine.codebook import PACKAGED_CODEBOOK

    copy = copy_of(corpus_dir, tmp_path / "c")
    extra = ("  - id: transport\n    name: School transport\n    definition: Travel.\n"
             "    patterns: [\"home to school transport\"]\n\nstance:\n")
    (copy / "codebook.yaml").write_text(
        PACKAGED_CODEBOOK.read_text().replace("\nstance:\n", "\n" + extra, 1))
    at = open_expander(run(copy, monkeypatch, page="compare"), "cell-numbers")
    [grid] = [f for f in at.dataframe if "net_stance" in f.value.columns]
    assert "School transport" not in set(grid.value["theme"])
    assert "Health input into identification, assessment and plans" in set(grid.value["theme"])
    assert ("Not in the chart: School transport, added to the codebook since the corpus "
            "was tagged") in texts(at)
    # A link naming it is told it is not tagged yet, not that it is no value of the page.
    linked = run(copy, monkeypatch, page="themes", theme="transport")
    warned = " ".join(w.value for w in linked.warning).replace("\\", "")
    assert "Not tagged yet (a theme added to the codebook since the corpus was tagged" in warned
    assert "theme=transport" in warned and "Not a value this page offers" not in warned
    # Its passages can still be labelled, to teach the retrain that will count it.
    pid = sqlite3.connect(copy / "sendlens.db").execute(
        "SELECT passage_id FROM tags LIMIT 1").fetchone()[0]
    label = run(copy, monkeypatch, page="label", pid=pid)
    assert "School transport" in label.multiselect(key=f"lt-{pid}").options


def test_a_letter_or_codebook_cannot_put_a_link_on_a_page(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An area's name is read from its letter, and a theme's name and definition from the
    codebook: a caption gave them to Markdown as they were, so a crafted PDF put a live
    link and a tracking image on Compare; a bare address in a passage became a link."""
    import yaml

    from textmine.codebook import PACKAGED_CODEBOOK

    copy = copy_of(corpus_dir, tmp_path / "c")
    bait = ("Evil [login](https://e.example/a) ![t](http://127.0.0.1:9/b.png) https://e.example "
            "www.e.example me@e.example")
    with sqlite3.connect(copy / "sendlens.db") as con:
        (area,) = con.execute("SELECT area FROM letters ORDER BY area LIMIT 1").fetchone()
        con.execute("UPDATE letters SET area = ? WHERE area = ?", (bait, area))
        (pid,) = con.execute("SELECT passage_id FROM tags LIMIT 1").fetchone()
        con.execute("UPDATE passages SET text = ? WHERE passage_id = ?", (bait, pid))
    con.close()
    book = yaml.safe_load(PACKAGED_CODEBOOK.read_text())
    book["themes"][1] = {**book["themes"][1], "name": bait, "definition": bait}
    (copy / "codebook.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    link = re.compile(r"(?<!\\)\]\((?!\?page=)|(?<!\\)https?:|www\.|[^\u2060]@e")
    for page in ({"page": "compare", "sort": "health_input", "min": "1"},
                 {"page": "compare", "cell_row": bait, "cell_theme": "health_input"},
                 {"page": "themes", "theme": "health_input"},
                 {"page": "label", "pid": pid}, {"page": "reader", "focus": pid,
                                                 "letter": pid.rsplit("-", 1)[0]}):
        at = run(copy, monkeypatch, **page)
        shown = [e.value for kind in ("caption", "markdown", "info", "warning", "success")
                 for e in at.get(kind) if isinstance(getattr(e, "value", None), str)]
        assert any("Evil" in v for v in shown), page
        ours = re.compile(r"\]\(\?page=[^)\s]*\)")  # the app's own links, bait in the query
        assert not [v for v in shown if "Evil" in v and link.search(ours.sub("]", v))], page


def test_compare_says_when_its_rows_pool_frameworks(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    said = "1 row pools letters of several frameworks"
    assert "pool" not in texts(run(corpus_dir, monkeypatch, page="compare", by="region"))
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:  # a revisit beside a report of its region
        region = con.execute("SELECT region FROM letters GROUP BY region HAVING count(*) > 1"
                             " LIMIT 1").fetchone()[0]
        con.execute("UPDATE letters SET framework = 'revisit_2018' WHERE rowid = (SELECT"
                    " min(rowid) FROM letters WHERE region = ?)", (region,))
    assert f"{said} ({region};" in texts(run(copy, monkeypatch, page="compare", by="region"))
    # By area each row is one letter; one framework chosen: no row pools.
    assert "pool" not in texts(run(copy, monkeypatch, page="compare"))
    assert "pool" not in texts(run(copy, monkeypatch, page="compare", by="region",
                                   c_fw="area_send_2023"))
    # Its judgements moved under Main findings, as a revisit's are: the sections chosen
    # leave it nothing, yet it counts among the letters; the page says so.
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE passages SET section = 'main_findings' WHERE section != "
                    "'boilerplate' AND letter_id IN (SELECT letter_id FROM letters "
                    "WHERE framework = 'revisit_2018')")
    empty = "1 letter (2018 revisit: 1) has no passage in the sections chosen"
    shown = texts(run(copy, monkeypatch, page="compare", by="region", c_sec="strengths"))
    shown = shown.replace("\\", "")  # Markdown-escaped
    assert empty in shown and "under Main findings: add it" in shown
    on_export = texts(run(copy, monkeypatch, page="export", x_sec="strengths")).replace("\\", "")
    assert empty in on_export and "under Filters" not in on_export  # it has none
    assert empty not in texts(run(copy, monkeypatch, page="compare", by="region",
                                  c_sec=["strengths", "main_findings"]))


def test_chart_text_is_dark_enough_to_read() -> None:
    # Streamlit's theme drew axis and legend labels in #808495: 3.7:1 on white, under
    # the 4.5:1 text of their size needs.
    from sendlens.ui.common import CHART_TEXT, outcome_bars_spec, year_bars_spec

    def contrast(hex_colour: str) -> float:
        rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        return 1.05 / (lum + 0.05)  # against white

    assert contrast("#808495") < 4.5 <= contrast(CHART_TEXT)
    for spec in (year_bars_spec(), outcome_bars_spec()):
        for part in ("axis", "legend"):
            assert spec["config"][part]["labelColor"] == CHART_TEXT
            assert spec["config"][part]["titleColor"] == CHART_TEXT


def test_compare_numbers_behind_the_chart_are_named_in_words(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_expander(run(corpus_dir, monkeypatch, page="compare"), "cell-numbers")
    # The chart is a picture to a screen reader: its caption names the other ways in.
    assert "(keyboard, screen reader); the numbers are also in a table" in texts(at)
    [grid] = [f for f in at.dataframe if "net_stance" in f.value.columns]
    table = grid.value
    assert "Health input into identification, assessment and plans" in set(table["theme"])
    assert "health_input" not in set(table["theme"])
    # The chart's measures are shown next to the theme, not off to the right.
    # The chart's measure (net stance by default) first, each with its interval in words,
    # but one letter an area has none: no column of blanks pushing the counts out of view.
    assert list(grid.proto.column_order)[:5] == [
        "area", "theme", "net_stance", "share_negative", "passages"]
    assert not {"net_stance_95", "share_negative_95"} & set(grid.proto.column_order)
    assert set(table["net_stance_95"]) == {""}  # blank rather than "None"
    # ... as a share no passage judges is (the grid wrote "None" in its cell).
    assert grid.proto.placeholder == "" and grid.proto.HasField("placeholder")
    assert "share_negative_low" not in table.columns  # the downloads keep from / to
    # Shares as shown: a screen reader reads the grid's value, not its display format.
    shares = table[["share_negative", "net_stance"]].stack().dropna()
    assert len(shares) and (shares == shares.round(3)).all()


def test_compare_numbers_behind_a_ranking_are_in_its_order(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run(corpus_dir, monkeypatch, page="compare", sort="health_input",
             metric="share_negative", min="1")
    chart_rows = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0][
        "encoding"]["y"]["sort"]
    assert chart_rows != sorted(chart_rows)  # a ranking, not the alphabet
    # The top of it in words, for a screen reader (a large chart is an image) and the eye.
    top = re.search(r"Top of the ranking on Health input: (.+)\.\n", texts(at) + "\n")
    assert top and top.group(1).startswith(f"{chart_rows[0]} ")
    assert re.match(r"[^,]+ \d+% \(\d+ passages?\), ", top.group(1)), top.group(1)
    at = open_expander(at, "cell-numbers")
    [grid] = [f for f in at.dataframe if "net_stance" in f.value.columns]
    assert list(dict.fromkeys(grid.value["area"])) == chart_rows


def test_letters_imported_while_the_app_is_open_are_not_left_out_by_its_dates(
        corpus_dir: Path, tmp_path: Path, real_pdfs: list[Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The date filters, never touched, kept the corpus's first and last dates as they were
    # when the page opened: letters imported and tagged since, inspected outside them,
    # were left out of the counts, the page said "Filtered by from, to" and the link
    # gained those dates (and, on the Theme explorer, "the link's t_from=...").
    from sendlens.importer import import_paths

    copy = copy_of(corpus_dir, tmp_path / "c")
    at = run(copy, monkeypatch, page="compare")
    assert letters_caption(at).startswith("4 letters.")
    corpus = Corpus.open(copy)
    with corpus.reading() as con:
        before = con.execute("SELECT min(inspection_start), max(inspection_start)"
                             " FROM letters").fetchone()
    import_paths(corpus, real_pdfs[4:8], progress=False)
    with corpus.transaction() as con:
        con.execute("INSERT INTO tags SELECT passage_id, '[\"health_input\"]', 'negative',"
                    " '{}', 'test-1', ? FROM passages WHERE passage_id NOT IN"
                    " (SELECT passage_id FROM tags)", (now_iso(),))
        after = con.execute("SELECT min(inspection_start), max(inspection_start)"
                            " FROM letters").fetchone()
    assert tuple(after) != tuple(before)  # a letter inspected outside the old dates
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert letters_caption(at).startswith("8 letters.")
    assert "Filtered by" not in texts(at)
    assert not {"c_from", "c_to"} & set(at.query_params)
    at.radio(key="page").set_value("themes").run()
    assert "Filtered by" not in texts(at) and "the link's" not in texts(at).replace("\\", "")
    assert not {"t_from", "t_to"} & set(at.query_params)


def test_a_letter_taken_out_while_the_app_is_open_is_said_to_be_gone_from_the_choices(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The reader showed another letter, and a filter naming the letter's area was dropped
    # (every area counted), without a word.
    copy = copy_of(corpus_dir, tmp_path / "c")
    con = sqlite3.connect(copy / "sendlens.db")
    (gone, area), (kept, other) = con.execute(
        "SELECT letter_id, area FROM letters ORDER BY area LIMIT 2").fetchall()
    con.close()
    reader = run(copy, monkeypatch, page="reader", letter=gone)
    compare = run(copy, monkeypatch, page="compare", c_areas=f"{area},{other}")
    assert letters_caption(compare).startswith("2 letters.")
    with Corpus.open(copy).transaction() as con:  # as `sendlens supersede` takes it out
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                    " WHERE letter_id = ?)", (gone,))
        for table in ("passages", "sections", "letters"):
            con.execute(f"DELETE FROM {table} WHERE letter_id = ?", (gone,))
    said = "No longer in the corpus (it changed since the page was drawn), so no longer chosen"
    reader.run()
    assert not reader.exception and reader.selectbox(key="letter").value != gone
    assert f"{said}: letter={gone}." in texts(reader).replace("\\", "")
    compare.run()
    assert not compare.exception
    assert letters_caption(compare).startswith("1 letter.")  # still narrowed to the other
    assert f"{said}: c_areas={area}." in texts(compare).replace("\\", "")
    assert compare.query_params["c_areas"] == other


def test_a_theme_taken_out_and_retagged_while_the_app_is_open_is_said_to_be_gone(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The codebook edited and the corpus re-tagged without a theme: the reader went on
    # highlighting it (so nothing) and Compare dropped it from its themes and ranking,
    # without a word.
    import yaml

    from textmine.codebook import PACKAGED_CODEBOOK, load_codebook

    copy = copy_of(corpus_dir, tmp_path / "c")
    reader = run(copy, monkeypatch, page="reader", hl="ehc_plans")
    compare = run(copy, monkeypatch, page="compare", th="ehc_plans,health_input",
                  sort="ehc_plans")
    book = yaml.safe_load(PACKAGED_CODEBOOK.read_text())
    book["themes"] = [t for t in book["themes"] if t["id"] != "ehc_plans"]
    (copy / "codebook.yaml").write_text(yaml.safe_dump(book))
    codebook = load_codebook(copy / "codebook.yaml")
    with Corpus.open(copy).transaction() as con:  # as `sendlens tag` would leave it
        con.execute("UPDATE tags SET themes = (SELECT json_group_array(value) FROM"
                    " json_each(tags.themes) WHERE value != 'ehc_plans')")
        con.execute("UPDATE models SET meta = json_set(meta, '$.codebook_sha256', ?,"
                    " '$.themes', json(?))", (codebook.sha256, json.dumps(codebook.theme_ids)))
    said = "No longer in the corpus (it changed since the page was drawn), so no longer chosen"
    reader.run()
    assert not reader.exception and reader.multiselect(key="hl").value == []
    assert f"{said}: hl=ehc_plans." in texts(reader).replace("\\", "")
    compare.run()
    assert not compare.exception
    assert compare.multiselect(key="th").value == ["health_input"]
    assert (f"{said}: sort=ehc_plans; th=ehc_plans; cell_theme=ehc_plans."
            in texts(compare).replace("\\", ""))


def test_compare_filters_change_the_numbers(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare")
    assert "c_areas" not in [m.key for m in at.multiselect]  # built only once opened
    assert letters_caption(at).startswith("4 letters")
    open_expander(at, "c_filters")
    areas = at.multiselect(key="c_areas")
    areas.set_value(areas.options[:2]).run()
    assert letters_caption(at).startswith("2 letters")
    # A link shared now holds both, as a link with them is read.
    assert at.query_params["c_areas"] in (",".join(areas.options[:2]),
                                          [",".join(areas.options[:2])])
    # Closing the expander keeps what was chosen in it, run after run.
    at.session_state["c_filters"] = False
    at.run()
    at.run()
    assert letters_caption(at).startswith("2 letters")
    open_expander(at, "c_filters")
    # Only the weaknesses sections: every passage of the cell is then negative. The
    # sections are offered by name, with the code the command line takes.
    assert "Weaknesses (weaknesses)" in at.multiselect(key="c_sec").options
    at.multiselect(key="c_sec").set_value(["weaknesses"]).run()
    open_expander(at, "cell_pick")
    at.selectbox(key="cell_theme").set_value("health_input").run()
    table = evidence_of(open_expander(at, "cell-table"))
    assert len(table) and set(table["stance"]) == {"negative"}


def test_compare_filters_from_a_link_open_and_outlive_the_expander(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    area = facts["areas"][0]
    at = run(corpus_dir, monkeypatch, page="compare", c_areas=area)
    assert at.multiselect(key="c_areas").value == [area]  # a link's filters are shown open
    assert letters_caption(at).startswith("1 letter.")
    at.session_state["c_filters"] = False  # close the expander: the filter stays
    at.run()
    assert "c_areas" not in [m.key for m in at.multiselect]
    assert letters_caption(at).startswith("1 letter.")
    assert "Filtered by areas" in texts(at)
    at.run()  # and on every later rerun, as in the URL
    assert letters_caption(at).startswith("1 letter.")
    assert at.query_params["c_areas"] in (area, [area])


def test_compare_state_comes_from_the_url(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    area = facts["areas"][2]
    at = run(corpus_dir, monkeypatch, page="compare", by="area", metric="share_negative",
             cell_row=area, cell_theme="ehc_plans")
    assert at.radio(key="metric").value == "share_negative"
    assert f"{area} · " in texts(at) and "passages in" in texts(at)  # that cell's evidence
    open_expander(at, "cell_pick")
    assert at.selectbox(key="cell_row").value == area
    assert at.selectbox(key="cell_theme").value == "ehc_plans"


def test_compare_row_order_and_themes_outlive_their_expander(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare")
    open_expander(at, "c_view")
    at.multiselect(key="th").set_value(["health_input", "ehc_plans"])
    at.selectbox(key="sort").set_value("health_input").run()
    assert at.query_params["sort"] in ("health_input", ["health_input"])
    at.session_state["c_view"] = False
    at.run()
    assert not at.selectbox and not at.multiselect
    assert "Rows sorted by" in texts(at) and "2 themes" in texts(at)
    at.run()
    assert at.session_state["th"] == ["health_input", "ehc_plans"]


def test_area_profile(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict) -> None:
    area = facts["areas"][0]
    at = run(corpus_dir, monkeypatch, page="area", area=area)
    assert at.title[0].value == "Area profile"
    assert at.selectbox(key="area").value == area
    letters = md_tables(at)[0]
    assert len(letters) == 1  # one letter per area in this corpus
    assert letters[0]["Letter"].startswith("[read ↗](?page=reader&letter=")
    assert "nothing to compare yet" in texts(at)
    assert "for the latest letter)." in texts(at)  # no table of change to point to
    # The profile's numbers stay legible on its dark cells, and its tooltip speaks plainly.
    [chart] = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    text = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "text")
    assert text["encoding"]["color"]["condition"]["value"] == "white"
    titles = [t.get("title") for t in spec["layer"][0]["encoding"]["tooltip"]]
    assert titles[:3] == ["Letter", "Theme", "Passages"] and "Net stance" in titles
    # A screen reader hears each cell's letter, theme, passages and net stance (if any).
    cells = chart_data(at).dropna(subset=["passages"])
    assert len(cells) and cells["net_stance"].notna().any()
    for cell in cells.itertuples():
        said = re.fullmatch(rf"{re.escape(cell.letter)}; {re.escape(cell.theme_name)}: "
                            rf"{int(cell.passages)} passages(?:, net stance ([-+]\d\.\d\d))?",
                            cell.description)
        assert said, cell.description
        assert (said[1] is None) == pd.isna(cell.net_stance), cell.description
        assert said[1] is None or abs(float(said[1]) - cell.net_stance) <= 0.005
    # A cell judged by one or two passages is faded, as on Compare areas (it was drawn at
    # full colour here and faded there).
    rect = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rect")
    from sendlens.ui.common import MIN_RANKED

    assert rect["encoding"]["opacity"]["condition"]["test"].endswith(f"< {MIN_RANKED}")
    assert f"faded: judged by fewer than {MIN_RANKED} passages" in texts(at)
    # Its stance counts in view (not only in tooltips), beside its region's and every
    # area's share negative, as `export themes` counts them for letters of its framework.
    [peers] = [t for t in md_tables(at) if "All areas" in t[0]]
    from typer.testing import CliRunner

    from sendlens.cli import app as cli_app

    def table(by: str) -> pd.DataFrame:
        out = CliRunner().invoke(cli_app, ["export", "themes", "--by", by, "-f", "csv",
                                           "--corpus", str(corpus_dir)])
        return pd.read_csv(io.StringIO(out.stdout))

    mine = table("area").query("area == @area").set_index("theme")
    named = {row["Theme"]: row for row in peers}
    assert len(named) == len(mine) > 0
    from textmine.aggregate import theme_names

    for theme, row in mine.iterrows():
        shown = named[theme_names(Corpus.open(corpus_dir))[theme]]
        assert (int(shown["Passages"]), int(shown["Negative"])) == (row["passages"],
                                                                   row["negative"])
    every = table("framework").set_index("theme")
    some = next(t for t in mine.index if pd.notna(every.loc[t, "share_negative"]))
    assert named[theme_names(Corpus.open(corpus_dir))[some]]["All areas"] == \
        f"{every.loc[some, 'share_negative']:.3f}"
    # Each theme's passages by link, for those who cannot click a chart's cell.
    row = named[theme_names(Corpus.open(corpus_dir))[some]]
    assert row["In the letter"].startswith("[read ↗](?page=reader&letter=")
    assert row["In the letter"].endswith(f"&hl={some})")
    # The figures a paper cites can be downloaded, as every other table can.
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"CSV", "Excel", "Markdown"} <= set(labels), labels


def test_a_list_item_is_quoted_after_the_words_that_open_its_list(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        letters_dir: Path) -> None:

    from sendlens.importer import import_paths

    copy = copy_of(corpus_dir, tmp_path / "c")
    corpus = Corpus.open(copy)
    import_paths(corpus, [letters_dir / "80443_bury__07-may-2024.pdf"], progress=False)
    with corpus.transaction() as con:  # Bury's recommendations hold lists
        con.execute("INSERT INTO tags SELECT passage_id, '[\"social_care\"]', 'negative',"
                    " '{}', 'test-1', 'x' FROM passages WHERE passage_id NOT IN"
                    " (SELECT passage_id FROM tags) AND section = 'actions'")
        con.execute("INSERT INTO tags SELECT passage_id, '[]', 'neutral', '{}', 'test-1', 'x'"
                    " FROM passages WHERE passage_id NOT IN (SELECT passage_id FROM tags)")
        item, before = con.execute(
            "SELECT p.text, (SELECT q.text FROM passages q WHERE q.letter_id = p.letter_id"
            " AND q.seq < p.seq AND q.text LIKE '%:' ORDER BY q.seq DESC LIMIT 1)"
            " FROM passages p WHERE p.text GLOB '[a-z]*' ORDER BY p.rowid LIMIT 1").fetchone()
    at = run(copy, monkeypatch, page="themes", theme="social_care")
    shown = html.unescape(texts(at))
    # The lead-in, set apart in brackets, then the item: not "children waiting" alone.
    assert re.search(rf"\[[^\]]*{re.escape(before)}\]</span> {re.escape(item)}", shown)
    open_expander(at, "theme-table")
    table = evidence_of(at)
    assert any(t.endswith(f"{before}] {item}") for t in table["text"])


def test_theme_explorer_search_and_stance(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    at = run(corpus_dir, monkeypatch, page="themes", theme="health_input")
    total = sum(n for n, _ in facts["health"].values())
    metrics = figures_of(at)
    assert metrics["Passages"] == f"{total:,}"
    assert metrics["Letters"] == "4"
    assert metrics["Negative"] == f"{sum(neg for _, neg in facts['health'].values()):,}"
    assert "best matches" not in texts(at)  # every passage is listed
    assert not at.dataframe  # quotes first; the sortable table is built once opened
    assert "read in letter" in texts(at)
    # Each quote leads to the Label page, where its tag can be corrected.
    assert re.search(r'href="\?page=label&amp;pid=[0-9a-f]{12}-\d{4}"[^>]*>correct the tag',
                     texts(at))
    # Named for their passage: forty cards were eighty links of two names. The name starts
    # with the words shown, so that a voice user's "click read in letter" finds it.
    assert re.search(r'aria-label="Read in letter: passage [0-9a-f]{12}-\d{4} \([^)]+\) '
                     r'\(opens a new tab\)">read in letter', texts(at))
    open_expander(at, "theme-table")
    # Rows tall enough that the grid wraps a passage (it wraps only above 4rem = 64 px)
    # instead of cutting it off after one line.
    [grid] = [f for f in at.dataframe if "citation" in f.value.columns]
    assert grid.proto.row_height > 64
    # Themes in words in the table too, not the ids of the command line.
    table = evidence_of(at)
    assert table["themes"].str.contains("Health input").all()
    assert not table["themes"].str.contains("health_input").any()
    at.selectbox(key="stance").set_value("negative").run()
    negatives = sum(neg for _, neg in facts["health"].values())
    assert len(evidence_of(at)) == negatives
    at.text_input(key="q").set_value("therapy").run()
    found = evidence_of(at)
    assert len(found) < negatives
    assert "Searching only the passages on Health input" in texts(at)
    assert found["text"].str.contains("therap", case=False).all()
    # Its downloads carry the columns of `sendlens export evidence` (bar theme_score).
    from sendlens import appdata

    searched = appdata.search_passages(str(corpus_dir), appdata.stamp(str(corpus_dir)),
                                       "therapy", appdata.Filters())
    assert {"region", "outcome", "inspection_end", "published", "heading"} <= set(searched)
    # The words occur beyond this theme: one click searches every passage.
    at.selectbox(key="stance").set_value("(all)").run()
    found = evidence_of(at)
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    anywhere = con.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH"
                           " 'therapy'").fetchone()[0]
    con.close()
    assert anywhere > len(found)
    wider = at.button(key="search-all-themes")
    assert f"in {anywhere:,} passages on any theme" in wider.label
    wider.click().run()
    assert at.selectbox(key="theme").value == "(all)"
    assert figures_of(at)["Passages"] == f"{anywhere:,}"
    # The button went with the search: the keyboard focus goes to the figures, said.
    assert f'id="searched-all" tabindex="-1" aria-label="Searching every theme: {anywhere:,} ' \
        'passages"' in texts(at)
    assert evidence_of(at)["text"].str.contains("therap", case=False).all()
    assert "in quotes finds the phrase only" not in texts(at)  # one word
    # Two words unquoted are each found anywhere ("on offer locally" for "local offer"):
    # said, with the way to search the phrase.
    at.text_input(key="q").set_value("local offer").run()
    assert '"local offer" in quotes finds the phrase only' in texts(at)
    at.text_input(key="q").set_value('"local offer"').run()
    assert "in quotes finds the phrase only" not in texts(at)


def test_letter_reader_escapes_and_highlights(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    letter_id, passage_id = con.execute(
        "SELECT p.letter_id, p.passage_id FROM passages p JOIN tags t USING (passage_id)"
        " WHERE t.themes LIKE '%health_input%' LIMIT 1").fetchone()
    con.close()
    at = run(corpus_dir, monkeypatch, page="reader", letter=letter_id, focus=passage_id)
    assert at.selectbox(key="letter").value == letter_id
    with Corpus.open(corpus_dir).reading() as con:
        n = con.execute("SELECT count(*) FROM passages WHERE letter_id = ?",
                        (letter_id,)).fetchone()[0]
    assert f" · {n} passages · " in texts(at)
    body = max((str(h.proto.body) for h in at.get("html")), key=len)
    assert f'id="p-{passage_id}"' in body and "outline" in body
    # The linked passage takes the keyboard focus (else the first Tab went to the top).
    assert f'id="p-{passage_id}" tabindex="-1"' in body
    assert any("el.focus({preventScroll: true})" in str(h.proto.body) for h in at.get("html"))
    # Each section a heading, for a screen reader to jump between them.
    assert "<mark" in body and "Section: Strengths</h2>" in body
    # The letter's own headings stand out from its text.
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    heading = con.execute("SELECT heading FROM sections WHERE letter_id = ? AND canonical ="
                          " 'strengths'", (letter_id,)).fetchone()[0]
    con.close()
    assert f"<strong>{html.escape(heading)}</strong>" in body
    assert "Linked passage" in texts(at)
    # Where a wrong tag shows, one click corrects it; the section in words.
    assert f"[correct the tag ↗](?page=label&pid={passage_id})" in texts(at)
    from sendlens.appdata import SECTION_NAMES

    named = re.search(rf"Linked passage {passage_id} \(([^;]+);", texts(at).replace("\\", ""))
    assert named and named.group(1) in SECTION_NAMES.values(), named


def test_highlight_escapes_letter_text() -> None:
    import pandas as pd

    from sendlens.appdata import LetterView, highlight_html

    # Text before a passage, between it and the next section, and after: all escaped.
    text = ("Intro <script>alert(1)</script>. Health is <b>poor</b> & slow. Then <u>more"
            "</u>. Next <em>part</em>.")
    start, end, second = text.index("Health"), text.index(" Then"), text.index("Next")
    view = LetterView(
        letter={}, text=text,
        sections=pd.DataFrame([{"seq": 0, "canonical": "weaknesses", "heading": "<i>x</i>",
                                "char_start": 0, "char_end": second},
                               {"seq": 1, "canonical": "actions", "heading": "",
                                "char_start": second, "char_end": len(text)}]),
        passages=pd.DataFrame([{"passage_id": "abc-0001", "seq": 1, "section": "weaknesses",
                                "heading": None, "char_start": start, "char_end": end,
                                "text": text[start:end], "themes": ["health_input"],
                                "stance": "negative", "model_version": "t"}]),
    )
    out = highlight_html(view, {"health_input": "Health <input>"})
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<b>poor</b>" not in out and "&lt;b&gt;poor&lt;/b&gt;" in out
    assert "Health &lt;input&gt;" in out and "&amp; slow" in out
    assert "<u>" not in out and "&lt;u&gt;more" in out
    assert "<em>" not in out and "&lt;em&gt;part" in out
    assert out.count("<mark") == 1
    # A heading in bold is escaped like the rest (this one is not the text's start).
    assert "<strong>" not in out and "<i>" not in out


def test_the_reader_shows_overlapping_or_stray_passages_text_once() -> None:
    # Offsets from another segmentation can overlap or run past the text: the letter
    # must still read as written, each word once, the stray passages left unmarked.
    from sendlens.appdata import LetterView, highlight_html

    text = "Alpha beta gamma. Delta epsilon."
    spans = [("a-1", 0, 17), ("a-2", 6, 17), ("a-3", 18, 99)]
    view = LetterView(
        letter={}, text=text,
        sections=pd.DataFrame(columns=["seq", "canonical", "heading", "char_start",
                                       "char_end"]),
        passages=pd.DataFrame([{"passage_id": pid, "seq": i, "section": "weaknesses",
                                "heading": None, "char_start": a, "char_end": b,
                                "text": text[a:b], "themes": ["health_input"],
                                "stance": "negative", "model_version": "t"}
                               for i, (pid, a, b) in enumerate(spans)]),
    )
    out = highlight_html(view, {})
    assert out.count("beta gamma") == 1 and out.count("Delta epsilon") == 1
    assert out.count("<mark ") == 1 and 'id="p-a-1"' in out


def test_a_passage_picked_from_a_search_on_the_label_page_is_in_the_link(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The link kept only the words, so that opened afresh it showed the first match.
    at = run(corpus_dir, monkeypatch, page="label", lq="the")
    assert "pick" not in at.query_params  # the first match: the default
    at.selectbox(key="pick").select_index(3).run()
    picked = at.selectbox(key="pick").value
    assert at.query_params["pick"] in (picked, [picked])
    again = run(corpus_dir, monkeypatch, page="label", lq="the", pick=picked)
    assert f"passage `{picked}`" in texts(again)
    # Other words whose matches it is not among: the first of them, not an error.
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    other = next(t for (t,) in con.execute("SELECT text FROM passages WHERE passage_id != ?"
                                           " AND length(text) > 80", (picked,))
                 if t.split()[0].isalpha())
    con.close()
    again.text_input(key="lq").set_value(" ".join(other.split()[:6])).run()
    assert not again.exception
    shown = again.selectbox(key="pick")
    assert shown.value != picked and shown.index == 0 and "pick" not in again.query_params


def test_retrain_names_the_hand_label_files_it_will_learn_from_again(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The page said only "weak labels plus your corrections"; the retrain reads dev.jsonl
    # too, which it named only afterwards.

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE models SET meta = json_set(meta, '$.training.label_files',"
                    " json_array('/data/gold/dev.jsonl'))")
    said = texts(run(copy, monkeypatch, page="label"))
    assert ("weak labels plus your corrections and the hand-label files the current model "
            "learnt from (dev.jsonl)") in said.replace("\\", "")
    assert "hand-label files" not in texts(run(corpus_dir, monkeypatch, page="label"))


def test_label_saves_a_correction(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:

    work = copy_of(corpus_dir, tmp_path / "c")  # writes a label: keep the shared one clean
    con = sqlite3.connect(work / "sendlens.db")
    pid, letter, seq = con.execute(
        "SELECT passage_id, letter_id, seq FROM tags JOIN passages USING (passage_id)"
        " WHERE themes = '[]' AND seq > 1 LIMIT 1").fetchone()
    before, after = (con.execute("SELECT text FROM passages WHERE letter_id = ? AND seq = ?",
                                 (letter, n)).fetchone()[0] for n in (seq - 1, seq + 1))
    con.close()
    at = run(work, monkeypatch, page="label", pid=pid)
    assert "Corrections saved (0 passages)" in [s.value for s in at.header]
    # The passage is shown between its neighbours, as the codebook reads it.
    captions = [re.sub(r"\\(.)", r"\1", c.value) for c in at.caption]
    assert f"Before: {before}" in captions and f"After: {after}" in captions
    # The id is shown as it can be copied (it once read "abc\-0001": escaped in code).
    assert f"passage `{pid}`" in texts(at)
    at.multiselect(key=f"lt-{pid}").set_value(["co_production"])
    at.radio(key=f"ls-{pid}").set_value("mixed")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    # The correction is shown with the passage (not yet its tag), and the form starts
    # from it when the passage is opened again.
    saved = [i.value for i in at.info if i.value.startswith("Your correction, saved")]
    assert saved and "stance mixed" in saved[0] and "when you retrain" in saved[0], saved
    again = run(work, monkeypatch, page="label", pid=pid)
    assert again.multiselect(key=f"lt-{pid}").value == ["co_production"]
    assert again.radio(key=f"ls-{pid}").value == "mixed"
    con = sqlite3.connect(work / "sendlens.db")
    row = con.execute("SELECT passage_id, themes, stance, source FROM labels").fetchone()
    offered = con.execute("SELECT themes_offered FROM labels").fetchone()[0]
    con.close()
    assert row == (pid, '["co_production"]', "mixed", "app")
    # It judges the themes the form offered, and only those (see tag.not_offered).
    from textmine.codebook import load_codebook

    shown = at.multiselect(key=f"lt-{pid}").options  # in words
    assert json.loads(offered) == sorted(load_codebook(corpus=work).theme_ids)
    assert len(shown) == len(json.loads(offered))
    assert "Corrections saved (1 passage)" in [s.value for s in at.header]
    [saved] = [f.value for f in at.dataframe if "created_at" in f.value.columns]
    assert saved["themes"].tolist() == ["Co-production"]  # in words, as elsewhere
    assert "T" not in saved["created_at"].iloc[0]  # '2026-12-04 15:40', not ISO
    # Corrected again: both are listed, and the table says which one training uses.
    from typer.testing import CliRunner

    from sendlens.cli import app as cli_app

    at.multiselect(key=f"lt-{pid}").set_value(["social_care"])
    at.button[0].click().run()
    assert "Corrections saved (1 passage)" in [s.value for s in at.header]
    [saved] = [f.value for f in at.dataframe if "created_at" in f.value.columns]
    assert saved[["themes", "used"]].values.tolist() == [
        ["Social care", "yes"], ["Co-production", "no: replaced by a newer one"]]
    # The list to remove one from words them as the table does: time, passage, tags.
    options = at.selectbox(key="unlabel").options[1:]
    opening = sqlite3.connect(work / "sendlens.db").execute(
        "SELECT text FROM passages WHERE passage_id = ?", (pid,)).fetchone()[0][:30]
    assert all(opening in o and "T" not in o.split(" · ")[0] for o in options), options
    assert any("Social care" in o for o in options) and not any("social_care" in o
                                                               for o in options)
    info = CliRunner().invoke(cli_app, ["info", "--corpus", str(work)])
    assert "corrections saved in the app: 1 passage (2 saved; the newest of each passage " \
        "is used)" in info.stdout
    # Saved, but not in the model or the tables until a retrain: info says so.
    assert "1 passage corrected since the current model was trained" in info.stdout
    # A correction saved by mistake can be removed.
    for _ in range(2):
        label_id = at.selectbox(key="unlabel").options[1]
        at.selectbox(key="unlabel").set_value(label_id).run()
        at.button(key="unlabel-go").click().run()
        assert not at.exception
    assert "Corrections saved (0 passages)" in [s.value for s in at.header]
    con = sqlite3.connect(work / "sendlens.db")
    assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 0
    con.close()


def test_a_correction_naming_a_theme_since_removed_says_so(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It said the correction "becomes the passage's tag when you retrain", which a theme
    # the codebook no longer has cannot.

    import yaml

    from sendlens import appdata as ad
    from textmine.codebook import PACKAGED_CODEBOOK

    work = copy_of(corpus_dir, tmp_path / "c")
    con = sqlite3.connect(work / "sendlens.db")
    pid = con.execute("SELECT passage_id FROM passages LIMIT 1").fetchone()[0]
    con.close()
    ad.save_label(str(work), pid, ["inclusion", "health_input"], "negative")
    book = yaml.safe_load(PACKAGED_CODEBOOK.read_text())
    book["themes"] = [t for t in book["themes"] if t["id"] != "inclusion"]
    (work / "codebook.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    at = run(work, monkeypatch, page="label", pid=pid)
    [saved] = [i.value for i in at.info if i.value.startswith("Your correction, saved")]
    assert "It also named inclusion, no longer in the codebook: left out." in saved
    assert "Inclusion" not in saved.split("It also named")[0]
    # Training says so too, as it does of a label file's (it was silent for corrections).
    from textmine.tag import removed_note, train

    note = removed_note(train(Corpus.open(work), []))
    assert note and note.startswith("1 of the hand labels names a theme") and \
        "(inclusion: removed or renamed?)" in note, note


def test_export_offers_every_format(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run(corpus_dir, monkeypatch, page="export")
    labels = [b.proto.label for b in at.get("download_button")]
    for fmt in ("CSV", "Excel", "Markdown"):
        assert labels.count(fmt) == 3  # letters, themes table, evidence
    # The preview speaks in words: theme names and headers, not the export's keys.
    [preview] = [t for t in md_tables(at) if "Theme" in t[0]]
    assert list(preview[0])[:3] == ["Area", "Theme", "Letters"]
    assert "Share negative" in preview[0] and "Net stance" in preview[0]
    assert {row["Theme"] for row in preview} <= {
        "Co-production and engagement with families",
        "Health input into identification, assessment and plans",
        "The Local Offer and information for families",
        "Preparation for adulthood and post-16 transition",
        "EHC needs assessment and plans", "Strategic leadership and joint commissioning",
        "Inclusion, SEN support and school experience", "Social care and short breaks"}
    # One theme across the outcomes: every outcome's row in view, named in words.
    at = run(corpus_dir, monkeypatch, page="export", x_by="outcome",
             x_pt="post16_transition")
    [preview] = [t for t in md_tables(at) if "Theme" in t[0]]
    assert {row["Theme"] for row in preview} == {
        "Preparation for adulthood and post-16 transition"}
    outcomes = [row["Outcome"] for row in preview]
    assert len(outcomes) == len(set(outcomes)) >= 2
    assert not {"positive", "inconsistent", "systemic_failings"} & set(outcomes)
    assert at.query_params["x_pt"] == "post16_transition"  # the view is in the link


def test_search_words_are_quoted_and_a_star_belongs_to_its_own_word() -> None:
    from sendlens.store import MAX_FTS_QUERY, fts_query

    # Operators and punctuation cannot break the query; each word is quoted.
    assert fts_query('therap* "short breaks" OR a:b') == '"therap"* "short breaks" "a" "b"'
    # The * after the second "plan" makes that one a prefix, not the first.
    assert fts_query("plan plan*") == '"plan" "plan"*'
    assert fts_query("***") == ""
    # In lower case an operator's word is a word: "not timely" found every "timely".
    assert fts_query("not timely") == '"not" "timely"'
    assert fts_query("speech or language NEAR therapy") == '"speech" "or" "language" "therapy"'
    # A search is cut at MAX_FTS_QUERY characters, not one fewer.
    assert fts_query("a" * 250) == '"' + "a" * MAX_FTS_QUERY + '"'
    # Each operator in capitals, NOT too: kept, it would require the word "not".
    assert fts_query("timely NOT late AND plans") == '"timely" "late" "plans"'


def test_a_quoted_word_or_phrase_is_also_matched_as_typed() -> None:
    from sendlens.store import exact_phrases, fts_query

    # The index matches stems ("timely" finds "time"): quotes ask for the words as typed,
    # with LIKE's own characters taken literally.
    assert exact_phrases('"timely"  waits "short   breaks"') == ["%timely%", "%short breaks%"]
    assert exact_phrases('"50% of_all"') == ["%50\\% of\\_all%"]
    assert exact_phrases("timely waits") == []
    # Pasted from a PDF, with curly quotes: as the clean text has them, straight.
    assert exact_phrases("\u201cchildren\u2019s needs\u201d") == ["%children's needs%"]
    assert fts_query("\u201cchildren\u2019s needs\u201d") == '"children\'s needs"'


def test_a_list_of_theme_ids_reads_as_their_names() -> None:
    from sendlens.ui.common import theme_words

    names = {"ehc_plans": "EHC plans", "health_input": "Health input"}.get
    assert theme_words("ehc_plans, health_input", names) == "EHC plans, Health input"
    assert theme_words(["health_input"], names) == "Health input"
    assert theme_words("", names) == ""  # no theme: nothing, not an empty name


def test_a_timestamp_on_a_page_reads_to_the_minute() -> None:
    from sendlens.ui.common import when

    assert when("2024-05-01T22:31:37.123+00:00") == "2024-05-01 22:31"
    assert when(None) is None and when("") == ""  # never: the caller's words instead


def test_short_theme_names_keep_what_people_search_for() -> None:
    from sendlens.ui.common import short_theme

    assert short_theme("Preparation for adulthood and post-16 transition") == \
        "Preparation for adulthood, post-16"
    assert short_theme("Health input into identification, assessment and plans") == \
        "Health input"
    assert short_theme("Social care and short breaks") == "Social care"


def test_every_page_runs_without_tags(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:

    work = copy_of(corpus_dir, tmp_path / "untagged")
    con = sqlite3.connect(work / "sendlens.db")
    con.execute("DELETE FROM tags")
    con.commit()
    con.close()
    for page in ("overview", "compare", "area", "themes", "reader", "label", "export"):
        at = run(work, monkeypatch, page=page)
        assert not at.error, (page, [e.value for e in at.error])
        if page in ("compare", "themes"):
            assert "sendlens tag" in texts(at), page
        # Nothing was ever tagged: no letter was "imported since the last tag".
        assert "not tagged yet are left out" not in " ".join(w.value for w in at.warning), page
        if page == "label":
            assert "brings the tags up to date" not in texts(at)


def test_overview_lists_the_letters_imported_last_in_a_stable_order(corpus_dir: Path) -> None:
    from sendlens import appdata

    recent = appdata.overview(str(corpus_dir), appdata.stamp(str(corpus_dir)))["recent"]
    keys = list(zip(recent["imported_at"], recent["inspection_start"].fillna("")))
    # Newest import first; within one import, the latest inspection first.
    assert keys == sorted(keys, reverse=True), keys


def test_headings_are_not_tab_stops_of_their_own(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamlit gives every heading a "link to heading" anchor, one more Tab press each
    for a keyboard user; only the evidence heading, which the page scrolls to, keeps one."""
    for page in ("overview", "compare", "area", "themes", "reader", "label", "export"):
        at = run(corpus_dir, monkeypatch, page=page)
        headings = [*at.title, *at.header]
        assert headings, page
        linked = [h.value for h in headings if not h.proto.hide_anchor]
        assert linked == (["Evidence behind a cell"] if page == "compare" else []), page


def corrected_copy(corpus_dir: Path, tmp_path: Path,
                   *corrections: list[str]) -> tuple[Path, list[int]]:
    """A copy of the corpus (tests that write must not touch the shared one) with the
    given corrections (themes; stance negative) of its first tagged passage saved, in
    order; the copy and the corrections' ids."""

    from sendlens import appdata as ad

    work = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(work).reading() as con:
        pid = con.execute("SELECT passage_id FROM tags LIMIT 1").fetchone()[0]
    return work, [ad.save_label(str(work), pid, themes, "negative") for themes in corrections]


def test_no_retrain_is_offered_while_the_codebook_cannot_be_read(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The button stayed live under the red banner; the retrain then failed, its reason
    # folded away in a closed box.
    from textmine.codebook import PACKAGED_CODEBOOK

    work, _ = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"])
    assert not run(work, monkeypatch, page="label").button(key="retrain").disabled
    (work / "codebook.yaml").write_text(
        PACKAGED_CODEBOOK.read_text().replace('"local offer"', '"local (offer"', 1))
    at = run(work, monkeypatch, page="label")
    assert at.button(key="retrain").disabled
    assert "Fix the codebook first (see above)." in " ".join(c.value for c in at.caption)


def test_removing_a_replaced_correction_says_the_newer_one_stays_in_use(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    work, (older, newer) = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"],
                                          ["ehc_plans", "social_care"])
    at = run(work, monkeypatch, page="label")
    at.selectbox(key="unlabel").set_value(older).run()
    at.button(key="unlabel-go").click().run()
    [done] = at.success
    assert "replaced it and stays in use" in done.value
    assert "Retrain to take it out" not in done.value
    # The one in use: its removal does change what a retrain learns.
    at.selectbox(key="unlabel").set_value(newer).run()
    at.button(key="unlabel-go").click().run()
    assert "Retrain to take it out of the model" in at.success[0].value


def test_removing_the_correction_in_use_says_to_retrain_though_an_older_one_was_replaced(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The older one of the passage, replaced, is still listed: that is not the one removed.
    work, (_, newer) = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"],
                                      ["ehc_plans", "social_care"])
    at = run(work, monkeypatch, page="label")
    at.selectbox(key="unlabel").set_value(newer).run()
    at.button(key="unlabel-go").click().run()
    [done] = at.success
    assert "Retrain to take it out of the model" in done.value
    assert "replaced it" not in done.value


def test_removing_a_correction_from_a_read_only_corpus_says_why_it_cannot(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Saving a correction said so; removing one showed SQLite's traceback.
    work, (label_id,) = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"])
    monkeypatch.setattr(Corpus, "readonly", property(lambda self: True))
    at = run(work, monkeypatch, page="label")
    at.selectbox(key="unlabel").set_value(label_id).run()
    at.button(key="unlabel-go").click().run()
    assert not at.exception
    assert "read-only here" in at.error[0].value and "cannot be removed" in at.error[0].value
    with Corpus.open(work).reading() as con:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 1


def test_a_read_only_corpus_offers_no_retrain_and_says_why(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Letters waiting for tags enabled Retrain on a corpus this user cannot write: the
    # click ended in "CorpusError: ... to scrape, tag, train or import, ... use --corpus".
    from sendlens import appdata

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                    " WHERE letter_id = (SELECT min(letter_id) FROM letters))")
    assert not run(copy, monkeypatch, page="label").button(key="retrain").disabled
    monkeypatch.setattr(Corpus, "readonly", property(lambda self: True))
    at = run(copy, monkeypatch, page="label")
    assert at.button(key="retrain").disabled
    said = texts(at).replace("\\", "")
    assert f"Not here: the corpus at {copy} is read-only here" in said
    assert "open the app on the copy" in said
    with pytest.raises(appdata.AppDataError, match="read-only here"):
        appdata.retrain(str(copy))


def test_a_read_only_corpus_waiting_for_tags_is_told_to_open_a_copy_not_retrain(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The page-wide warning (and the area's and letter's own) said to run `sendlens tag`
    # or Retrain on the Label page: this user can do neither in this corpus.
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        letter, area = con.execute("SELECT letter_id, area FROM letters ORDER BY letter_id"
                                   ).fetchone()
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                    " WHERE letter_id = ?)", (letter,))
    monkeypatch.setattr(Corpus, "readonly", property(lambda self: True))
    copy_words = "in the app opened on a copy of the corpus that you can write"
    for page, params in (("compare", {}), ("area", {"area": area}),
                         ("reader", {"letter": letter})):
        warned = [w.value for w in run(copy, monkeypatch, page=page, **params).warning
                  if "not tagged yet" in w.value]
        assert warned and all(copy_words in w and "on the Label page" not in w
                              for w in warned), (page, warned)
    # A link to that area's cell on Compare says why it shows another's evidence.
    told = " ".join(i.value for i in run(copy, monkeypatch, page="compare", cell_row=area,
                                         cell_theme="ehc_plans").info).replace("\\", "")
    assert "not tagged yet" in told and copy_words in told and "Label page" not in told


def test_ranking_by_net_stance_is_not_ranking_by_share_negative() -> None:
    # With mixed passages the two measures part: A is 40% negative and 60% mixed (net
    # -0.4), B half positive, half negative (net 0). Every ranking test passed when the
    # ranking always used the share negative, as the test corpus has no mixed passage.
    from sendlens.ui.compare import _row_order

    table = pd.DataFrame({"area": ["A", "B", "C"], "theme": "ehc_plans",
                          "positive": [0, 5, 3], "negative": [4, 5, 0], "mixed": [6, 0, 0]})
    judging = table["positive"] + table["negative"] + table["mixed"]
    table["share_negative"] = table["negative"] / judging
    table["net_stance"] = (table["positive"] - table["negative"]) / judging
    assert _row_order(table, "area", "share_negative", "ehc_plans") == ["B", "A", "C"]
    assert _row_order(table, "area", "net_stance", "ehc_plans") == ["A", "B", "C"]


def test_corrections_saved_in_the_app_export_as_a_labels_file_train_reads(
    corpus_dir: Path, tmp_path: Path
) -> None:
    # A corpus built again from the PDFs, or a colleague's, had no way to get them.
    import json

    from typer.testing import CliRunner

    from sendlens.cli import app

    work, _ = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"], ["ehc_plans", "social_care"])
    out = tmp_path / "mine.jsonl"
    runner = CliRunner()
    done = runner.invoke(app, ["export", "labels", "-o", str(out), "--corpus", str(work)])
    assert done.exit_code == 0, done.output
    (label,) = [json.loads(line) for line in out.read_text().splitlines()]  # the newest
    assert label["themes"] == ["ehc_plans", "social_care"] and label["stance"] == "negative"
    assert label["passage_id"] and label["letter"] and label["text"]
    trained = runner.invoke(app, ["train", "--labels", str(out), "--no-stored-labels", "-q",
                                  "--corpus", str(work)])
    assert trained.exit_code == 0, trained.output
    assert "1 hand label," in trained.output and "not found" not in trained.output


def test_the_retrain_changes_download_lists_your_corrections_first() -> None:
    # On screen yours came first and were marked; the CSV was in letter order, unmarked.
    from sendlens.ui.label import retrain_changes_table

    changes = pd.DataFrame({"passage_id": ["a-1", "b-2", "c-3"], "letter_id": ["a", "b", "c"],
                            "before": ["x", "y", "z"], "after": ["y", "z", "x"],
                            "corrected": [False, False, True]})
    table = retrain_changes_table(changes)
    assert table["passage_id"].tolist() == ["c-3", "a-1", "b-2"]
    assert table["yours"].tolist() == ["yes", "", ""]
    assert "letter_id" not in table


def test_label_retrain_uses_the_correction_and_retags(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Save a correction, press retrain: the real tagger trains on the corpus with it,
    every passage is re-tagged by the new model, and the pages show that model."""

    pytest.importorskip("sklearn")
    work = copy_of(corpus_dir, tmp_path / "c")
    con = sqlite3.connect(work / "sendlens.db")
    pid = con.execute("SELECT passage_id FROM tags WHERE themes LIKE '%health_input%'"
                      " LIMIT 1").fetchone()[0]
    con.close()
    at = run(work, monkeypatch, page="label", pid=pid)
    retrain = at.button(key="retrain")
    assert retrain.disabled  # nothing to learn from yet
    at.multiselect(key=f"lt-{pid}").set_value(["health_input", "co_production"])
    at.radio(key=f"ls-{pid}").set_value("negative")
    at.button[0].click().run()  # the form's submit button
    assert any(i.value.startswith("Your correction, saved") for i in at.info)
    # Watch what the page's progress bar is fed, passing it on to the real bar.
    from sendlens import appdata

    steps: list[float] = []
    real = appdata.retrain

    def spy(path: str, progress: appdata.Progress | None = None) -> appdata.Retrained:
        assert progress is not None, "the page shows no progress"

        def tee(fraction: float, message: str) -> None:
            steps.append(fraction)
            progress(fraction, message)

        return real(path, tee)

    monkeypatch.setattr(appdata, "retrain", spy)
    con = sqlite3.connect(work / "sendlens.db")
    before = {r[0]: r[1:] for r in con.execute("SELECT passage_id, themes, stance FROM tags")}
    con.close()
    at.button(key="retrain").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert steps and steps == sorted(steps) and steps[-1] == 1.0
    con = sqlite3.connect(work / "sendlens.db")
    version = con.execute("SELECT version FROM models WHERE is_current = 1").fetchone()[0]
    tagged = dict(con.execute("SELECT model_version, count(*) FROM tags GROUP BY 1"))
    passages = con.execute("SELECT count(*) FROM passages").fetchone()[0]
    con.close()
    assert version != "test-1"
    assert tagged == {version: passages}  # every passage re-tagged by the new model
    done = " ".join(s.value for s in at.success)
    assert version in done and "the corrections of 1 passage;" in done
    # `info` no longer says the correction waits for a retrain.
    from typer.testing import CliRunner

    from sendlens.cli import app as cli_app

    info = CliRunner().invoke(cli_app, ["info", "--corpus", str(work)])
    assert "corrections saved in the app: 1 passage" in info.stdout
    assert "corrected since the current model" not in info.stdout
    # ... and says how many passages' tags the retrain changed.
    con = sqlite3.connect(work / "sendlens.db")
    changed = sum(1 for r in con.execute("SELECT passage_id, themes, stance FROM tags")
                  if before[r[0]] != r[1:])
    con.close()
    assert changed > 0 and f"{changed:,} passage{'s' if changed != 1 else ''} changed" in done
    # ... and which: each with its tags before and after, to review what moved.
    listed = next(f.value for f in at.dataframe if "before" in f.value.columns)
    assert len(listed) == changed
    assert "The first" not in texts(at)  # all of them are listed
    con = sqlite3.connect(work / "sendlens.db")
    row = listed.iloc[0]
    pid_changed = con.execute("SELECT passage_id FROM passages WHERE text = ?",
                              (row["text"],)).fetchone()[0]
    themes_now, stance_now = con.execute(
        "SELECT themes, stance FROM tags WHERE passage_id = ?", (pid_changed,)).fetchone()
    con.close()
    from sendlens.ui.common import short_theme
    from textmine.aggregate import theme_names

    names = theme_names(Corpus.open(work))  # the themes in words, as on the other pages
    assert row["after"] == f"{stance_now} · " + (
        ", ".join(short_theme(names[t]) for t in json.loads(themes_now)) or "no theme")
    assert row["before"].startswith(before[pid_changed][1] + " · ")
    assert row["before"] != row["after"]
    # Your own corrections are marked among them.
    mine = listed[listed["open"].str.contains(pid)]  # its link opens the letter there
    assert list(mine["yours"]) == ["yes"]  # its tag became the correction
    assert (listed["yours"] == "yes").sum() == 1
    assert listed.iloc[0]["yours"] == "yes"  # first: it was buried in letter order
    # The passage in view, not cut off, its letter's link before it; sections in words.
    assert list(listed.columns[:3]) == ["area", "open", "text"]
    assert set(listed["section"]) <= set(appdata.SECTION_NAMES.values())
    # A reload (a new session) still lists them: the server keeps its last retrain.
    again = run(work, monkeypatch, page="label")
    assert any(f"last retrain (model {version}) changed" in e.label
               for e in again.expander), [e.label for e in again.expander]
    # Passages the model re-drew beyond the correction are counted, and the list stays
    # open on the return, not folded away where they went unnoticed.
    (box,) = [e for e in again.expander if "last retrain" in e.label]
    assert changed > 1  # this correction moves other passages too
    assert f"{changed - 1:,} passage{'s' if changed != 2 else ''} you did not correct" \
        in box.label and box.proto.expanded
    # A model made current without tagging (`sendlens train`) leaves the tags, and the
    # list; once another model has tagged the corpus, the list compares tags no longer
    # shown, and goes.
    con = sqlite3.connect(work / "sendlens.db")
    con.execute("UPDATE models SET is_current = (version = 'test-1')")
    con.commit()
    kept = run(work, monkeypatch, page="label")
    assert any("last retrain" in e.label for e in kept.expander)
    con.execute("UPDATE tags SET model_version = 'test-1'")
    con.commit()
    gone = run(work, monkeypatch, page="label")
    assert not any("last retrain" in e.label for e in gone.expander)
    con.execute("UPDATE models SET is_current = (version = ?)", (version,))
    con.execute("UPDATE tags SET model_version = ?", (version,))
    con.commit()
    con.close()
    # The corrected passage is tagged as corrected, whatever the model would say.
    con = sqlite3.connect(work / "sendlens.db")
    themes, stance = con.execute("SELECT themes, stance FROM tags WHERE passage_id = ?",
                                 (pid,)).fetchone()
    con.close()
    assert sorted(json.loads(themes)) == ["co_production", "health_input"]
    assert stance == "negative"
    # The redrawn page already reads the new tags (no stale cache).
    assert f"Model ({version})" in texts(at)
    assert version in texts(run(work, monkeypatch))  # Overview names the new model
    # Removing that correction leaves Retrain available: the model still holds it.
    at = run(work, monkeypatch, page="label")
    at.selectbox(key="unlabel").set_value(at.selectbox(key="unlabel").options[1]).run()
    at.button(key="unlabel-go").click().run()
    assert "Corrections saved (0 passages)" in [s.value for s in at.header]
    assert not at.button(key="retrain").disabled
    # The last retrain's list still counts it as the correction that retrain learnt from,
    # not as one more passage "you did not correct".
    (box,) = [e for e in at.expander if "last retrain" in e.label]
    assert f"{changed - 1:,} passage{'s' if changed != 2 else ''} you did not correct" \
        in box.label


def test_a_retrain_goes_on_when_its_page_is_left_and_reports_on_return(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Leaving the Label page stops its script: the retrain runs in a thread of its own,
    so it still re-tags every passage, and the Label page reports it afterwards."""
    import threading

    from sendlens import appdata

    pytest.importorskip("sklearn")
    work = copy_of(corpus_dir, tmp_path / "c")
    saved, release = threading.Event(), threading.Event()
    real = appdata.retrain

    def held(path: str, progress: appdata.Progress | None = None) -> appdata.Retrained:
        assert progress is not None

        def hold_once_saved(fraction: float, message: str) -> None:
            progress(fraction, message)
            if "saved" in message:  # the new model is current, the tags still the old
                saved.set()
                assert release.wait(60)

        return real(path, hold_once_saved)

    monkeypatch.setattr(appdata, "retrain", held)
    job = appdata.start_retrain(str(work), 0)  # what the button does
    assert saved.wait(120)
    # Meanwhile on another page: the sidebar says a retrain is running.
    at = run(work, monkeypatch, page="overview")
    assert any("Retraining (model" in i.value and "saved)" in i.value for i in at.info)
    assert not any("older model" in w.value for w in at.warning)  # not "run sendlens tag"
    # ... but a table downloaded meanwhile holds the old tags, and says so.
    from sendlens.ui.common import download_warnings

    assert "carry tags of an older model" in download_warnings(str(work))
    assert appdata.start_retrain(str(work), 0) is job  # a second click joins the first
    release.set()
    assert job.finished.wait(120) and job.error is None
    con = sqlite3.connect(work / "sendlens.db")
    version = con.execute("SELECT version FROM models WHERE is_current = 1").fetchone()[0]
    tagged = dict(con.execute("SELECT model_version, count(*) FROM tags GROUP BY 1"))
    con.close()
    assert list(tagged) == [version] and version != "test-1"
    # The session that saw it running is told on its next run (in a browser, the
    # sidebar's timer reruns it), and the Label page gives the details, once.
    at.run()
    assert any(f"Retrained: model {version}" in s.value for s in at.success)
    # ... and whether the Label page has passages it changed to list.
    sidebar = " ".join(s.value for s in at.success)
    assert ("The Label page lists the passages it changed." in sidebar) == (
        job.result.changed > 0)
    assert ("No passage changed its themes or stance." in sidebar) == (job.result.changed == 0)
    at.radio(key="page").set_value("label").run()
    said = " ".join(s.value for s in at.success)
    assert f"New model **{version}**" in said
    # It says whether any tag changed, not "0 passages changed..., figures may differ".
    assert ("No passage changed its themes or stance" in said) == (job.result.changed == 0)
    assert ("figures noted before may differ" in said) == (job.result.changed > 0)
    at.radio(key="page").set_value("overview").run()
    assert not any(version in s.value for s in at.success)
    # A session that never saw it is not told of "your corrections".
    other = run(work, monkeypatch, page="label")
    assert not any(version in s.value for s in other.success)


def test_a_retrain_counts_the_passages_it_tagged_for_the_first_time(
    corpus_dir: Path, tmp_path: Path
) -> None:
    """Letters imported since the last tag were re-tagged without a word: neither
    changed (they had no tags) nor counted."""

    from sendlens import appdata

    pytest.importorskip("sklearn")
    work = copy_of(corpus_dir, tmp_path / "c")
    with sqlite3.connect(work / "sendlens.db") as con:
        letter = con.execute("SELECT min(letter_id) FROM letters").fetchone()[0]
        n = con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM "
                        "passages WHERE letter_id = ?)", (letter,)).rowcount
    job = appdata.start_retrain(str(work), 0)
    assert job.finished.wait(120) and job.error is None, job.error
    assert n > 0 and job.result.first_tagged == n


def test_a_retrain_that_waited_for_a_tag_run_counts_only_its_own_changes(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Retrain clicked while a `sendlens tag` holds the corpus waits for it; its count of
    passages changed and tagged for the first time compared with the tags at the click,
    so the tag run's work was said to be the retrain's (measured on 10 real letters: '37
    changed, 211 tagged for the first time' where the retrain changed none)."""
    import threading

    import textmine.tag
    from sendlens import appdata

    work = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(work).transaction() as con:
        tags = [tuple(r) for r in con.execute("SELECT * FROM tags")]
        first, second = (r[0] for r in con.execute(
            "SELECT letter_id FROM letters ORDER BY letter_id LIMIT 2"))
        mine = "SELECT passage_id FROM passages WHERE letter_id = ?"
        # A letter imported since the last tag, and another tagged by an older model.
        new = con.execute(f"DELETE FROM tags WHERE passage_id IN ({mine})", (first,)).rowcount
        older = con.execute(f"UPDATE tags SET stance = 'mixed' WHERE stance != 'mixed' AND "
                            f"passage_id IN ({mine})", (second,)).rowcount
    assert new and older

    def write_tags(corpus: Corpus) -> None:  # the model's tags, as the tag run writes them
        with corpus.transaction() as con:
            con.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?, ?, ?)", tags)

    def same_model(corpus: Corpus, progress: appdata.Progress | None = None
                   ) -> textmine.tag.TagReport:  # trains the model the tag run trained
        with corpus.model_lock(lambda: progress and progress(0.0, "waiting for another run")):
            write_tags(corpus)
        return textmine.tag.TagReport("test-1", len(tags), 1.0, [])

    monkeypatch.setattr(textmine.tag, "retrain", same_model)
    holding, release = threading.Event(), threading.Event()

    def tag_run() -> None:
        corpus = Corpus.open(work)
        with corpus.model_lock():
            holding.set()
            if release.wait(60):
                write_tags(corpus)

    other = threading.Thread(target=tag_run, daemon=True)
    other.start()
    try:
        assert holding.wait(30)
        job = appdata.start_retrain(str(work), 0)
        for _ in range(300):
            if job.message.startswith("waiting") or job.done:
                break
            threading.Event().wait(0.1)
        assert job.message.startswith("waiting"), job.message
    finally:
        release.set()
        other.join(60)
    assert job.finished.wait(60) and job.error is None, job.error
    assert (job.result.changed, job.result.first_tagged) == (0, 0)
    assert job.result.changes.empty


def test_a_retrain_counts_a_correction_saved_while_it_waited_for_the_corpus(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Retrain clicked with 1 correction while a `sendlens tag` held the corpus; one saved
    # in another tab meanwhile is learnt (and listed as yours), but the message said
    # "trained with the corrections of 1 passage", the count at the click.
    import threading

    import textmine.tag
    from sendlens import appdata

    work, _ = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"])
    with Corpus.open(work).reading() as con:
        other = con.execute("SELECT passage_id FROM tags WHERE passage_id NOT IN "
                            "(SELECT passage_id FROM labels) LIMIT 1").fetchone()[0]
    learnt: list[int] = []

    def trains(corpus: Corpus, progress: appdata.Progress | None = None
               ) -> textmine.tag.TagReport:
        learnt.append(len(textmine.tag.stored_labels(corpus)))
        return textmine.tag.TagReport("test-1", 10, 1.0, [])

    monkeypatch.setattr(textmine.tag, "retrain", trains)
    holding = threading.Event()

    def tag_run() -> None:  # holds the corpus until the retrain waits, saving meanwhile
        with Corpus.open(work).model_lock():
            holding.set()
            for _ in range(600):
                job = appdata.retrain_job(str(work))
                if job is not None and job.message.startswith("waiting"):
                    appdata.save_label(str(work), other, ["social_care"], "mixed")
                    return
                threading.Event().wait(0.1)

    at = run(work, monkeypatch, page="label")
    holder = threading.Thread(target=tag_run, daemon=True)
    holder.start()
    assert holding.wait(30)
    at.button(key="retrain").click().run()
    holder.join(60)
    assert not at.exception, [e.value for e in at.exception]
    assert learnt == [2]
    [said] = [s.value for s in at.success]
    assert "trained with the corrections of 2 passages;" in said, said


def test_a_retrain_that_changed_nothing_says_so_after_a_reload(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The sidebar promises the Label page lists what the last retrain changed; when it
    changed nothing, a reload (or another tab) showed nothing at all there."""

    from sendlens import appdata

    pytest.importorskip("sklearn")
    work = copy_of(corpus_dir, tmp_path / "c")
    for _ in range(2):  # the second on the same corpus and labels: the same model
        job = appdata.start_retrain(str(work), 0)
        assert job.finished.wait(120) and job.error is None, job.error
    assert job.result.changed == 0
    at = run(work, monkeypatch, page="label")
    assert (f"The last retrain (model {job.result.version}) changed no passage's themes or "
            "stance.") in [c.value for c in at.caption]


def test_a_retrain_counts_a_passage_corrected_twice_once(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Its newest correction is the one trained on: "the corrections of 1 passage", as the
    # header above says, not of two.
    from sendlens import appdata

    work, _ = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"], ["social_care"])

    def done(path: str, progress: appdata.Progress | None = None) -> appdata.Retrained:
        return appdata.Retrained(version="v-new", passages=10, seconds=1.0)

    monkeypatch.setattr(appdata, "retrain", done)
    at = run(work, monkeypatch, page="label")
    assert "Corrections saved (1 passage)" in [h.value for h in at.header]
    at.button(key="retrain").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [said] = [s.value for s in at.success]
    assert "trained with the corrections of 1 passage;" in said
    assert "for the first time" not in said  # every passage had tags before


def test_a_retrain_that_changed_one_passage_lists_it(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # One is not none: "changed no passage's themes or stance" would hide the one it moved.
    from sendlens import appdata

    work, _ = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"])
    with Corpus.open(work).reading() as con:
        row = dict(con.execute(
            "SELECT p.passage_id, p.letter_id, l.area, p.section, p.text FROM passages p JOIN"
            " letters l USING (letter_id) WHERE passage_id = (SELECT passage_id FROM labels)"
        ).fetchone())

    def one_moved(path: str, progress: appdata.Progress | None = None) -> appdata.Retrained:
        with Corpus.open(work).transaction() as con:
            con.execute("UPDATE tags SET model_version = 'v-new'")
        changes = pd.DataFrame([{**row, "before": "neutral · no theme",
                                 "after": "negative · ehc_plans", "corrected": True}])
        return appdata.Retrained(version="v-new", passages=10, seconds=1.0, changed=1,
                                 changes=changes)

    monkeypatch.setattr(appdata, "retrain", one_moved)
    at = run(work, monkeypatch, page="label")
    at.button(key="retrain").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.label.startswith("The 1 passage whose tags the last retrain (model v-new) "
                                  "changed") for e in at.expander), [e.label for e in at.expander]
    assert "changed no passage" not in " ".join(c.value for c in at.caption)


def test_a_retrain_lists_every_passage_it_changed_and_your_correction_first(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Read from the database 500 at a time (SQLite's limit on bound parameters), and cut
    # at MAX_CHANGES (a codebook edit can change thousands): a corrected passage late in
    # the corpus must not fall off the list, counted among those "you did not correct".
    import textmine.tag
    from sendlens import appdata

    work = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(work).reading() as con:
        last = con.execute("SELECT passage_id FROM tags ORDER BY rowid DESC LIMIT 1"
                           ).fetchone()[0]
    appdata.save_label(str(work), last, [], "negative")

    def every_stance_moves(corpus: Corpus, progress: object = None) -> textmine.tag.TagReport:
        with corpus.transaction() as con:
            con.execute("UPDATE tags SET stance = CASE stance WHEN 'neutral' THEN 'mixed' "
                        "ELSE 'neutral' END")
            con.execute("UPDATE tags SET themes = '[]' WHERE passage_id = ?", (last,))
            n = con.execute("SELECT count(*) FROM tags").fetchone()[0]
        return textmine.tag.TagReport("v-new", n, 1.0, [])

    monkeypatch.setattr(textmine.tag, "retrain", every_stance_moves)
    result = appdata.retrain(str(work))
    assert result.changed == len(result.changes) > 500  # every one, past the first 500
    # In letter order: by area, then by place in the letter.
    order = list(zip(result.changes["area"], result.changes["passage_id"], strict=True))
    assert order == sorted(order)
    mine = result.changes[result.changes["corrected"]]
    assert list(mine["passage_id"]) == [last]
    assert mine["after"].iloc[0].endswith(" · no theme")  # not an empty list of themes
    monkeypatch.setattr(appdata, "MAX_CHANGES", 3)
    result = appdata.retrain(str(work))
    assert result.changed > 3 and len(result.changes) == 3
    assert list(result.changes.loc[result.changes["corrected"], "passage_id"]) == [last]


def test_a_retrain_names_a_correction_whose_themes_cannot_be_read(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A hand-edited labels row: Retrain failed with 'Expecting value: line 1 column 1
    # (char 0)' or "TypeError: 'NoneType' object is not iterable", naming no correction.
    pytest.importorskip("sklearn")
    work, (lid,) = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"])
    for bad in ("oops", "null"):
        with Corpus.open(work).transaction() as con:
            con.execute("UPDATE labels SET themes = ? WHERE id = ?", (bad, lid))
        at = run(work, monkeypatch, page="label")
        at.button(key="retrain").click().run()
        assert not at.exception, [e.value for e in at.exception]
        said = " ".join(w.value for w in at.warning)
        assert f"correction saved in the app with id {lid}" in said, said
        assert "remove it on the app's Label page" in said


def test_a_failed_retrain_shows_its_reason_in_an_open_box(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The reason was written inside the progress box, which closed: the page read only
    "Retraining failed"."""

    from sendlens import appdata

    work = copy_of(corpus_dir, tmp_path / "c")
    con = sqlite3.connect(work / "sendlens.db")
    pid = con.execute("SELECT passage_id FROM tags LIMIT 1").fetchone()[0]
    con.close()
    at = run(work, monkeypatch, page="label", pid=pid)
    at.radio(key=f"ls-{pid}").set_value("mixed")
    at.button[0].click().run()  # the form's submit button: one correction to learn

    def fails(path: str, progress: appdata.Progress | None = None) -> appdata.Retrained:
        raise appdata.AppDataError("retraining failed: the codebook changed while the model "
                                   "was training")

    monkeypatch.setattr(appdata, "retrain", fails)
    at.button(key="retrain").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (box,) = at.get("status")
    assert box.label == "Retraining failed" and box.proto.expanded
    # The reason as a sentence, not the heading again; no "Starting…" bar left over it.
    assert any(w.value.startswith("The codebook changed while the model was training")
               for w in at.warning)
    assert not at.get("progress")


def test_long_evidence_table_sends_the_first_rows_until_asked(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    from sendlens.appdata import SECTION_NAMES
    from sendlens.ui import common

    monkeypatch.setattr(common, "TABLE_ROWS", 5)  # the page script shares this module
    at = open_expander(run(corpus_dir, monkeypatch, page="themes", theme="health_input"),
                       "theme-table")
    total = sum(n for n, _ in facts["health"].values())
    assert total > 5
    assert len(evidence_of(at)) == 5
    # The letter's link before the passage (after it, a laptop's window hid it), and
    # sections in words.
    columns = list(evidence_of(at).columns)
    assert columns.index("open") < columns.index("text")
    assert set(evidence_of(at)["section"]) <= set(SECTION_NAMES.values())
    assert f"first 5 of {total:,} passages" in texts(at)
    at.toggle(key="theme-evidence-all").set_value(True).run()
    assert len(evidence_of(at)) == total
    # The downloads always hold every row, whatever the table shows.
    assert any(f"Download {total:,} rows" in c.value for c in at.caption)


def test_reader_tables_are_built_only_when_opened(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    letter_id, n = con.execute("SELECT letter_id, n_passages FROM letters LIMIT 1").fetchone()
    sections = con.execute("SELECT count(*) FROM sections WHERE letter_id = ?",
                           (letter_id,)).fetchone()[0]
    con.close()
    at = run(corpus_dir, monkeypatch, page="reader", letter=letter_id)
    assert not at.dataframe and not md_tables(at)
    table = md_tables(open_expander(at, "r-sections"))[0]
    assert len(table) == sections
    assert all(row["Section"].endswith(")") and row["Heading in the letter"] for row in table)
    # The first section (the front matter) has no heading; a later one without a heading
    # (a 2016 letter's closing requirement opens with a sentence) is not the opening.
    assert table[0]["Heading in the letter"] == "(the letter's opening)"
    assert all("opening" not in row["Heading in the letter"] for row in table[1:])
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as db:
        db.execute("UPDATE sections SET heading = '' WHERE letter_id = ? AND seq = (SELECT "
                   "max(seq) FROM sections WHERE letter_id = ?)", (letter_id, letter_id))
    at = open_expander(run(copy, monkeypatch, page="reader", letter=letter_id), "r-sections")
    assert md_tables(at)[0][-1]["Heading in the letter"] == (
        "(no heading: the section opens with a sentence)")
    grid = open_expander(at, "r-passages").dataframe[0]
    passages = grid.value
    assert len(passages) == n and passages["passage_id"].str.startswith(letter_id).all()
    # Each passage with a link to correct its tag, its section in words.
    assert (passages["fix"] == "?page=label&pid=" + passages["passage_id"]).all()
    assert "fix" in list(grid.proto.column_order)
    assert "weaknesses" not in set(passages["section"])


def test_app_command_serves_in_process_with_modules_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sendlens app` hands Streamlit the app script and its options in this process, after
    importing what the pages need (so the first visitor does not wait for it)."""
    import sys

    from streamlit.web import cli as streamlit_cli
    from typer.testing import CliRunner

    from sendlens.cli import app as cli_app

    seen: dict[str, object] = {}

    def fake_main(args: list[str], prog_name: str, standalone_mode: bool) -> None:
        import os

        seen.update(args=args, corpus=os.environ["SENDLENS_CORPUS"],
                    warm="textmine.aggregate" in sys.modules and "altair" in sys.modules)

    monkeypatch.setattr(streamlit_cli.main, "main", fake_main)
    monkeypatch.delenv("SENDLENS_CORPUS", raising=False)  # restored after: the command sets it
    result = CliRunner().invoke(cli_app, ["app", "--corpus", str(tmp_path), "--port", "8765",
                                          "--headless"])
    assert result.exit_code == 0, result.output
    args = seen["args"]
    assert isinstance(args, list) and args[0] == "run" and args[1].endswith("app.py")
    flags = dict(zip(args[2::2], args[3::2], strict=True))
    assert flags["--server.port"] == "8765" and flags["--server.headless"] == "true"
    assert flags["--server.fileWatcherType"] == "none"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert seen["corpus"] == str(tmp_path.resolve()) and seen["warm"]
    assert "no corpus at" in result.output  # an empty folder is explained, not an error


def test_app_command_given_the_corpus_database_names_its_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex
    import socket

    from streamlit.web import cli as streamlit_cli
    from typer.testing import CliRunner

    from sendlens.cli import app as cli_app

    def fake_main(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server was started")

    monkeypatch.setattr(streamlit_cli.main, "main", fake_main)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    folder = tmp_path / "my corpus"
    folder.mkdir()
    (folder / "sendlens.db").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("notes")
    for given, hint in ((folder / "sendlens.db", True),
                        (tmp_path / "notes.txt" / "sendlens.db", False)):
        result = CliRunner().invoke(cli_app, ["app", "--corpus", str(given), "--port",
                                              str(port), "--host", "127.0.0.1", "--headless"])
        said = " ".join(result.output.split())
        assert result.exit_code == 2, said
        # The folder to give instead, quoted for the shell; none for a path that is no
        # corpus's database (notes.txt holds none).
        assert ("the corpus is the folder holding it" in said) is hint, said
        if hint:
            assert (f"the corpus is the folder holding it, {folder} (sendlens app --corpus "
                    f"{shlex.quote(str(folder))})") in said


def test_app_command_refuses_a_port_in_use(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from streamlit.web import cli as streamlit_cli
    from typer.testing import CliRunner

    from sendlens.cli import app as cli_app

    def fake_main(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server was started")

    monkeypatch.setattr(streamlit_cli.main, "main", fake_main)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli_app, ["app", "--corpus", str(tmp_path), "--port",
                                              str(port), "--host", "127.0.0.1", "--headless"])
    assert result.exit_code == 2
    assert f"cannot serve on 127.0.0.1:{port}: the port is in use; choose another port " \
        "with --port" in result.output
    # A host that is no name, or not this machine's: the advice is about --host. The
    # resolver answers "no such name" here without asking a DNS server (offline, or one
    # that answers every name, would make the test slow or wrong).
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: str, *args: object, **kwargs: object) -> object:
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for host, why in (("no-such-host.invalid", "unknown host"),
                      ("192.0.2.1", "192.0.2.1 is not an address of this machine")):
        result = CliRunner().invoke(cli_app, ["app", "--corpus", str(tmp_path), "--host", host,
                                              "--headless"])
        assert result.exit_code == 2 and why in result.output, result.output
        assert "--host" in result.output and "--port" not in result.output
    assert "sendlens app on http" not in result.output  # no URL that would not answer
    # A port that cannot exist (0 would be a random one, not the URL printed).
    for bad in ("99999", "0"):
        result = CliRunner().invoke(cli_app, ["app", "--corpus", str(tmp_path), "--port", bad])
        assert result.exit_code == 2 and "Invalid value for '--port'" in result.output


def test_first_visitor_skips_streamlits_direct_run_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit checks once per process whether it runs in a REPL, with inspect.stack(),
    on the first element of the first page: 0.2 s of the first visitor's wait. `sendlens
    app` settles it before serving. Fails if a Streamlit release moves the check."""
    import inspect

    import streamlit.delta_generator as delta_generator

    from sendlens.commands.app import skip_direct_run_check

    monkeypatch.setattr(delta_generator, "_use_warning_has_been_displayed", False)
    skip_direct_run_check()

    def stack(*args: object, **kwargs: object) -> list[object]:
        raise AssertionError("inspect.stack() was called on the first element")

    monkeypatch.setattr(inspect, "stack", stack)
    delta_generator._maybe_print_use_warning()


def test_app_server_connections_are_no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit's server accepted connections with Nagle's algorithm on, so each response
    after the first on a kept-alive connection waited 40 ms for the browser's delayed ACK.
    `sendlens app` binds its socket so that accepted connections are TCP_NODELAY. Fails if
    a Streamlit release moves the function it wraps."""
    import socket

    from sendlens.commands.app import no_delay_connections

    # Streamlit releases before its Starlette server are served by Tornado, which sets it.
    starlette_server = pytest.importorskip("streamlit.web.server.starlette.starlette_server")

    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)
    no_delay_connections()
    listener = starlette_server._bind_socket("127.0.0.1", 0, 8)
    listener.setblocking(True)
    try:
        with socket.create_connection(listener.getsockname()[:2]):
            conn, _ = listener.accept()
            with conn:
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()


@pytest.mark.parametrize("revisited, untagged", [(False, False), (True, False), (False, True)],
                         ids=["one-letter-areas", "revisited-area", "a-letter-untagged"])
def test_warm_prepares_every_page_first_view(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, facts: dict,
    revisited: bool, untagged: bool,
) -> None:
    """`sendlens app` runs app_main.warm before serving: afterwards the first view of every
    page reads only the caches (no SQL, no aggregation, no codebook, no chart building).
    Also when the Area profile opens on an area with two letters, and so draws the change
    between them, and when a letter waits for `sendlens tag` (its pages say so)."""

    import types

    import sendlens.app_main as app_main
    import sendlens.ui
    import textmine.codebook
    from sendlens import appdata

    work = copy_of(corpus_dir, tmp_path / "warm")  # a path of its own: nothing of it is cached yet
    if revisited:
        con = sqlite3.connect(work / "sendlens.db")
        con.execute("UPDATE letters SET area = ? WHERE area = ?", facts["areas"][:2])
        con.commit()
        con.close()
    if untagged:  # the first area's letter, which the Area profile opens on
        con = sqlite3.connect(work / "sendlens.db")
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                    " JOIN letters USING (letter_id) WHERE area = ?)", (facts["areas"][0],))
        con.commit()
        con.close()
    before = appdata.stamp(str(work))
    assert app_main.warm(str(work)) > 0
    assert appdata.stamp(str(work)) == before  # warming only reads
    calls: list[str] = []

    def spy(name: str, real: object) -> object:
        def wrapper(*args: object, **kwargs: object) -> object:
            calls.append(name)
            return real(*args, **kwargs)  # type: ignore[operator]
        return wrapper

    # chart_spec is bound in each page module that imports it: watch every binding.
    pages = [m for m in vars(sendlens.ui).values()
             if isinstance(m, types.ModuleType) and hasattr(m, "chart_spec")]
    assert len(pages) >= 3  # common, compare, area
    for module, name in ((appdata, "_connect"), (appdata, "corpus_for"),
                         *((m, "chart_spec") for m in pages),
                         (textmine.codebook, "load_codebook")):
        monkeypatch.setattr(module, name, spy(name, getattr(module, name)))
    for page in ("overview", "compare", "area", "themes", "reader", "label", "export"):
        at = run(work, monkeypatch, page=page)
        # A page that stopped early at an error would also have called nothing.
        assert not at.error and len(at.markdown) > 0, page
        assert not calls, (page, calls)


def test_compare_keyboard_picker_stays_open_when_rows_change(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare")
    open_expander(at, "cell_pick")
    at.radio(key="by").set_value("region").run()
    assert not at.exception
    # Still open, now offering regions: switching Rows does not close the picker.
    assert at.selectbox(key="cell_row").label == "Region"


def test_switching_rows_between_areas_and_regions_keeps_the_place(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    # It said "<area> is not among the rows shown with these filters" with no filter set,
    # and showed the first region's evidence.
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    area, region = con.execute("SELECT area, region FROM letters WHERE region IS NOT NULL"
                               " ORDER BY area DESC LIMIT 1").fetchone()
    con.close()
    at = run(corpus_dir, monkeypatch, page="compare", cell_row=area, cell_theme="health_input")
    at.radio(key="by").set_value("region").run()
    assert not at.exception
    assert "not among the rows" not in " ".join(i.value for i in at.info)
    assert at.session_state["cell_row"] == region
    assert at.session_state["cell_theme"] == "health_input"
    at.radio(key="by").set_value("area").run()
    assert "not among the rows" not in " ".join(i.value for i in at.info)
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    assert con.execute("SELECT region FROM letters WHERE area = ?",
                       (at.session_state["cell_row"],)).fetchone()[0] == region
    con.close()


def test_switching_rows_finds_an_area_with_no_region_in_the_unknown_row(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:

    copy = copy_of(corpus_dir, tmp_path / "corpus")
    con = sqlite3.connect(copy / "sendlens.db")
    area = con.execute("SELECT area FROM letters ORDER BY area LIMIT 1").fetchone()[0]
    with con:
        con.execute("UPDATE letters SET region = NULL WHERE area = ?", (area,))
    con.close()
    at = run(copy, monkeypatch, page="compare", cell_row=area, cell_theme="health_input")
    at.radio(key="by").set_value("region").run()
    assert at.session_state["cell_row"] == "unknown"
    at.radio(key="by").set_value("area").run()
    assert at.session_state["cell_row"] == area


def test_compare_sorted_by_a_theme_puts_the_most_criticised_first(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare", sort="health_input")
    assert not at.error, [e.value for e in at.error]  # it failed with "Length mismatch"
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    order = spec["layer"][0]["encoding"]["y"]["sort"]
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    net = dict(con.execute(
        "SELECT l.area, avg((t.stance = 'positive') - (t.stance = 'negative')) FROM tags t"
        " JOIN passages p USING (passage_id) JOIN letters l USING (letter_id)"
        " WHERE EXISTS (SELECT 1 FROM json_each(t.themes) WHERE value = 'health_input')"
        " GROUP BY l.area").fetchall())
    con.close()
    assert len(order) == 4 and [net[a] for a in order] == sorted(net.values())  # lowest first


def test_filters_chosen_on_a_page_are_open_to_see_when_it_is_visited_again(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict) -> None:
    # The panel opened as it was first drawn (no filter then) all session: an area chosen
    # was kept, and its panel came back closed.
    at = run(corpus_dir, monkeypatch, page="compare")
    open_expander(at, "c_filters")
    at.multiselect(key="c_areas").set_value([facts["areas"][0]]).run()
    at.radio(key="page").set_value("themes").run()
    at.radio(key="page").set_value("compare").run()
    assert at.multiselect(key="c_areas").value == [facts["areas"][0]]
    [box] = [e for e in at.expander if e.label == "Filters"]
    assert box.proto.expanded


def test_a_link_with_values_this_corpus_lacks_is_served_and_says_so(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dates outside the corpus's range (an old link) raised in the date pickers.
    at = run(corpus_dir, monkeypatch, page="compare", c_from="2099-01-01", c_to="1999-01-01")
    assert not at.error, [e.value for e in at.error]
    # ... says so, and reads reversed dates the right way round, not as "no letters".
    told = " ".join(i.value for i in at.info).replace("\\", "")
    assert "The link's c_from=2099-01-01 is outside the letters' dates" in told
    assert "the two dates were swapped" in told
    assert "No tagged letters match" not in texts(at)
    open_expander(at, "c_filters")  # the date pickers take the dates clamped to the corpus
    assert at.date_input(key="c_from").value.year < 2099
    assert at.date_input(key="c_to").value.year > 1999
    assert at.date_input(key="c_from").value < at.date_input(key="c_to").value
    # Both dates after every letter's: nothing matches (the clamped pickers showed the
    # one letter begun on the last day); changing a date there brings letters back.
    at = run(corpus_dir, monkeypatch, page="compare", c_from="2030-01-01", c_to="2031-01-01")
    told = " ".join(i.value for i in at.info).replace("\\", "")
    assert "from 2030-01-01 to 2031-01-01" in told and "none matches" in told
    assert "No tagged letters match" in texts(at)
    # The link still asks for those dates, so that opened afresh it finds none again (it
    # had become the clamped dates, which found the last letter).
    assert (at.query_params["c_from"], at.query_params["c_to"]) in (
        ("2030-01-01", "2031-01-01"), (["2030-01-01"], ["2031-01-01"]))
    open_expander(at, "c_filters")
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    first = con.execute("SELECT min(inspection_start) FROM letters").fetchone()[0]
    con.close()
    at.date_input(key="c_from").set_value(date.fromisoformat(first)).run()
    assert "No tagged letters match" not in texts(at)
    # Now the dates chosen, the earliest and latest: no date left in the link to refuse.
    assert "c_from" not in at.query_params and "c_to" not in at.query_params
    at = run(corpus_dir, monkeypatch, page="compare", cell_row="Nowhere", th="nope", min="0",
             by="nope", c_from="2024-13-45")
    warned = {w.value.replace("\\", "").split(", so")[0]: w.value.replace("\\", "")
              for w in at.warning}  # Markdown-escaped
    # An area the corpus lacks is "not in this corpus"; a setting out of range is no such
    # thing (min=0 was called "not in this corpus").
    assert "cell_row=Nowhere" in warned["Not in this corpus"]
    assert "th=nope" in warned["Not a value this page offers"]
    assert "min=0" in warned["Not a value this page offers"]
    assert "by=nope" in warned["Not a value this page offers"]  # a setting, though it starts "b"
    assert "c_from=2024-13-45" in warned["Not a value this page offers"]  # no such day
    # A digit to Unicode that int() cannot read ("²"): said, not a traceback.
    at = run(corpus_dir, monkeypatch, page="compare", min="\u00b2")
    assert "min=\u00b2" in " ".join(w.value for w in at.warning)
    # A setting given twice: the last is used, as Streamlit reads it; the other is said
    # and leaves the link, which kept both ("?page=compare&page=area" shared as it was).
    at = run(corpus_dir, monkeypatch, page=["compare", "themes"])
    assert at.title[0].value == "Theme explorer"
    said = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "Given more than once in the link (only the last is read), so ignored from the " \
        "link: page=compare" in said, said
    assert at.query_params["page"] in ("themes", ["themes"])
    at = run(corpus_dir, monkeypatch, page="compare", min=["4", "5"])
    assert "min=4" in " ".join(w.value for w in at.warning)
    assert at.session_state["min"] == 5 and at.query_params["min"] in ("5", ["5"])
    # A framework the corpus holds no letter of is the corpus's to lack.
    at = run(corpus_dir, monkeypatch, page="compare", c_fw="send_2016")
    assert any(w.value.startswith("Not in this corpus") and "send\\_2016" in w.value
               for w in at.warning), [w.value for w in at.warning]
    reader = run(corpus_dir, monkeypatch, page="reader", letter="nope")
    assert "letter=nope" in " ".join(w.value for w in reader.warning)
    # A passage id from a link is shown escaped: no link is made of it.
    label = run(corpus_dir, monkeypatch, page="label", pid="[click](https://example.com)")
    shown = " ".join(w.value for w in label.warning)
    assert "No passage \\[click\\]" in shown


def test_a_link_to_a_cell_the_filters_leave_out_says_so(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    area = facts["areas"][0]
    # Only the other areas: the linked row is not on the chart.
    others = ",".join(a for a in facts["areas"] if a != area)
    at = run(corpus_dir, monkeypatch, page="compare", cell_row=area,
             cell_theme="health_input", c_areas=others)
    told = " ".join(i.value for i in at.info).replace("\\", "")
    assert f"{area}: it is not among the rows shown with these filters" in told
    assert at.session_state["cell_row"] != area
    assert not at.warning  # it is in the corpus: not "ignored"
    # The same for a region, on the chart by region (it was "not in this corpus").
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    linked, kept = [r[0] for r in con.execute(
        "SELECT DISTINCT region FROM letters WHERE region IS NOT NULL ORDER BY 1")][:2]
    con.close()
    at = run(corpus_dir, monkeypatch, page="compare", by="region", cell_row=linked,
             cell_theme="health_input", c_regions=kept)
    assert not at.warning, [w.value for w in at.warning]
    assert f"{linked}: it is not among the rows shown with these filters" in " ".join(
        i.value for i in at.info).replace("\\", "")


def test_a_link_may_name_an_area_as_its_letter_prints_it(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    # The report names "Bedford Borough"; the corpus calls the authority "Bedford".
    assert "Bedford" in facts["areas"]
    at = run(corpus_dir, monkeypatch, page="area", area="Bedford Borough")
    assert at.selectbox(key="area").value == "Bedford"
    assert not at.warning
    at = run(corpus_dir, monkeypatch, page="compare", cell_row="Bedford Borough",
             c_areas="Bedford Borough,Nowhere,Bedford")
    assert at.session_state["c_areas"] == ["Bedford"]
    assert at.session_state["cell_row"] == "Bedford"
    warned = " ".join(w.value for w in at.warning).replace("\\", "")  # Markdown
    assert "c_areas=Nowhere" in warned and "Bedford" not in warned


def test_compare_evidence_stays_within_the_chosen_themes(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare", cell_theme="local_offer")
    open_expander(at, "c_view")
    at.multiselect(key="th").set_value(["health_input"]).run()
    assert at.session_state["cell_theme"] == "health_input"
    assert "passages in" in texts(at)  # the cell's summary line, for a cell on the chart


def test_search_figures_count_every_match_not_only_those_listed(corpus_dir: Path) -> None:
    from sendlens import appdata as ad

    path = str(corpus_dir)
    stamp = ad.stamp(path)
    listed = ad.search_passages(path, stamp, "the", ad.Filters(), limit=5)
    counts = ad.search_counts(path, stamp, "the", ad.Filters())
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    every = con.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH 'the'"
                        ).fetchone()[0]
    con.close()
    assert len(listed) == 5 and counts["passages"] == every > 5
    assert sum(counts[s] for s in (*ad.STANCES, "untagged")) == every


def test_choices_on_a_page_survive_a_visit_to_another_page(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare", by="region", c_sec="weaknesses",
             cell_stance="negative")
    at.radio(key="page").set_value("overview").run()
    assert at.title[0].value == "Overview" and "by" not in at.query_params
    at.radio(key="page").set_value("compare").run()
    assert not at.exception
    assert at.radio(key="by").value == "region"
    assert at.radio(key="cell_stance").value == "negative"
    assert at.session_state["c_sec"] == ["weaknesses"]
    assert at.query_params["by"] in ("region", ["region"])  # and the URL says so again


def test_choices_made_in_the_controls_survive_a_visit_to_another_page(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    # Set in the controls (not given in a link), a filter and a ranking were back at
    # their defaults after a look at another page: the figures changed without a word.
    at = open_expander(run(corpus_dir, monkeypatch, page="compare"), "c_filters")
    area = facts["areas"][0]
    at.multiselect(key="c_areas").set_value([area]).run()
    at = open_expander(at, "c_view")
    at.selectbox(key="sort").set_value("health_input").run()
    narrowed = next(c.value for c in at.caption if "Colour =" in c.value)
    assert narrowed.startswith("1 letter.")
    for page in ("overview", "compare"):
        at.radio(key="page").set_value(page).run()
        assert not at.exception
    assert at.session_state["c_areas"] == [area]
    assert at.session_state["sort"] == "health_input"
    assert next(c.value for c in at.caption if "Colour =" in c.value) == narrowed
    assert at.query_params["c_areas"] in (area, [area])  # the link holds them again


def test_filters_set_on_compare_follow_to_the_theme_explorer_once(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Compare narrowed to some reports, then the Theme explorer listed every report's
    # passages with nothing to say so.
    at = run(corpus_dir, monkeypatch, page="compare", c_sec="weaknesses")
    at.radio(key="page").set_value("themes").run()
    assert not at.exception
    assert at.session_state["t_sec"] == ["weaknesses"]
    assert "filters set on Compare areas are used here too" in " ".join(
        i.value for i in at.info)
    assert at.query_params["t_sec"] in ("weaknesses", ["weaknesses"])  # a link keeps them
    at.selectbox(key="theme").set_value("health_input").run()
    table = evidence_of(open_expander(at, "theme-table"))
    assert len(table) and set(table["section"]) == {"Weaknesses"}  # in words, as on screen
    # Once the page has filters of its own, they are its own.
    at.multiselect(key="t_sec").set_value([]).run()
    at.radio(key="page").set_value("compare").run()
    at.radio(key="page").set_value("themes").run()
    assert at.session_state["t_sec"] == []


def test_a_cell_chosen_without_the_mouse_resets_the_charts_click(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare")
    before = at.get("vega_lite_chart")[0].proto.id
    open_expander(at, "cell_pick")
    at.selectbox(key="cell_row").set_value(facts["areas"][2]).run()
    # A new chart element: clicking the cell clicked earlier is a new click.
    assert at.get("vega_lite_chart")[0].proto.id != before
    assert f"{facts['areas'][2]} · " in texts(at)
    # The heatmap outlines the cell now shown, and only that one (its data says which).
    data = chart_data(at)
    current = data[data["current"]]
    assert list(zip(current["area"], current["theme"])) == [
        (facts["areas"][2], at.session_state["cell_theme"])]


def chart_data(at: AppTest, n: int = 0) -> pd.DataFrame:
    """The data the n-th Vega-Lite chart of the page was sent with."""
    import pyarrow as pa

    proto = at.get("vega_lite_chart")[n].proto
    (named,) = proto.datasets
    return pa.ipc.open_stream(named.data.data).read_pandas()


def test_area_profile_compares_an_areas_letters_in_date_order(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict, tmp_path: Path
) -> None:

    work = copy_of(corpus_dir, tmp_path / "two")
    areas = facts["areas"]
    con = sqlite3.connect(work / "sendlens.db")
    # Two areas with two letters each.
    con.execute("UPDATE letters SET area = ? WHERE area = ?", (areas[0], areas[1]))
    con.execute("UPDATE letters SET area = ? WHERE area = ?", (areas[2], areas[3]))
    ids = {a: [r[0] for r in con.execute(
        "SELECT letter_id FROM letters WHERE area = ? ORDER BY inspection_start", (a,))]
        for a in (areas[0], areas[2])}
    con.commit()
    con.close()
    # A link naming the letters the wrong way round: compared in date order.
    at = run(work, monkeypatch, page="area", area=areas[0], a=ids[areas[0]][1],
             b=ids[areas[0]][0])
    assert "compared in date order" in texts(at)
    # Without a mouse the heatmap's earlier letters are read through the table of change.
    assert "those of What changed between inspections, for any letter" in texts(at)
    # Each theme's counts lead to that letter's passages on the theme.
    change = md_tables(at)[-1]
    first = change[0]
    earlier, later = ids[areas[0]]
    theme = re.search(r"hl=(\w+)", first["Earlier letter"]).group(1)
    assert first["Earlier letter"] == f"[read ↗](?page=reader&letter={earlier}&hl={theme})"
    assert first["Later letter"] == f"[read ↗](?page=reader&letter={later}&hl={theme})"
    # The chart draws the themes both letters judge; the table lists every theme.
    bars = chart_data(at, 1)
    judged = [r["Theme"] for r in change if r["Change in net stance"] != "–"]
    assert sorted(bars["theme_name"]) == sorted(judged) and len(judged) < len(change)
    at.selectbox(key="a").set_value(earlier).run()  # the link's b: the same letter
    assert "Pick two different letters." in [i.value for i in at.info]
    assert not at.get("vega_lite_chart")[1:]  # no chart of change, only the profile
    # Another area: its own two letters, not the first area's (which it does not have).
    at.selectbox(key="area").set_value(areas[2]).run()
    assert not at.exception
    assert {at.selectbox(key="a").value, at.selectbox(key="b").value} == set(ids[areas[2]])
    assert "Pick two different letters" not in texts(at)
    assert "of two frameworks" not in texts(at)  # both 2023 reports
    # A revisit against a first inspection is not like with like: said beside the change.
    with sqlite3.connect(work / "sendlens.db") as con:
        con.execute("UPDATE letters SET framework = 'send_2016' WHERE letter_id = ?",
                    (ids[areas[2]][0],))
    at = run(work, monkeypatch, page="area", area=areas[2])
    assert "These letters are of two frameworks" in texts(at)


def test_themes_whose_short_names_are_alike_keep_their_full_names() -> None:
    from sendlens.ui import common

    names = {"autism_a": "Autism and ADHD assessment",
             "autism_b": "Autism and neurodevelopmental pathways",
             "health_input": "Health input into identification, assessment and plans"}
    ctx = common.Ctx(path="", stamp=(), status=None, options=None,  # type: ignore[arg-type]
                       names=names)
    # Two columns of the chart, not one drawn over the other.
    assert ctx.short("autism_a") == "Autism and ADHD assessment"
    assert ctx.short("autism_b") == "Autism and neurodevelopmental pathways"
    assert ctx.short("health_input") == "Health input"


def test_a_theme_s_short_name_in_the_codebook_labels_its_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A researcher's "Autism and ADHD pathways" was headed "Autism" in every chart."""
    from test_classify_cli import with_theme

    from sendlens.ui import common
    from textmine.codebook import load_codebook

    monkeypatch.delenv("SENDLENS_CODEBOOK", raising=False)
    entry = ("  - id: autism_adhd\n    name: Autism and ADHD pathways\n"
             "    definition: Neurodevelopmental assessment.\n    patterns: [autism]\n")
    (tmp_path / "codebook.yaml").write_text(with_theme(entry))
    names = {"autism_adhd": "Autism and ADHD pathways"}
    ctx = common.Ctx(path=str(tmp_path), stamp=(1,), status=None,  # type: ignore[arg-type]
                       options=None, names=names)  # type: ignore[arg-type]
    assert ctx.short("autism_adhd") == "Autism"  # the name cut short, as before
    before = load_codebook(corpus=tmp_path).sha256
    (tmp_path / "codebook.yaml").write_text(
        with_theme(entry + "    short_name: Autism/ADHD pathways\n"))
    ctx = common.Ctx(path=str(tmp_path), stamp=(2,), status=None,  # type: ignore[arg-type]
                       options=None, names=names)  # type: ignore[arg-type]
    assert ctx.short("autism_adhd") == "Autism/ADHD pathways"
    # One too long for a column is cut as a name is.
    (tmp_path / "codebook.yaml").write_text(
        with_theme(entry + "    short_name: Autism and ADHD assessment and diagnosis\n"))
    ctx = common.Ctx(path=str(tmp_path), stamp=(3,), status=None,  # type: ignore[arg-type]
                       options=None, names=names)  # type: ignore[arg-type]
    assert ctx.short("autism_adhd") == "Autism and ADHD assessment and d…"
    # A label for people: the model is not made stale by it.
    assert load_codebook(corpus=tmp_path).sha256 == before


def test_heatmap_tooltip_gives_the_interval_where_there_is_one() -> None:
    import pandas as pd

    from sendlens.ui import compare

    table = pd.DataFrame({
        "region": ["London", "North East"], "theme": ["ehc_plans"] * 2,
        "theme_short": ["EHC plans"] * 2, "theme_name": ["EHC plans"] * 2,
        "passages": [40, 3], "positive": [10, 1], "negative": [30, 2], "mixed": [0, 0],
        "neutral": [0, 0], "letters": [12, 2], "letters_mentioning": [12, 2],
        "share_negative": [0.75, 2 / 3], "share_negative_low": [0.62, None],
        "share_negative_high": [0.86, None], "net_stance": [-0.5, -1 / 3],
        "net_stance_low": [-0.76, None], "net_stance_high": [-0.28, None]})
    spec, data = compare.heatmap_view(table, "region", "share_negative", ["London", "North East"])
    titles = [t.get("title") for t in spec["layer"][0]["encoding"]["tooltip"]]
    assert "Share negative, 95% interval" in titles
    # Two letters: no interval, and the tooltip says why rather than showing nothing.
    assert list(data["spread"]) == ["62% to 86%", compare.NO_SPREAD]
    spec, data = compare.heatmap_view(table, "region", "net_stance", ["London", "North East"])
    assert data["spread"][0] == "\u22120.76 to \u22120.28"  # minus signs as Vega's
    # A screen reader hears the interval and the fading too (3 judging passages, fewer
    # than 5 asked for).
    _, data = compare.heatmap_view(table, "region", "net_stance", ["London", "North East"],
                                few=5)
    assert list(data["description"]) == [
        "London, EHC plans: 40 passages in 12 of 12 letters, net stance \u22120.500; 95% "
        "interval \u22120.76 to \u22120.28",
        "North East, EHC plans: 3 passages in 2 of 2 letters, net stance \u22120.333; 95% "
        f"interval {compare.NO_SPREAD}; faded: judged by fewer than 5 passages"]
    # Cells in the order the rows are drawn (a screen reader reads them in data order).
    _, data = compare.heatmap_view(table, "region", "net_stance", ["North East", "London"])
    assert list(data["region"]) == ["North East", "London"]
    # By area (one letter each) there is never an interval: no empty tooltip line.
    blank = table.assign(**{c: None for c in table if c.endswith(("_low", "_high"))})
    spec, data = compare.heatmap_view(blank, "region", "share_negative", ["London", "North East"])
    assert "Share negative, 95% interval" not in [
        t.get("title") for t in spec["layer"][0]["encoding"]["tooltip"]]
    # A cell no passage judges says so in words, not "null" as Vega writes a missing value.
    unjudged = table.assign(passages=[0, 2], positive=0, negative=0, neutral=[0, 2],
                            share_negative=None, net_stance=None)
    spec, data = compare.heatmap_view(unjudged, "region", "net_stance", ["London", "North East"])
    assert list(data["net_stance_tip"]) == ["none: not mentioned",
                                            "none: every passage is neutral"]
    tips = {t.get("field") for t in spec["layer"][0]["encoding"]["tooltip"]}
    assert {"net_stance_tip", "share_negative_tip"} <= tips
    assert list(compare.heatmap_view(table, "region", "net_stance", ["London", "North East"])[1]
                ["net_stance_tip"]) == ["\u22120.500", "\u22120.333"]


def test_equally_criticised_rows_put_more_evidence_first() -> None:
    # 100% negative from 9 passages ranks above 100% from 2, and both above 50%.
    import pandas as pd

    from sendlens.ui import compare

    # Few has 2 negative passages and 5 neutral ones: 2 passages judge the theme there.
    table = pd.DataFrame({
        "area": ["Few", "Many", "Half"], "theme": ["ehc_plans"] * 3,
        "passages": [7, 9, 10], "positive": [0, 0, 5], "negative": [2, 9, 5],
        "mixed": [0, 0, 0], "share_negative": [1.0, 1.0, 0.5],
        "net_stance": [-1.0, -1.0, -0.5]})
    for metric in ("share_negative", "net_stance"):
        assert compare._row_order(table, "area", metric, "ehc_plans") == ["Many", "Few", "Half"]
        # With a minimum of 3 passages judging the theme, the row of 2 is not ranked
        # (its neutral passages do not count): it comes last.
        assert compare._row_order(table, "area", metric, "ehc_plans", 3) == [
            "Many", "Half", "Few"]


def test_a_ranking_opens_the_evidence_of_its_top_row(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def top_row(at: AppTest) -> str:
        spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
        return spec["layer"][0]["encoding"]["y"]["sort"][0]

    at = run(corpus_dir, monkeypatch, page="compare", sort="health_input")  # from a link
    assert (at.session_state["cell_row"], at.session_state["cell_theme"]) == (
        top_row(at), "health_input")
    at = run(corpus_dir, monkeypatch, page="compare")
    open_expander(at, "c_view")
    at.selectbox(key="sort").set_value("ehc_plans").run()  # chosen on the page
    assert (at.session_state["cell_row"], at.session_state["cell_theme"]) == (
        top_row(at), "ehc_plans")
    assert f"{top_row(at)} · EHC needs assessment" in texts(at)
    # Then another row chosen stays chosen, run after run: only a new ranking moves it.
    other = next(a for a in json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0][
        "encoding"]["y"]["sort"] if a != top_row(at))
    open_expander(at, "cell_pick")
    at.selectbox(key="cell_row").set_value(other).run()
    at.run()
    assert at.session_state["cell_row"] == other and f"{other} · " in texts(at)


def test_compare_ranks_only_rows_with_enough_passages(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(corpus_dir, monkeypatch, page="compare", sort="health_input", min="1000")
    assert "min=1000" in " ".join(w.value for w in at.warning)  # said, not used
    # The largest the box takes is a link's too.
    most = run(corpus_dir, monkeypatch, page="compare", sort="health_input", min="100")
    assert not most.warning and most.session_state["min"] == 100
    open_expander(at, "c_view")
    assert at.number_input(key="min").value == 3
    at.number_input(key="min").set_value(50).run()
    assert not at.exception
    assert at.query_params["min"] in ("50", ["50"])  # shareable
    assert "fewer than 50 passages judging Health input come after" in texts(at)
    # The same minimum fades the cells with less evidence behind their colour.
    rect = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]
    assert rect["encoding"]["opacity"]["condition"]["test"].endswith("< 50")
    assert "faded: judged by fewer than 50 passages" in texts(at)
    at.number_input(key="min").set_value(1).run()
    assert "faded" not in texts(at)  # no cell is judged by fewer than 1 passage
    # The box names the theme alone (theme and order did not fit); the order is beside it.
    assert at.selectbox(key="sort").format_func("health_input") == "Health input"
    assert "A theme ranks the rows, lowest net stance first." in texts(at)


def test_an_excel_download_says_what_it_holds(corpus_dir: Path) -> None:
    # What the app's Excel buttons put in the file's 'About' sheet: the view it came from
    # (a link holding its filters) and the model that tagged it; read without writing.
    import openpyxl

    from sendlens import appdata as ad
    from sendlens.export import table_bytes

    before = (corpus_dir / "sendlens.db").stat().st_mtime_ns
    about = ad.provenance(str(corpus_dir), ad.stamp(corpus_dir), table="themes-by-area",
                          view="?page=compare&by=area")
    book = openpyxl.load_workbook(io.BytesIO(table_bytes(pd.DataFrame({"a": [1]}), "xlsx",
                                                         about)))
    assert book.sheetnames == ["Table", "About"]
    sheet = {r[0]: r[1] for r in book["About"].iter_rows(values_only=True)}
    assert sheet["table"] == "themes-by-area" and sheet["view"] == "?page=compare&by=area"
    assert sheet["model"] == "test-1" and sheet["corpus"] == str(corpus_dir)
    assert (corpus_dir / "sendlens.db").stat().st_mtime_ns == before


def test_a_filtered_download_is_named_for_its_filters() -> None:
    # A table of the systemic-failings letters was saved as themes-by-region.csv, the
    # unfiltered table's name, and nothing in a CSV says what it holds.
    from sendlens import appdata
    from sendlens.ui import common

    assert common.filter_slug(appdata.Filters()) == ""
    assert common.filter_slug(appdata.Filters(themes=("co_production",))) == ""
    slug = common.filter_slug(appdata.Filters(outcomes=("systemic_failings",),
                                                date_from="2024-01-01"))
    assert slug == "outcome_systemic_failings-from_2024-01-01"
    # Every filter is named, each with its own word.
    assert common.filter_slug(appdata.Filters(
        regions=("North West",), frameworks=("send_2016",), date_to="2024-06-30")) == (
        "region_North_West-framework_send_2016-to_2024-06-30")
    assert common.filter_slug(appdata.Filters(areas=("Bury", "Leeds"), sections=(
        "strengths",))) == "area_Bury+Leeds-section_strengths"
    many = [appdata.Filters(areas=tuple(f"Area number {i}" for i in range(n)))
            for n in (8, 9)]
    long = [common.filter_slug(f) for f in many]
    assert all(s.startswith("filtered-") and len(s) < 20 for s in long)
    assert long[0] != long[1]


def test_compare_lists_regions_in_the_order_of_the_exports(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By name, Compare's regions came in another order than the same table downloaded
    from Export or written by `sendlens export themes --by region`."""
    from sendlens import appdata

    at = run(corpus_dir, monkeypatch, page="compare", by="region")
    rows = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]["encoding"][
        "y"]["sort"]
    exported = appdata.theme_table(str(corpus_dir), appdata.stamp(str(corpus_dir)), "region",
                                   appdata.Filters())["region"]
    assert rows == list(dict.fromkeys(exported))
    # ... and the order's name says so ("Name" there described another order).
    open_expander(at, "c_view")
    assert at.selectbox(key="sort").format_func("name") == "North to south"
    # These letters' regions read the same both ways; north to south, not by name:
    from sendlens.ui.compare import _row_order

    table = pd.DataFrame({"region": ["North East", "North East", "East Midlands"],
                          "theme": ["ehc_plans", "inclusion", "ehc_plans"]})
    assert _row_order(table, "region", "net_stance", "name") == ["North East",
                                                                  "East Midlands"]


def test_stopping_the_server_waits_for_a_retrain_a_page_started(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Streamlit runs page scripts in daemon threads, and a thread they start is one too
    unless told otherwise: stopping the server dropped a retrain it said it would finish."""
    import threading

    from sendlens import appdata
    from sendlens.commands.app import finish_retrains

    started, release = threading.Event(), threading.Event()

    def slow(path: str, progress: appdata.Progress | None = None) -> None:
        assert progress is not None
        progress(0.5, "tagging")
        started.set()
        assert release.wait(30)

    monkeypatch.setattr(appdata, "retrain", slow)
    jobs: list[appdata.RetrainJob] = []
    page = threading.Thread(target=lambda: jobs.append(appdata.start_retrain("/nowhere/x", 0)),
                            daemon=True)  # as Streamlit's script threads are
    page.start()
    page.join()
    assert started.wait(10)
    [worker] = [t for t in threading.enumerate() if t.name == "sendlens-retrain /nowhere/x"]
    assert not worker.daemon  # the interpreter waits for it at exit
    import typer

    echo = typer.echo

    def said(message: object = "", **kwargs: object) -> None:
        echo(message, **kwargs)  # type: ignore[arg-type]
        if str(message).startswith("waiting for the retrain"):
            assert worker.is_alive()  # said while the retrain still runs
            release.set()  # it ends once the wait has begun (a timer could end it first)

    monkeypatch.setattr(typer, "echo", said)
    finish_retrains()  # what `sendlens app` does once the server has stopped
    assert jobs[0].done
    assert ("waiting for the retrain started in the app to finish (tagging)"
            in capsys.readouterr().err)


_RETRAIN_THEN_STOP = """
import time
from sendlens import appdata
from sendlens.commands.app import finish_retrains


def slow(path, progress=None):
    progress(0.5, "tagging")
    time.sleep(60)

appdata.retrain = slow
appdata.start_retrain("/nowhere/y", 0)
finish_retrains()
"""


def test_a_second_ctrl_c_abandons_the_retrain_the_server_waits_for() -> None:
    """The wait said "Ctrl-C again abandons it", but Streamlit's handler took the second
    Ctrl-C, and the thread (not a daemon) kept the process to the retrain's end."""
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", _RETRAIN_THEN_STOP],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    started = time.monotonic()
    try:
        line = ""
        while "waiting for the retrain" not in line:  # waiting: now the Ctrl-C
            line = proc.stderr.readline()
            assert line, "the process ended before waiting"
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert time.monotonic() - started < 30  # not the retrain's 60 s
    assert "retrain abandoned: the passages keep the tags they had" in rest


def _second_area_of_a_region(corpus_dir: Path) -> tuple[str, str]:
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    region, area = con.execute(
        "SELECT region, max(area) FROM letters GROUP BY region HAVING count(DISTINCT area) > 1"
    ).fetchone()
    con.close()
    return region, area


def test_rows_switched_to_regions_and_back_return_to_the_area(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The evidence came back on the region's first area, not the one being read.
    region, area = _second_area_of_a_region(corpus_dir)
    at = run(corpus_dir, monkeypatch, page="compare", cell_row=area, cell_theme="ehc_plans")
    assert at.session_state["cell_row"] == area
    at.radio(key="by").set_value("region").run()
    assert at.session_state["cell_row"] == region
    at.radio(key="by").set_value("area").run()
    assert not at.exception and at.session_state["cell_row"] == area
    assert f"{area} · EHC needs" in texts(at)


def test_a_link_naming_an_area_over_rows_of_regions_opens_its_region(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "Not in this corpus" was said of an area the corpus holds.
    region, area = _second_area_of_a_region(corpus_dir)
    at = run(corpus_dir, monkeypatch, page="compare", by="region", cell_row=area)
    assert at.session_state["cell_row"] == region
    assert "Not in this corpus" not in texts(at)
    at = run(corpus_dir, monkeypatch, page="compare", by="region", cell_row="Atlantis")
    assert "Not in this corpus, so ignored from the link: cell\\_row=Atlantis" in texts(at)


def test_a_link_to_a_passage_of_another_letter_says_so(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    (one,), (other,) = con.execute("SELECT letter_id FROM letters LIMIT 2").fetchall()
    passage = con.execute("SELECT passage_id FROM passages WHERE letter_id = ? LIMIT 1",
                          (other,)).fetchone()[0]
    con.close()
    at = run(corpus_dir, monkeypatch, page="reader", letter=one, focus=passage)
    said = f"passage {passage} is not in this letter".replace("-", "\\-")  # as Markdown
    assert said in texts(at)
    assert at.session_state["focus"] == ""


def test_commands_the_app_gives_quote_a_corpus_folder_with_a_space(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "sendlens tag --corpus /home/jo/SEND research/corpus", pasted into a shell, was
    # two arguments: "error: unexpected argument", or another folder tagged.
    import shlex

    folder = tmp_path / "SEND research" / "Jo's corpus"
    start = run(folder, monkeypatch)
    commands = [ln for ln in start.code[0].value.splitlines() if ln.startswith("sendlens")]
    assert len(commands) == 4
    for line in commands:
        assert shlex.split(line)[-2:] == ["--corpus", str(folder)], line
    copy = copy_of(corpus_dir, folder)
    with Corpus.open(copy).transaction() as con:
        con.execute("DELETE FROM tags")
        con.execute("DELETE FROM models")
        keep = con.execute("SELECT min(letter_id) FROM letters").fetchone()[0]
        for table in ("passages", "sections", "letters"):
            con.execute(f"DELETE FROM {table} WHERE letter_id != ?", (keep,))
    for page in ("compare", "reader"):
        said = texts(run(copy, monkeypatch, page=page))
        [command] = re.findall(r"`(sendlens tag [^`]*)`", said)
        assert shlex.split(command) == ["sendlens", "tag", "--corpus", str(copy)], page
    # One letter is not "the 1 letters are imported".
    assert "The 1 letter is imported but no passage is tagged yet" in texts(
        run(copy, monkeypatch, page="compare"))


def test_the_reader_of_a_corpus_never_tagged_says_why_nothing_is_highlighted(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "All tagged passages" highlighted nothing, without a word; the other pages say it.
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("DELETE FROM tags")
        con.execute("DELETE FROM models")
    at = run(copy, monkeypatch, page="reader")
    assert any(w.value.startswith("No passage of the corpus is tagged yet: nothing is "
                                  "highlighted") for w in at.warning)
    assert not any("No passage of the corpus" in w.value
                   for w in run(corpus_dir, monkeypatch, page="reader").warning)


def test_the_overview_names_letters_that_may_be_one_report_held_twice(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A report corrected under other dates sits beside the first: every chart counts it
    # twice, and only `info` and the scrape said so.
    said = "1 pair of letters of one area and framework begun within 180 days"
    assert said not in texts(run(corpus_dir, monkeypatch))
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        area, start = con.execute("SELECT area, inspection_start FROM letters "
                                  "ORDER BY letter_id LIMIT 1").fetchone()
        con.execute("UPDATE letters SET area = ?, inspection_start = date(?, '+30 days') "
                    "WHERE letter_id = (SELECT letter_id FROM letters ORDER BY letter_id "
                    "LIMIT 1 OFFSET 1)", (area, start))
    shown = texts(run(copy, monkeypatch))
    assert said in shown and "sendlens supersede OLD" in shown.replace("\\", "")


def test_the_ranking_in_words_names_the_top_five_rows_with_a_measure() -> None:
    # "Top of the ranking on <theme>: ..." is what a screen reader hears of a ranked chart.
    from sendlens.ui import compare

    areas = [f"Area {c}" for c in "ABCDEFG"]
    shown = pd.DataFrame({"area": areas, "theme": ["ehc_plans"] * 7,
                          "passages": [9, 8, 7, 6, 5, 4, 3],
                          "share_negative": [0.9, None, 0.7, 0.6, 0.5, 0.4, 0.3]})
    top = compare._top_rows(shown, "area", "ehc_plans", "share_negative", areas)
    # Area B has no share (no passage judges it): left out, and the ranking goes on past
    # it; only the first five rows of the ranking are named.
    assert top == ("Area A 90% (9 passages), Area C 70% (7 passages), "
                   "Area D 60% (6 passages), Area E 50% (5 passages)")


def test_rows_with_too_little_evidence_follow_the_ranked_ones_unmentioned_last() -> None:
    from sendlens.ui import compare

    # Three judging passages of a minimum of 3 is enough to be ranked; a row with none
    # (never mentioned: no measure) comes after one judged by too few to rank.
    table = pd.DataFrame({
        "area": ["None", "Two", "Three", "Ten"], "theme": ["ehc_plans"] * 4,
        "passages": [0, 2, 3, 10], "positive": [0, 0, 1, 5], "negative": [0, 2, 2, 5],
        "mixed": [0, 0, 0, 0], "share_negative": [None, 1.0, 2 / 3, 0.5],
        "net_stance": [None, -1.0, -1 / 3, 0.0]})
    for metric in ("share_negative", "net_stance"):
        assert compare._row_order(table, "area", metric, "ehc_plans", 3) == [
            "Three", "Ten", "Two", "None"]


def test_compare_names_the_first_rows_pooling_frameworks_and_counts_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sendlens.ui import compare

    pooled = {r: {"area_send_2023": 1, "revisit_2018": 1}
              for r in ("London", "North East", "North West", "South West")}
    monkeypatch.setattr(compare.ad, "pooled_groups", lambda *a: pooled)
    said: list[str] = []
    monkeypatch.setattr(compare.st, "caption", said.append)
    ctx = compare.Ctx(path="", stamp=(), status=None, options=None,  # type: ignore[arg-type]
                      names={})
    compare.pooled_note(ctx, "region", compare.ad.Filters())
    assert said == ["4 rows pool letters of several frameworks (London, North East, North "
                    "West and 1 more; a revisit letter discusses only the weaknesses it "
                    "revisits): choose one framework under Filters to compare like with like."]


def test_compare_says_when_it_shows_only_the_first_rows(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sendlens.ui import compare

    monkeypatch.setattr(compare, "MAX_ROWS", 2)
    at = run(corpus_dir, monkeypatch, page="compare")
    assert "Showing the first 2 of 4 areas in this order" in texts(at)
    assert len(set(chart_data(at)["area"])) == 2
    assert letters_caption(at).startswith("2 letters.")


def test_a_cell_with_no_passage_of_the_stance_chosen_says_how_many_it_has(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict) -> None:
    # The test corpus has no mixed passage: the cell's own passages are offered instead of
    # "this theme is not mentioned here".
    area = facts["areas"][1]
    n, _ = facts["health"][area]
    at = run(corpus_dir, monkeypatch, page="compare", cell_row=area,
             cell_theme="health_input", cell_stance="mixed")
    told = " ".join(i.value for i in at.info)
    assert (f"No mixed passages in this cell; choose another stance to read its {n} "
            "passages.") in told
    assert "not mentioned" not in told


def vega_true(expr: str, datum: dict) -> bool:
    """A Vega test expression of the heatmap, read for one cell's datum (every fill taken
    as dark enough for white text: contrast() is the browser's to work out)."""
    py = re.sub(r"datum\.(\w+)", r"d['\1']", expr).replace("&&", " and ").replace("||", " or ")
    py = re.sub(r"!(?!=)", " not ", py)
    return bool(eval(py, {"isValid": lambda v: v is not None and v == v,  # noqa: S307
                          "scale": lambda _name, v: v, "contrast": lambda a, _b: a == "#ffffff"},
                     {"d": datum}))


def drawn_cells(spec: dict, data: pd.DataFrame) -> dict[str, tuple]:
    """Each heatmap row's (fill, opacity, number, number's colour), as Vega would draw its
    one cell: the first condition that holds decides, else the encoding's own value."""
    rect, text = spec["layer"]

    def pick(channel: dict, d: dict, otherwise: object) -> object:
        conditions = channel.get("condition", [])
        for c in conditions if isinstance(conditions, list) else [conditions]:
            if vega_true(c["test"], d):
                return c["value"] if "value" in c else d[c["field"]]
        return channel.get("value", otherwise)

    out = {}
    for d in data.to_dict("records"):
        out[d["region"]] = (pick(rect["encoding"]["color"], d, "scale"),
                            pick(rect["encoding"]["opacity"], d, None),
                            pick(text["encoding"]["text"], d, None),
                            pick(text["encoding"]["color"], d, None))
    return out


def test_heatmap_draws_unmentioned_cells_blank_and_unjudged_ones_grey() -> None:
    from sendlens.ui import common, compare

    table = pd.DataFrame({
        "region": ["Judged", "Few", "Unjudged", "Never"], "theme": ["ehc_plans"] * 4,
        "theme_short": ["EHC plans"] * 4, "theme_name": ["EHC plans"] * 4,
        "passages": [3, 2, 2, 0], "positive": [1, 0, 0, 0], "negative": [2, 2, 0, 0],
        "mixed": [0] * 4, "neutral": [0, 0, 2, 0], "letters": [2] * 4,
        "letters_mentioning": [2, 1, 1, 0], "share_negative": [2 / 3, 1.0, None, None],
        "net_stance": [-1 / 3, -1.0, None, None]})
    order = list(table["region"])
    for metric in ("net_stance", "share_negative"):
        spec, data = compare.heatmap_view(table, "region", metric, order, few=3)
        cells = drawn_cells(spec, data)
        # Judged by 3 passages of the 3 asked for: its measure's colour, at full strength,
        # with a white number on a dark fill.
        assert cells["Judged"] == ("scale", 1.0, 3, "white")
        assert cells["Few"] == ("scale", 0.4, 2, "black")  # fewer than 3: faded, black
        # Mentioned, never judged: grey, not faded; never mentioned: white and no number.
        assert cells["Unjudged"] == (common.GREY, 1.0, 2, "black")
        assert cells["Never"] == ("#ffffff", 1.0, "", "black")
    # The scales are the measures' whole range, not the data's: -0.33 is not the reddest.
    rect = spec["layer"][0]
    assert rect["encoding"]["color"]["scale"]["domain"] == [0, 1]
    spec, _ = compare.heatmap_view(table, "region", "net_stance", order)
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == [-1, 1]


def test_sorting_by_a_theme_left_out_of_the_chosen_ones_keeps_every_row(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict) -> None:
    at = run(corpus_dir, monkeypatch, page="compare", sort="health_input", th="ehc_plans")
    assert ("Rows are in name order: Health input, the theme to sort by, is not among the "
            "themes chosen.") in texts(at)
    assert sorted(set(chart_data(at)["area"])) == facts["areas"]
    assert letters_caption(at).startswith("4 letters.")


def test_the_numbers_download_holds_the_exports_columns_and_names_its_filters(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict) -> None:
    from sendlens.ui import compare

    offered = []
    real = compare.downloads
    monkeypatch.setattr(compare, "downloads", lambda frame, name, *a, **k: (
        offered.append((name, frame)), real(frame, name, *a, **k)))
    area = facts["areas"][0]
    at = open_expander(run(corpus_dir, monkeypatch, page="compare", c_areas=area),
                       "cell-numbers")
    frame = next(f for name, f in reversed(offered) if name == "themes-by-area")
    # The columns of `sendlens export themes`: the code to join on and the intervals'
    # ends, which the table on screen leaves out.
    assert {"la_code", "share_negative_low", "share_negative_high", "net_stance_low",
            "net_stance_high"} <= set(frame.columns)
    assert set(frame["area"]) == {area}
    # The file is named for the filter that narrowed it (the name its button is read by).
    assert f"CSV: themes-by-area-area_{area}.csv, " in texts(at)
    # Unfiltered, its plain name: the dates at the corpus's own first and last are no filter.
    at = open_expander(run(corpus_dir, monkeypatch, page="compare"), "cell-numbers")
    assert re.search(r"CSV: themes-by-area\.csv, \d+ rows", texts(at))


def test_evidence_cards_show_as_many_passages_as_they_say(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sendlens.ui import common

    shown: list[str] = []
    monkeypatch.setattr(common.st, "html", shown.append)
    monkeypatch.setattr(common.st, "caption", shown.append)
    frame = pd.DataFrame({"letter_id": "L1", "passage_id": [f"L1-{i}" for i in range(41)],
                          "stance": "negative", "text": "Plans are late.",
                          "citation": "Somewhere, 2024, Weaknesses"})
    common.evidence_cards(frame)
    first, cards, last = shown
    assert first.startswith("The first 40 of 41 passages")
    assert cards.count(">read in letter ↗</a>") == 40 and "L1-39" in cards
    assert last.startswith("…and 1 more in the sortable table")
    shown.clear()
    common.evidence_cards(frame.head(40))  # all of them: no note of more
    [cards] = shown
    assert cards.count(">read in letter ↗</a>") == 40


def test_a_link_narrowed_by_a_date_alone_shows_it_is_filtered(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    last = con.execute("SELECT max(inspection_start) FROM letters").fetchone()[0]
    con.close()
    at = run(corpus_dir, monkeypatch, page="compare", c_from=last)
    # Its filters are shown open, with the date the link holds.
    assert at.date_input(key="c_from").value == date.fromisoformat(last)
    at.session_state["c_filters"] = False
    at.run()
    assert "Filtered by from (open Filters to change)." in texts(at)
    # The date goes on to the Theme explorer with the other filters.
    at.radio(key="page").set_value("themes").run()
    assert at.date_input(key="t_from").value == date.fromisoformat(last)  # as shown there


def test_compare_numbers_show_the_95_intervals_where_there_are_some(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under 5 letters a region has no interval: as if 2 letters were enough, the region of
    # the two Northamptonshire reports has one (a copy: the tables are cached per corpus).
    from textmine import aggregate, intervals

    for module in (aggregate, intervals):
        monkeypatch.setattr(module, "MIN_INTERVAL_LETTERS", 2)
    copy = copy_of(corpus_dir, tmp_path / "c")
    at = open_expander(run(copy, monkeypatch, page="compare", by="region"), "cell-numbers")
    [grid] = [f for f in at.dataframe if "net_stance" in f.value.columns]
    assert list(grid.proto.column_order)[:6] == [
        "region", "theme", "net_stance", "net_stance_95", "share_negative",
        "share_negative_95"]
    assert re.fullmatch(r"[-+]\d\.\d\d to [-+]\d\.\d\d", grid.value["net_stance_95"].max())


def test_a_link_to_an_area_half_tagged_blames_the_filters_not_the_tags(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        facts: dict) -> None:
    # One of the area's two letters waits for `sendlens tag`; the other is tagged, so the
    # filters alone left the area out of the rows.
    copy = copy_of(corpus_dir, tmp_path / "c")
    area, other, shown = facts["areas"][:3]
    with sqlite3.connect(copy / "sendlens.db") as con:
        con.execute("UPDATE letters SET area = ? WHERE area = ?", (area, other))
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                    " WHERE letter_id = (SELECT min(letter_id) FROM letters WHERE area = ?))",
                    (area,))
    con.close()
    at = run(copy, monkeypatch, page="compare", cell_row=area, cell_theme="health_input",
             c_areas=shown)
    told = " ".join(i.value for i in at.info).replace("\\", "")
    assert f"{area}: it is not among the rows shown with these filters" in told


def test_the_markdown_download_says_what_its_table_holds(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, facts: dict) -> None:
    # The bytes a click on "Markdown" gets (deferred until the click: taken from the button).
    from streamlit.delta_generator import DeltaGenerator

    files = {}
    real = DeltaGenerator.download_button
    monkeypatch.setattr(DeltaGenerator, "download_button", lambda self, label, data, **k: (
        files.__setitem__(k["file_name"], data), real(self, label, data, **k))[1])
    area = facts["areas"][0]
    open_expander(run(corpus_dir, monkeypatch, page="compare", c_areas=area), "cell-numbers")
    text = files[f"themes-by-area-area_{area}.md"]().decode()
    assert text.startswith("| area | theme |")
    note = text.rsplit("\n*", 1)[1]  # the line under the table, as pasted into a paper
    assert "Tags of model test-1" in note and area in note
def test_the_start_page_tells_an_empty_corpus_from_a_missing_or_unreadable_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A folder never filled, a corpus created but empty, a file that is not a database:
    # each said as it is, the last as an error with its reason.
    assert "which does not exist yet." in texts(run(tmp_path / "nothing-here", monkeypatch))
    # A folder there, without a corpus (a folder of PDFs): it was said not to exist.
    (tmp_path / "pdfs").mkdir()
    said = texts(run(tmp_path / "pdfs", monkeypatch))
    assert "which holds no sendlens corpus yet." in said and "does not exist" not in said
    Corpus.open(tmp_path / "empty")  # `sendlens import` found nothing to import
    at = run(tmp_path / "empty", monkeypatch)
    assert "No letters in this corpus yet" in at.header[0].value
    assert "which holds no letters." in texts(at) and not at.error
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "sendlens.db").write_bytes(b"not a database " * 100)
    [error] = run(tmp_path / "broken", monkeypatch).error
    assert "cannot be read" in error.value


def test_a_corpus_given_as_its_database_file_is_said_to_be_its_folder(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "--corpus corpus/sendlens.db" (or SENDLENS_CORPUS set so): the start page said it
    # "does not exist yet" and gave `sendlens scrape --corpus corpus/sendlens.db`, and the
    # command said "no corpus ... yet" and served it.
    from typer.testing import CliRunner

    from sendlens.cli import app as cli_app

    db = corpus_dir / "sendlens.db"
    at = run(db, monkeypatch)
    [error] = at.error
    assert error.value.replace("\\", "") == (
        f"The corpus must be a folder: {db} is a file, not a folder: the corpus is the "
        f"folder holding it, {corpus_dir} (sendlens app --corpus {corpus_dir}).")
    assert "does not exist" not in texts(at) and not at.code
    (tmp_path / "notes.txt").write_text("mine")
    assert "notes.txt is a file, not a folder." in run(
        tmp_path / "notes.txt", monkeypatch).error[0].value.replace("\\", "")
    monkeypatch.delenv("SENDLENS_CORPUS", raising=False)
    result = CliRunner().invoke(cli_app, ["app", "--corpus", str(db), "--headless"])
    assert result.exit_code == 2, result.output
    assert f"--corpus {corpus_dir})" in result.output and "no corpus at" not in result.output


def test_overview_and_sidebar_count_a_partly_tagged_corpus_with_corrections(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "With a theme" is a share of the passages tagged (not of all of them), a passage
    # corrected twice is one correction, and the sidebar counts letters and areas apart.
    work, _ = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"], ["social_care"])
    with Corpus.open(work).transaction() as con:
        two = [a for (a,) in con.execute("SELECT area FROM letters ORDER BY area LIMIT 2")]
        con.execute("UPDATE letters SET area = ? WHERE area = ?", two)  # 4 letters, 3 areas
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                    " WHERE letter_id = (SELECT min(letter_id) FROM letters))")
        themed, tagged = con.execute(
            "SELECT sum(themes != '[]'), count(*) FROM tags").fetchone()
        passages = con.execute("SELECT count(*) FROM passages").fetchone()[0]
        # Figures measured without intervals: no caption about brackets.
        con.execute("UPDATE models SET meta = json_remove(meta,"
                    " '$.quality.cross-validation.intervals')")
    assert f"{themed / tagged:.0%}" != f"{themed / passages:.0%}"
    at = run(work, monkeypatch)
    shown = figures_of(at)
    assert shown["With a theme"] == f"{themed / tagged:.0%}"
    assert shown["Corrections saved"] == "1"  # two saved, of one passage
    assert at.sidebar.caption[0].value.startswith("4 letters · 3 areas · ")
    assert md_tables(at)[0][0]["Theme macro-F1"] == "0.810"
    assert "In brackets" not in texts(at)


def test_export_downloads_hold_the_theme_stance_and_sections_chosen(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The themes table and the evidence are of the theme, stance and sections chosen
    # above them, in the preview and in the downloads, not of the whole corpus.
    from sendlens import appdata as ad

    at = run(corpus_dir, monkeypatch, page="export", x_pt="health_input",
             x_theme="health_input", x_stance="negative", x_sec="strengths,weaknesses")
    rows = [int(m.group(1)) for c in at.caption
            if (m := re.fullmatch(r"Download (\d+) rows?:", c.value))]
    path, stamp = str(corpus_dir), ad.stamp(corpus_dir)
    some = ad.Filters(sections=("strengths", "weaknesses"))
    table = ad.theme_table(path, stamp, "area", some)
    mine = table[table["theme"] == "health_input"]
    assert rows[1] == len(mine) < len(table)
    [preview] = [t for t in md_tables(at) if "Theme" in t[0]]
    assert [int(r["Passages"]) for r in preview] == mine["passages"].tolist()
    whole = ad.theme_table(path, stamp, "area", ad.Filters())
    assert mine["passages"].sum() < whole[whole["theme"] == "health_input"]["passages"].sum()
    negative = ad.evidence(path, stamp, "health_input", "negative", some)
    assert rows[2] == len(negative) > 0
    assert len(negative) < len(ad.evidence(path, stamp, "health_input", None, some))
    assert len(negative) < len(ad.evidence(path, stamp, "health_input", "negative",
                                           ad.Filters()))


def test_the_area_profile_opens_on_the_area_with_the_most_letters() -> None:
    from sendlens.ui.area import default_area

    assert default_area(None, pd.Series({"Avon": 1, "Bury": 3, "Cork": 2})) == "Bury"


def test_area_profile_sets_an_area_beside_its_own_regions_share(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The region's column is the region's share negative, not every area's.
    from sendlens import appdata as ad
    from textmine.aggregate import theme_names

    region, area = _second_area_of_a_region(corpus_dir)
    at = run(corpus_dir, monkeypatch, page="area", area=area)
    [peers] = [t for t in md_tables(at) if "All areas" in t[0]]
    with Corpus.open(corpus_dir).reading() as con:
        framework = con.execute("SELECT framework FROM letters WHERE area = ? ORDER BY"
                                " inspection_start DESC", (area,)).fetchone()[0]
    by_region = ad.theme_table(str(corpus_dir), ad.stamp(corpus_dir), "region",
                               ad.Filters(frameworks=(framework,)))
    share = by_region[by_region["region"] == region].set_index("theme")["share_negative"]
    names = theme_names(Corpus.open(corpus_dir))
    judged = {names[t]: f"{v:.3f}" for t, v in share.items() if pd.notna(v)}
    shown = {row["Theme"]: row[region] for row in peers if row["Theme"] in judged}
    assert shown == {t: v for t, v in judged.items() if t in shown} and shown
    assert any(row[region] != row["All areas"] for row in peers)


def test_area_profile_compares_the_last_two_of_three_letters(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What changed at the latest inspection: the two latest letters, not the first and last.
    work = copy_of(corpus_dir, tmp_path / "three")
    with Corpus.open(work).transaction() as con:
        area = con.execute("SELECT min(area) FROM letters").fetchone()[0]
        con.execute("UPDATE letters SET area = ? WHERE letter_id IN (SELECT letter_id FROM"
                    " letters ORDER BY letter_id LIMIT 3)", (area,))
        ids = [i for (i,) in con.execute("SELECT letter_id FROM letters WHERE area = ?"
                                         " ORDER BY inspection_start", (area,))]
    assert len(ids) == 3
    at = run(work, monkeypatch, page="area", area=area)
    assert (at.selectbox(key="a").value, at.selectbox(key="b").value) == tuple(ids[1:])


def test_a_link_naming_a_theme_opens_the_letter_at_its_first_passage(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An Area profile cell's link: the letter is scrolled to the theme's first passage.
    with Corpus.open(corpus_dir).reading() as con:
        letter, first = con.execute(
            "SELECT p.letter_id, p.passage_id FROM passages p JOIN tags t USING (passage_id)"
            " WHERE t.themes LIKE '%health_input%' ORDER BY p.letter_id, p.char_start"
            " LIMIT 1").fetchone()
    at = run(corpus_dir, monkeypatch, page="reader", letter=letter, hl="health_input")
    assert any(f'var id = "p-{first}"' in str(h.proto.body) for h in at.get("html"))


def test_the_reader_highlights_only_the_stances_chosen(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Corpus.open(corpus_dir).reading() as con:
        letter, positive, themed = con.execute(
            "SELECT p.letter_id, sum(t.stance = 'positive'), count(*) FROM passages p"
            " JOIN tags t USING (passage_id) WHERE t.themes != '[]' GROUP BY p.letter_id"
            " ORDER BY p.letter_id LIMIT 1").fetchone()
    assert 0 < positive < themed
    at = run(corpus_dir, monkeypatch, page="reader", letter=letter, hs="positive")
    body = max((str(h.proto.body) for h in at.get("html")), key=len)
    assert body.count("<mark") == positive


def test_a_link_naming_a_passage_alone_opens_its_letter_at_it(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "?page=reader&focus=<passage id>" opened the first letter, the passage dropped
    # without a word.
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    first, = con.execute("SELECT min(letter_id) FROM letters").fetchone()
    pid, letter = con.execute("SELECT passage_id, letter_id FROM passages WHERE letter_id"
                              " != ? ORDER BY passage_id LIMIT 1 OFFSET 5", (first,)).fetchone()
    con.close()
    at = run(corpus_dir, monkeypatch, page="reader", focus=pid)
    assert at.selectbox(key="letter").value == letter
    assert any(i.value.replace("\\", "").startswith(f"Linked passage {pid} ") for i in at.info)
    # The letter the link names rules, and says the passage is not in it.
    at = run(corpus_dir, monkeypatch, page="reader", letter=first, focus=pid)
    assert at.selectbox(key="letter").value == first
    assert f"passage {pid} is not in this letter" in texts(at).replace("\\", "")


def test_choosing_another_letter_after_a_link_to_a_passage_says_nothing_of_it(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The link's passage is not in the letter chosen next: that was asked for, not an error.
    with Corpus.open(corpus_dir).reading() as con:
        (one,), (other,) = con.execute("SELECT letter_id FROM letters LIMIT 2").fetchall()
        passage = con.execute("SELECT passage_id FROM passages WHERE letter_id = ? LIMIT 1",
                              (one,)).fetchone()[0]
    at = run(corpus_dir, monkeypatch, page="reader", letter=one, focus=passage)
    at.selectbox(key="letter").set_value(other).run()
    assert at.session_state["focus"] == ""
    assert "is not in this letter" not in texts(at)


def test_a_search_that_finds_nothing_offers_no_search_of_every_theme(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing found on the theme nor anywhere: no button offering "0 passages on any theme".
    at = run(corpus_dir, monkeypatch, page="themes", theme="health_input", q="zqxwvk")
    assert "No passages match" in " ".join(i.value for i in at.info)
    assert not [b for b in at.button if b.key == "search-all-themes"]


def test_a_search_of_every_theme_keeps_to_the_stance_chosen(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The passages listed, and the file they download to, are of the stance chosen.
    from sendlens import appdata as ad

    at = run(corpus_dir, monkeypatch, page="themes", theme="(all)", stance="negative",
             q="health")
    found = evidence_of(open_expander(at, "theme-table"))
    assert len(found) > 0 and set(found["stance"]) == {"negative"}
    anywhere = ad.search_counts(str(corpus_dir), ad.stamp(corpus_dir), "health", ad.Filters(),
                                None)["passages"]
    assert anywhere > len(found)  # other stances match the words too
    assert "CSV: evidence-any-theme-negative-health.csv" in texts(at)


def test_the_label_page_says_what_words_or_an_id_found(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every match listed: counted as such, not "the N best of N"; an id not in the corpus
    # is said to be missing, not met with an empty page.
    from sendlens import appdata as ad

    total = ad.search_counts(str(corpus_dir), ad.stamp(corpus_dir), "therapy",
                             ad.Filters())["passages"]
    assert 1 < total <= 50
    at = run(corpus_dir, monkeypatch, page="label", lq="therapy")
    assert at.selectbox(key="pick").label == f"{total} matching passages"
    assert len(at.selectbox(key="pick").options) == total
    at = run(corpus_dir, monkeypatch, page="label", pid="000000000000-9999")
    assert [w.value for w in at.warning] == ["No passage 000000000000\\-9999 in this corpus."]


def test_a_passage_id_typed_beside_search_words_opens_that_passage(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "...or by passage id": an id typed while words are still in the search box is the
    # passage shown, not the words' first match.
    from sendlens import appdata as ad

    hits = ad.search_passages(str(corpus_dir), ad.stamp(corpus_dir), "therapy", ad.Filters(),
                              limit=50)
    with Corpus.open(corpus_dir).reading() as con:
        pid = next(p for (p,) in con.execute("SELECT passage_id FROM passages")
                   if p not in set(hits["passage_id"]))
    at = run(corpus_dir, monkeypatch, page="label", lq="therapy", pid=pid)
    assert f"passage `{pid}`" in texts(at)
    assert not at.get("selectbox") or "pick" not in [b.key for b in at.selectbox]


def test_the_label_form_of_an_untagged_passage_starts_neutral(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Saved as it opened (themes picked, the stance left alone), a passage the model never
    # tagged was not to be called positive.
    work = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(work).transaction() as con:
        pid = con.execute("SELECT passage_id FROM tags LIMIT 1").fetchone()[0]
        con.execute("DELETE FROM tags WHERE passage_id = ?", (pid,))
    at = run(work, monkeypatch, page="label", pid=pid)
    assert "stance –" in texts(at)  # the model's: none
    assert at.radio(key=f"ls-{pid}").value == "neutral"


def test_a_passage_corrected_twice_opens_on_the_newer_correction(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work, _ = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"], ["social_care"])
    with Corpus.open(work).reading() as con:
        pid = con.execute("SELECT passage_id FROM labels").fetchone()[0]
    at = run(work, monkeypatch, page="label", pid=pid)
    [saved] = [i.value for i in at.info if i.value.startswith("Your correction, saved")]
    assert "themes Social care and short breaks;" in saved
    assert at.multiselect(key=f"lt-{pid}").value == ["social_care"]


def test_a_correction_the_tags_hold_is_said_to_be_the_passages_tag(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Saved in A-Z order (ehc_plans, health_input), tagged in the codebook's (health_input
    # first): read in order, a retrained correction still said it waited for a retrain.
    work, _ = corrected_copy(corpus_dir, tmp_path, ["health_input", "ehc_plans"])
    with Corpus.open(work).transaction() as con:
        pid = con.execute("SELECT passage_id FROM labels").fetchone()[0]
        con.execute("UPDATE tags SET themes = '[\"health_input\", \"ehc_plans\"]', "
                    "stance = 'negative' WHERE passage_id = ?", (pid,))
    at = run(work, monkeypatch, page="label", pid=pid)
    [saved] = [i.value for i in at.info if i.value.startswith("Your correction, saved")]
    assert "It is the passage's tag." in saved and "when you retrain" not in saved
    # The same themes with another stance are not the correction yet.
    with Corpus.open(work).transaction() as con:
        con.execute("UPDATE tags SET stance = 'positive' WHERE passage_id = ?", (pid,))
    at = run(work, monkeypatch, page="label", pid=pid)
    [saved] = [i.value for i in at.info if i.value.startswith("Your correction, saved")]
    assert "It becomes the passage's tag when you retrain" in saved


def test_a_correction_is_not_said_to_lose_its_themes_while_the_codebook_is_unreadable(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A codebook with a typo has no themes to read: that is no theme taken out of it.
    from textmine.codebook import PACKAGED_CODEBOOK

    work, _ = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"])
    with Corpus.open(work).reading() as con:
        pid = con.execute("SELECT passage_id FROM labels").fetchone()[0]
    (work / "codebook.yaml").write_text(
        PACKAGED_CODEBOOK.read_text().replace('"local offer"', '"local (offer"', 1))
    at = run(work, monkeypatch, page="label", pid=pid)
    [saved] = [i.value for i in at.info if i.value.startswith("Your correction, saved")]
    assert "no longer in the codebook" not in saved and "themes none;" not in saved


def test_a_correction_keeps_a_theme_the_model_gave_that_it_was_not_offered(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A theme added to the codebook after the correction was not judged by it: the form
    # starts with the model's tag of that theme kept beside the correction's.
    from sendlens import appdata as ad

    work = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(work).reading() as con:
        pid = con.execute("SELECT passage_id FROM tags WHERE themes = '[\"health_input\"]'"
                          " LIMIT 1").fetchone()[0]
    ad.save_label(str(work), pid, ["ehc_plans"], "negative", offered=["ehc_plans"])
    at = run(work, monkeypatch, page="label", pid=pid)
    assert at.multiselect(key=f"lt-{pid}").value == ["ehc_plans", "health_input"]


def test_a_passage_s_opening_has_an_ellipsis_only_when_cut_short() -> None:
    from sendlens.ui.label import opening

    assert opening("a" * 70, 70) == "a" * 70
    assert opening("a" * 71, 70) == "a" * 70 + "…"


def test_a_theme_chosen_on_export_is_kept_in_the_link(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The link (and the downloads' About sheet) reproduces the view chosen in the controls.
    at = run(corpus_dir, monkeypatch, page="export")
    at.selectbox(key="x_pt").set_value("ehc_plans").run()
    assert at.query_params["x_pt"] in ("ehc_plans", ["ehc_plans"])


def test_the_theme_explorer_opens_on_the_first_themes_passages(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not on "Type words to search all passages": a first view with nothing in it.
    from textmine.codebook import load_codebook

    at = run(corpus_dir, monkeypatch, page="themes")
    assert at.selectbox(key="theme").value == load_codebook().theme_ids[0]
    assert "Passages" in figures_of(at)  # its figures, and its passages (if any)
    assert "Type words to search" not in texts(at)


def test_a_link_to_an_unknown_page_leaves_the_link_with_the_page_shown(
        corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Said to be ignored, but kept in the address bar: a link shared from it carried it on.
    at = run(corpus_dir, monkeypatch, page="nonsense")
    assert at.title[0].value == "Overview"
    assert at.query_params["page"] in ("overview", ["overview"])


# --- appdata's queries called directly (no AppTest): what the pages are drawn from -------


def test_a_letter_with_no_inspection_dates_is_dated_by_its_publication_first() -> None:
    # As the library dates it: the publication, and only without one the letter's own date.
    from sendlens import appdata as ad

    row = {"inspection_start": None, "published": "2017-03-02", "letter_date": "2017-02-20"}
    assert ad.when(row) == "published 2017-03-02"
    assert ad.when({**row, "published": None}) == "dated 2017-02-20"
    assert ad.when({**row, "published": None, "letter_date": None}) == "undated"


def _overview_of_copy(corpus_dir: Path, tmp_path: Path, sql: str) -> dict[str, pd.DataFrame]:
    """The Overview's tables of a copy of the corpus with `sql` run on one of its letters."""
    from sendlens import appdata as ad

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute(sql + " WHERE letter_id = (SELECT min(letter_id) FROM letters)")
    return ad.overview(str(copy), ad.stamp(copy))


def test_the_date_filters_span_letters_dated_by_publication_and_skip_unreadable_dates(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pickers' range came from the inspection dates alone: "to" the last inspection
    # (the default, so no filter) still counted a letter published after it with no
    # inspection dates. And a date typed into the database by hand stopped Compare areas
    # and the Theme explorer with a traceback.
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        last = con.execute("SELECT max(inspection_start) FROM letters").fetchone()[0]
        con.execute("UPDATE letters SET inspection_start = NULL, inspection_end = NULL,"
                    " published = '2031-06-02' WHERE letter_id ="
                    " (SELECT min(letter_id) FROM letters WHERE inspection_start != ?)", (last,))
    assert letters_caption(run(copy, monkeypatch, page="compare")).startswith("4 letters.")
    at = run(copy, monkeypatch, page="compare", c_to=last)
    assert letters_caption(at).startswith("3 letters.")
    assert "outside the letters' dates" not in texts(at)
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET inspection_start = '30/01/2024' WHERE"
                    " inspection_start = ?", (last,))
    for page in ("compare", "themes"):
        assert not run(copy, monkeypatch, page=page).exception, page


def test_the_overview_counts_a_letter_stating_no_outcome_as_not_stated(
        corpus_dir: Path, tmp_path: Path) -> None:
    # (A 2016 letter, a revisit): the Outcomes chart and the list of letters lost it.
    overview = _overview_of_copy(corpus_dir, tmp_path, "UPDATE letters SET outcome = NULL")
    by_outcome = overview["by_outcome"]
    assert by_outcome["letters"].sum() == 4
    assert by_outcome.loc[by_outcome["outcome_name"] == "not stated", "letters"].tolist() == [1]
    assert "not stated" in set(overview["recent"]["outcome_name"])


def test_the_overview_counts_an_undated_letter_as_undated(
        corpus_dir: Path, tmp_path: Path) -> None:
    # A letter with no date at all still counts among the letters by year.
    by_year = _overview_of_copy(
        corpus_dir, tmp_path, "UPDATE letters SET inspection_start = NULL, "
        "inspection_end = NULL, published = NULL, letter_date = NULL")["by_year"]
    assert by_year["letters"].sum() == 4
    assert by_year.loc[by_year["year"] == "undated", "letters"].tolist() == [1]


def test_a_date_filter_says_it_leaves_out_the_undated_letters(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Any date chosen dropped a letter with no date from the counts without a word, while
    # the Overview counts it ("undated").
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET inspection_start = NULL, inspection_end = NULL,"
                    " published = NULL, letter_date = NULL WHERE letter_id ="
                    " (SELECT min(letter_id) FROM letters)")
        last, dated = con.execute("SELECT max(inspection_start), min(area) FROM letters"
                                  " WHERE inspection_start IS NOT NULL").fetchone()
    to = (date.fromisoformat(last) - pd.Timedelta(days=1)).isoformat()  # all but the last
    note = "1 letter with no date (neither inspection nor publication) is left out"
    at = run(copy, monkeypatch, page="compare")
    assert letters_caption(at).startswith("4 letters.") and note not in texts(at)
    at = run(copy, monkeypatch, page="compare", c_to=to)
    assert letters_caption(at).startswith("2 letters.")
    assert note + " by the dates chosen." in texts(at)
    # Said on the Theme explorer too, and not when the other filters leave it out anyway.
    assert note in texts(run(copy, monkeypatch, page="themes", t_to=to))
    assert note not in texts(run(copy, monkeypatch, page="themes", t_to=to, t_areas=dated))


def test_a_stale_model_whose_label_files_are_gone_is_not_said_to_mend_by_retagging() -> None:
    # `sendlens tag` (and Retrain) stop rather than lose those labels: the page must not
    # tell the researcher to run them, whatever other reason comes first.
    from sendlens import appdata as ad

    gone = f"{ad.LABELS_GONE} (mine.jsonl) are no longer there: put the file back"
    for reasons in ([gone], ["codebook changed", gone]):
        said = ad.problem_text(("stale", reasons), markdown=True)
        assert said.startswith("The model behind these tags is stale") and "mine" in said
        assert "sendlens tag" not in said and "Retrain" not in said, said


def test_a_corpus_never_tagged_is_not_called_stale_nor_behind_on_tagging(
        corpus_dir: Path, tmp_path: Path) -> None:
    # Imported, never tagged, no model: the pages say to run `sendlens tag`, and a
    # downloaded table's About sheet has no warning of a stale model or of letters
    # imported since the last tag.
    from sendlens import appdata as ad
    from sendlens.ui.common import download_warnings

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("DELETE FROM tags")
        con.execute("DELETE FROM models")
    stamp = ad.stamp(copy)
    assert ad.status(str(copy), stamp).untagged[1] == 4  # every letter waits for a tag
    assert ad.problem_text(ad.model_problems(str(copy), stamp), markdown=True) == ""
    assert ad.untagged_text(ad.status(str(copy), stamp), markdown=True) == ""
    assert download_warnings(str(copy)) == ""


def test_a_search_of_no_word_finds_no_evidence(corpus_dir: Path) -> None:
    # Typed characters that make no word ("***") match nothing: not every passage.
    from sendlens import appdata as ad

    path, stamp = str(corpus_dir), ad.stamp(corpus_dir)
    every = ad.evidence(path, stamp, "health_input", None, ad.Filters())
    assert len(every) > 0
    assert ad.evidence(path, stamp, "health_input", None, ad.Filters(), search="***").empty
    found = ad.evidence(path, stamp, "health_input", None, ad.Filters(), search="health")
    assert 0 < len(found) <= len(every)


def test_a_search_keeps_to_the_chosen_dates_stance_section_and_themes(corpus_dir: Path) -> None:
    # The Theme explorer's search and its figures count only what the filters leave.
    from sendlens import appdata as ad

    path, stamp = str(corpus_dir), ad.stamp(corpus_dir)
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    # Neither the first nor the last: a range ignoring either end finds more letters.
    day, area = con.execute("SELECT inspection_start, area FROM letters "
                            "ORDER BY inspection_start LIMIT 1 OFFSET 1").fetchone()
    # A region and an outcome that some letters have and others not.
    region, in_region = con.execute("SELECT region, count(*) FROM letters GROUP BY 1"
                                    " ORDER BY 2, 1 LIMIT 1").fetchone()
    outcome, with_outcome = con.execute("SELECT outcome, count(*) FROM letters GROUP BY 1"
                                        " ORDER BY 2, 1 LIMIT 1").fetchone()
    con.close()
    assert in_region < 4 and with_outcome < 4
    for chosen, letters in ((ad.Filters(regions=(region,)), in_region),
                            (ad.Filters(outcomes=(outcome,)), with_outcome),
                            (ad.Filters(areas=(area,)), 1)):
        assert ad.search_counts(path, stamp, "the", chosen)["letters"] == letters, chosen
    one_day = ad.Filters(date_from=day, date_to=day)  # both ends are in the range
    assert ad.search_counts(path, stamp, "the", one_day)["letters"] == 1
    assert set(ad.search_passages(path, stamp, "the", one_day)["area"]) == {area}
    negative = ad.search_counts(path, stamp, "the", ad.Filters(), stance="negative")
    assert negative["passages"] == negative["negative"] > 0 and negative["positive"] == 0
    strengths = ad.search_passages(path, stamp, "the", ad.Filters(sections=("strengths",)))
    assert len(strengths) and set(strengths["section"]) == {"strengths"}
    health = ad.search_passages(path, stamp, "the", ad.Filters(themes=("health_input",)))
    assert len(health) and all("health_input" in t for t in health["themes"])
    assert len(health) < ad.search_counts(path, stamp, "the", ad.Filters())["passages"]


def test_a_search_matching_passages_tagged_and_not_lists_them_all(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With a letter imported since the last tag, a search over all themes whose matches
    # held tagged and untagged passages stopped the Theme explorer with a TypeError.
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        letter = con.execute("SELECT min(letter_id) FROM letters").fetchone()[0]
        con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                    " WHERE letter_id = ?)", (letter,))
    at = run(copy, monkeypatch, page="themes", theme="(all)", q="health")
    listed = evidence_of(open_expander(at, "theme-table"))
    untagged = listed[listed["open"].str.contains(f"letter={letter}&", regex=False)]
    assert len(untagged) and len(listed) > len(untagged)
    assert set(untagged["themes"]) == {""} and untagged["stance"].isna().all()


def test_a_search_lists_the_best_matches_first_and_counts_untagged_ones(
        corpus_dir: Path, tmp_path: Path) -> None:
    from sendlens import appdata as ad

    copy = copy_of(corpus_dir, tmp_path / "c")
    con = sqlite3.connect(copy / "sendlens.db")
    best = [r[0] for r in con.execute(
        "SELECT p.passage_id FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid"
        " WHERE passages_fts MATCH 'health' ORDER BY bm25(passages_fts) LIMIT 5")]
    # A letter imported since the last tag: its matches are counted as untagged.
    letter = con.execute("SELECT min(letter_id) FROM letters").fetchone()[0]
    con.execute("DELETE FROM tags WHERE passage_id IN (SELECT passage_id FROM passages"
                " WHERE letter_id = ?)", (letter,))
    con.commit()
    waiting = con.execute(
        "SELECT count(*) FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid"
        " WHERE passages_fts MATCH 'health' AND p.letter_id = ?", (letter,)).fetchone()[0]
    con.close()
    path, stamp = str(copy), ad.stamp(copy)
    listed = ad.search_passages(path, stamp, "health", ad.Filters(), limit=5)
    assert listed["passage_id"].tolist() == best
    assert list(listed) == ad.SEARCH_COLUMNS  # what its download holds: no search rank
    counts = ad.search_counts(path, stamp, "health", ad.Filters())
    assert counts["untagged"] == waiting > 0
    assert sum(counts[s] for s in (*ad.STANCES, "untagged")) == counts["passages"]


def test_the_reader_highlights_only_the_chosen_themes_and_stances(corpus_dir: Path) -> None:
    from sendlens import appdata as ad

    path, stamp = str(corpus_dir), ad.stamp(corpus_dir)
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    letter, = con.execute("SELECT letter_id FROM passages JOIN tags USING (passage_id)"
                          " WHERE stance = 'negative' AND themes LIKE '%health_input%'"
                          " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()
    con.close()
    view = ad.letter_view(path, stamp, letter)
    p = view.passages
    themed = p[p["themes"].map(bool)]
    wanted = themed[(themed["stance"] == "negative")
                    & themed["themes"].map(lambda t: "health_input" in t)]
    assert 0 < len(wanted) < len(themed)
    page = ad.highlight_html(view, {}, themes=["health_input"], stances=["negative"])
    assert page.count("<mark ") == len(wanted)
    assert all(f'id="p-{pid}"' in page for pid in wanted["passage_id"])
    assert ad.first_highlighted(view, ["health_input"], ["negative"]) == wanted.sort_values(
        "char_start")["passage_id"].iloc[0]
    # With no choice, every passage with a theme (and none without).
    assert ad.highlight_html(view, {}).count("<mark ") == len(themed)


def test_no_page_says_run_tag_while_the_apps_own_retrain_is_retagging(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sidebar says a retrain is running; the pages must not also tell the researcher
    # to run `sendlens tag` for the tags it is replacing. A download still says so.
    import threading

    from sendlens import appdata as ad

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:  # `train` made a newer model current
        con.execute("UPDATE models SET is_current = 0")
        con.execute("INSERT INTO models VALUES ('test-2', ?, 'models/test-2', ?, 1)",
                    (now_iso(), json.dumps(current_meta())))
    release = threading.Event()
    monkeypatch.setattr(ad, "retrain", lambda path, progress=None: release.wait(60))
    path, stamp = str(copy), ad.stamp(copy)
    assert "older model" in ad.older_text(path, stamp)
    job = ad.start_retrain(path, 0)
    try:
        assert ad.older_text(path, stamp) == ""
        assert "older model" in ad.older_text(path, stamp, on_page=False)
    finally:
        release.set()
    assert job.finished.wait(60)
    assert "older model" in ad.older_text(path, stamp)  # it did not re-tag them after all


def test_a_correction_of_no_passage_or_stance_is_refused_and_one_removed_twice_said(
        corpus_dir: Path, tmp_path: Path) -> None:
    # Each a message on the Label page rather than a bad row in the corrections that the
    # next retrain (and `export labels`) would read, or a removal said done that was not.
    from sendlens import appdata as ad

    work, [label] = corrected_copy(corpus_dir, tmp_path, ["ehc_plans"])
    path = str(work)
    with Corpus.open(work).reading() as con:
        pid = con.execute("SELECT passage_id FROM labels").fetchone()[0]
    with pytest.raises(ad.AppDataError, match="unknown stance 'angry'"):
        ad.save_label(path, pid, ["ehc_plans"], "angry")
    with pytest.raises(ad.AppDataError, match="no passage 'nowhere-0001'"):
        ad.save_label(path, "nowhere-0001", [], "neutral")
    ad.delete_label(path, label)
    with pytest.raises(ad.AppDataError, match=f"no saved correction {label} "):
        ad.delete_label(path, label)
    with Corpus.open(work).reading() as con:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 0


def test_the_corpus_figures_count_an_area_inspected_twice_once(
        corpus_dir: Path, tmp_path: Path) -> None:
    from sendlens import appdata as ad

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET area = (SELECT min(area) FROM letters)"
                    " WHERE area = (SELECT max(area) FROM letters)")
    state = ad.status(str(copy), ad.stamp(copy))
    assert (state.letters, state.areas) == (4, 3)


def test_the_section_filter_offers_sections_in_the_order_of_a_letter(corpus_dir: Path) -> None:
    from sendlens import appdata as ad

    offered = ad.options(str(corpus_dir), ad.stamp(corpus_dir)).sections
    assert len(offered) > 2 and offered != tuple(sorted(offered))
    assert offered == tuple(s for s in ad.SECTIONS if s in offered)


def test_a_database_that_is_not_a_corpus_is_said_so_on_the_start_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another program's SQLite file named sendlens.db: a message, not a traceback.
    folder = tmp_path / "other"
    folder.mkdir()
    con = sqlite3.connect(folder / "sendlens.db")
    con.execute("CREATE TABLE notes (text)")
    con.commit()
    con.close()
    [error] = run(folder, monkeypatch).error
    assert "cannot be read: not a usable sendlens database" in error.value
    assert "no such table" in error.value


def test_a_correction_saved_before_sendlens_recorded_its_offer_reopens_as_saved(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A correction with no record of the themes its form offered: the model's themes are
    # not taken for ones added to the codebook since, and put back in the form.
    from sendlens import appdata as ad

    work = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(work).reading() as con:
        pid = con.execute("SELECT passage_id FROM tags WHERE themes LIKE '%health_input%'"
                          " LIMIT 1").fetchone()[0]
    ad.save_label(str(work), pid, [], "neutral")
    with Corpus.open(work).transaction() as con:
        con.execute("UPDATE labels SET themes_offered = NULL")
    again = run(work, monkeypatch, page="label", pid=pid)
    assert again.multiselect(key=f"lt-{pid}").value == []
    assert again.radio(key=f"ls-{pid}").value == "neutral"


def test_comparing_two_letters_keeps_them_in_the_order_chosen(
        corpus_dir: Path, facts: dict) -> None:
    # The Area page's comparison: the first letter's counts, the second's, and the change
    # from the first to the second (not the other way round).
    from sendlens import appdata as ad

    health = facts["health"]
    first, second = sorted(health, key=lambda area: health[area][0])[::len(health) - 1]
    assert health[first][0] < health[second][0]
    con = sqlite3.connect(corpus_dir / "sendlens.db")
    a, b = (con.execute("SELECT letter_id FROM letters WHERE area = ?", (area,)).fetchone()[0]
            for area in (first, second))
    con.close()
    diff = ad.compare_letters(str(corpus_dir), ad.stamp(corpus_dir), a, b).set_index("theme")
    row = diff.loc["health_input"]
    assert (row["passages_a"], row["passages_b"]) == (health[first][0], health[second][0])
    assert row["passages_change"] == health[second][0] - health[first][0] > 0


def test_a_theme_with_too_few_examples_is_said_only_while_the_model_is_current(
        corpus_dir: Path, tmp_path: Path) -> None:
    # A stale model's codebook may have been mended since: the stale warning (retrain)
    # is said instead of "check its patterns".
    from sendlens import appdata as ad
    from textmine.codebook import PACKAGED_CODEBOOK

    copy = copy_of(corpus_dir, tmp_path / "c")
    meta = current_meta()
    weak = {theme: 0 if theme == "health_input" else 100 for theme in meta["themes"]}
    meta["training"] = {"weak_theme_positives": weak}
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE models SET meta = ?", (json.dumps(meta),))
    said = ad.thin_text(str(copy), ad.stamp(copy))
    assert said.startswith("Theme health_input: its patterns match 0 sentences")
    assert "co_production" not in said
    (copy / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text().replace(
        "\n  negative:\n", '\n  negative:\n    - "edition 2 of no report"\n', 1))
    assert ad.model_problems(str(copy), ad.stamp(copy))[0] == "stale"
    assert ad.thin_text(str(copy), ad.stamp(copy)) == ""


def test_a_search_matching_a_letter_with_one_inspection_date_cites_it(
        corpus_dir: Path, tmp_path: Path) -> None:
    # Its missing end date is NaN beside the other letters' dates: the citations stopped
    # the search with "fromisoformat: argument must be str".
    from sendlens import appdata as ad
    from textmine.aggregate import format_dates

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        letter, start = con.execute("SELECT letter_id, inspection_start FROM letters"
                                    " ORDER BY letter_id LIMIT 1").fetchone()
        con.execute("UPDATE letters SET inspection_end = NULL WHERE letter_id = ?", (letter,))
    found = ad.search_passages(str(copy), ad.stamp(copy), "the", ad.Filters())
    mine = found[found["letter_id"] == letter]
    assert len(mine) and len(found) > len(mine)
    assert all(f", {format_dates(start, None)}, " in c for c in mine["citation"])


def test_a_search_matching_nothing_finds_nothing_and_counts_zero(corpus_dir: Path) -> None:
    # "No passage matches those words", not a KeyError or a ValueError on the page.
    from sendlens import appdata as ad

    path, stamp = str(corpus_dir), ad.stamp(corpus_dir)
    listed = ad.search_passages(path, stamp, "xylophone", ad.Filters())
    assert listed.empty and list(listed) == ad.SEARCH_COLUMNS
    counts = ad.search_counts(path, stamp, "xylophone", ad.Filters())
    assert set(counts.values()) == {0} and {"passages", "letters", "untagged"} <= set(counts)


def test_the_overview_gives_the_time_of_the_latest_import(
        corpus_dir: Path, tmp_path: Path) -> None:
    from sendlens import appdata as ad

    # Each letter its own time, the latest neither the first nor the last letter (the
    # import's own times fall in one or two seconds: which letter was latest was chance).
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        ids = [i for (i,) in con.execute("SELECT letter_id FROM letters ORDER BY letter_id")]
        for lid, month in zip(ids, (2, 4, 1, 3), strict=True):
            con.execute("UPDATE letters SET imported_at = ? WHERE letter_id = ?",
                        (f"2024-0{month}-01T09:30:00+00:00", lid))
    assert ad.status(str(copy), ad.stamp(copy)).last_import == "2024-04-01T09:30:00+00:00"


def _stale_copy(corpus_dir: Path, tmp_path: Path, *, model: dict[str, object]) -> Path:
    """A copy whose current model 'test-2' (meta: current_meta() and `model`) is newer
    than its tags and stale (its codebook edited since)."""
    from textmine.codebook import PACKAGED_CODEBOOK

    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE models SET is_current = 0")
        con.execute("INSERT INTO models VALUES ('test-2', ?, 'models/test-2', ?, 1)",
                    (now_iso(), json.dumps({**current_meta(), **model})))
    (copy / "codebook.yaml").write_text(PACKAGED_CODEBOOK.read_text().replace(
        "\n  negative:\n", '\n  negative:\n    - "edition 2 of no report"\n', 1))
    return copy


def test_a_stale_model_is_said_once_not_also_as_tags_of_an_older_model(
        corpus_dir: Path, tmp_path: Path) -> None:
    # `sendlens tag` mends both: one warning, the stale model's.
    from sendlens import appdata as ad

    copy = _stale_copy(corpus_dir, tmp_path, model={})
    stamp = ad.stamp(copy)
    assert ad.status(str(copy), stamp).older_tags > 0
    assert "stale" in ad.problem_text(ad.model_problems(str(copy), stamp))
    assert ad.older_text(str(copy), stamp) == ""


def test_a_stale_model_whose_label_file_is_gone_says_to_put_it_back(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sendlens import appdata as ad

    gone = str(tmp_path / "mine.jsonl")
    copy = _stale_copy(corpus_dir, tmp_path, model={"training": {"label_files": [gone]}})
    said = ad.problem_text(ad.model_problems(str(copy), ad.stamp(copy)))
    assert f"the hand labels it learnt from ({gone}) are no longer there" in said
    assert "sendlens tag" not in said
    # The Label page offers no retrain, which would stop rather than lose them.
    at = run(copy, monkeypatch, page="label")
    assert at.button(key="retrain").disabled
    assert "Put the hand labels back first" in " ".join(c.value for c in at.caption)


def test_compare_keeps_to_the_chosen_themes(corpus_dir: Path) -> None:
    from sendlens import appdata as ad

    table = ad.theme_table(str(corpus_dir), ad.stamp(corpus_dir), "area",
                           ad.Filters(themes=("health_input",)))
    assert len(table) and set(table["theme"]) == {"health_input"}


@pytest.mark.parametrize("stored", ["null", '["health_input"', "[null]"])
def test_tags_that_cannot_be_read_are_named_on_every_page_not_a_traceback(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: str) -> None:
    # A damaged or hand-edited database: Compare, Area profile and Export stopped with a
    # traceback (a theme None; "malformed JSON"). The passage is named and left out.
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        damaged, area = con.execute(
            "SELECT passage_id, l.area FROM tags JOIN passages USING (passage_id)"
            " JOIN letters l USING (letter_id) WHERE themes LIKE '%health_input%'"
            " ORDER BY passage_id LIMIT 1").fetchone()
        con.execute("UPDATE tags SET themes = ? WHERE passage_id = ?", (stored, damaged))
    said = "The tags of 1 passage cannot be read"
    for page in ("compare", "area", "export"):
        at = run(copy, monkeypatch, page=page, area=area)  # run() asserts no exception
        [note] = [w.value for w in at.warning if w.value.startswith(said)]
        assert damaged.replace("-", "\\-") in note
    # The Label page's list of what a retrain changed reads them as no theme.
    from sendlens import appdata

    assert appdata._tags_text((stored, "neutral")) == "neutral · no theme"


def test_an_area_profile_download_is_named_with_the_area_made_safe_for_a_file_name(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Compare cleaned its filters for a file name; the Area profile put the area's name in
    # as it is: "/" (a folder to the browser), "<" (refused on Windows), "&", spaces.
    from streamlit.delta_generator import DeltaGenerator

    copy = copy_of(corpus_dir, tmp_path / "c")
    odd = "Upper/Lower <Vale> & Wold"
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET area = ? WHERE letter_id = "
                    "(SELECT min(letter_id) FROM letters)", (odd,))
    names: list[str] = []
    real = DeltaGenerator.download_button
    monkeypatch.setattr(DeltaGenerator, "download_button", lambda self, label, data, **k: (
        names.append(k["file_name"]), real(self, label, data, **k))[1])
    run(copy, monkeypatch, page="area", area=odd)
    assert "area-Upper_Lower_Vale_Wold-against-peers.csv" in names, names
    assert not [n for n in names if re.search(r"[/<>& ]", n)], names


def test_the_export_page_names_a_missing_outcome_and_date_as_the_overview_does(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The themes table grouped them as "unknown", where the Overview says "not stated"
    # and "undated" of the same letters.
    copy = copy_of(corpus_dir, tmp_path / "c")
    with Corpus.open(copy).transaction() as con:
        con.execute("UPDATE letters SET outcome = NULL, inspection_start = NULL,"
                    " inspection_end = NULL, published = NULL, letter_date = NULL"
                    " WHERE letter_id = (SELECT min(letter_id) FROM letters)")
    for by, said in (("outcome", "not stated"), ("year", "undated")):
        [table, *_] = md_tables(run(copy, monkeypatch, page="export", x_by=by))
        assert said in {row[by.capitalize()] for row in table}, (by, table[:3])
