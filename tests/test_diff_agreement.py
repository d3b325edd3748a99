"""`qcode diff` after a codebook edit, and `qcode agreement` between two coders of a database."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import yaml
from click.testing import CliRunner

from datasette_plugins import workbench
from pipeline.build import build
from pipeline.cli import cli
from pipeline.store import RUN_CODINGS_SQL

ROOT = Path(__file__).resolve().parent.parent


def _two_rule_project(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Klantmanager: Na de aanbesteding hebben we maar één taalaanbieder.\n\n"
                                  "Klantmanager: Het contract loopt tot 2026.\n", encoding="utf-8")
    codebook = tmp_path / "codebook.yaml"
    data = yaml.safe_load((ROOT / "codebook.yaml").read_text(encoding="utf-8"))
    inkoop = next(c for c in data["codes"] if c["id"] == "regie.inkoop")
    inkoop["rules"] = [{"id": "regie.inkoop.aanbesteding", "phrases": ["aanbesteding", "taalaanbieder"]},
                       {"id": "regie.inkoop.contract", "phrases": ["contract"]}]

    def build_with(rules, **changes):      # changes: of the code itself (a rename)
        inkoop.update(rules=rules, **changes)
        codebook.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        build(corpus, tmp_path / "db" / "x.db", codebook)

    return tmp_path / "db" / "x.db", inkoop["rules"], build_with


def test_diff_says_when_a_coder_removed_a_coding(tmp_path):
    """A coding lost to a coder's reject shows as [rejected], not as the [rule] it was; and the
    manual codings' count is among the run's inputs."""
    db, rules, build_with = _two_rule_project(tmp_path)
    build_with(rules)
    conn = sqlite3.connect(db)
    segment = conn.execute("select segment_id from codings where code_id = 'regie.inkoop' order by segment_id").fetchone()[0]
    workbench.record_decision(conn, segment, "regie.inkoop", "reject", "coder_a")
    conn.close()
    build_with(rules)
    output = CliRunner().invoke(cli, ["diff", "--db", str(db)]).output
    assert "manual codings 0 -> 1" in output
    assert f"  - {segment}  [rejected] " in output


def test_diff_after_rule_edit(tmp_path):
    db, rules, build_with = _two_rule_project(tmp_path)
    build_with(rules)
    build_with(rules[:1])      # the edit: the contract rule is dropped
    result = CliRunner().invoke(cli, ["diff", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Run 1 -> run 2"
    inputs = result.output.splitlines()[1]
    assert re.fullmatch(r"  codebook \w+ -> \w+, model rules-only \(same\), corpus \w+ \(same\), manual codings 0 \(same\)",
                        inputs), inputs
    assert "regie.inkoop: +0 -1" in result.output
    assert "Het contract loopt tot 2026." in result.output
    # what caused it: the code whose rules changed, and the source of the coding lost
    assert result.output.splitlines()[2] == "  codes rules edited: regie.inkoop"
    assert re.search(r"^  - \w+  \[rule\] Het contract loopt tot 2026\.$", result.output, re.MULTILINE)
    one_run = CliRunner().invoke(cli, ["diff", "1", "7", "--db", str(db)])
    assert one_run.exit_code == 1 and "no run 7; runs are 1, 2" in one_run.output


def _changes(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("select run_id, segment_id, code_id, change from run_changes order by 1, 2, 3").fetchall()


def test_the_run_history_keeps_changes_and_diffs_any_two_runs(tmp_path):
    db, rules, build_with = _two_rule_project(tmp_path)
    build_with(rules)                   # run 1: both rules
    build_with(rules[:1])               # run 2: the contract rule dropped
    build_with(rules)                   # run 3: back again
    build_with(rules)                   # run 4: nothing changed
    changes = _changes(db)
    assert {run for run, *_ in changes} == {1, 2, 3}, "an unchanged build records no change"
    assert [(run, code, change) for run, _, code, change in changes if run > 1] == [
        (2, "regie", "lost"), (2, "regie.inkoop", "lost"), (3, "regie", "gained"), (3, "regie.inkoop", "gained")]
    with sqlite3.connect(db) as conn:
        first = set(conn.execute(RUN_CODINGS_SQL, {"run": 1}).fetchall())
        assert first == set(conn.execute("select segment_id, code_id from segment_codes").fetchall())
        assert len(conn.execute(RUN_CODINGS_SQL, {"run": 2}).fetchall()) == len(first) - 2
    runner = CliRunner()
    assert "no coding changed" in runner.invoke(cli, ["diff", "1", "4", "--db", str(db)]).output
    assert "regie.inkoop: +1 -0" in runner.invoke(cli, ["diff", "2", "3", "--db", str(db)]).output
    backwards = runner.invoke(cli, ["diff", "3", "2", "--db", str(db)]).output
    assert backwards.startswith("Run 3 -> run 2") and "regie.inkoop: +0 -1" in backwards
    assert "Het contract loopt tot 2026." in backwards


def test_a_database_with_full_run_sets_is_turned_into_changes(tmp_path):
    # Databases built before the history was kept as changes hold every run's codings in run_codings.
    db, rules, build_with = _two_rule_project(tmp_path)
    build_with(rules)
    build_with(rules[:1])
    build_with(rules)
    before = _changes(db)
    with sqlite3.connect(db) as conn:
        conn.execute("create table run_codings (run_id integer, segment_id text, code_id text, source text, "
                     "primary key (run_id, segment_id, code_id))")
        for run in (1, 2, 3):
            conn.executemany("insert into run_codings values (?, ?, ?, 'rule')",
                             [(run, *row) for row in conn.execute(RUN_CODINGS_SQL, {"run": run}).fetchall()])
        conn.execute("drop table run_changes")
    build_with(rules)
    assert _changes(db) == before
    assert "regie.inkoop: +0 -1" in CliRunner().invoke(cli, ["diff", "1", "2", "--db", str(db)]).output


def test_the_demo_corpus_has_two_independent_coders(demo_db):
    # corpus/demo/codings.csv: onderzoeker_b coded the first batch's 420 non-interviewer segments blind
    # to onderzoeker_a (the second batch's 497 are held out, in corpus/demo/_held_out/)
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


def test_the_diff_page_compares_the_runs_a_researcher_picks(tmp_path):
    import asyncio

    from datasette.app import Datasette

    db, rules, build_with = _two_rule_project(tmp_path)
    build_with(rules)
    build_with(rules[:1])
    build_with(rules)

    async def pages():
        datasette = Datasette([str(db)])
        await datasette.invoke_startup()
        return [(await datasette.client.get(path)).text
                for path in ("/-/qcode/diff", "/-/qcode/diff?a=1&b=2", "/-/qcode/diff?a=x&b=99")]

    last_two, chosen, unknown = asyncio.run(pages())
    assert "Run 2 → run 3" in last_two and "regie.inkoop: +1 −0" in last_two
    assert '<option value="1"' in last_two and '<option value="3" selected' in last_two
    assert "Run 1 → run 2" in chosen and "regie.inkoop: +0 −1" in chosen
    assert re.search(r"codeboek \w+ → \w+, model rules-only \(gelijk\), corpus \w+ \(gelijk\)", chosen)
    assert "Het contract loopt tot 2026." in chosen
    assert "Codes regels gewijzigd: regie.inkoop</p>" in chosen and "[regel]</span>" in chosen
    assert "Run 2 → run 3" in unknown, "runs that do not exist fall back to the last two"


def test_agreement_of_reviewers_counts_what_they_left_standing(tmp_path):
    """Workbench reviewers leave the machine's codes they agree with as they are: with --reviewed a
    machine code a coder did not reject is hers (without it, only what she confirmed or added)."""
    import json

    db, rules, build_with = _two_rule_project(tmp_path)
    build_with(rules)
    conn = sqlite3.connect(db)
    segment = conn.execute("select segment_id from codings where code_id = 'regie.inkoop'").fetchone()[0]
    machine = {row[0] for row in conn.execute("select code_id from codings where segment_id = ?", [segment])}
    assert {"regie", "regie.inkoop"} <= machine
    workbench.record_decision(conn, segment, "regie.inkoop", "confirm", "anna")
    workbench.record_decision(conn, segment, "regie", "confirm", "bram")       # leaves regie.inkoop standing
    conn.close()

    def disagreements(*options):
        result = CliRunner().invoke(cli, ["agreement", "--db", str(db), "--coders", "anna", "bram", "--json", *options])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["disagreements"]
    assert len(disagreements()) == 1
    assert disagreements("--reviewed") == []


def test_merging_two_codes_is_said_with_what_it_changes(tmp_path):
    """Merging a code into another (`replaces` naming a code of the last build) made a coder's
    confirm of the old code and reject of the new one contradict each other, of which the latest
    silently won, and grew the findings on the new code without a word (tester round 8)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Klantmanager: Na de aanbesteding hebben we maar één taalaanbieder.\n",
                                  encoding="utf-8")
    (corpus / "findings.yaml").write_text("findings:\n  - id: S1\n    statement: Weinig aanbieders.\n"
                                          "    codes: [regie.samenwerking]\n", encoding="utf-8")
    data = yaml.safe_load((ROOT / "codebook.yaml").read_text(encoding="utf-8"))
    codebook = tmp_path / "codebook.yaml"
    codebook.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    db = tmp_path / "db" / "x.db"
    build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    segment = conn.execute("select id from segments").fetchone()[0]
    workbench.record_decision(conn, segment, "regie.inkoop", "confirm", "anna")
    workbench.record_decision(conn, segment, "regie.samenwerking", "reject", "anna")
    workbench.add_memo(conn, "code", "regie.inkoop", "anna", "over inkoop")
    monitoring = workbench.add_memo(conn, "code", "lerend_stelsel.monitoring", "anna", "over monitoring")
    conn.close()
    data["codes"] = [c for c in data["codes"] if c["id"] not in ("regie.inkoop", "lerend_stelsel.monitoring")]
    next(c for c in data["codes"] if c["id"] == "regie.samenwerking")["replaces"] = ["regie.inkoop"]
    codebook.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = build(corpus, db, codebook)
    warnings = result.warnings
    # a memo on a deleted code is kept and said; one on a merged code follows it
    assert [o for o in result.orphaned if o.startswith("memo")] == [
        f"memo {monitoring['id']} on code 'lerend_stelsel.monitoring', which {codebook} no longer has: kept, shown on "
        f"no page (name it under 'replaces' to keep it)"]
    assert (f"{codebook}: code 'regie.samenwerking' replaces 'regie.inkoop', a code of its own until this build: its "
            f"codings count as 'regie.samenwerking''s now, also as support for finding S1 ({corpus / 'findings.yaml'})"
            in warnings)
    assert (f"{codebook}: after the merge into 'regie.samenwerking', anna's decisions on segment {segment} disagree "
            f"(confirm, reject); only the latest counts: decide again in the workbench" in warnings)
    assert not any("replaces" in w for w in build(corpus, db, codebook).warnings)     # said once, in the merge's build


