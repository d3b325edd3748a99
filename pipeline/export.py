"""`qcode export`: coded quotes out of the database, into the report (Word, Markdown), a
spreadsheet (CSV, XLSX), binary code × document and code × participant matrices, and REFI-QDA
(`.qdc` codebook, `.qdpx` project; see `refi.py`). Everything exported is the anonymised text;
quotes are attributed by role and municipality type only. Exports open the database read-only.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from . import store
from .errors import QcodeError

FORMATS = ("md", "csv", "xlsx", "docx", "matrix", "participant-matrix", "qdc", "qdpx")
TEXT_FORMATS = ("md", "csv", "matrix", "participant-matrix")
# Media type and file extension of each format (for downloads from the workbench).
MEDIA_TYPES = {
    "md": ("text/markdown; charset=utf-8", "md"), "csv": ("text/csv; charset=utf-8", "csv"),
    "matrix": ("text/csv; charset=utf-8", "csv"), "participant-matrix": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "qdc": ("application/xml", "qdc"), "qdpx": ("application/zip", "qdpx"),
}
COLUMNS = ["segment_id", "document_id", "kind", "date", "role", "speaker", "municipality", "municipality_type",
           "size_class", "region", "urbanisation", "route", "gender", "age_band", "code_id", "code_path",
           "source", "score", "coder", "decision", "quote_status", "text", "memos"]


@dataclass
class ExportFilters:
    codes: list[str] = field(default_factory=list)
    finding: str | None = None
    role: str | None = None
    municipality_type: str | None = None
    source: str | None = None
    min_score: float | None = None
    confirmed_only: bool = False
    approved_only: bool = False
    limit: int | None = None
    query: str | None = None                             # full-text search, as on the workbench's search page
    lemmas: list[str] = field(default_factory=list)      # the query's lemmas ("taallessen" -> "taalles")
    quote_status: str | None = None                      # selected, sent, approved, withdrawn
    with_code: str | None = None                         # only segments that also carry this code (or a sub-code)
    memos: bool = True                                   # the team's memos under each quote (not for outside readers)


def filters_from_params(params, lemmas: list[str] | None = None) -> ExportFilters:
    """Export filters from a workbench URL's parameters (code, with_code, finding, role,
    municipality_type, source, status, q, min_score, limit); an empty value means no filter."""
    def get(key: str) -> str | None:
        return (params.get(key) or "").strip() or None

    try:
        min_score = float(get("min_score")) if get("min_score") else None
        limit = int(get("limit")) if get("limit") else None
    except ValueError as exc:
        raise QcodeError(f"min_score and limit must be numbers ({exc})") from exc
    return ExportFilters(codes=[get("code")] if get("code") else [], finding=get("finding"), role=get("role"),
                         municipality_type=get("municipality_type"), source=get("source"), min_score=min_score,
                         limit=limit, query=get("q"), lemmas=list(lemmas or []), quote_status=get("status"),
                         with_code=get("with_code"), memos=get("memos") not in ("0", "nee", "no"))


def open_database(db) -> sqlite_utils.Database:
    """A read-only connection to a database file (exports never write), or the open database given."""
    if isinstance(db, sqlite_utils.Database):
        return db
    path = Path(db)
    if not path.exists():
        raise QcodeError(f"{db}: no such database; run qcode build first")
    return sqlite_utils.Database(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True))


def select_quotes(db, filters: ExportFilters) -> tuple[list[dict], dict]:
    """One row per coded quote matching the filters, and the codebook (id -> code row).
    `db` is a database path or an open `sqlite_utils.Database`."""
    db = open_database(db)
    codes = {c["id"]: c for c in db.query("select * from codes order by sort")}
    wanted = _wanted_codes(db, codes, filters)
    _check_known_values(db, filters)
    where, params = ["1 = 1"], []
    if wanted is not None:
        where.append(f"sc.code_id in ({','.join('?' * len(wanted))})")
        params += sorted(wanted)
    if filters.finding:     # as its page counts it: an interviewer's turn supports no finding
        where.append(f"s.{store.SUPPORTING_ROLE}")
    if filters.with_code:
        also = _subtree(codes, filters.with_code)
        where.append(f"sc.segment_id in (select segment_id from segment_codes where code_id in ({','.join('?' * len(also))}))")
        params += also
    for column, value in (("s.role", filters.role), ("d.municipality_type", filters.municipality_type),
                          ("sc.source", filters.source)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if filters.min_score is not None:
        where.append("sc.score >= ?")
        params.append(filters.min_score)
    if filters.confirmed_only:
        where.append("exists (select 1 from manual_codings m where m.segment_id = sc.segment_id and m.code_id = sc.code_id "
                     "and m.decision = 'confirm' and m.status = 'anchored')")
    if filters.approved_only:
        where.append("q.status = 'approved'")
    if filters.quote_status:
        where.append("q.status = ?")
        params.append(filters.quote_status)
    else:   # a quote its speaker withdrew is no evidence: out of every export unless asked for by its status
        where.append("coalesce(q.status, '') != 'withdrawn'")
    match = store.fts_match(filters.query or "", filters.lemmas)
    if match:
        where.append("s.rowid in (select rowid from segments_fts where segments_fts match ?)")
        params.append(match)
    sql = f"""select s.id as segment_id, s.participant_id, s.document_id, d.kind, d.date, s.role, s.speaker, d.municipality,
        d.municipality_type, d.size_class, d.region, d.urbanisation, p.route, p.gender, p.age_band, sc.code_id,
        sc.source, sc.score, coalesce(q.status, '') as quote_status, s.text, s.agenda_item, s.interpreted,
        (select i.text from segments i where i.document_id = s.document_id and i.seq < s.seq and i.role = 'interviewer'
         order by i.seq desc limit 1) as question,
        (select group_concat(m.coder, ', ') from manual_codings m where m.segment_id = s.id and m.code_id = sc.code_id) as coder,
        (select group_concat(m.decision, ', ') from manual_codings m where m.segment_id = s.id and m.code_id = sc.code_id) as decision,
        (select group_concat(memo.author || ': ' || memo.text, ' | ') from memos memo where memo.target_type = 'segment' and memo.target_id = s.id) as memos
      from segment_codes sc join segments s on s.id = sc.segment_id join documents d on d.id = s.document_id
      left join participants p on p.id = s.participant_id left join quote_status q on q.segment_id = s.id
      join codes c on c.id = sc.code_id
      where {' and '.join(where)} order by c.sort, d.date, s.document_id, s.seq"""
    if filters.limit:
        sql += f" limit {int(filters.limit)}"
    rows = list(db.query(sql, params))
    for row in rows:
        row["code_path"] = _path(codes, row["code_id"])
    return rows, codes


def _wanted_codes(db, codes: dict, filters: ExportFilters) -> set[str] | None:
    wanted: set[str] | None = None
    if filters.codes:
        wanted = {c for code in filters.codes for c in _subtree(codes, code)}
    if filters.finding:
        linked = {r["code_id"] for r in db.query("select code_id from finding_codes where finding_id = ?", [filters.finding])}
        if not linked:
            raise QcodeError(f"no finding {filters.finding!r} (or it has no codes)")
        wanted = linked if wanted is None else wanted & linked
    return wanted


def _subtree(codes: dict, code_id: str) -> list[str]:
    """The code and its sub-codes (a sub-code's id starts with its parent's, codebook.py)."""
    if code_id not in codes:
        raise QcodeError(f"unknown code {code_id!r}; codes are: {', '.join(codes)}")
    return [c for c in codes if c == code_id or c.startswith(code_id + ".")]


def _check_known_values(db, filters: ExportFilters) -> None:
    """A role or municipality type the database does not have (a typo, a plural) would select
    nothing without a word: refuse it and list the ones there are, as for an unknown code."""
    for name, value, sql in (("role", filters.role, "select distinct role from segments order by 1"),
                             ("municipality type", filters.municipality_type,
                              "select distinct municipality_type from documents order by 1")):
        if not value:
            continue
        known = [row[0] for row in db.execute(sql).fetchall() if row[0]]
        if value not in known:
            raise QcodeError(f"unknown {name} {value!r}; {name}s are: {', '.join(known)}")


def _path(codes: dict, code_id: str) -> str:
    parts, code = [code_id], codes.get(code_id)
    while code and code.get("parent"):
        parts.append(code["parent"])
        code = codes.get(code["parent"])
    return " > ".join(reversed(parts))


def attribution(row: dict) -> str:
    """"— klantmanager, G40-gemeente": role and municipality type, never a name or a place."""
    role = row.get("role") or "onbekend"
    kind = row.get("municipality_type")
    return f"— {role}" + (f", {kind}" if kind and kind != "onbekend" else "")


def grouped(rows: list[dict]) -> dict[str, list[dict]]:
    """Quotes per code, in the codebook's order, each quote under its most specific codes: not
    under a theme too when it is listed under one of the theme's sub-codes (a report quoted one
    quote five times)."""
    listed = {(row["code_id"], row["segment_id"]) for row in rows}
    out: dict[str, list[dict]] = {}
    seen = set()
    for row in rows:
        key = (row["code_id"], row["segment_id"])
        under_a_sub_code = any(code.startswith(row["code_id"] + ".") and segment == row["segment_id"] for code, segment in listed)
        if key in seen or under_a_sub_code:
            continue
        seen.add(key)
        out.setdefault(row["code_id"], []).append(row)
    return out


def context_line(row: dict) -> str | None:
    """What the quote answers: the interviewer's last question before it, or the minutes' agenda item."""
    if row.get("agenda_item"):
        return f"Agendapunt: {row['agenda_item']}"
    question = " ".join(str(row.get("question") or "").split())
    if question:
        return "Vraag: " + (question if len(question) <= 300 else question[:297].rsplit(" ", 1)[0] + " …")
    return None


def source_line(row: dict) -> str:
    """The quote's attribution and where to find it again: "— klantmanager, G40-gemeente, via tolk (interview-03, segment …)"."""
    via = ", via tolk" if row.get("interpreted") else ""
    return f"{attribution(row)}{via} ({row['document_id']}, segment {row['segment_id']})"


