"""Stage 1: read documents (.txt, .md, .docx, .pdf, .odt, .vtt, .srt) into canonical text.

Canonical text is NFC-normalised, has no zero-width characters, and holds one paragraph (or speaker
turn) per block, blocks separated by a blank line. Later stages rely on that layout: anonymisation
never adds a blank line, so paragraph i of the anonymised text is paragraph i of the original and
per-paragraph attributes (such as VTT timestamps) stay aligned.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import warnings
import zipfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from .errors import IngestError

# A single document above this size is almost always a mistake (a log, a database dump); it is
# refused with a clear message rather than tying up a build for an hour. `qcode build
# --max-document-mb` raises the limit.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".odt", ".vtt", ".srt")
# Files in a corpus folder that describe the corpus rather than being part of it (the last four:
# the settings a build reads and the gold codings `qcode gold` writes there).
NON_DOCUMENT_NAMES = {"readme.md", "readme.txt", "planted_identifiers.txt",
                      "manifest.yaml", "codings.csv", "anonymise.yaml", "gold_codings.jsonl", "findings.yaml", "codebook.yaml"}
# What to save a file of an unsupported type as, where there is one obvious choice.
SAVE_AS = {".doc": ".docx"}

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

# "Klantmanager: ...", "Deelnemer 2: ...", "Amal: ...", "[PERSOON-3]: ...", "Mw. De Vries: ..."
SPEAKER_LABEL = re.compile(
    r"^(?P<label>(?:\[[A-Z]+-?\d*\]|[A-ZÀ-ÖØ-Þ\u0130][\w.'’\-]*)(?:[ \-](?:\[[A-Z]+-?\d*\]|[\w.'’\-]+)){0,3}"
    r"(?: \([^()\n:]{1,40}\))?)"        # "Tolk (Farid Azimi):", "Klantmanager (gemeente):"
    r"\s?:\s+(?=\S)"
)
# Labels that start a line with a colon but are not somebody speaking (minutes, forms).
NOT_SPEAKERS = {
    "actiepunt", "actiepunten", "besluit", "besluiten", "aanwezig", "afwezig", "afgemeld",
    "datum", "locatie", "plaats", "tijd", "notulist", "notulen", "onderwerp", "agenda",
    "opmerking", "conclusie", "afspraak", "afspraken", "let op", "toelichting", "bijlage",
    "bijlagen", "kenmerk", "status", "aan", "van", "cc", "betreft", "gast", "gasten", "nb",
    "n.b.", "vraag", "advies", "stand van zaken", "vervolg", "doel", "resultaat", "tel",
    "telefoon", "e-mail", "email", "adres", "website", "www", "http", "https",
    # minutes' action points and the next meeting, e-mail headers (Dutch and English)
    "actie", "acties", "actiehouder", "volgend overleg", "volgende vergadering", "volgende bijeenkomst",
    "afwezig met bericht", "afwezig met kennisgeving", "verzonden", "ontvangen", "from", "sent", "to",
    "subject", "date", "bcc", "rondvraag", "mededelingen",
    # a report's own labels: a case description, a summary, a note on method
    "casus", "casusbeschrijving", "samenvatting", "kader", "context", "achtergrond", "noot", "methode", "bron",
}


@dataclass
class Document:
    """One ingested document: canonical text plus what we know about where it came from."""

    path: Path
    text: str
    format: str
    content_hash: str
    paragraph_attrs: list[dict] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)     # by kind (LEFT_OUT_KINDS): {"header": 1}

    @property
    def paragraphs(self) -> list[str]:
        return self.text.split("\n\n")


# What a reader returns: paragraphs, their attributes, and what it left out by kind.
Read = tuple[list[str], list[dict], dict[str, int]]


def bare_label(label: str) -> str:
    """A speaker label without the bracket after it: "Tolk" of "Tolk (Farid Azimi)"."""
    return label.split(" (")[0]


def speaker_of(paragraph: str) -> tuple[str | None, int]:
    """The speaker label that opens a paragraph and where its text starts, or (None, 0)."""
    match = SPEAKER_LABEL.match(paragraph)
    if not match:
        return None, 0
    label = match.group("label").strip()
    bare = bare_label(label).lower().rstrip(".")       # "Opmerking (intern):" is no speaker either
    if bare in NOT_SPEAKERS or len(label) > 60 or label[-1] == ".":
        return None, 0
    return label, match.end()


def list_corpus_files(corpus_dir: Path) -> list[Path]:
    """Every document file under corpus_dir, sorted, skipping hidden files and corpus metadata."""
    return [path for path in _corpus_files(corpus_dir) if path.suffix.lower() in SUPPORTED_SUFFIXES]


def skipped_corpus_files(corpus_dir: Path) -> list[str]:
    """One line per file under corpus_dir that is of a type qcode cannot read, with what to do
    ("corpus/x/oud.doc (unsupported file type .doc; save it as .docx)"). Hidden files and corpus
    metadata are left out: they are skipped on purpose."""
    skipped = []
    for path in _corpus_files(corpus_dir):
        suffix = path.suffix.lower()
        if suffix in SUPPORTED_SUFFIXES:
            continue
        kind = f"unsupported file type {suffix}" if suffix else "no file extension"
        advice = f"save it as {SAVE_AS[suffix]}" if suffix in SAVE_AS else f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        skipped.append(f"{path} ({kind}; {advice})")
    return skipped


def _corpus_files(corpus_dir: Path) -> list[Path]:
    """Every file under corpus_dir, sorted, but hidden ones, those under a folder starting with _
    and the corpus metadata (NON_DOCUMENT_NAMES)."""
    files = []
    for path in sorted(Path(corpus_dir).rglob("*")):
        parts = path.relative_to(corpus_dir).parts
        if any(p.startswith((".", "_")) for p in parts) or not path.is_file():
            continue
        if path.name.lower() not in NON_DOCUMENT_NAMES:
            files.append(path)
    return files


def read_document(path: Path, max_bytes: int = MAX_DOCUMENT_BYTES, data: bytes | None = None) -> Document:
    """Read one file into a Document, raising IngestError with the file (and line) on failure.
    `data`: the file's bytes, when the caller has read them already (to hash them)."""
    path = Path(path)
    size = len(data) if data is not None else (path.stat().st_size if path.exists() else 0)
    if size > max_bytes:
        raise IngestError(path, f"{size / 1024 / 1024:.0f} MB is more than the limit of "
                                f"{max_bytes / 1024 / 1024:.0f} MB for one document; split it, or raise "
                                "the limit with qcode build --max-document-mb")
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise IngestError(path, f"unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        data = path.read_bytes() if data is None else data
    except OSError as exc:
        raise IngestError(path, f"cannot read file ({exc.strerror})") from exc
    if not data.strip():
        raise IngestError(path, "empty file: nothing to ingest")
    paragraphs, attrs, left_out = reader(path, data)
    paragraphs = [p for p in (normalise_text(p) for p in paragraphs)]
    kept = [(p, a) for p, a in zip(paragraphs, attrs) if p]
    if not kept:
        raise IngestError(path, "no text found in the document")
    return Document(
        path=path,
        text="\n\n".join(p for p, _ in kept),
        format=suffix.lstrip("."),
        content_hash=content_hash(data),
        paragraph_attrs=[a for _, a in kept],
        left_out=left_out,
    )


def content_hash(data: bytes) -> str:
    """A document's identity for the caches: the hash of the file's bytes."""
    return hashlib.sha256(data).hexdigest()


def normalise_text(text: str) -> str:
    """NFC, no zero-width characters, no line breaks or runs of spaces inside a paragraph."""
    text = unicodedata.normalize("NFC", text).translate(ZERO_WIDTH)
    text = text.replace("\u00a0", " ").replace("\t", " ")
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- plain text


def decode_bytes(path: Path, data: bytes) -> str:
    """Decode text bytes: BOMs, then strict UTF-8, then a confident legacy-encoding guess."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict_decode(path, data[3:], "utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict_decode(path, data, "utf-16")
    if b"\x00" in data[:4096]:
        raise IngestError(path, "binary data, not text (it contains NUL bytes); is this really a text file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = _guess_legacy_encoding(path, data, exc)
    controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\r\n\t\f")
    if controls > max(3, len(text[:20000]) // 100):
        raise IngestError(path, "binary data, not text (many control characters)")
    return text


def _strict_decode(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(path, f"line {line}: invalid {encoding} byte sequence; re-save the file as UTF-8") from exc


UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def _guess_legacy_encoding(path: Path, data: bytes, utf8_error: UnicodeDecodeError) -> str:
    """Not UTF-8: Dutch text files from the Word era are Windows-1252 (a superset of Latin-1).

    A file that mixes valid UTF-8 sequences with invalid bytes (a truncated or pasted-together
    file) is refused with the line of the first bad byte: guessing would garble it silently.
    """
    line = data[: utf8_error.start].count(b"\n") + 1
    if UTF8_MULTIBYTE.search(data):
        raise IngestError(path, f"line {line}: invalid UTF-8 (the file mixes UTF-8 with another encoding or is "
                                "truncated); re-save it as UTF-8")
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise IngestError(path, f"line {line}: not valid UTF-8 and the encoding could not be determined; "
                                "re-save the file as UTF-8") from exc
    if sum(1 for ch in text if ch in "ÿþÀÁõø") > max(5, len(text) // 50):
        raise IngestError(path, f"line {line}: not valid UTF-8 and the encoding could not be determined; "
                                "re-save the file as UTF-8")
    return text


def _read_plain(path: Path, data: bytes) -> Read:
    text = decode_bytes(path, data).replace("\r\n", "\n").replace("\r", "\n")
    if path.suffix.lower() == ".md":
        return *markdown_paragraphs(text), {}
    lines = text.split("\n")
    if _one_paragraph_per_line(lines):
        # Word's "Save as .txt" writes a paragraph per line and no blank lines: each line is one
        # (joining them had glued the agenda items of minutes to the paragraphs below them).
        lines = [line for raw in lines for line in (raw, "")]
    paragraphs = lines_to_paragraphs(lines)
    return paragraphs, [{} for _ in paragraphs], {}


def _one_paragraph_per_line(lines: list[str]) -> bool:
    """No blank line between paragraphs, and lines too long to be a text wrapped by hand."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if len(filled) < 3 or any(not line.strip() for line in lines[filled[0]:filled[-1]]):
        return False
    return sum(len(lines[i]) > 120 for i in filled) >= max(2, len(filled) // 5)


# YAML front matter: the file's metadata (author, e-mail, tags), not what was said.
FRONT_MATTER = re.compile(r"\A\ufeff?---[^\S\n]*\n.*?\n(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)", re.DOTALL)
MARKDOWN_HEADING = re.compile(r"^[^\S\n]{0,3}#{1,6}[^\S\n]+(.*?)[^\S\n]*#*[^\S\n]*$", re.MULTILINE)


def markdown_paragraphs(text: str) -> tuple[list[str], list[dict]]:
    """Paragraphs of a Markdown file: the front matter dropped, each `#` heading a paragraph of its
    own marked as a heading (context, not evidence: "## Ronde 3 – signalen naar het Rijk")."""
    text = strip_markdown(FRONT_MATTER.sub("", text, count=1))
    headings = set()

    def own_paragraph(match: re.Match) -> str:
        headings.add(match.group(1).strip())
        return "\n" + match.group(1) + "\n"
    text = MARKDOWN_HEADING.sub(own_paragraph, text)
    paragraphs = lines_to_paragraphs(re.sub(r"^>\s*", "", text, flags=re.MULTILINE).split("\n"))
    return paragraphs, [{"heading": True} if p in headings else {} for p in paragraphs]


def strip_markdown(text: str) -> str:
    """Markdown bold that would hide a speaker label: '**Tolk:** ...'."""
    return re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)


# A case note's or log's entry starts with its date: "ma 4/3: gebeld", "12-03-2024 huisbezoek".
DATED_ENTRY = re.compile(r"^(?:(?:ma|di|wo|do|vr|za|zo)\.?\s+)?\d{1,2}[-/.]\d{1,2}(?:[-/.](?:\d{4}|\d{2}))?(?:\s*:|\s+[a-z])",
                         re.IGNORECASE)


def lines_to_paragraphs(lines: list[str], wrapped: bool = False) -> list[str]:
    """Group lines into paragraphs: a blank line or a speaker label starts a new one.

    With wrapped=True (text extracted from PDF) a short numbered heading ("3. Signalen uit de
    praktijk") is a paragraph of its own.
    """
    width = max((len(line.rstrip()) for line in lines), default=0)
    paragraphs: list[str] = []
    current: list[str] = []

    def flush():
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for raw in lines:
        line = raw.strip()
        if not line:
            flush()
            continue
        starts_block = speaker_of(line)[0] is not None or re.match(r"^(\d+[.)]\s|[-*•]\s|#+\s)", line) \
            or DATED_ENTRY.match(line)
        if starts_block:
            flush()
        current.append(line.lstrip("#").strip() if line.startswith("#") else line)
        if wrapped and len(current) == 1 and re.match(r"^\d+[.)]\s", line) and line[-1] not in ".,;" and len(line) < 0.8 * width:
            flush()
    flush()
    return paragraphs


# ---------------------------------------------------------------- Word, ODF, PDF

# What a reader left out of a document that a reader of the file would see (or, for hidden text
# and tracked deletions, could see), in the order a build reports it: "1 header, 2 tracked deletions".
LEFT_OUT_KINDS = ("header", "footer", "comment", "footnote", "endnote", "tracked deletion", "hidden passage")


def describe_left_out(left_out: dict[str, int]) -> str:
    """"1 header, 1 comment, 2 tracked deletions": a document's left_out as a build prints it."""
    return ", ".join(f"{left_out[kind]} {kind}{'s' if left_out[kind] != 1 else ''}"
                     for kind in LEFT_OUT_KINDS if left_out.get(kind))


def _has_words(text: str) -> bool:
    """A header or footer holding only a page number is no loss worth reporting."""
    return re.search(r"[^\W\d_]", text) is not None


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
DOCX_NOTE_REFERENCES = {W + "commentReference": "comment", W + "footnoteReference": "footnote",
                        W + "endnoteReference": "endnote"}
# Inside a paragraph, not read: its properties, a content control's properties, and text a tracked
# change moved elsewhere (it is read where it went, in w:moveTo).
DOCX_SKIPPED = {W + "pPr", W + "sdtPr", W + "moveFrom"}


def _read_docx(path: Path, data: bytes) -> Read:
    import docx

    if not zipfile.is_zipfile(path):
        raise IngestError(path, "not a valid .docx file (it is not a ZIP archive); open and re-save it in Word")
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several types for damaged packages
        raise IngestError(path, f"damaged .docx file ({exc}); open and re-save it in Word") from exc
    # The text as Word shows it with tracked changes accepted, in reading order: a table stands
    # where it stands (a participant list between the title and the first turn), one paragraph per
    # row. Headers, footers, comments and notes are left out: they are the file's furniture, and
    # often carry an author's name. What was left out is counted, so a build can say so.
    left_out = _docx_headers_and_footers(document)
    blocks = [(text, attrs) for text, attrs in _docx_blocks(document.element.body, document, left_out) if text.strip()]
    return [text for text, _ in blocks], [attrs for _, attrs in blocks], dict(left_out)


def _docx_headers_and_footers(document) -> Counter:
    """The document's headers and footers that hold words."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    kinds = {RT.HEADER: "header", RT.FOOTER: "footer"}
    counts: Counter = Counter()
    for rel in document.part.rels.values():
        if rel.reltype in kinds and not rel.is_external:
            if _has_words("".join(t.text or "" for t in rel.target_part.element.iter(W + "t"))):
                counts[kinds[rel.reltype]] += 1
    return counts


def _docx_blocks(element, document, left_out: Counter) -> list[tuple[str, dict]]:
    """The paragraphs and table rows of the body (or a text box), in reading order."""
    blocks = []
    for child in _docx_block_elements(element):
        if child.tag == W + "tbl":
            blocks += _docx_table(child, document, left_out)
        else:
            text, boxes = _docx_paragraph(child, document, left_out)
            blocks.append((text, _docx_heading(child, document)))
            blocks += boxes
    return blocks


def _docx_block_elements(element):
    """The paragraphs (w:p) and tables (w:tbl) in element, those in block-level content controls
    (w:sdt, a "Respondent" field of a form) and custom XML too."""
    for child in element:
        if child.tag in (W + "p", W + "tbl"):
            yield child
        elif child.tag == MC + "AlternateContent":
            yield from _docx_block_elements(_docx_choice(child))
        elif not _docx_placeholder(child):
            yield from _docx_block_elements(child)


def _docx_heading(p, document) -> dict:
    from docx.text.paragraph import Paragraph

    style = Paragraph(p, document).style
    return {"heading": True} if DOCX_HEADING_STYLE.match((style.name if style is not None else "") or "") else {}


def _docx_paragraph(p, document, left_out: Counter) -> tuple[str, list[tuple[str, dict]]]:
    """A paragraph's text, and the blocks of its text boxes, read after it (a text box in an
    interview report often holds a case description)."""
    boxes: list = []
    text = _docx_inline_text(p, left_out, boxes)
    return text, [block for box in boxes for block in _docx_blocks(box, document, left_out)]


def _docx_inline_text(element, left_out: Counter, boxes: list) -> str:
    """The text of a paragraph as Word shows it with tracked changes accepted: inserted text,
    content controls, field results, hyperlinks and smart tags read; deleted and moved-away text
    and field codes not. python-docx's paragraph.text reads only the runs directly in the
    paragraph, so it lost inserted text and content controls. Text boxes go to `boxes`."""
    parts = []
    for child in element:
        if child.tag == W + "r":
            parts.append(_docx_run_text(child, left_out, boxes))
        elif child.tag == W + "del":
            if any((t.text or "").strip() for t in child.iter(W + "delText")):
                left_out["tracked deletion"] += 1
        elif child.tag == MC + "AlternateContent":
            parts.append(_docx_inline_text(_docx_choice(child), left_out, boxes))
        elif child.tag not in DOCX_SKIPPED and not _docx_placeholder(child):
            parts.append(_docx_inline_text(child, left_out, boxes))    # w:ins, w:sdt, w:fldSimple, w:hyperlink ...
    return "".join(parts)


def _docx_run_text(run, left_out: Counter, boxes: list) -> str:
    """A run's text (python-docx's: w:t, tabs and breaks; not a field code's w:instrText). Hidden
    text (w:vanish) is left out, as Word does not show it."""
    text = run.text
    vanish = run.find(f"{W}rPr/{W}vanish")
    if vanish is not None and vanish.get(W + "val", "true") not in ("0", "false", "off"):
        if text.strip():
            left_out["hidden passage"] += 1
        return ""
    for child in run:
        if child.tag in DOCX_NOTE_REFERENCES:
            left_out[DOCX_NOTE_REFERENCES[child.tag]] += 1
    boxes += _docx_text_boxes(run)
    return text


def _docx_text_boxes(element) -> list:
    """The text boxes (w:txbxContent) in a run: a drawing's, or a VML shape's."""
    boxes = []
    for child in element:
        if child.tag == W + "txbxContent":
            boxes.append(child)
        else:
            boxes += _docx_text_boxes(_docx_choice(child) if child.tag == MC + "AlternateContent" else child)
    return boxes


def _docx_choice(alternate):
    """What to read of an mc:AlternateContent: its first mc:Choice. The mc:Fallback repeats the
    same content for older readers (a text box as VML), so reading both read it twice."""
    return alternate[0] if len(alternate) else alternate


def _docx_placeholder(element) -> bool:
    """A content control showing its placeholder ("Klik of tik om tekst in te voeren"): a
    template's prompt, not text anybody wrote."""
    return element.tag == W + "sdt" and element.find(f"{W}sdtPr/{W}showingPlcHdr") is not None