def test_diff_after_a_rename_shows_only_what_changed(tmp_path):
    """A renamed code read as all its segments lost under the old id and gained under the new
    (tester round 8): the diff compares the code with what its old id had, both ways."""
    db, rules, build_with = _two_rule_project(tmp_path)
    build_with(rules)
    build_with(rules[:1], id="regie.aanbesteding", replaces=["regie.inkoop"])   # renamed, a rule dropped
    runner = CliRunner()
    output = runner.invoke(cli, ["diff", "--db", str(db)]).output
    assert "codes renamed or merged: regie.inkoop -> regie.aanbesteding; rules edited" not in output
    assert "  codes renamed or merged: regie.inkoop -> regie.aanbesteding" in output
    assert "regie.inkoop:" not in output
    assert "regie.aanbesteding: +0 -1 (1 segments carried over from regie.inkoop)" in output
    assert re.search(r"^  - \w+  \[rule\] Het contract loopt tot 2026\.$", output, re.MULTILINE)
    backwards = runner.invoke(cli, ["diff", "2", "1", "--db", str(db)]).output
    assert "regie.inkoop: +1 -0 (1 segments carried over from regie.aanbesteding)" in backwards
    assert "regie.aanbesteding:" not in backwards
    with sqlite3.connect(db) as conn:
        page = workbench.last_run_diff(conn)
    assert page["codebook_changes"]["renamed or merged"] == ["regie.inkoop -> regie.aanbesteding"]
    assert page["codebook_changes"]["added"] == page["codebook_changes"]["removed"] == []
    assert list(page["codes"]) == ["regie", "regie.aanbesteding"]      # the theme lost the contract segment too
    assert page["codes"]["regie.aanbesteding"]["carried"] == {"regie.inkoop": 1}


