"""Hostile input through `qcode build`: each bad file gets a message naming it (and its line), the
other documents still go through, and an invalid codebook leaves the database untouched."""

from __future__ import annotations

import codecs
import sqlite3

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.ingest import read_document

GOOD = "Klantmanager: De taallessen zijn te kort.\n\nInterviewer: Dank u wel.\n"


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-input")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "goed.txt").write_text(GOOD, encoding="utf-8")
    (corpus / "leeg.txt").write_bytes(b"")
    (corpus / "binair.txt").write_bytes(bytes(range(256)) * 40)
    (corpus / "cp1252.txt").write_bytes("Tolk: Hij zegt: één coördinator, café.\n".encode("cp1252"))
    (corpus / "latin1.txt").write_bytes("Tolk: Zij zegt: naïef, reünie.\n".encode("latin-1"))
    (corpus / "utf16.txt").write_bytes(codecs.BOM_UTF16_LE + "Tolk: Hij woont in het azc.\n".encode("utf-16-le"))
    (corpus / "kapot-utf8.txt").write_bytes("Tolk: één\nKlantmanager: coördinator ".encode("utf-8") + b"\xc3\x28\n")
    (corpus / "geen-zip.docx").write_bytes(b"this is not a zip archive")
    (corpus / "groot.txt").write_bytes(b"Tolk: woorden en woorden.\n" * (2 * 1024 * 1024))   # ~52 MB
    db = root / "db" / "h.db"
    result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(db), "--quiet"])
    return corpus, db, result


@pytest.mark.parametrize("name, message", [
    ("leeg.txt", "empty file: nothing to ingest"),
    ("binair.txt", "binary data, not text"),
    ("kapot-utf8.txt", "line 2: invalid UTF-8"),
    ("geen-zip.docx", "not a valid .docx file (it is not a ZIP archive)"),
    ("groot.txt", "MB is more than the limit of 20 MB for one document"),
])
def test_bad_file_is_named_with_reason(hostile_build, name, message):
    corpus, db, result = hostile_build
    line = next((l for l in result.output.splitlines() if l.startswith(f"error: {corpus / name}:")), "")
    assert message in line, result.output


def test_other_documents_still_go_through(hostile_build):
    corpus, db, result = hostile_build
    assert result.exit_code == 0
    assert "documents: 9 (4 built, 5 failed)" in result.output
    texts = " ".join(row[0] for row in sqlite3.connect(db).execute("select text from documents"))
    assert "één coördinator, café" in texts and "naïef, reünie" in texts and "azc" in texts


def test_invalid_codebooks_leave_database_untouched(hostile_build, tmp_path):
    corpus, db, _ = hostile_build
    before = db.read_bytes()
    for text in ("codes: [\n", "codes:\n  - {id: a, label: A, definition: d}\n  - {id: a, label: A, definition: d}\n",
                 "codes:\n  - {id: a, parent: b, label: A, definition: d}\n  - {id: b, parent: a, label: B, definition: d}\n",
                 "codes:\n  - id: a\n    label: A\n    definition: d\n    rules: [{id: r, patterns: [[{TEXT: {REGEX: '(['}}]]}]\n",
                 "codes:\n  - id: a\n    label: A\n    definition: d\n    rules: [{id: r, patterns: [[{FOO: x}]]}]\n"):
        codebook = tmp_path / "cb.yaml"
        codebook.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(db), "--codebook", str(codebook), "--quiet"])
        assert result.exit_code == 1
        assert f"{codebook}:" in result.output
        assert db.read_bytes() == before


def test_document_of_100000_lines(tmp_path):
    path = tmp_path / "lang.txt"
    path.write_text("".join(f"Klantmanager: regel {i} over de taalles.\n" for i in range(100_000)), encoding="utf-8")
    document = read_document(path)
    assert len(document.paragraphs) == 100_000