# Word's built-in heading styles, in English and Dutch Word: "Heading 2", "Kop 2", "Title", "Titel".
DOCX_HEADING_STYLE = re.compile(r"^(?:Heading|Kop)\s*\d|^(?:Title|Titel|Subtitle|Ondertitel)$", re.IGNORECASE)


def _docx_table(tbl, document, left_out: Counter) -> list[tuple[str, dict]]:
    """One block per row, a merged cell once; a table nested in a cell and a cell's text boxes
    follow the row they stand in. A cell merged down several rows repeats its text in each, but
    what it holds besides is read and counted once."""
    from docx.table import Table

    blocks: list = []
    cells_read: dict = {}
    layout = None
    for number, row in enumerate(Table(tbl, document).rows):
        texts, after = [], []
        for tc in _unique_cells(row):
            if tc not in cells_read:
                cells_read[tc] = _docx_cell(tc, document, left_out)
                after += cells_read[tc][1]
            texts.append(cells_read[tc][0])
        layout = _transcript_layout(texts) if number == 0 else layout
        blocks += _table_row_blocks(texts, layout, header=number == 0)
        blocks += after
    return blocks


# A transcript laid out as a table: a column of speakers and one of what they said, or one of
# questions and one of answers. Its rows are turns ("Beleidsmedewerker: ..."), not a register.
TRANSCRIPT_COLUMNS = {("spreker", "tekst"), ("naam", "tekst"), ("wie", "wat"), ("spreker", "uitspraak"),
                      ("spreker", "inbreng"), ("deelnemer", "inbreng"), ("speaker", "text")}