def last_run(db) -> dict | None:
    runs = list(db.query("select id, finished, codebook_hash from runs where status = 'complete' order by id desc limit 1"))
    return runs[0] if runs else None


def provenance(run: dict | None, filters: ExportFilters, count: int) -> str:
    """Where an export comes from: the run (`last_run`), the codebook's hash, the filters. The run's
    time, not the export's, so that the same database exports the same text."""
    built = f"run {run['id']} ({run['finished']}), codeboek {run['codebook_hash']}" if run else "geen run"
    chosen = [f"{name}={value}" for name, value in (
        ("code", ",".join(filters.codes)), ("met code", filters.with_code), ("bevinding", filters.finding),
        ("rol", filters.role), ("gemeentetype", filters.municipality_type), ("bron", filters.source),
        ("status", filters.quote_status), ("zoekterm", filters.query), ("min. score", filters.min_score),
        ("alleen bevestigd", filters.confirmed_only or None), ("alleen goedgekeurd", filters.approved_only or None),
        ("maximaal", filters.limit)) if value not in (None, "")]
    withdrawn = "" if filters.quote_status else "; ingetrokken citaten weggelaten"
    return f"Uit qcode: {built}; filters: {', '.join(chosen) or 'geen'}{withdrawn}; {count} citaten."


