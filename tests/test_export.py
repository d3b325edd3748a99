"""Exports from the demo database, read back with the libraries a researcher would open them with."""

from __future__ import annotations

import csv
import io
import re
import sqlite3

import docx
import openpyxl
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.errors import QcodeError
from pipeline.export import (ExportFilters, download_name, export, filters_from_params, markdown_text, open_database,
                             render, select_quotes)


def test_docx_report_by_finding(demo_db, tmp_path):
    path = tmp_path / "f13.docx"
    export(demo_db, "docx", ExportFilters(finding="F13"), path)
    document = docx.Document(str(path))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    quotes = [p for p in document.paragraphs if p.style.name == "Quote"]
    assert "Z-route en routekeuze (taal.z_route)" in headings
    assert headings[0].startswith("F13: ")                     # the finding, then its figure and source
    assert "bron:" in document.paragraphs[1].text
    assert quotes
    attributions = [p.text for p in document.paragraphs if p.text.startswith("— ")]
    assert attributions and all("segment" in a for a in attributions)


def test_markdown_report_by_finding_opens_with_the_finding(demo_db):
    lines = render(demo_db, "md", ExportFilters(finding="F13")).splitlines()
    assert lines[0].startswith("# F13: ") and "bron:" in lines[2]
    assert "## Z-route en routekeuze (`taal.z_route`)" in lines