QUESTION_COLUMNS = {("vraag", "antwoord"), ("vragen", "antwoorden"), ("question", "answer")}


def _transcript_layout(header: list[str]) -> str | None:
    columns = tuple(cell.strip().rstrip(":").lower() for cell in header)
    return "speakers" if columns in TRANSCRIPT_COLUMNS else "questions" if columns in QUESTION_COLUMNS else None


def _table_row_blocks(cells: list[str], layout: str | None, header: bool) -> list[tuple[str, dict]]:
    """A table row as blocks: one paragraph of its cells, or in a transcript table its turns (a
    question the interviewer's, the answer unlabelled, which the manifest gives its respondent)."""
    if layout is None or len(cells) != 2:
        return [(_row_text(cells), {})]
    if header:
        return []
    first, second = cells
    if layout == "speakers":
        return [(f"{first}: {second}" if first and second else first or second, {})]
    return [(text, {}) for text in (f"Interviewer: {first}" if first else "", second) if text]


def _unique_cells(row) -> list:
    """A row's cells (w:tc), a merged cell once (python-docx repeats it for every grid column it spans)."""
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(cell._tc)
    return cells


def _docx_cell(tc, document, left_out: Counter) -> tuple[str, list[tuple[str, dict]]]:
    """A cell's text, and the blocks to read after its row: nested tables and text boxes."""
    lines, after = [], []
    for child in _docx_block_elements(tc):
        if child.tag == W + "tbl":
            after += _docx_table(child, document, left_out)
        else:
            text, boxes = _docx_paragraph(child, document, left_out)
            lines.append(text)
            after += boxes
    return "\n".join(lines).strip(), after


