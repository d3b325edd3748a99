"""`qcode diff` after a codebook edit, and `qcode agreement` between two coders of a database."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import yaml
from click.testing import CliRunner

from datasette_plugins import workbench
from pipeline.build import build
from pipeline.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def test_diff_after_rule_edit(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Klantmanager: Na de aanbesteding hebben we maar één taalaanbieder.\n\n"
                                  "Klantmanager: Het contract loopt tot 2026.\n", encoding="utf-8")
    codebook = tmp_path / "codebook.yaml"
    data = yaml.safe_load((ROOT / "codebook.yaml").read_text(encoding="utf-8"))
    inkoop = next(c for c in data["codes"] if c["id"] == "regie.inkoop")
    inkoop["rules"] = [{"id": "regie.inkoop.aanbesteding", "phrases": ["aanbesteding", "taalaanbieder"]},
                       {"id": "regie.inkoop.contract", "phrases": ["contract"]}]
    codebook.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    db = tmp_path / "db" / "x.db"
    build(corpus, db, codebook)
    inkoop["rules"].pop()      # the edit: the contract rule is dropped
    codebook.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    build(corpus, db, codebook)
    result = CliRunner().invoke(cli, ["diff", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Run 1 -> run 2"
    assert "regie.inkoop: +0 -1" in result.output
    assert "Het contract loopt tot 2026." in result.output
    one_run = CliRunner().invoke(cli, ["diff", "1", "7", "--db", str(db)])
    assert one_run.exit_code == 1 and "no run 7; runs are 1, 2" in one_run.output


def test_the_demo_corpus_has_two_independent_coders(demo_db):
    # corpus/demo/codings.csv: onderzoeker_b coded the 420 non-interviewer segments blind to onderzoeker_a
    result = CliRunner().invoke(cli, ["agreement", "--db", str(demo_db), "--coders", "onderzoeker_a", "onderzoeker_b"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Agreement onderzoeker_a vs onderzoeker_b on 420 segments")


def test_agreement_between_two_coders(demo_db, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    conn = sqlite3.connect(db)
    rows = conn.execute("select segment_id, code_id from manual_codings where coder = 'onderzoeker_a' "
                        "and decision = 'add' and status = 'anchored' order by segment_id limit 40").fetchall()
    for number, (segment_id, code_id) in enumerate(rows):
        # coder C agrees on three of four segments, and gives another code on the fourth
        workbench.record_decision(conn, segment_id, code_id if number % 4 else "taal.praktijk", "add", "onderzoeker_c")
    conn.close()
    result = CliRunner().invoke(cli, ["agreement", "--db", str(db), "--coders", "onderzoeker_a", "onderzoeker_c"])
    assert result.exit_code == 0, result.output
    assert "Agreement onderzoeker_a vs onderzoeker_c on" in result.output
    assert "Krippendorff's alpha over all codes:" in result.output
    assert "segments with disagreements:" in result.output
    missing = CliRunner().invoke(cli, ["agreement", "--db", str(db), "--coders", "onderzoeker_a", "niemand"])
    assert missing.exit_code == 1 and "coder 'niemand' has no codings" in missing.output