def markdown_text(text) -> str:
    """Corpus or codebook text as Markdown shows it, never as markup: a report made from the .md
    (pandoc, a wiki, a site generator) must not run `<img onerror=...>` or follow
    `[x](javascript:...)` from a transcript."""
    escaped = re.sub(r"([\\`*_\[\]])", r"\\\1", html.escape(str(text or ""), quote=False))
    # a quote that opens with "5. " or "- " would render as a list item (an agenda item, a note's line)
    return re.sub(r"^(\d+)\.(?=\s)|^([-+#>])(?=\s)", lambda m: f"{m.group(1)}\\." if m.group(1) else f"\\{m.group(2)}",
                  escaped, flags=re.MULTILINE)


def to_markdown(rows: list[dict], codes: dict, finding: dict | None = None, origin: str = "") -> str:
    """As the Word report: under the finding (statement, figure, source) when one was asked for;
    each quote with what it answers, its attribution and memos."""
    md = markdown_text
    lines = ([f"# {md(finding['id'])}: {md(finding['statement'])}", "",
              f"**{md(finding['value'])} {md(finding['unit'])} · {md(finding['population'])} · {md(finding['period'])} · "
              f"bron: {md(finding['source'])}**", ""] if finding else ["# Gecodeerde citaten", ""])
    lines += [f"*{md(origin)}*", ""] if origin else []
    for code_id, quotes in grouped(rows).items():
        code = codes[code_id]
        lines += [f"## {md(code['label'])} (`{code_id}`)", "", f"*{md(code['definition'])}*", ""]
        for row in quotes:
            context = context_line(row)
            lines += [f"*{md(context)}*", ""] if context else []
            lines += [f"> {md(row['text'])}", ">", f"> {md(source_line(row))}"]
            lines += [">", f"> *Memo: {md(row['memos'])}*"] if row.get("memos") else []
            lines.append("")
    return "\n".join(lines)


