"""`qcode forget`: erase what the database and the key still keep of text the corpus no longer has.

A participant who withdraws (or a document that must go) is taken out of the corpus by the
researcher: the file deleted, or the participant's turns cut from a group interview. An ordinary
build then keeps every decision on that text as "orphaned" (nothing is lost in silence), and the
key keeps the names it once replaced. Forgetting is the deliberate opposite, for erasure: a build
that drops the orphaned manual codings, report statuses and memos of the named documents instead
of keeping them, then removes from the key the document's file name and every name the new
database no longer shows, so that nobody can reveal them. What sits in the corpus folder itself
(a `codings.csv` line quoting the removed text) is the researcher's to delete; it is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from .errors import QcodeError

PSEUDONYM = re.compile(r"\b[A-Z]+-\d+\b")


@dataclass
class Forgetting:
    """What a build is to forget: the orphans of these documents, or every orphan."""

    documents: frozenset[str] = frozenset()
    all_orphans: bool = False
    files: frozenset[str] = frozenset()         # the documents' corpus-relative files, as the key or manifest name them
    counts: dict = field(default_factory=dict)  # what was forgotten, per kind
    by_hand: list = field(default_factory=list)  # what the researcher must still delete in the corpus folder
    forgotten_ids: set = field(default_factory=set)   # row ids dropped (a late copy must not bring them back)

    def covers(self, document_id: str | None) -> bool:
        return self.all_orphans or (document_id is not None and document_id in self.documents)


def check_documents(db_path: Path, key, documents: list[str]) -> None:
    """Refuse a document id that neither the database nor the key knows (a typo would forget nothing)."""
    known = set(key.documents) | set(key.document_ids.values())
    if Path(db_path).exists():
        db = sqlite_utils.Database(str(db_path))
        for table in ("documents", "manual_codings"):
            if db[table].exists():
                column = "id" if table == "documents" else "document_id"
                known |= {row[0] for row in db.execute(f"select distinct {column} from {table}") if row[0]}
    unknown = [d for d in documents if d not in known]
    if unknown:
        shown = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
        raise QcodeError(f"{db_path}: no document {', '.join(map(repr, unknown))} in the database or the key; "
                         f"nothing was forgotten (document ids: {shown or 'none'})")


def files_of(documents: frozenset[str], manifest, key, corpus_dir: Path) -> frozenset[str]:
    """The corpus-relative files the manifest or the key gave these document ids (a deleted file's
    `codings.csv` lines name its file, and it has no id in this build)."""
    files = {relative for relative, info in manifest.documents.items() if info.id in documents}
    files |= {relative for relative, doc_id in key.document_ids.items() if doc_id in documents}
    for doc_id in documents & set(key.documents):
        path = Path(key.documents[doc_id])
        if path.is_relative_to(corpus_dir):
            files.add(path.relative_to(corpus_dir).as_posix())
    return frozenset(files)


def drop_orphans(forgetting: Forgetting, manual: list[dict], previous: dict, segment_keys: set[str],
                 files_by_origin: dict[str, str], corpus_dir: Path) -> list[dict]:
    """The manual codings to keep; the orphaned report statuses and memos it covers are taken out
    of `previous` in place. A coding from codings.csv is read again on every build: it is reported
    for the researcher to delete, not dropped (`files_by_origin`: its line's document file, for
    a file that is gone and so has no id)."""
    kept = []
    for row in manual:
        origin = str(row.get("origin", ""))
        covered = forgetting.covers(row.get("document_id")) or files_by_origin.get(origin) in forgetting.files
        if row["status"] != "orphaned" or not covered:
            kept.append(row)
        elif origin.startswith("file:"):
            kept.append(row)
            message = f"{Path(corpus_dir) / origin[5:]}: a coding of text the corpus no longer has: delete the line"
            if message not in forgetting.by_hand:     # one line of the file, one row per code
                forgetting.by_hand.append(message)
        else:
            forgetting.forgotten_ids.add(row["id"])
            _count(forgetting, "manual_codings")
    for table, column in (("quote_status", "segment_id"), ("memos", "target_id")):
        rows = []
        for row in previous.get(table, []):
            orphaned = row[column] not in segment_keys and (table == "quote_status" or row.get("target_type") == "segment")
            if orphaned and forgetting.covers(row.get("document_id")):
                forgetting.forgotten_ids.add(row.get("id") or row[column])
                _count(forgetting, table)
            else:
                rows.append(row)
        previous[table] = rows
    return kept


def _count(forgetting: Forgetting, kind: str) -> None:
    forgetting.counts[kind] = forgetting.counts.get(kind, 0) + 1


def pseudonyms_shown(db: sqlite_utils.Database) -> set[str]:
    """Every pseudonym ([PERSOON-3], or GEMEENTE-1 as a document's municipality) the database holds
    in any text column."""
    shown: set[str] = set()
    for table in db.tables:
        if table.name.startswith("segments_fts"):
            continue
        columns = [c.name for c in table.columns if c.type.upper() in ("TEXT", "")]
        for column in columns:
            for (value,) in db.execute(f"select [{column}] from [{table.name}] where [{column}] glob '*[A-Z]-[0-9]*'"):
                shown.update(PSEUDONYM.findall(value))
    return shown


def forget_in_key(forgetting: Forgetting, key, db_path: Path, current_documents: set[str]) -> None:
    """Take out of the key the forgotten documents' file names and every name the database no
    longer shows (the counters stay, so no other pseudonym changes)."""
    for doc_id in [d for d in key.documents if d not in current_documents and forgetting.covers(d)]:
        del key.documents[doc_id]
        _count(forgetting, "key_documents")
    for relative in [r for r, d in key.document_ids.items() if d not in current_documents and forgetting.covers(d)]:
        del key.document_ids[relative]
    shown = pseudonyms_shown(sqlite_utils.Database(str(db_path)))
    for pseudonym in [p for p in key.entries if p not in shown]:
        del key.entries[pseudonym]
        _count(forgetting, "key_names")