def _row_text(cells: list[str]) -> str:
    """A table row as one paragraph, "" for a row with no text (not "|")."""
    return " | ".join(cells) if any(cells) else ""


def _read_odt(path: Path, data: bytes) -> Read:
    try:
        with zipfile.ZipFile(path) as archive:
            root = ElementTree.fromstring(archive.read("content.xml"))
            left_out = _odt_headers_and_footers(archive)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise IngestError(path, f"not a valid .odt file ({exc})") from exc
    body = root.find(f"{ODF_OFFICE}body/{ODF_OFFICE}text")
    blocks = [(text, attrs) for text, attrs in _odt_blocks(body if body is not None else root, left_out) if text.strip()]
    return [text for text, _ in blocks], [attrs for _, attrs in blocks], dict(left_out)


ODF_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
ODF_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
ODF_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"


def _odt_headers_and_footers(archive: zipfile.ZipFile) -> Counter:
    """The headers and footers with words in them, from styles.xml's master pages (style:header,
    style:footer-left, style:header-first, ...). They are only counted, so a missing or damaged
    styles.xml does not stop the document being read."""
    counts: Counter = Counter()
    try:
        styles = ElementTree.fromstring(archive.read("styles.xml"))
    except (KeyError, ElementTree.ParseError):
        return counts
    for page in styles.iter(ODF_STYLE + "master-page"):
        for part in page:
            kind = part.tag.removeprefix(ODF_STYLE).split("-")[0]
            if kind in ("header", "footer") and _has_words("".join(part.itertext())):
                counts[kind] += 1
    return counts


