"""The small typed records that each pipeline step hands to the next."""

from __future__ import annotations

from dataclasses import dataclass, field

# Larger than any inspection letter (they are under 5 MB): neither downloaded nor read.
MAX_PDF_BYTES = 100 * 1024 * 1024

# Typographic quotes made ASCII: in the letters' clean text (as researchers and the gold
# labels type them), and in a search of it, so that a phrase pasted from a PDF matches.
STRAIGHT_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})

# The frameworks' codes; their formal names, as a citation gives them; and the short
# names the app's charts and filters use. One table each, so the two cannot drift.
FRAMEWORKS = ("send_2016", "revisit_2018", "area_send_2023", "monitoring_2023")
FRAMEWORK_LABELS = {
    "send_2016": "Local area SEND inspection (2016 framework)",
    "revisit_2018": "Local area SEND revisit (2016 framework)",
    "area_send_2023": "Area SEND inspection (2023 framework)",
    "monitoring_2023": "Area SEND monitoring inspection (2023 framework)",
}
FRAMEWORK_SHORT_NAMES = {
    "send_2016": "2016 joint local area SEND inspection",
    "revisit_2018": "2018 revisit",
    "area_send_2023": "2023 area SEND inspection",
    "monitoring_2023": "2023 monitoring inspection",
}
CANONICAL_SECTIONS = (
    "context",
    "experience",
    "strengths",
    "weaknesses",
    "actions",
    "main_findings",
    "outcome",
    "boilerplate",
)
# Outcomes, best first within each framework (the order of every table by outcome).
OUTCOME_NAMES = {
    "positive": "Positive experiences and outcomes",
    "inconsistent": "Inconsistent experiences and outcomes",
    "systemic_failings": "Widespread and/or systemic failings",
    "no_wsoa": "No written statement of action",
    "wsoa_required": "Written statement of action required",
    "sufficient_progress_all": "Sufficient progress in all weaknesses",
    "sufficient_progress_some": "Sufficient progress in some weaknesses",
    "sufficient_progress_none": "Sufficient progress in no weaknesses",
    "sufficient_progress": "Sufficient progress",
    "insufficient_progress": "Insufficient progress",
}
OUTCOMES = tuple(OUTCOME_NAMES)


@dataclass(frozen=True)
class Paragraph:
    """A block of clean text: a heading, a bullet or a running paragraph."""

    text: str
    page: int  # 1-based page where the paragraph starts
    kind: str = "text"  # "text", "bullet", "heading" (a short line set apart), "table"


@dataclass
class Section:
    canonical: str
    heading: str
    char_start: int
    char_end: int


@dataclass
class Letter:
    """Metadata of one letter or report, as parsed from its own text."""

    framework: str
    area: str
    title: str = ""
    inspection_start: str | None = None  # ISO dates
    inspection_end: str | None = None
    letter_date: str | None = None
    published: str | None = None
    previous_inspection: str | None = None
    outcome: str | None = None
    weaknesses_total: int | None = None
    weaknesses_progress: int | None = None
    next_inspection: str | None = None
    sections: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class Passage:
    seq: int
    section: str
    heading: str
    paragraph: int  # 1-based paragraph number within the letter's clean text
    char_start: int
    char_end: int
    text: str


@dataclass
class FetchRecord:
    """What the scraper knows of one published file."""

    file_id: str
    url: str
    provider_urn: str | None = None
    council: str | None = None
    label: str | None = None
    published: str | None = None
    retrieved_at: str | None = None
    sha256: str | None = None
    letter_id: str | None = None
    status: str = "found"
    error: str | None = None