def test_xlsx_has_one_row_per_coded_quote(demo_db, tmp_path):
    path = tmp_path / "all.xlsx"
    export(demo_db, "xlsx", ExportFilters(codes=["taal"]), path)
    sheet = openpyxl.load_workbook(path).active
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["segment_id", "document_id", "kind", "date", "role"]
    codes = {row[header.index("code_id")] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert codes and all(c == "taal" or c.startswith("taal.") for c in codes)


def test_filters_combine(demo_db):
    rows, _ = select_quotes(demo_db, ExportFilters(codes=["snel_meedoen.werk"], role="werkgever", min_score=0.5, limit=5))
    assert 0 < len(rows) <= 5
    assert all(r["role"] == "werkgever" and r["code_id"] == "snel_meedoen.werk" and r["score"] >= 0.5 for r in rows)
    assert select_quotes(demo_db, ExportFilters(approved_only=True))[0] == []


def test_csv_and_matrix_text(demo_db):
    text = export(demo_db, "csv", ExportFilters(limit=3), None)
    assert len(list(csv.DictReader(io.StringIO(text)))) == 3
    matrix = list(csv.reader(io.StringIO(export(demo_db, "matrix", ExportFilters(), None))))
    assert matrix[0][0] == "code" and {v for row in matrix[1:] for v in row[1:]} <= {"0", "1"}


def test_participant_matrix_is_binary_code_by_participant(demo_db):
    matrix = list(csv.reader(io.StringIO(export(demo_db, "participant-matrix", ExportFilters(), None))))
    conn = sqlite3.connect(demo_db)
    coded = set(conn.execute("""select sc.code_id, s.participant_id from segment_codes sc join segments s
                                on s.id = sc.segment_id where s.participant_id is not null"""))
    participants = sorted({p for _, p in coded})
    assert matrix[0] == ["code"] + participants
    codes = [c for (c,) in conn.execute("select id from codes order by sort")]
    assert [row[0] for row in matrix[1:]] == codes
    cells = {(row[0], participant): value for row in matrix[1:] for participant, value in zip(participants, row[1:])}
    assert cells == {(c, p): "1" if (c, p) in coded else "0" for c in codes for p in participants}
    assert "0" in cells.values() and "1" in cells.values()


def test_full_text_query_and_quote_status_filters(demo_db):
    rows, _ = select_quotes(demo_db, ExportFilters(query="taallessen", lemmas=["taalles"], role="statushouder"))
    assert rows and all(r["role"] == "statushouder" for r in rows)
    assert all(re.search(r"taalles", r["text"], re.IGNORECASE) for r in rows)
    everything, _ = select_quotes(demo_db, ExportFilters(role="statushouder"))
    assert len(rows) < len(everything)
    assert select_quotes(demo_db, ExportFilters(quote_status="sent"))[0] == []


def test_filters_from_workbench_parameters():
    params = {"code": "taal", "finding": "", "role": "statushouder", "municipality_type": " ", "q": "taallessen",
              "source": "rule", "status": "approved", "min_score": "0.5", "limit": "10"}
    assert filters_from_params(params, ["taalles"]) == ExportFilters(
        codes=["taal"], role="statushouder", source="rule", min_score=0.5, limit=10, query="taallessen",
        lemmas=["taalles"], quote_status="approved")
    with pytest.raises(QcodeError, match="min_score and limit must be numbers"):
        filters_from_params({"limit": "tien"})
    assert download_name("qdpx", ExportFilters(codes=["taal.z_route"])) == "qcode-taal.z_route.qdpx"
    assert download_name("docx", ExportFilters(finding='F07"; x')) == "qcode-F07___x.docx"


def test_exports_open_the_database_read_only(demo_db, tmp_path):
    db = open_database(demo_db)
    assert db["codes"].count > 0
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("create table scratch (a)")
    with pytest.raises(QcodeError, match="no such database"):
        render(tmp_path / "missing.db", "md", ExportFilters())


@pytest.mark.parametrize("fmt", ["docx", "md", "qdpx"])
def test_export_creates_a_missing_output_folder(demo_db, tmp_path, fmt):
    path = tmp_path / "nieuw" / "map" / f"x.{fmt}"
    result = CliRunner().invoke(cli, ["export", "--db", str(demo_db), "--format", fmt, "--code", "taal.z_route",
                                      "--output", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {path}\n"
    assert path.stat().st_size > 0


def test_export_to_an_unwritable_place_is_one_line(demo_db, tmp_path):
    (tmp_path / "bestand").write_text("x", encoding="utf-8")
    path = tmp_path / "bestand" / "x.docx"
    result = CliRunner().invoke(cli, ["export", "--db", str(demo_db), "--format", "docx", "--output", str(path)])
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: cannot write the export (File exists: {tmp_path / 'bestand'})\n"


@pytest.mark.parametrize("option, value, message", [
    ("--role", "statushouders", "unknown role 'statushouders'; roles are: "),
    ("--municipality-type", "grote stad", "unknown municipality type 'grote stad'; municipality types are: "),
])
def test_unknown_role_or_municipality_type_is_refused(demo_db, option, value, message):
    result = CliRunner().invoke(cli, ["export", "--db", str(demo_db), option, value])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {message}")
    column, table = ("role", "segments") if option == "--role" else ("municipality_type", "documents")
    known = [v for (v,) in sqlite3.connect(demo_db).execute(f"select distinct {column} from {table} order by 1") if v]
    assert result.output == f"Error: {message}{', '.join(known)}\n"
    assert "statushouder" in known or "G40-gemeente" in known


def test_markdown_text_opens_no_list_or_heading():
    """An agenda item quoted from minutes ("5. Cliëntervaringsonderzoek ...") or a note's line
    ("- gebeld") stays text in the .md report, as markup does."""
    assert markdown_text("5. Cliëntervaringsonderzoek <b>x</b>") == "5\\. Cliëntervaringsonderzoek &lt;b&gt;x&lt;/b&gt;"
    assert markdown_text("- gebeld\n# kop\n12.5 procent") == "\\- gebeld\n\\# kop\n12.5 procent"


def test_a_report_for_outside_readers_leaves_the_memos_out(demo_db, tmp_path):
    """The team's notes under a quote belong in its own report, not in one for outside readers."""
    import shutil

    db = tmp_path / "memo.db"
    shutil.copy(demo_db, db)
    conn = sqlite3.connect(db)
    segment = conn.execute("select segment_id from segment_codes where code_id = 'taal' limit 1").fetchone()[0]
    conn.execute("insert into memos (id, target_type, target_id, author, created, text) values "
                 "('m1', 'segment', ?, 'anna', '2026-12-01', 'controleer bij de bron (memo 417)')", [segment])
    conn.commit()
    conn.close()
    for memos, expected in ((True, True), (False, False)):
        path = tmp_path / f"memos-{memos}.docx"
        export(db, "docx", ExportFilters(codes=["taal"], memos=memos), path)
        text = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        assert ("memo 417" in text) is expected
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "md", "--code", "taal", "--no-memos"])
    assert result.exit_code == 0 and "memo 417" not in result.output
    assert filters_from_params({"memos": "0"}).memos is False and filters_from_params({}).memos is True


def test_a_withdrawn_quote_is_in_no_report_and_supports_no_finding(demo_db, tmp_path):
    """A quote its speaker withdrew went into every report unmarked and still counted as support
    (tester round 7): it is left out unless asked for by its status."""
    import shutil

    from datasette_plugins import workbench

    db = tmp_path / "withdrawn.db"
    shutil.copy(demo_db, db)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    segment = conn.execute("select sc.segment_id from segment_codes sc join finding_codes fc on fc.code_id = sc.code_id "
                           "where fc.finding_id = 'F13' and sc.role = 'klantmanager' limit 1").fetchone()[0]
    before = workbench.finding(conn, "F13")["triangulation"]["quotes"]
    workbench.set_quote_status(conn, segment, "withdrawn", "anna")
    assert workbench.finding(conn, "F13")["triangulation"]["quotes"] == before - 1
    assert segment not in {q["id"] for group in workbench.finding(conn, "F13")["groups"].values() for q in group["quotes"]}
    assert [r["status"] for r in workbench.search(conn, "", [], {"status": "withdrawn"})["results"]] == ["withdrawn"]
    conn.close()
    for fmt in ("md", "csv"):
        assert segment not in render(db, fmt, ExportFilters(finding="F13"))
        assert segment in render(db, fmt, ExportFilters(finding="F13", quote_status="withdrawn"))
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(render(db, "docx", ExportFilters(finding="F13")))).paragraphs)
    assert segment not in text and "ingetrokken citaten weggelaten" in text


