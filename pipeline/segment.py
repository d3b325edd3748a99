"""Stage 3: cut an anonymised document into segments: speaker turn, then paragraph, then
sentence groups for long paragraphs. A document's title and the agenda items of minutes are
segments marked as headings (`attrs["heading"]`), and a table's rows of short cells (an attendance
or action list) as a register (`attrs["register"]`): shown for context, never coded.

Each segment has character offsets into the anonymised document text and a stable key: the hash
of document id, text and occurrence number, so that an unchanged segment keeps its key (and its
manual codings) across re-runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from .ingest import speaker_of

SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=[\"'“‘(]?[A-ZÀ-Þ\[0-9])")
AGENDA_HEADING = re.compile(r"^\d{1,2}[.)]\s+\S")


@dataclass
class Segment:
    key: str
    document_id: str
    seq: int
    paragraph: int
    speaker: str | None
    start: int          # offsets of `text` in the anonymised document text
    end: int
    text: str
    attrs: dict = field(default_factory=dict)


def segment_key(document_id: str, text: str, occurrence: int) -> str:
    normalised = " ".join(text.split()).casefold()
    return hashlib.sha1(f"{document_id}\x1f{normalised}\x1f{occurrence}".encode("utf-8")).hexdigest()[:16]


def segment_document(document_id: str, text: str, paragraph_attrs: list[dict] | None = None,
                     max_words: int = 150) -> list[Segment]:
    """Segments of one anonymised document, in reading order."""
    segments: list[Segment] = []
    seen: dict[str, int] = {}
    offset = 0
    agenda_item = None
    for number, paragraph in enumerate(text.split("\n\n")):
        attrs = dict(paragraph_attrs[number]) if paragraph_attrs and number < len(paragraph_attrs) else {}
        speaker, body_start = speaker_of(paragraph)
        if speaker is None and AGENDA_HEADING.match(paragraph) and len(paragraph.split()) <= 15 \
                and not paragraph.rstrip().endswith("."):
            agenda_item = paragraph.strip()
            attrs["heading"] = True
        elif number == 0 and speaker is None and _title_line(paragraph):
            attrs["heading"] = True         # "Gespreksverslag klantmanager inburgering": no evidence
        elif speaker is None and (_register_row(paragraph) or _contents_list(paragraph)):
            attrs["register"] = True        # "[PERSOON-10] | klantmanager | [TELEFOON]": no evidence either
        if agenda_item:
            attrs["agenda_item"] = agenda_item
        for start, end in _pieces(paragraph, body_start, max_words):
            piece = paragraph[start:end]
            normalised = " ".join(piece.split()).casefold()
            occurrence = seen.get(normalised, 0)
            seen[normalised] = occurrence + 1
            segments.append(Segment(
                key=segment_key(document_id, piece, occurrence), document_id=document_id,
                seq=len(segments), paragraph=number, speaker=speaker,
                start=offset + start, end=offset + end, text=piece, attrs=dict(attrs),
            ))
        offset += len(paragraph) + 2
    return segments


def _title_line(paragraph: str) -> bool:
    """A document's title: one capitalised line of a few words that ends in no punctuation (not a
    transcript's first line in lower case, nor a first sentence)."""
    line = paragraph.strip()
    return ("\n" not in line and 0 < len(line.split()) <= 15 and (line[0].isupper() or line[0] == "[")
            and not line.endswith((".", "!", "?", ":", ";", ",", "…", '"', "'", "”")))


def _register_row(paragraph: str) -> bool:
    """A table's row of short cells, as an attendance list or an action list has ("Wachttijden in
    kaart brengen | [PERSOON-6] | maart"), or a table's label: a register, not what someone said.
    A cell of a sentence or more ("Antwoord | De wachttijd is te lang voor ...") is evidence."""
    row = paragraph.strip()
    if " | " not in row and not row.endswith(" |"):
        return False
    return all(len(cell.split()) <= REGISTER_CELL_WORDS for cell in row.split("|"))


REGISTER_CELL_WORDS = 6
# A line of a report's table of contents: a heading (capitalised or numbered) and its page number
# ("3.1 Eigen verantwoordelijkheid .......... 12", "Bijlage 2 Geraadpleegde documenten 57"); a
# line of running text that happens to end in a number starts in lower case more often than not.
CONTENTS_LINE = re.compile(r"^[ \t]*[A-ZÀ-Þ0-9§][^\n]{2,90}?(?:[ \t]*[.·…_]{3,}[ \t]*|[ \t]+)\d{1,3}[ \t]*$")


def _contents_list(paragraph: str) -> bool:
    """A table of contents, as a PDF's text has it: three or more lines, most of them a heading
    with its page number. A list of headings is no evidence, though it names every theme."""
    lines = [line for line in paragraph.splitlines() if line.strip()]
    return len(lines) >= 3 and sum(1 for line in lines if CONTENTS_LINE.match(line)) >= 0.75 * len(lines)


def _pieces(paragraph: str, start: int, max_words: int) -> list[tuple[int, int]]:
    """The paragraph body, or groups of whole sentences of at most max_words words each."""
    body = paragraph[start:]
    if not body.strip():
        return []
    if len(body.split()) <= max_words:
        return [(start, len(paragraph))]
    bounds = [0] + [m.end() for m in SENTENCE_END.finditer(body)] + [len(body)]
    pieces, piece_start, words = [], 0, 0
    for left, right in zip(bounds, bounds[1:]):
        sentence_words = len(body[left:right].split())
        if words and words + sentence_words > max_words:
            pieces.append((start + piece_start, start + left))
            piece_start, words = left, 0
        words += sentence_words
    pieces.append((start + piece_start, len(paragraph)))
    return [(s, e - (len(paragraph[s:e]) - len(paragraph[s:e].rstrip()))) for s, e in pieces if paragraph[s:e].strip()]
