"""Golden files: each fixture letter beside the structured output the parser must give.

The fixtures (tests/fixtures/letters/*.txt, written for this project) are rendered
to awkward PDFs at test time. A missing `<name>.expected.json` is written from the
parser's output for a human to review, and the test fails until it is committed.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from fixtures.make_pdfs import build_fixture_pdfs

from scraper.extract import extract_pdf
from scraper.parse import parse_document
from textmine.segment import segment

FIXTURES = Path(__file__).parent / "fixtures" / "letters"
LETTERS = sorted(p.stem for p in FIXTURES.glob("*.txt") if p.stem != "not_send")
METADATA = (
    "framework", "area", "inspection_start", "inspection_end", "letter_date",
    "previous_inspection", "outcome", "weaknesses_total", "weaknesses_progress",
    "next_inspection",
)


@pytest.fixture(scope="session")
def fixture_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_fixture_pdfs(tmp_path_factory.mktemp("fixture-pdfs"))


def parsed_summary(pdf: Path) -> dict:
    doc = parse_document(extract_pdf(pdf).paragraphs)
    letter = doc.letter
    out = {key: getattr(letter, key) for key in METADATA}
    passages = segment(doc)
    out["sections"] = [
        {
            "canonical": s.canonical,
            "heading": s.heading or None,
            "passages": sum(s.char_start <= p.char_start < s.char_end for p in passages),
        }
        for s in letter.sections
    ]
    out["passages"] = [{"section": p.section, "text": p.text} for p in passages]
    return out


def _diff(expected: object, actual: object) -> str:
    a = json.dumps(expected, indent=2, ensure_ascii=False).splitlines()
    b = json.dumps(actual, indent=2, ensure_ascii=False).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "expected", "parsed", lineterm=""))


@pytest.mark.parametrize("name", LETTERS)
def test_fixture_letter_matches_its_golden_file(name: str, fixture_pdfs: dict[str, Path]) -> None:
    got = parsed_summary(fixture_pdfs[name])
    expected_path = FIXTURES / f"{name}.expected.json"
    if not expected_path.exists():
        expected_path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
        pytest.fail(f"wrote {expected_path.name}: review it and commit it")
    expected = json.loads(expected_path.read_text())

    meta_expected = {k: expected.get(k) for k in METADATA}
    meta_got = {k: got[k] for k in METADATA}
    assert meta_got == meta_expected, _diff(meta_expected, meta_got)

    # Each section's printed heading, which citations quote; none where a section opens
    # with a sentence (a cut sentence cited as a heading would send a reader looking for it).
    # And how many passages each holds, so a passage moving to another section shows.
    assert got["sections"] == expected["sections"], _diff(expected["sections"], got["sections"])

    passages = got["passages"]
    assert len(passages) >= expected["n_passages_min"], len(passages)
    texts = {(p["section"], p["text"]) for p in passages}
    for sample in expected["passages_sample"]:
        assert (sample["section"], sample["text"]) in texts, (
            f"missing passage ({sample.get('note', '')}):\n  {sample['text']}\n"
            "nearest:\n  " + "\n  ".join(
                difflib.get_close_matches(sample["text"], [t for _, t in texts], n=2, cutoff=0.5)
            )
        )
    for fragment in expected.get("passages_contain", []):
        assert any(
            fragment["substring"] in p["text"] and p["section"] == fragment["section"]
            for p in passages
        ), fragment
    joined = "\n".join(p["text"] for p in passages)
    for banned in expected["must_not_appear_in_passages"]:
        assert banned not in joined, f"{banned!r} leaked into a passage"


def test_importing_the_fixture_folder_skips_exactly_the_bad_inputs(
    fixture_pdfs: dict[str, Path], tmp_path: Path
) -> None:
    from sendlens.importer import import_paths
    from sendlens.store import Corpus

    corpus = Corpus.open(tmp_path / "corpus")
    folder = next(iter(fixture_pdfs.values())).parent
    report = import_paths(corpus, [folder], progress=False)
    status = {Path(o.path).stem: o.status for o in report.outcomes}
    expected_bad = json.loads((FIXTURES / "bad_inputs.expected.json").read_text())
    for name, want in expected_bad.items():
        assert status[name] == want["import_status"], (name, status[name])
    assert {n for n, s in status.items() if s == "imported"} == set(LETTERS)
    reasons = {Path(o.path).stem: o.reason for o in report.skipped}
    assert "encrypted" in reasons["encrypted"]
    assert "not a SEND inspection letter" in reasons["not_send"]
    with corpus.reading() as con:
        frameworks = {r[0] for r in con.execute("SELECT DISTINCT framework FROM letters")}
    assert frameworks == {"send_2016", "revisit_2018", "area_send_2023", "monitoring_2023"}
