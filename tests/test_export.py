"""Exports from the demo database, read back with the libraries a researcher would open them with."""

from __future__ import annotations

import csv
import io

import docx
import openpyxl

from pipeline.export import ExportFilters, export, select_quotes


def test_docx_report_by_finding(demo_db, tmp_path):
    path = tmp_path / "f13.docx"
    export(demo_db, "docx", ExportFilters(finding="F13"), path)
    document = docx.Document(str(path))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    quotes = [p for p in document.paragraphs if p.style.name == "Quote"]
    assert "Z-route en routekeuze (taal.z_route)" in headings
    assert quotes
    attributions = [p.text for p in document.paragraphs if p.text.startswith("— ")]
    assert attributions and all("segment" in a for a in attributions)


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
