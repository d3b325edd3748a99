"""CLI behaviour: exact messages and exit codes for expected failures."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipeline.cli import cli


def test_check_codebook_valid():
    result = CliRunner().invoke(cli, ["check-codebook", "codebook.yaml"])
    assert result.exit_code == 0
    assert "valid, 21 codes (4 themes)" in result.output and "uncoded roles: interviewer" in result.output


def test_check_codebook_invalid_lists_every_problem(tmp_path):
    path = tmp_path / "cb.yaml"
    path.write_text("codes:\n  - id: a\n    label: A\n    definition: d\n  - id: a\n    label: B\n    definition: d\n"
                    "  - id: b\n    parent: zzz\n    label: B\n    definition: d\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-codebook", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5: code 'a': duplicate id (first defined on line 2)" in result.output
    assert f"{path}:8: code 'b': unknown parent 'zzz'" in result.output
    assert "Traceback" not in result.output


def test_build_with_invalid_codebook_leaves_database_untouched(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Klantmanager: We wachten op de taalschool.\n", encoding="utf-8")
    db = tmp_path / "db" / "x.db"
    db.parent.mkdir()
    db.write_bytes(b"previous")
    bad = tmp_path / "cb.yaml"
    bad.write_text("codes: [\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(db), "--codebook", str(bad), "--quiet"])
    assert result.exit_code == 1
    assert "YAML syntax error" in result.output
    assert db.read_bytes() == b"previous"


def test_build_reports_bad_documents_and_processes_the_rest(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "goed.txt").write_text("Klantmanager: De taallessen zijn te kort.\n\nInterviewer: Dank.\n", encoding="utf-8")
    (corpus / "leeg.txt").write_bytes(b"")
    (corpus / "kapot.docx").write_bytes(b"not a zip")
    db = tmp_path / "db" / "x.db"
    result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(db), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"error: {corpus / 'leeg.txt'}: empty file: nothing to ingest" in result.output
    assert f"error: {corpus / 'kapot.docx'}: not a valid .docx file (it is not a ZIP archive)" in result.output
    assert "documents: 1 (2 failed)" in result.output


def test_anonymise_jsonl_keeps_ids_and_offsets(tmp_path):
    path = tmp_path / "in.jsonl"
    text = "Mevrouw Tesfamariam belt 06-12345678."
    path.write_text(json.dumps({"id": "x", "text": text}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["anonymise", "--input", str(path)])
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert out["id"] == "x"
    assert out["text"] == "Mevrouw [PERSOON-1] belt [TELEFOON]."
    assert [text[e["start"]:e["end"]] for e in out["entities"]] == ["Tesfamariam", "06-12345678"]


def test_serve_refuses_public_bind_without_logins(tmp_path):
    db = tmp_path / "x.db"
    db.write_bytes(b"")
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "refusing to serve on 0.0.0.0 without researcher logins" in result.output
