"""CLI behaviour: exact messages and exit codes for expected failures."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from pipeline.cli import cli


def test_check_codebook_valid():
    result = CliRunner().invoke(cli, ["check-codebook", "codebook.yaml"])
    assert result.exit_code == 0
    assert "valid, 21 codes (4 themes)" in result.output and "uncoded roles: interviewer" in result.output
    assert "rules and 5 for its scope (within 300 words, or 2 per 1,000 words in a document)" in result.output


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
    assert "documents: 3 (1 built, 2 failed)" in result.output


@pytest.fixture(scope="module")
def untidy_build(tmp_path_factory):
    """A corpus with a document that fails, files of unsupported types beside files skipped on purpose,
    and codings.csv rows that cannot all be anchored."""
    root = tmp_path_factory.mktemp("untidy")
    corpus = root / "corpus"
    (corpus / "_oud").mkdir(parents=True)
    (corpus / "goed.txt").write_text("Klantmanager: De taallessen zijn te kort.\n\nInterviewer: Dank.\n", encoding="utf-8")
    (corpus / "leeg.txt").write_bytes(b"")
    for name in ("oud.doc", "notes.rtf", "LEESMIJ", ".verborgen.doc", "_oud/x.doc", "README.md", "gold_codings.jsonl"):
        (corpus / name).write_bytes(b"x")
    (corpus / "codings.csv").write_text(
        "document,quote,codes,coder\n"
        "goed.txt,De taallessen zijn te kort.,taal.lesaanbod;bestaat_niet,a\n"     # 1 orphaned: unknown code
        "goed.txt,Dit staat er niet in.,taal;taal.lesaanbod,a\n"                   # 2 orphaned: quote not found
        "weg.txt,De taallessen zijn te kort.,taal,a\n",                            # 1 orphaned: no such document
        encoding="utf-8")
    db = root / "db" / "x.db"
    result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(db), "--quiet"])
    return corpus, db, result


def test_build_summary_counts_every_orphaned_manual_coding(untidy_build):
    corpus, db, result = untidy_build
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from manual_codings where status = 'orphaned'").fetchone()[0] == 4
    assert "manual codings: 5   orphaned: 4\n" in result.output
    assert f"warning: {corpus / 'codings.csv'}:2: unknown code 'bestaat_niet'; kept as orphaned" in result.output
    counts = json.loads(conn.execute("select counts from runs").fetchone()[0])
    assert counts["orphaned"] == 4


def test_codings_row_of_a_missing_document_says_so(untidy_build):
    corpus, db, result = untidy_build
    assert f"    orphaned: {corpus / 'codings.csv'}:3: quote not found in 'goed.txt'\n" in result.output
    assert f"    orphaned: {corpus / 'codings.csv'}:4: no such document 'weg.txt' in {corpus}\n" in result.output


def test_build_names_each_file_it_skips(untidy_build):
    corpus, db, result = untidy_build
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped: ")]
    assert skipped == [
        f"skipped: {corpus / 'LEESMIJ'} (no file extension; use one of .txt, .md, .docx, .pdf, .odt, .vtt, .srt)",
        f"skipped: {corpus / 'notes.rtf'} (unsupported file type .rtf; use one of .txt, .md, .docx, .pdf, .odt, .vtt, .srt)",
        f"skipped: {corpus / 'oud.doc'} (unsupported file type .doc; save it as .docx)",
    ]


def test_build_summary_counts_documents_built_and_failed(untidy_build):
    corpus, db, result = untidy_build
    assert "  documents: 2 (1 built, 1 failed, 3 skipped)   words: " in result.output
    counts = json.loads(sqlite3.connect(db).execute("select counts from runs").fetchone()[0])
    assert (counts["documents"], counts["documents_failed"], counts["documents_skipped"]) == (1, 1, 3)


def test_build_names_the_key_and_warns_when_it_sits_in_the_databases_folder(tmp_path, untidy_build):
    corpus, db, result = untidy_build
    assert f"  pseudonym key: {db.parent.parent / 'keys' / 'x.key.json'} (keep it apart" in result.output
    assert "pseudonym key is in the database's folder" not in result.output
    shared = tmp_path / "gedeeld" / "x.db"      # no db/ folder: the key goes beside the database
    result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(shared), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (f"warning: {shared.parent / 'keys' / 'x.key.json'}: the pseudonym key is in the database's folder, "
            "so whoever gets the folder can reveal every pseudonym") in result.output


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


def test_json_flags_and_export_filters_have_help():
    options = [(name, "--json") for name, command in sorted(cli.commands.items())
               if any("--json" in p.opts for p in command.params)]
    options += [("export", option) for option in ("--municipality-type", "--source", "--min-score")]
    assert len(options) == 9
    for name, option in options:
        param = next(p for p in cli.commands[name].params if option in p.opts)
        assert param.help, f"qcode {name} {option} has no help"


def test_a_corpus_without_readable_documents_leaves_the_database_unchanged(tmp_path, untidy_build):
    corpus, db, _ = untidy_build
    before = db.read_bytes()
    for name in ("leeg", "alleen-kapot"):
        folder = tmp_path / name
        folder.mkdir()
        if name == "alleen-kapot":
            (folder / "kapot.docx").write_bytes(b"not a zip")
        result = CliRunner().invoke(cli, ["build", "--corpus", str(folder), "--db", str(db), "--quiet"])
        assert result.exit_code == 1
        assert f"Error: {folder}: no document could be read, so nothing was built and {db} is unchanged" in result.output
    assert "kapot.docx: not a valid .docx file" in result.output
    assert db.read_bytes() == before


def test_build_says_what_it_left_out_of_a_word_file(tmp_path):
    """A header, a footer and hidden text were dropped without a word (tester round 7)."""
    import docx

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Gemeente Zwolle, interview met mevrouw Jansen"
    document.sections[0].footer.paragraphs[0].text = "Vertrouwelijk"
    document.add_paragraph("Klantmanager: De wachttijd voor de taallessen is te lang.")
    document.add_paragraph().add_run("Verborgen notitie van de interviewer.").font.hidden = True
    document.save(corpus / "interview.docx")
    result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(tmp_path / "db" / "x.db")])
    assert result.exit_code == 0, result.output
    assert f"warning: {corpus / 'interview.docx'}: left out: 1 header, 1 footer, 1 hidden passage" in result.output