def _odt_blocks(element, left_out: Counter) -> list[tuple[str, dict]]:
    """Paragraphs and headings in reading order, a table one paragraph per row (as for .docx).
    Text deleted under track changes is kept apart in text:tracked-changes (what was inserted is
    ordinary text), so that is left out."""
    blocks = []
    for child in element:
        if child.tag in (ODF_TEXT + "p", ODF_TEXT + "h"):
            blocks.append((_odt_text(child, left_out), {"heading": True} if child.tag == ODF_TEXT + "h" else {}))
        elif child.tag == ODF_TABLE + "table":
            layout = None
            for number, row in enumerate(child.iter(ODF_TABLE + "table-row")):
                cells = [" ".join(_odt_text(p, left_out) for p in cell if p.tag in (ODF_TEXT + "p", ODF_TEXT + "h")).strip()
                         for cell in row if cell.tag == ODF_TABLE + "table-cell"]
                layout = _transcript_layout(cells) if number == 0 else layout
                blocks += _table_row_blocks(cells, layout, header=number == 0)
        elif child.tag == ODF_TEXT + "tracked-changes":
            deletions = child.findall(f"{ODF_TEXT}changed-region/{ODF_TEXT}deletion")
            if deletions:
                left_out["tracked deletion"] += len(deletions)
        elif child.tag != ODF_TEXT + "note":
            blocks += _odt_blocks(child, left_out)        # lists, sections
    return blocks