# A spreadsheet takes a cell that starts with one of these as a formula (`=HYPERLINK(...)` in a
# quote); CSV cells get a leading apostrophe, as OWASP advises, XLSX cells are typed as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({c: spreadsheet_text(row.get(c)) for c in COLUMNS} for row in rows)
    return buffer.getvalue()


def to_matrix_csv(rows: list[dict], codes: dict, by: str = "document_id") -> str:
    """Binary code × document matrix (or × participant with by="participant_id"): 1 when coded."""
    columns = sorted({r[by] for r in rows if r[by]})
    present = {(r["code_id"], r[by]) for r in rows}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["code"] + columns)
    for code_id in codes:
        writer.writerow([code_id] + [1 if (code_id, c) in present else 0 for c in columns])
    return buffer.getvalue()


def write_xlsx(rows: list[dict], path, created: "dt.datetime | None" = None) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    if created:     # the run's time, not the export's: the same database exports the same file
        workbook.properties.created = workbook.properties.modified = created.replace(tzinfo=None)
    workbook.properties.creator = "qcode"
    sheet = workbook.active
    sheet.title = "citaten"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row.get(c) for c in COLUMNS])
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":        # openpyxl reads "=..." as a formula: it is a quote
                cell.data_type = "s"
    workbook.save(path)


