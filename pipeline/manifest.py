"""The corpus manifest (`<corpus>/manifest.yaml`): per-document attributes and municipality types.

A corpus without a manifest is fine: every attribute is then "unknown" and document ids are derived
from a hash of the file path (file names often name a person or a place, so they never reach the
database).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import IngestError, ManifestError
from .ingest import bare_label, decode_bytes

UNKNOWN = "onbekend"
# "I:" and "R:" are the transcriber's interviewer and respondent; "V:" the question.
INTERVIEWER_LABELS = {"interviewer", "interviewers", "interviewster", "onderzoeker", "onderzoekster", "onderzoekers",
                      "gespreksleider", "gespreksleidster", "moderator", "vraag", "i", "v", "int"}
DOCUMENT_KEYS = {"file", "id", "title", "kind", "date", "municipality", "language", "interpreter", "participants"}
KINDS = {"interview", "group_interview", "focus_group", "minutes", "field_notes", "case_notes", "email", "report", UNKNOWN}
MUNICIPALITY_KEYS = {"size_class", "region", "urbanisation", "type"}


@dataclass
class DocumentInfo:
    file: str
    id: str
    title: str = ""
    kind: str = UNKNOWN
    date: str = ""
    municipality: str | None = None
    language: str = UNKNOWN
    interpreter: bool = False
    participants: list[dict] = field(default_factory=list)


@dataclass
class Manifest:
    documents: dict[str, DocumentInfo]            # relative file path -> info
    municipalities: dict[str, dict]

    def info_for(self, relative: str, unlisted_id: str | None = None) -> DocumentInfo:
        """The manifest's entry for a file, or for a file it does not list one with the id qcode gave it."""
        return self.documents.get(relative) or DocumentInfo(file=relative, id=unlisted_id or default_document_id(relative))


def default_document_id(relative: str) -> str:
    """The id a manifest entry without `id` gets (and, before session 14, any unlisted file): the
    hash of its file name. Anyone can compute it for a guessed name ("Dalfsen/focusgroep_Lubbers.pdf"),
    so a file the manifest does not list now gets a `content_document_id`."""
    return "doc-" + hashlib.sha1(relative.encode("utf-8")).hexdigest()[:8]


def content_document_id(content_hash: str) -> str:
    """The id of a file the manifest does not list: from its bytes, not its name, so that it gives
    away no name (only someone who has the file can compute it) and stays when the file moves."""
    return "doc-" + content_hash[:8]


