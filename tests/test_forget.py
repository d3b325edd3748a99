"""`qcode forget`: a participant who withdraws leaves nothing behind in the database, the key or
the caches, while every other decision stays (privacy officer, tester round 8)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from datasette_plugins import workbench
from pipeline.build import build
from pipeline.cli import cli

ROOT = Path(__file__).resolve().parent.parent
GROUP = ("Interviewer: Wat vindt u van de taallessen?\n\n"
         "Deelnemer 1: Ik ben Wout Tjoelker. De taallessen zijn te kort, ik wil sneller Nederlands leren.\n\n"
         "Deelnemer 2: Ik wacht al maanden op een plek bij de taalschool, dat duurt te lang.\n")
WITHOUT_HIM = ("Interviewer: Wat vindt u van de taallessen?\n\n"
               "Deelnemer 2: Ik wacht al maanden op een plek bij de taalschool, dat duurt te lang.\n")
OTHER = "Klantmanager: Mevrouw Hendrika Poelstra belde over haar PIP. Het PIP is op tijd klaar.\n"


@pytest.fixture
def study(tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "groep.txt").write_text(GROUP, encoding="utf-8")
    (corpus / "klant.txt").write_text(OTHER, encoding="utf-8")
    (corpus / "manifest.yaml").write_text(
        "documents:\n  - file: groep.txt\n    id: groep-01\n    kind: group_interview\n"
        "  - file: klant.txt\n    id: klant-01\n    kind: interview\n", encoding="utf-8")
    (corpus / "codings.csv").write_text(
        "document,quote,codes,coder\ngroep.txt,De taallessen zijn te kort,taal,anna\n"
        "groep.txt,Ik wacht al maanden op een plek,taal,anna\n", encoding="utf-8")
    shutil.copy(ROOT / "codebook.yaml", tmp_path / "codebook.yaml")
    build(corpus, tmp_path / "db" / "s.db", tmp_path / "codebook.yaml")
    conn = sqlite3.connect(tmp_path / "db" / "s.db")
    his = conn.execute("select id from segments where text like '%te kort%'").fetchone()[0]
    hers = conn.execute("select id from segments where text like '%wacht al maanden%'").fetchone()[0]
    for segment in (his, hers):
        workbench.record_decision(conn, segment, "taal.lesaanbod", "confirm", "bert")
        workbench.add_memo(conn, "segment", segment, "bert", "mooi citaat")
        workbench.set_quote_status(conn, segment, "selected", "bert")
    conn.close()
    return tmp_path


def forget(study: Path, *args: str):
    return CliRunner().invoke(cli, ["forget", "--corpus", str(study / "corpus"), "--db", str(study / "db" / "s.db"),
                                    "--codebook", str(study / "codebook.yaml"), "--quiet", "--yes", *args])


def rows(study: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(study / "db" / "s.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def key_text(study: Path) -> str:
    return (study / "keys" / "s.key.json").read_text(encoding="utf-8")


def test_a_withdrawn_participant_leaves_nothing_behind(study):
    (study / "corpus" / "groep.txt").write_text(WITHOUT_HIM, encoding="utf-8")
    build(study / "corpus", study / "db" / "s.db", study / "codebook.yaml")
    # An ordinary build keeps what hung on his turn, as orphaned (nothing is lost in silence).
    assert rows(study, "select count(*) from manual_codings where status = 'orphaned' and origin = 'workbench'") == [(1,)]
    assert len(rows(study, "select * from quote_status")) == 2
    assert "Tjoelker" in key_text(study)

    result = forget(study, "--document", "groep-01")
    assert result.exit_code == 1
    assert "codings.csv:2: a coding of text the corpus no longer has: delete the line" in result.output
    assert "1 manual codings, 1 report statuses and 1 memos" in result.output
    assert rows(study, "select count(*) from manual_codings where origin = 'workbench'") == [(1,)]
    assert rows(study, "select count(*) from quote_status") == [(1,)]
    assert rows(study, "select count(*) from memos") == [(1,)]
    assert "Tjoelker" not in key_text(study) and "Wout" not in key_text(study)
    assert "Poelstra" in key_text(study)       # a name another document still uses
    for path in [*(study / "db").iterdir(), *(study / "keys").iterdir()]:
        assert b"Tjoelker" not in path.read_bytes(), path

    (study / "corpus" / "codings.csv").write_text(
        "document,quote,codes,coder\ngroep.txt,Ik wacht al maanden op een plek,taal,anna\n", encoding="utf-8")
    result = forget(study, "--document", "groep-01")
    assert result.exit_code == 0, result.output
    assert "groep-01 is still in the corpus: only what it no longer says was forgotten" in result.output
    assert rows(study, "select count(*) from manual_codings where status = 'orphaned'") == [(0,)]
    # her decisions on the turn that stays are all there
    assert rows(study, "select coder, decision, status from manual_codings order by coder") == [
        ("anna", "add", "anchored"), ("bert", "confirm", "anchored")]


def test_a_deleted_document_is_forgotten_by_its_id(study):
    (study / "corpus" / "klant.txt").unlink()
    result = forget(study, "--document", "klant-01")
    assert result.exit_code == 0, result.output
    key = json.loads(key_text(study))
    assert "klant-01" not in key["documents"]
    assert "Poelstra" not in key_text(study)
    assert rows(study, "select count(*) from documents where id = 'klant-01'") == [(0,)]
    assert rows(study, "select count(*) from manual_codings") == [(4,)]       # groep-01's, untouched
    assert rows(study, "select count(*) from memos") == [(2,)]


def test_what_is_still_in_the_corpus_is_not_forgotten(study):
    """A document still whole in the corpus has no orphans: forgetting it changes nothing."""
    before = rows(study, "select id, status from manual_codings order by id")
    result = forget(study, "--document", "groep-01")
    assert result.exit_code == 0, result.output
    assert rows(study, "select id, status from manual_codings order by id") == before
    assert "Tjoelker" in key_text(study)


def test_an_unknown_document_or_no_target_is_refused(study):
    result = forget(study, "--document", "groep-1")
    assert result.exit_code == 1
    assert "no document 'groep-1' in the database or the key; nothing was forgotten" in result.output
    result = forget(study)
    assert result.exit_code == 2 and "--document ID (repeatable) or --all-orphans" in result.output


def test_all_orphans_of_any_document(study):
    (study / "corpus" / "groep.txt").write_text(WITHOUT_HIM, encoding="utf-8")
    (study / "corpus" / "codings.csv").write_text("document,quote,codes,coder\n", encoding="utf-8")
    build(study / "corpus", study / "db" / "s.db", study / "codebook.yaml")
    build(study / "corpus", study / "db" / "s.db", study / "codebook.yaml")     # orphaned one build ago
    result = forget(study, "--all-orphans")
    assert result.exit_code == 0, result.output
    assert rows(study, "select count(*) from manual_codings where status = 'orphaned'") == [(0,)]
    assert rows(study, "select count(*) from quote_status") == [(1,)]
    assert rows(study, "select count(*) from memos") == [(1,)]