def _odt_text(element, left_out: Counter) -> str:
    """An element's text with ODF's spaces, tabs and line breaks, without its footnotes (their
    number glued "interviewer1Joost", and their text came twice) and comments (office:annotation:
    the reviewer's name, date and note ended up in the speaker's words)."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == ODF_TEXT + "s":
            parts.append(" " * int(child.get(ODF_TEXT + "c", "1")))
        elif child.tag == ODF_TEXT + "tab":
            parts.append("\t")
        elif child.tag == ODF_TEXT + "line-break":
            parts.append("\n")
        elif child.tag == ODF_TEXT + "note":
            left_out[child.get(ODF_TEXT + "note-class", "footnote")] += 1
        elif child.tag == ODF_OFFICE + "annotation":
            left_out["comment"] += 1
        elif child.tag != ODF_OFFICE + "annotation-end":
            parts.append(_odt_text(child, left_out))
        parts.append(child.tail or "")
    return "".join(parts)


def _read_pdf(path: Path, data: bytes) -> Read:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        with _quiet_pypdf():
            reader = PdfReader(str(path))
            # Layout mode keeps the blank line between paragraphs that plain extraction loses.
            pages = [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise IngestError(path, f"damaged PDF ({exc})") from exc
    pages, left_out = _without_running_lines(pages)
    text = "\n".join(pages)
    if len(text.split()) < 5:
        raise IngestError(path, "PDF has no text layer (a scan?); OCR it first, e.g. with ocrmypdf")
    paragraphs = lines_to_paragraphs(text.split("\n"), wrapped=True)
    return paragraphs, [{} for _ in paragraphs], left_out


def _without_running_lines(pages: list[str]) -> tuple[list[str], dict[str, int]]:
    """The pages without their running header and footer: a first or last line that recurs on at
    least half of the pages (numbers aside: "Verslag focusgroep – pagina 3 van 7"), as .docx and
    .odt leave their headers and footers out; a page number alone goes too."""
    if len(pages) < 2:
        return pages, {}
    lines = [page.split("\n") for page in pages]
    shape = lambda line: re.sub(r"\d+", "#", " ".join(line.split()))
    left_out = {}
    for kind, edge in (("header", _first_line), ("footer", _last_line)):
        edges = [edge(page) for page in lines]
        shapes = Counter(shape(page[i]) for page, i in zip(lines, edges) if i is not None)
        running = {s for s, n in shapes.items()
                   if n >= max(2, len(pages) / 2) or re.fullmatch(r"[\W#]*(?:(?:pagina|page|blz\.?)[\W#]*)?", s, re.I)}
        for page, i in zip(lines, edges):
            if i is not None and shape(page[i]) in running:
                page[i] = ""
        if any(_has_words(s) for s in running):
            left_out[kind] = 1
    return ["\n".join(page) for page in lines], left_out


def _first_line(lines: list[str]) -> int | None:
    return next((i for i, line in enumerate(lines) if line.strip()), None)


def _last_line(lines: list[str]) -> int | None:
    return next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)


@contextmanager
def _quiet_pypdf():
    """pypdf logs and warns about the damage it works around ("EOF marker not found") on lines of
    its own that name no file; qcode's error, which does, is the one message a user should see."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