def test_machine_codes_a_coder_left_out_do_not_count(tmp_path):
    """Two coders coded a segment from scratch (codings.csv) without a code the rules gave it: that
    code was still counted, on the machine's word against theirs (tester round 8). Now it counts
    only where nobody coded the segment by hand; the quote page still shows it, to confirm."""
    import json

    db, rules, build_with = _two_rule_project(tmp_path)
    build_with(rules)
    corpus = tmp_path / "corpus"
    (corpus / "codings.csv").write_text(
        "document,quote,codes,coder\n"
        "a.txt,Na de aanbesteding hebben we maar één taalaanbieder.,taal.lesaanbod,anna\n"
        "a.txt,Na de aanbesteding hebben we maar één taalaanbieder.,taal.lesaanbod,bram\n", encoding="utf-8")
    build_with(rules)
    conn = sqlite3.connect(db)
    coded, other = [row[0] for row in conn.execute("select id from segments order by seq")][-2:]
    machine = {(s, c) for s, c in conn.execute("select segment_id, code_id from codings")}
    assert {(coded, "regie.inkoop"), (other, "regie.inkoop")} <= machine       # the rules fire on both
    counted = lambda segment: {c for (c,) in conn.execute("select code_id from segment_codes where segment_id = ?", [segment])}
    assert counted(coded) == {"taal", "taal.lesaanbod"}                       # the coders' codes, not the rules'
    assert "regie.inkoop" in counted(other)                                   # nobody coded it: the machine's
    page = workbench.quote(conn, coded)
    assert "regie.inkoop" in [c["code_id"] for c in page["set_aside"]]
    workbench.record_decision(conn, coded, "regie.inkoop", "confirm", "carla")     # a reviewer takes it up
    assert "regie.inkoop" in counted(coded)
    conn.close()
    report = json.loads(CliRunner().invoke(cli, ["agreement", "--db", str(db), "--coders", "anna", "bram",
                                                 "--json", "--reviewed"]).output)
    assert report["disagreements"] == [] and report["segments"] == 1   # the rules' codes are neither coder's
    assert report["per_code"]["regie.inkoop"]["support"] == 0
    output = CliRunner().invoke(cli, ["diff", "1", "2", "--db", str(db)]).output     # the coders' file came in
    assert "regie.inkoop: +0 -1" in output
    assert f"  - {coded}  [left out] Na de aanbesteding hebben we maar één taalaanbieder." in output


def test_coded_from_scratch_reads_the_same_in_sql_and_python():
    """Search and the diff (SQL) and agreement --reviewed (Python) agree on which adds mean a coder
    coded the segment from scratch: those from a codings file or another tool, not a review."""
    from pipeline.store import CODED_FROM_SCRATCH, coded_from_scratch

    rows = [(decision, origin) for decision in ("add", "confirm", "reject")
            for origin in ("file:codings.csv:3", "refi:ander.qdpx", "refi-review:demo.qdpx", "workbench", None)]
    conn = sqlite3.connect(":memory:")
    conn.execute("create table m (decision text, origin text)")
    conn.executemany("insert into m values (?, ?)", rows)
    in_sql = {(d, o) for d, o in conn.execute(f"select decision, origin from m as x where {CODED_FROM_SCRATCH.format(m='x')}")}
    in_python = {(d, o) for d, o in rows if coded_from_scratch({"decision": d, "origin": o})}
    assert in_sql == in_python == {("add", "file:codings.csv:3"), ("add", "refi:ander.qdpx")}
