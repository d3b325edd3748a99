"""`qcode export`: coded quotes out of the database, into the report (Word, Markdown) or a
spreadsheet (CSV, XLSX), and a binary code × document matrix. Everything exported is the
anonymised text; quotes are attributed by role and municipality type only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from .errors import QcodeError

FORMATS = ("md", "csv", "xlsx", "docx", "matrix")
TEXT_FORMATS = ("md", "csv", "matrix")
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


def select_quotes(db_path: Path, filters: ExportFilters) -> tuple[list[dict], dict]:
    """One row per coded quote matching the filters, and the codebook (id -> code row)."""
    if not Path(db_path).exists():
        raise QcodeError(f"{db_path}: no such database; run qcode build first")
    db = sqlite_utils.Database(str(db_path))
    codes = {c["id"]: c for c in db.query("select * from codes order by sort")}
    wanted = _wanted_codes(db, codes, filters)
    where, params = ["1 = 1"], []
    if wanted is not None:
        where.append(f"sc.code_id in ({','.join('?' * len(wanted))})")
        params += sorted(wanted)
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
    sql = f"""select s.id as segment_id, s.document_id, d.kind, d.date, s.role, s.speaker, d.municipality,
        d.municipality_type, d.size_class, d.region, d.urbanisation, p.route, p.gender, p.age_band, sc.code_id,
        sc.source, sc.score, coalesce(q.status, '') as quote_status, s.text,
        (select group_concat(m.coder, ', ') from manual_codings m where m.segment_id = s.id and m.code_id = sc.code_id) as coder,
        (select group_concat(m.decision, ', ') from manual_codings m where m.segment_id = s.id and m.code_id = sc.code_id) as decision,
        (select group_concat(memo.author || ': ' || memo.text, ' | ') from memos memo where memo.target_type = 'segment' and memo.target_id = s.id) as memos
      from segment_codes sc join segments s on s.id = sc.segment_id join documents d on d.id = s.document_id
      left join participants p on p.id = s.participant_id left join quote_status q on q.segment_id = s.id
      where {' and '.join(where)} order by sc.code_id, d.date, s.document_id, s.seq"""
    if filters.limit:
        sql += f" limit {int(filters.limit)}"
    rows = list(db.query(sql, params))
    for row in rows:
        row["code_path"] = _path(codes, row["code_id"])
    return rows, codes


def _wanted_codes(db, codes: dict, filters: ExportFilters) -> set[str] | None:
    wanted: set[str] | None = None
    if filters.codes:
        unknown = [c for c in filters.codes if c not in codes]
        if unknown:
            raise QcodeError(f"unknown code(s) {', '.join(unknown)}; codes are: {', '.join(codes)}")
        wanted = {c for c in codes if any(c == w or c.startswith(w + ".") for w in filters.codes)}
    if filters.finding:
        linked = {r["code_id"] for r in db.query("select code_id from finding_codes where finding_id = ?", [filters.finding])}
        if not linked:
            raise QcodeError(f"no finding {filters.finding!r} (or it has no codes)")
        wanted = linked if wanted is None else wanted & linked
    return wanted


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
    out: dict[str, list[dict]] = {}
    seen = set()
    for row in rows:
        if (row["code_id"], row["segment_id"]) in seen:
            continue
        seen.add((row["code_id"], row["segment_id"]))
        out.setdefault(row["code_id"], []).append(row)
    return out


def to_markdown(rows: list[dict], codes: dict) -> str:
    lines = ["# Gecodeerde citaten", ""]
    for code_id, quotes in grouped(rows).items():
        code = codes[code_id]
        lines += [f"## {code['label']} (`{code_id}`)", "", f"*{code['definition']}*", ""]
        for row in quotes:
            lines += [f"> {row['text']}", ">", f"> {attribution(row)} ({row['document_id']}, segment {row['segment_id']})", ""]
    return "\n".join(lines)


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_matrix_csv(rows: list[dict], codes: dict) -> str:
    documents = sorted({r["document_id"] for r in rows})
    present = {(r["code_id"], r["document_id"]) for r in rows}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["code"] + documents)
    for code_id in codes:
        writer.writerow([code_id] + [1 if (code_id, d) in present else 0 for d in documents])
    return buffer.getvalue()


def write_xlsx(rows: list[dict], path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "citaten"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row.get(c) for c in COLUMNS])
    workbook.save(path)


def write_docx(rows: list[dict], codes: dict, path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Gecodeerde citaten", level=1)
    for code_id, quotes in grouped(rows).items():
        code = codes[code_id]
        document.add_heading(f"{code['label']} ({code_id})", level=2)
        document.add_paragraph(code["definition"]).italic = True
        for row in quotes:
            document.add_paragraph(row["text"], style="Quote")
            document.add_paragraph(f"{attribution(row)} ({row['document_id']}, segment {row['segment_id']})")
    document.save(path)


def export(db_path: Path, fmt: str, filters: ExportFilters, output: Path | None) -> str | None:
    """Write the export to output (or return the text for text formats without output)."""
    if fmt not in FORMATS:
        raise QcodeError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    rows, codes = select_quotes(db_path, filters)
    if fmt in ("xlsx", "docx"):
        if output is None:
            raise QcodeError(f"--format {fmt} needs --output FILE")
        (write_xlsx(rows, output) if fmt == "xlsx" else write_docx(rows, codes, output))
        return None
    text = {"md": lambda: to_markdown(rows, codes), "csv": lambda: to_csv(rows),
            "matrix": lambda: to_matrix_csv(rows, codes)}[fmt]()
    if output is not None:
        Path(output).write_text(text, encoding="utf-8")
        return None
    return text