def write_docx(rows: list[dict], codes: dict, path, finding: dict | None = None, origin: str = "",
               created: "dt.datetime | None" = None) -> None:
    """The report: under the finding (statement, figure and its source) when one was asked for, a
    heading per code with its definition, each quote in the Quote style with what it answers, its
    attribution and source reference, and the quote's memos. In Dutch, by qcode."""
    import docx
    from docx.oxml.ns import qn

    document = docx.Document()
    properties = document.core_properties      # the template's own say "python-docx", 2013, en-US
    properties.author = properties.last_modified_by = "qcode"
    properties.comments, properties.title, properties.language = origin, "Gecodeerde citaten", "nl-NL"
    properties.created = properties.modified = created or properties.created
    language = document.styles["Normal"].element.get_or_add_rPr().makeelement(qn("w:lang"), {qn("w:val"): "nl-NL"})
    document.styles["Normal"].element.get_or_add_rPr().append(language)    # Word checks the spelling as Dutch
    if finding:
        document.add_heading(f"{finding['id']}: {finding['statement']}", level=1)
        document.add_paragraph(f"{finding['value']} {finding['unit']} · {finding['population']} · "
                               f"{finding['period']} · bron: {finding['source']}").runs[0].bold = True
    else:
        document.add_heading("Gecodeerde citaten", level=1)
    if origin:
        document.add_paragraph(origin).runs[0].italic = True
    for code_id, quotes in grouped(rows).items():
        code = codes[code_id]
        document.add_heading(f"{code['label']} ({code_id})", level=2)
        document.add_paragraph(code["definition"]).runs[0].italic = True
        for row in quotes:
            context = context_line(row)
            if context:
                document.add_paragraph(context).runs[0].italic = True
            document.add_paragraph(row["text"], style="Quote")
            document.add_paragraph(source_line(row))
            if row.get("memos"):
                document.add_paragraph(f"Memo: {row['memos']}").runs[0].italic = True
    document.save(path)


def render(db, fmt: str, filters: ExportFilters) -> bytes | str:
    """The export as text (md, csv, matrices) or bytes (xlsx, docx, qdc, qdpx)."""
    if fmt not in FORMATS:
        raise QcodeError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    db = open_database(db)
    if fmt in ("qdc", "qdpx"):
        from . import refi

        codes = {c["id"]: c for c in db.query("select * from codes order by sort")}
        return refi.qdc_bytes(codes) if fmt == "qdc" else refi.qdpx_bytes(refi.load_project(db, filters))
    rows, codes = select_quotes(db, filters)
    if not filters.memos:
        rows = [{**row, "memos": None} for row in rows]
    found = list(db.query("select * from findings where id = ?", [filters.finding])) if filters.finding else []
    finding = found[0] if found else None
    run = last_run(db)
    origin = provenance(run, filters, len({row["segment_id"] for row in rows}))
    if fmt in ("xlsx", "docx"):
        buffer = io.BytesIO()
        created = dt.datetime.fromisoformat(run["finished"]) if run else None
        if fmt == "xlsx":
            write_xlsx(rows, buffer, created)
        else:
            write_docx(rows, codes, buffer, finding, origin, created)
        return buffer.getvalue()
    return {"md": lambda: to_markdown(rows, codes, finding, origin), "csv": lambda: to_csv(rows),
            "matrix": lambda: to_matrix_csv(rows, codes),
            "participant-matrix": lambda: to_matrix_csv(rows, codes, by="participant_id")}[fmt]()


def download_name(fmt: str, filters: ExportFilters) -> str:
    """A file name for a download: qcode-<code or finding>.<extension>, safe in a header."""
    named = "-".join(filters.codes) or filters.finding or "export"
    stem = re.sub(r"[^\w.-]", "_", named + (f"-met-{filters.with_code}" if filters.with_code else ""), flags=re.ASCII)
    return f"qcode-{stem}.{MEDIA_TYPES[fmt][1]}"


def export(db_path: Path, fmt: str, filters: ExportFilters, output: Path | None) -> str | None:
    """Write the export to output (or return the text for text formats without output)."""
    if fmt not in TEXT_FORMATS and fmt in FORMATS and output is None:
        raise QcodeError(f"--format {fmt} needs --output FILE")
    result = render(db_path, fmt, filters)
    if output is None:
        return result
    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)     # as qcode build --db does
        if isinstance(result, bytes):
            output.write_bytes(result)
        else:
            output.write_text(result, encoding="utf-8")
    except OSError as exc:
        raise QcodeError(f"{output}: cannot write the export ({exc.strerror}: {exc.filename or output})") from exc
    return None
