"""Anonymisation through `qcode build`: force_keep / force_remove, the review report, the key."""

from __future__ import annotations

import json
import re
import sqlite3

from click.testing import CliRunner

from pipeline.cli import cli

TEXT = ("Klantmanager: Mevrouw Qorvelian komt elke week naar de Kookclub Zonnewijzer. "
        "Ze werkt samen met Bravenhorst over de inburgering.\n\n"
        "Interviewer: En het Werkplein?\n\nKlantmanager: Het Werkplein helpt met de MAP en de Z-route.\n")


def build_corpus(tmp_path, settings: str):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "gesprek.txt").write_text(TEXT, encoding="utf-8")
    (corpus / "anonymise.yaml").write_text(settings, encoding="utf-8")
    db = tmp_path / "db" / "t.db"
    result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus), "--db", str(db), "--quiet"])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    text = conn.execute("select text from documents").fetchone()[0]
    return corpus, db, text


def test_force_lists_work_through_build(tmp_path):
    corpus, db, text = build_corpus(tmp_path, "force_keep:\n  - Werkplein\nforce_remove:\n"
                                              "  - {text: Kookclub Zonnewijzer, label: ORGANISATION}\n")
    assert "Qorvelian" not in text and "Kookclub Zonnewijzer" not in text
    assert "[ORGANISATIE-1]" in text
    assert text.count("Werkplein") == 2 and "MAP" in text and "Z-route" in text


def test_review_report_lists_weak_detections(tmp_path):
    corpus, db, text = build_corpus(tmp_path, "force_keep: []\n")
    assert "Bravenhorst" not in text                    # weak evidence: replaced anyway
    result = CliRunner().invoke(cli, ["anonymise-report", "--corpus", str(corpus), "--json"])
    report = json.loads(result.output)
    items = report["documents"]["gesprek.txt"]
    assert any(item["text"] == "Bravenhorst" and "«Bravenhorst»" in item["context"] for item in items)
    # as text: each distinct word once with its count (at 10x, 'Homs' stood on 50 lines), then per document
    text_report = CliRunner().invoke(cli, ["anonymise-report", "--corpus", str(corpus)]).output
    assert "keep it out of the corpus folder" in text_report
    summary = text_report.split("By word", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"\n  \w+ +'Bravenhorst' +\d+x in 1 document\(s\)", summary), summary


def test_reveal_reads_the_key_not_the_database(tmp_path):
    corpus, db, text = build_corpus(tmp_path, "force_keep: []\n")
    key = tmp_path / "keys" / "t.key.json"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    pseudonym = next(tag for tag in ("PERSOON-1", "PERSOON-2") if f"[{tag}]" in text)
    result = CliRunner().invoke(cli, ["reveal", pseudonym, "--db", str(db)])
    assert result.exit_code == 0
    assert result.output.startswith(f"{pseudonym} (PERSON): ")
    missing = CliRunner().invoke(cli, ["reveal", "PERSOON-99", "--db", str(db)])
    assert missing.exit_code == 1 and "PERSOON-99: not in" in missing.output
