"""Stage 5: the SQLite database (sqlite-utils). The only pipeline module that touches SQL.

The database shape is declared once below and applied by the re-runnable `ensure_db_shape(db)`.
Tables a researcher writes to through the workbench (manual codings, memos, quote status) are
carried over from the previous database on every build and never replaced.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import sqlite_utils

# The segment's role and document attributes are copied into segment_codes (see below), so that
# the matrices and finding counts group one indexed table instead of joining 100,000s of rows.
SEGMENT_ATTRIBUTES = ("document_id", "role", "kind", "municipality", "municipality_type", "size_class", "region",
                      "urbanisation")

TABLES = {
    "runs": {
        "columns": {"id": int, "started": str, "finished": str, "status": str, "codebook_hash": str,
                    "model_version": str, "corpus_hash": str, "counts": str, "timings": str, "qcode_version": str,
                    "codes": str},       # JSON {code id: {rules, description}: hashes}, for `qcode diff`
        "pk": "id",
    },
    "municipalities": {
        "columns": {"id": str, "size_class": str, "region": str, "urbanisation": str, "type": str},
        "pk": "id",
    },
    "documents": {
        "columns": {"id": str, "title": str, "kind": str, "date": str, "format": str, "municipality": str,
                    "size_class": str, "region": str, "urbanisation": str, "municipality_type": str,
                    "language": str, "interpreter": int, "words": int, "content_hash": str, "text": str},
        "pk": "id",
        "foreign_keys": [("municipality", "municipalities", "id")],
    },
    "participants": {
        "columns": {"id": str, "document_id": str, "speaker": str, "role": str, "route": str,
                    "gender": str, "age_band": str},
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id")],
    },
    "segments": {
        "columns": {"id": str, "document_id": str, "seq": int, "paragraph": int, "speaker": str,
                    "participant_id": str, "role": str, "interpreted": int, "start": int, "end": int,
                    "text": str, "lemmas": str, "agenda_item": str, "start_time": str, "end_time": str,
                    "attrs": str},
        "pk": "id",
        "foreign_keys": [("document_id", "documents", "id")],
    },
    "codes": {
        "columns": {"id": str, "parent": str, "theme": str, "depth": int, "label": str, "colour": str,
                    "definition": str, "include": str, "exclude": str, "examples": str, "rules": str,
                    "content_hash": str, "sort": int,
                    "ancestors": str},    # JSON list, parent first: the codes a coding of this one implies
        "pk": "id",
    },
    # The codebook's uncoded_roles: turns that are context, not evidence (the workbench does not
    # count them as support for a finding).
    "uncoded_roles": {
        "columns": {"role": str},
        "pk": "role",
    },
    "codings": {
        "columns": {"id": str, "segment_id": str, "code_id": str, "theme": str, "source": str,
                    "rule_id": str, "score": float, "model_version": str, "run_id": int, "spans": str},
        "pk": "id",
        "foreign_keys": [("segment_id", "segments", "id"), ("code_id", "codes", "id")],
    },
    "segment_codes": {
        "columns": {"segment_id": str, "code_id": str, "theme": str, "source": str, "score": float,
                    "rule_id": str, "spans": str, **{column: str for column in SEGMENT_ATTRIBUTES}},
        "pk": ("segment_id", "code_id"),
    },
    "manual_codings": {
        "columns": {"id": str, "segment_id": str, "document_id": str, "code_id": str, "coder": str,
                    "decision": str, "created": str, "origin": str, "anchor_text": str, "status": str,
                    "note": str},
        "pk": "id",
    },
    # The run history as changes: per run, the codings it gained (with their source) and lost
    # against the run before. A run's codings are the sum of the changes up to it (RUN_CODINGS_SQL).
    "run_changes": {
        "columns": {"run_id": int, "segment_id": str, "code_id": str, "change": str, "source": str},
        "pk": ("run_id", "segment_id", "code_id"),
    },
    "findings": {
        "columns": {"id": str, "chapter": str, "statement": str, "value": str, "unit": str,
                    "population": str, "period": str, "source": str},
        "pk": "id",
    },
    "finding_codes": {
        "columns": {"finding_id": str, "code_id": str},
        "pk": ("finding_id", "code_id"),
        "foreign_keys": [("finding_id", "findings", "id"), ("code_id", "codes", "id")],
    },
    "memos": {
        "columns": {"id": str, "target_type": str, "target_id": str, "author": str, "created": str, "text": str,
                    "document_id": str},   # a segment memo's document, once its segment is gone (qcode forget)
        "pk": "id",
    },
    "quote_status": {
        "columns": {"segment_id": str, "status": str, "updated_by": str, "updated": str, "anchor_text": str,
                    "document_id": str},   # its document, once its segment is gone (qcode forget)
        "pk": "segment_id",
    },
}
# What supports a finding: segments of every role but the codebook's uncoded roles (the
# interviewer's question is context, even where a researcher coded it by hand), on the finding's
# page and in its exports alike.
SUPPORTING_ROLE = "role not in (select role from uncoded_roles)"

# Tables researchers write to, and the run history: copied from the previous database into every
# new build. The first four pass through Python (manual codings are re-anchored); run_changes is
# copied inside SQLite (`carry_run_history`).
RESEARCHER_TABLES = ("manual_codings", "memos", "quote_status", "runs")

# The codes that count for each segment: automatic codings the researchers did not decide on,
# plus the codes they added or confirmed (manual decisions win; a reject removes the code, a
# coder's "none", read and no code applies, removes every machine coding of the segment, and so
# does a coding from scratch: a coder who coded the segment outside the workbench, in codings.csv
# or another CAQDAS tool, gave it the codes she found, and a machine code she left out is not
# counted on the machine's word against hers; reviewers in the workbench see the machine's codes,
# so a code they leave standing counts), plus
# the themes those manual sub-codes imply, as a build's codings do (unless a coder rejected the
# theme there, or it is counted already). Kept
# as a table rather than a view because every workbench page joins it: as a view it made pages
# take seconds at 100x the demo corpus. `refresh_segment_codes` fills it after a build; triggers
# keep it current when a manual coding is written (workbench, import, late decisions).
# A coder's latest decision on a segment's code is the coder's: an add from codings.csv that the
# same coder rejects in the workbench later is withdrawn (the times say which came last; in the
# same second, the workbench's click came after the file was read).
LATEST_DECISION = """not exists (select 1 from manual_codings later where later.segment_id = {m}.segment_id
                   and later.code_id = {m}.code_id and later.coder = {m}.coder and later.status = 'anchored'
                   and (later.created > {m}.created or (later.created = {m}.created and later.origin = 'workbench'
                                                        and {m}.origin like 'file:%')))"""
# A manual coding that shows its coder coded the segment from scratch, outside the workbench
# (codings.csv, another CAQDAS tool): her codes are all the segment has. An add imported from a
# qcode export in which the machine's codes stood beside hers is a review (origin 'refi-review:'),
# like one made in the workbench; so is an add of unknown origin (databases older than origins).
FROM_SCRATCH_ORIGINS = ("file:", "refi:")
CODED_FROM_SCRATCH = ("({m}.decision = 'add' and ("
                      + " or ".join(f"{{m}}.origin like '{prefix}%'" for prefix in FROM_SCRATCH_ORIGINS) + "))")


def coded_from_scratch(row: dict) -> bool:
    """CODED_FROM_SCRATCH, for a manual coding read into Python."""
    return row["decision"] == "add" and str(row.get("origin") or "").startswith(FROM_SCRATCH_ORIGINS)


MACHINE_CODING_COUNTS = """not exists (select 1 from manual_codings decided where decided.segment_id = {c}.segment_id
                      and decided.code_id = {c}.code_id and decided.decision in ('reject', 'add', 'confirm')
                      and decided.status = 'anchored')
      and not exists (select 1 from manual_codings decided where decided.segment_id = {c}.segment_id
                      and decided.status = 'anchored'
                      and (decided.decision = 'none' or """ + CODED_FROM_SCRATCH.format(m="decided") + "))"
SEGMENT_CODES_SELECT = """
    select c.segment_id, c.code_id, c.theme, c.source, c.score, c.rule_id, c.spans, s.document_id, s.role,
           d.kind, d.municipality, d.municipality_type, d.size_class, d.region, d.urbanisation
    from codings c join segments s on s.id = c.segment_id join documents d on d.id = s.document_id
    where {codings_filter} and {machine_c}
    union all
    select m.segment_id, m.code_id, codes.theme, 'manual', 1.0, null, null, s.document_id, s.role,
           d.kind, d.municipality, d.municipality_type, d.size_class, d.region, d.urbanisation
    from manual_codings m join codes on codes.id = m.code_id join segments s on s.id = m.segment_id
    join documents d on d.id = s.document_id
    where {manual_filter} and m.decision in ('add', 'confirm') and m.status = 'anchored' and {latest_m}
      and m.rowid = (select min(m2.rowid) from manual_codings m2 where m2.segment_id = m.segment_id
                     and m2.code_id = m.code_id and m2.decision in ('add', 'confirm') and m2.status = 'anchored'
                     and {latest_m2})
    union all
    select m.segment_id, implied.value, codes.theme, 'manual', 1.0, null, null, s.document_id, s.role,
           d.kind, d.municipality, d.municipality_type, d.size_class, d.region, d.urbanisation
    from manual_codings m join codes on codes.id = m.code_id join json_each(codes.ancestors) implied
    join segments s on s.id = m.segment_id join documents d on d.id = s.document_id
    where {manual_filter} and m.decision in ('add', 'confirm') and m.status = 'anchored' and {latest_m}
      and not exists (select 1 from codings c where c.segment_id = m.segment_id and c.code_id = implied.value
                      and {machine_c})
      and not exists (select 1 from manual_codings m2 where m2.segment_id = m.segment_id and m2.code_id = implied.value
                      and m2.decision in ('reject', 'add', 'confirm') and m2.status = 'anchored')
    group by m.segment_id, implied.value
"""
def segment_codes_select(codings_filter: str, manual_filter: str) -> str:
    return SEGMENT_CODES_SELECT.format(codings_filter=codings_filter, manual_filter=manual_filter,
                                       machine_c=MACHINE_CODING_COUNTS.format(c="c"),
                                       latest_m=LATEST_DECISION.format(m="m"), latest_m2=LATEST_DECISION.format(m="m2"))


SEGMENT_CODES_COLUMNS = ("segment_id, code_id, theme, source, score, rule_id, spans, "
                         + ", ".join(SEGMENT_ATTRIBUTES))


def _refresh_one_segment(which: str) -> str:
    return (f"delete from segment_codes where segment_id = {which}.segment_id;\n"
            f"insert into segment_codes ({SEGMENT_CODES_COLUMNS}) "
            + segment_codes_select(f"c.segment_id = {which}.segment_id", f"m.segment_id = {which}.segment_id") + ";")


TRIGGERS = {
    "manual_codings_refresh_insert": f"after insert on manual_codings begin {_refresh_one_segment('new')} end",
    "manual_codings_refresh_delete": f"after delete on manual_codings begin {_refresh_one_segment('old')} end",
    "manual_codings_refresh_update": (f"after update on manual_codings begin {_refresh_one_segment('old')} "
                                      f"{_refresh_one_segment('new')} end"),
}

VIEWS = {
    "quotes": """
        select s.id as segment_id, s.document_id, d.kind, d.date, s.speaker, s.role, d.municipality,
               d.municipality_type, d.size_class, d.region, d.urbanisation, sc.code_id, sc.theme,
               sc.source, sc.score, s.text, coalesce(q.status, '') as quote_status
        from segment_codes sc
        join segments s on s.id = sc.segment_id
        join documents d on d.id = s.document_id
        left join quote_status q on q.segment_id = s.id
    """,
}

FTS_COLUMNS = ["text", "lemmas"]

# What coding runs changed, per code: the segments gained and lost from :run_a to :run_b (with the
# source of the coding gained, or of the one lost: rule, classifier or manual), the net
# of the changes recorded for the runs after the earlier of the two up to the later one (with
# :run_b before :run_a, the other way round). Used by `qcode diff`, the workbench's diff page and
# the `run_diff` canned query. Datasette passes parameters as text, hence the casts.
RUN_DIFF_SQL = """with net as (
  select segment_id, code_id,
    sum(case change when 'gained' then 1 else -1 end)
      * (case when cast(:run_b as integer) >= cast(:run_a as integer) then 1 else -1 end) as net
  from run_changes
  where run_id > min(cast(:run_a as integer), cast(:run_b as integer))
    and run_id <= max(cast(:run_a as integer), cast(:run_b as integer))
  group by segment_id, code_id
)
select n.code_id, case when n.net > 0 then 'gained' else 'lost' end as change, n.segment_id, s.text,
  (select c.source from run_changes c where c.segment_id = n.segment_id and c.code_id = n.code_id
     and c.change = 'gained' and c.run_id <= max(cast(:run_a as integer), cast(:run_b as integer))
   order by c.run_id desc limit 1) as source
from net n left join segments s on s.id = n.segment_id
where n.net != 0
order by 1, 2, 3"""

# The codings of one run (:run): those whose changes up to it add up to "gained".
RUN_CODINGS_SQL = """select segment_id, code_id from run_changes
where run_id <= cast(:run as integer)
group by segment_id, code_id
having sum(case change when 'gained' then 1 else -1 end) > 0"""


INDEXES = (("segments", ["document_id"]), ("codings", ["segment_id"]), ("codings", ["code_id"]),
           ("manual_codings", ["segment_id"]), ("run_changes", ["segment_id", "code_id"]),
           ("participants", ["document_id"]), ("finding_codes", ["code_id"]),
           ("segment_codes", ["code_id", "role", "segment_id"]), ("segment_codes", ["theme", "segment_id"]),
           ("segment_codes", ["source", "segment_id"]),
           *(("segment_codes", ["code_id", column]) for column in SEGMENT_ATTRIBUTES[2:]))


QUERY_PART = re.compile(r'"[^"]*"|\S+')
OPERATORS = {"AND", "OR", "NOT"}


def query_words(query: str) -> list[str]:
    """The searched words of a query, as spaCy tokenises them ("B1-route" is one word), without
    the operators AND, OR, NOT."""
    return [w for w in re.findall(r"\w+(?:[-']\w+)*", query) if w not in OPERATORS]


def fts_match(query: str, lemmas: list[str]) -> str | None:
    """The FTS5 expression for a search (None: no words). Each word matches as a prefix or by its
    lemma (`lemmas`: the query's words' lemmas, in order); a hyphenated word as its parts next to
    each other ("B1-route": "b1" then "route", not every word starting with "b1"); a "quoted
    phrase" exactly; AND, OR and NOT (in capitals) as in FTS5; words side by side must all occur."""
    lemma_of = dict(zip([w.lower() for w in query_words(query)], lemmas or []))
    parts, pending = [], None
    for part in QUERY_PART.findall(query):
        if part in OPERATORS:
            pending = part if parts else None          # an operator needs something before it
            continue
        if part.startswith('"'):
            words = re.findall(r"\w+", part.lower())
            term = f'"{" ".join(words)}"' if words else None
        else:
            term = " AND ".join(_word_match(w.lower(), lemma_of) for w in query_words(part)) or None
        if term:
            parts += [pending or "AND", f"({term})"] if parts else [f"({term})"]
        pending = None
    return " ".join(parts) or None


def _word_match(word: str, lemma_of: dict[str, str]) -> str:
    pieces = " ".join(re.findall(r"\w+", word))            # FTS5's tokenizer splits at "-" and "'"
    lemma = " ".join(re.findall(r"\w+", lemma_of.get(word, word)))
    return f'"{pieces}"* OR lemmas:"{lemma}"'


def open_db(path: Path) -> sqlite_utils.Database:
    db = sqlite_utils.Database(str(path))
    db.execute("pragma foreign_keys = off")
    # Deleted content is overwritten, so no freed page of the file keeps text of an earlier state.
    db.execute("pragma secure_delete = on")
    return db


def open_build_db(path: Path) -> sqlite_utils.Database:
    """A new database file for a build to fill. It is swapped in only when complete (and synced to
    disk then, see `replace_database`) and deleted otherwise, so no commit on the way needs to
    wait for the disk or keep a rollback journal: that was a third of the time to store at 100x."""
    db = open_db(path)
    db.execute("pragma synchronous = off")
    db.execute("pragma journal_mode = memory")
    return db


def ensure_db_shape(db: sqlite_utils.Database, full_text: bool = True, triggers: bool = True) -> None:
    """Create every table, index, view and (unless full_text=False: a build adds it after loading
    the segments, which is faster than indexing row by row) the full-text index, and (unless
    triggers=False: a build fills segment_codes in one statement, and row-by-row triggers on its
    4,000 manual codings took 9 s at 10x) the triggers; safe to run again."""
    if "segment_codes" in db.view_names():   # databases built before it became a table
        db["segment_codes"].drop()
    for name, spec in TABLES.items():
        table = db[name]
        if not table.exists():
            table.create(spec["columns"], pk=spec["pk"], foreign_keys=spec.get("foreign_keys"))
        else:
            missing = {c: t for c, t in spec["columns"].items() if c not in table.columns_dict}
            for column, column_type in missing.items():
                table.add_column(column, column_type)
    _create_indexes(db)
    if full_text:
        ensure_full_text(db)
    for name, sql in VIEWS.items():
        db.create_view(name, sql, replace=True)
    if triggers:
        ensure_triggers(db)


def ensure_triggers(db: sqlite_utils.Database) -> None:
    """The triggers that keep segment_codes current when a manual coding is written."""
    for name, body in TRIGGERS.items():
        db.execute(f"drop trigger if exists {name}")
        db.execute(f"create trigger {name} {body}")


def ensure_full_text(db: sqlite_utils.Database) -> None:
    """Full-text index over segment text and lemmas, kept current by triggers."""
    if not db["segments"].detect_fts():
        db["segments"].enable_fts(FTS_COLUMNS, tokenize="unicode61 remove_diacritics 2", create_triggers=True)


def _create_indexes(db: sqlite_utils.Database) -> None:
    for table, columns in INDEXES:
        db[table].create_index(columns, if_not_exists=True)


def refresh_segment_codes(db: sqlite_utils.Database) -> None:
    """Recompute the whole segment_codes table from codings and manual codings."""
    with db.conn:
        # Filling the table without its indexes and indexing afterwards is 2-3x faster.
        for index in db["segment_codes"].indexes:
            if not index.name.startswith("sqlite_autoindex"):
                db.execute(f"drop index [{index.name}]")
        db.execute("delete from segment_codes")
        db.execute(f"insert into segment_codes ({SEGMENT_CODES_COLUMNS}) "
                   + segment_codes_select("1 = 1", "1 = 1"))
    _create_indexes(db)


def copy_researcher_tables(source: Path) -> dict[str, list[dict]]:
    """Rows of the researcher tables of an existing database (empty when it does not exist)."""
    source = Path(source)
    if not source.exists():
        return {}
    old = sqlite_utils.Database(str(source))
    return {name: list(old[name].rows) for name in RESEARCHER_TABLES if old[name].exists()}


def segments_by_id(source: Path, ids: list[str]) -> dict[str, dict]:
    """Document and text of these segments in an existing database (to re-anchor what pointed at them)."""
    source = Path(source)
    if not ids or not source.exists():
        return {}
    old = sqlite_utils.Database(str(source))
    found = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found.update({row["id"]: row for row in old.query(
            f"select id, document_id, text from segments where id in ({','.join('?' * len(chunk))})", chunk)})
    return found


def carry_run_history(db: sqlite_utils.Database, source: Path) -> None:
    """Copy the run history from the previous database file, table to table inside SQLite. A file
    from before the history was kept as changes (a `run_codings` table with every run's full set
    of codings) has its runs turned into changes, run by run."""
    source = Path(source)
    if not source.exists():
        return
    db.execute("attach database ? as previous", [str(source)])
    try:
        tables = {r[0] for r in db.execute("select name from previous.sqlite_master where type = 'table'").fetchall()}
        with db.conn:
            if "run_changes" in tables:
                db.execute("insert or replace into run_changes (run_id, segment_id, code_id, change, source) "
                           "select run_id, segment_id, code_id, change, source from previous.run_changes")
            elif "run_codings" in tables:
                _changes_from_full_sets(db)
    finally:
        db.execute("detach database previous")


def _changes_from_full_sets(db: sqlite_utils.Database) -> None:
    runs = [r[0] for r in db.execute("select distinct run_id from previous.run_codings order by run_id").fetchall()]
    for run in runs:
        _record_changes(db, run, "select segment_id, code_id, source from previous.run_codings where run_id = :codings_run",
                        {"codings_run": run})


def record_run_changes(db: sqlite_utils.Database, run_id: int) -> None:
    """Add this run's changes: its codings (segment_codes) against those the history adds up to
    before it. A build that changes a few codings adds a few rows, not a full set."""
    _record_changes(db, run_id, "select segment_id, code_id, source from segment_codes", {})


def _record_changes(db: sqlite_utils.Database, run_id: int, codings_sql: str, params: dict) -> None:
    """Add a run's changes: the codings `codings_sql` selects (segment_id, code_id, source)
    against the last run's, as the history adds up to them."""
    db.execute("create temp table last_run (segment_id text, code_id text, primary key (segment_id, code_id))")
    try:
        db.execute("insert into last_run " + RUN_CODINGS_SQL, {"run": run_id - 1})
        db.execute(f"""insert into run_changes (run_id, segment_id, code_id, change, source)
            select :run, n.segment_id, n.code_id, 'gained', n.source from ({codings_sql}) n
            where not exists (select 1 from last_run o where o.segment_id = n.segment_id and o.code_id = n.code_id)
            union all
            select :run, o.segment_id, o.code_id, 'lost', null from last_run o
            where not exists (select 1 from ({codings_sql}) n where n.segment_id = o.segment_id and n.code_id = o.code_id)""",
                   {"run": run_id, **params})
    finally:
        db.execute("drop table last_run")


def save_rows(db: sqlite_utils.Database, table: str, rows: list[dict]) -> None:
    """Insert complete rows; a row with the primary key of an existing one replaces it."""
    if rows:
        db[table].insert_all(rows, pk=TABLES[table]["pk"], alter=True, replace=True, batch_size=500)


def next_run_id(runs: list[dict]) -> int:
    return max((r["id"] for r in runs), default=0) + 1


def to_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def replace_database(tmp_path: Path, target: Path) -> None:
    """Swap the finished database in atomically; readers see the old file or the new one."""
    tmp_path, target = Path(tmp_path), Path(target)
    with open(tmp_path, "rb+") as handle:    # built with synchronous off: on disk before the swap
        os.fsync(handle.fileno())
    for suffix in ("-wal", "-shm", "-journal"):
        leftover = Path(str(tmp_path) + suffix)
        if leftover.exists():
            leftover.unlink()
    tmp_path.replace(target)
    folder = os.open(target.parent, os.O_RDONLY)    # and the swap itself on disk
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def remove_quietly(path: Path) -> None:
    try:
        Path(path).unlink()
    except FileNotFoundError:
        pass