def test_a_finding_export_gives_the_quotes_its_page_counts(demo_db, tmp_path):
    """An interviewer's turn coded by hand went into a finding's export but not onto its page
    (tester round 8): neither counts it now; a code's export still has it."""
    import shutil

    from datasette_plugins import workbench

    db = tmp_path / "interviewer.db"
    shutil.copy(demo_db, db)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    code = conn.execute("select code_id from finding_codes where finding_id = 'F13' order by code_id limit 1").fetchone()[0]
    question = conn.execute("select id from segments where role = 'interviewer' and id not in "
                            "(select segment_id from segment_codes) limit 1").fetchone()[0]
    workbench.record_decision(conn, question, code, "add", "anna")
    page = {q["id"] for group in workbench.finding(conn, "F13")["groups"].values() for q in group["quotes"]}
    conn.close()
    exported = {row["segment_id"] for row in select_quotes(db, ExportFilters(finding="F13"))[0]}
    assert question not in page and question not in exported
    assert question in {row["segment_id"] for row in select_quotes(db, ExportFilters(codes=[code]))[0]}


def test_a_report_lists_each_quote_under_its_most_specific_code_in_the_codebooks_order(demo_db):
    """A quote coded with a theme and its sub-codes appeared under the theme too (one five times),
    and the chapters followed the code ids' alphabet (`lerend_stelsel` first)."""
    text = render(demo_db, "md", ExportFilters(codes=["taal"]))
    headings = re.findall(r"^## .*\(`([\w.]+)`\)$", text, re.MULTILINE)
    in_codebook = [r[0] for r in sqlite3.connect(demo_db).execute("select id from codes order by sort")]
    assert headings == [c for c in in_codebook if c in headings] and len(headings) > 2
    chapters = re.split(r"^## ", text, flags=re.MULTILINE)
    theme = next(c for c in chapters if c.startswith("Taal") and "(`taal`)" in c.splitlines()[0])
    in_sub_codes = {s for c in chapters if "(`taal." in c.splitlines()[0] for s in re.findall(r"segment (\w{16})", c)}
    assert not in_sub_codes & set(re.findall(r"segment (\w{16})", theme))
    order = [r["code_id"] for r in select_quotes(demo_db, ExportFilters())[0]]
    assert order.index("regie") < order.index("lerend_stelsel")


def test_a_report_says_what_a_quote_answers_where_it_is_from_and_what_was_exported(demo_db):
    """For the report writer: the interviewer's question or the agenda item before each quote,
    "via tolk" for interpreted speech, and a line naming the run, the codebook and the filters."""
    text = render(demo_db, "md", ExportFilters(codes=["taal.z_route"], role="statushouder"))
    assert re.search(r"^\*Uit qcode: run \d+ \(.+\), codeboek [0-9a-f]{16}; filters: code=taal\\_z\\_route|"
                     r"^\*Uit qcode: run \d+ \(.+\), codeboek [0-9a-f]{16}; filters: code=taal.z\\_route, rol=statushouder",
                     text, re.MULTILINE)
    assert "*Vraag: " in text and "via tolk" in text
    minutes = render(demo_db, "md", ExportFilters(codes=["taal.z_route"], role="notulen"))
    assert "*Agendapunt: " in minutes
    document = docx.Document(io.BytesIO(render(demo_db, "docx", ExportFilters(codes=["taal.z_route"]))))
    assert document.core_properties.author == "qcode" and document.core_properties.language == "nl-NL"
    assert document.core_properties.created.year >= 2024