# ---------------------------------------------------------------- transcripts

CUE_TIME = re.compile(
    r"(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})"
)
VOICE_TAG = re.compile(r"<v(?:\.[\w.]+)?\s+([^>]+)>")


def _read_transcript(path: Path, data: bytes) -> Read:
    """WebVTT / SRT: consecutive cues of one speaker become one turn with start and end time."""
    text = decode_bytes(path, data).replace("\r\n", "\n").replace("\r", "\n")
    turns: list[tuple[str | None, list[str], str, str]] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        timing_index = next((i for i, line in enumerate(lines) if CUE_TIME.search(line)), None)
        if timing_index is None:
            continue
        timing = CUE_TIME.search(lines[timing_index])
        cue_text = " ".join(lines[timing_index + 1:])
        speaker = None
        voice = VOICE_TAG.search(cue_text)
        if voice:
            speaker = voice.group(1).strip()
        cue_text = re.sub(r"</?[^>]+>", "", cue_text).strip()
        label, offset = speaker_of(cue_text)
        if speaker is None and label:
            speaker, cue_text = label, cue_text[offset:]
        if not cue_text:
            continue
        if turns and turns[-1][0] == speaker and speaker is not None:
            turns[-1][1].append(cue_text)
            turns[-1] = (speaker, turns[-1][1], turns[-1][2], timing["end"])
        else:
            turns.append((speaker, [cue_text], timing["start"], timing["end"]))
    if not turns:
        raise IngestError(path, "no cues with timestamps found; is this a WebVTT/SRT file?")
    paragraphs = [(f"{s}: " if s else "") + " ".join(parts) for s, parts, _, _ in turns]
    attrs = [{"start_time": start.replace(",", "."), "end_time": end.replace(",", ".")} for _, _, start, end in turns]
    return paragraphs, attrs, {}


READERS = {
    ".txt": _read_plain,
    ".md": _read_plain,
    ".docx": _read_docx,
    ".odt": _read_odt,
    ".pdf": _read_pdf,
    ".vtt": _read_transcript,
    ".srt": _read_transcript,
}