def load_manifest(corpus_dir: Path) -> Manifest:
    path = Path(corpus_dir) / "manifest.yaml"
    if not path.exists():
        return Manifest({}, {})
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ManifestError(f"{path}:{mark.line + 1 if mark else '?'}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    documents, ids = {}, set()
    for number, item in enumerate(data.get("documents") or [], start=1):
        if not isinstance(item, dict) or "file" not in item:
            raise ManifestError(f"{path}: document entry {number} has no 'file'")
        unknown = set(item) - DOCUMENT_KEYS
        if unknown:
            raise ManifestError(f"{path}: document {item['file']!r}: unknown keys {sorted(unknown)}")
        info = DocumentInfo(
            file=item["file"], id=str(item.get("id") or default_document_id(item["file"])),
            title=str(item.get("title") or ""), kind=str(item.get("kind") or UNKNOWN),
            date=str(item.get("date") or ""), municipality=item.get("municipality"),
            language=str(item.get("language") or UNKNOWN), interpreter=bool(item.get("interpreter")),
            participants=list(item.get("participants") or []),
        )
        if info.kind not in KINDS:
            raise ManifestError(f"{path}: document {info.file!r}: kind {info.kind!r} is not one of {sorted(KINDS)}")
        if info.id in ids:
            raise ManifestError(f"{path}: document id {info.id!r} is used twice")
        ids.add(info.id)
        documents[info.file] = info
    municipalities = dict(data.get("municipalities") or {})
    for name, attrs in municipalities.items():
        unknown = set(attrs or {}) - MUNICIPALITY_KEYS
        if unknown:   # a study's own grouping would otherwise vanish without a word
            raise ManifestError(f"{path}: municipality {name!r}: unknown keys {sorted(unknown)}; qcode reads "
                                f"{sorted(MUNICIPALITY_KEYS)} (put your own grouping in 'type', which is free text)")
    return Manifest(documents, municipalities)


def role_typos(manifest: Manifest) -> list[str]:
    """Roles that look like a misspelling of a more frequent one ("klantmanger" beside
    "klantmanager"): every distinct role is a category of its own in the triangulation."""
    counts = Counter(str(p.get("role")) for info in manifest.documents.values() for p in info.participants if p.get("role"))
    warnings = []
    for role, n in sorted(counts.items()):
        likely = [other for other in difflib.get_close_matches(role, list(counts), n=3, cutoff=0.85)
                  if other != role and counts[other] > n]
        if likely:
            warnings.append(f"manifest.yaml: role {role!r} ({n}x) looks like {likely[0]!r} ({counts[likely[0]]}x); "
                            "roles are counted as written")
    return warnings


def role_for(speaker: str | None, info: DocumentInfo, participants_by_label: dict[str, dict]) -> tuple[str, dict | None, bool]:
    """(role category, participant, interpreted) for a speaker label of a document."""
    participant = participants_by_label.get(speaker) or participants_by_label.get(bare_label(speaker or ""))
    if participant:    # "Aanbieder 1 ([PERSOON-2], directeur):" is the manifest's "Aanbieder 1"
        return participant.get("role") or UNKNOWN, participant, False
    label = (speaker or "").lower()
    if label.split(" ")[0] in INTERVIEWER_LABELS:
        return "interviewer", None, False
    if label.startswith("tolk"):
        if info.kind == "group_interview":   # the interpreter speaks for the group
            return _group_role(info) or "tolk", None, True
        return "tolk", None, False
    if speaker is None:
        unlabelled = [p for p in info.participants if not p.get("speaker")]
        if unlabelled:
            return unlabelled[0].get("role") or UNKNOWN, None, False
        if info.kind == "minutes":
            return "notulen", None, False
        respondents = [p for p in info.participants if (p.get("role") or "").lower() != "interviewer"]
        if info.kind == "interview" and len(respondents) == 1:
            # an interview with one respondent: what no label gives the interviewer is the respondent's
            # (the answers of a question-and-answer table, an interview report's paragraphs)
            return respondents[0].get("role") or UNKNOWN, None, False
    return UNKNOWN, None, False
    return UNKNOWN, None, False


def _group_role(info: DocumentInfo) -> str | None:
    """The role a group interview's participants share (statushouders, parents), if one."""
    roles = {p.get("role") for p in info.participants} - {None, "", UNKNOWN, "interviewer", "tolk"}
    return roles.pop() if len(roles) == 1 else None


@dataclass
class CodingRow:
    line: int
    document: str
    quote: str
    codes: list[str]
    coder: str
    decision: str


def load_codings_file(path: Path) -> list[CodingRow]:
    """Human codings a researcher keeps in the corpus (`codings.csv`): document, quote, codes, coder.

    `codes` is a ';'-separated list; an empty `codes` records that the coder read the segment and
    gave it no code. An optional `decision` column takes add (default), confirm or reject.
    """
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    try:    # as the documents are read: Excel saves CSV in Windows-1252, and with ';' in Dutch settings
        text = decode_bytes(path, path.read_bytes())
    except IngestError as exc:
        raise ManifestError(str(exc)) from exc
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    missing = {"document", "quote", "codes", "coder"} - set(reader.fieldnames or [])
    if missing:
        raise ManifestError(f"{path}:1: missing columns {sorted(missing)} (columns are separated by commas, "
                            f"or by semicolons as Excel saves them in Dutch settings)")
    for line, row in enumerate(reader, start=2):
        decision = (row.get("decision") or "add").strip() or "add"
        if decision not in ("add", "confirm", "reject"):
            raise ManifestError(f"{path}:{line}: decision {decision!r} must be add, confirm or reject")
        if not (row.get("quote") or "").strip():
            raise ManifestError(f"{path}:{line}: empty quote")
        rows.append(CodingRow(line, row["document"].strip(), " ".join(row["quote"].split()),
                              [c.strip() for c in (row.get("codes") or "").split(";") if c.strip()],
                              (row.get("coder") or "").strip() or "onbekend", decision))
    return rows
