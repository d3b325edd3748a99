"""The demo corpus end to end: build, nothing identifying in the database, Datasette over HTTP."""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from conftest import DEMO_CORPUS, whole_words_in


def planted_identifiers() -> list[str]:
    lines = (DEMO_CORPUS / "planted_identifiers.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def database_text(db_path) -> str:
    conn = sqlite3.connect(db_path)
    texts = []
    for (table,) in conn.execute("select name from sqlite_master where type = 'table'"):
        for row in conn.execute(f"select * from [{table}]"):
            texts += [value for value in row if isinstance(value, str)]
    return "\n".join(texts)


def test_demo_corpus_is_big_enough():
    manifest = (DEMO_CORPUS / "manifest.yaml").read_text(encoding="utf-8")
    assert manifest.count("- file:") >= 30
    assert len(planted_identifiers()) >= 100
    assert "fictief" in (DEMO_CORPUS / "README.md").read_text(encoding="utf-8").lower()


def test_build_counts(demo_db):
    conn = sqlite3.connect(demo_db)
    assert conn.execute("select count(*) from documents").fetchone()[0] >= 30
    assert conn.execute("select sum(words) from documents").fetchone()[0] >= 25000
    assert conn.execute("select count(distinct segment_id) from manual_codings where status = 'anchored'").fetchone()[0] >= 400
    themes = {row[0] for row in conn.execute("select distinct theme from segment_codes")}
    assert themes == {"regie", "taal", "snel_meedoen", "lerend_stelsel"}
    assert conn.execute("select count(*) from manual_codings where status = 'orphaned'").fetchone()[0] == 0
    assert conn.execute("select status from runs").fetchone()[0] == "complete"


def test_the_model_is_retrained_for_an_edited_definition_not_for_an_edited_rule(demo_db, demo_workspace, tmp_path):
    import shutil

    import yaml

    from pipeline.build import build

    project = tmp_path / "project"
    shutil.copytree(demo_workspace, project)
    codebook = project / "codebook.yaml"

    def edit_and_build(edit):
        data = yaml.safe_load(codebook.read_text(encoding="utf-8"))
        edit(data["codes"][0])
        codebook.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return build(project / "corpus" / "demo", project / "db" / "demo.db", codebook).counts

    assert edit_and_build(lambda code: code["rules"][0]["phrases"].append("regiezaak"))["model"]["status"] == "reused"
    assert edit_and_build(lambda code: code.update(definition=code["definition"] + " Ook de sturing."))["model"]["status"] == "trained"


def test_interviewer_turns_get_no_machine_codings_but_keep_manual_ones(demo_db):
    """codebook.yaml: uncoded_roles: [interviewer]."""
    conn = sqlite3.connect(demo_db)
    machine = "select count(*) from codings c join segments s on s.id = c.segment_id where s.role = ?"
    assert conn.execute(machine, ["interviewer"]).fetchone()[0] == 0
    assert conn.execute(machine, ["klantmanager"]).fetchone()[0] > 0
    manual = set(conn.execute("select m.segment_id, m.code_id from manual_codings m join segments s on s.id = m.segment_id "
                              "where s.role = 'interviewer' and m.decision = 'add' and m.status = 'anchored'"))
    counted = set(conn.execute("select segment_id, code_id from segment_codes where role = 'interviewer'"))
    assert manual and manual <= counted
    conn.close()


def test_no_planted_identifier_in_database(demo_db):
    text = database_text(demo_db)
    raw = demo_db.read_bytes()
    # The raw bytes (free pages, the full-text index) too; whole words, since "Voorst" is in "Voorstel".
    identifiers = planted_identifiers()
    assert whole_words_in(identifiers, text) == []
    assert whole_words_in([ident for ident in identifiers if len(ident) >= 6], raw) == []


def test_key_lives_outside_db_and_is_private(demo_db):
    key_path = demo_db.parent.parent / "keys" / "demo.key.json"
    assert key_path.exists()
    assert (key_path.stat().st_mode & 0o777) == 0o600
    assert not list(demo_db.parent.glob("*.key.json"))


def test_search_returns_anonymised_quotes(server):
    page = httpx.get(server + "/-/qcode/search", params={"q": "taalles"}).text
    assert "taallessen" in page            # inflected form found through the lemma index
    assert "segmenten" in page
    json_rows = httpx.get(server + "/demo/segments.json", params={"_search": "taalles", "_shape": "array"}).json()
    assert json_rows
    found = httpx.get(server + "/demo/segments.json", params={"_search": "gemeente", "_shape": "array", "_size": 200}).json()
    assert any("gemeenten" in r["text"] for r in found)
    hyphenated = httpx.get(server + "/demo/segments.json", params={"_search": "B1-route", "_shape": "array"})
    assert hyphenated.status_code == 200 and hyphenated.json()     # not valid FTS5: searched as words
    served = "\n".join(r["text"] for r in json_rows + found)
    assert "[GEMEENTE-" in served and "[PERSOON-" in served       # the quotes served are the anonymised text
    assert whole_words_in(planted_identifiers(), served) == []


@pytest.mark.parametrize("query, params", [
    ("quotes_for_code", {"code": "taal", "role": "", "municipality_type": ""}),
    ("code_by_role", {}),
    ("code_cooccurrence", {}),
    ("finding_quotes", {"finding": "F07"}),
    ("run_diff", {"run_a": "1", "run_b": "1"}),
    ("run_codings", {"run": "1"}),
])
def test_canned_queries_run(server, query, params):
    response = httpx.get(f"{server}/demo/{query}.json", params={**params, "_shape": "array"})
    assert response.status_code == 200, response.text[:500]
    rows = response.json()
    if query != "run_diff":
        assert rows, query


def test_no_key_value_is_served(server, demo_db):
    key = json.loads((demo_db.parent.parent / "keys" / "demo.key.json").read_text(encoding="utf-8"))
    forms = {form for entry in key["entries"].values() for form in entry["forms"] if len(form) >= 5}
    forms |= set(key["documents"].values())
    pages = ["/-/qcode", "/-/qcode/codebook", "/-/qcode/findings", "/-/qcode/finding/F07", "/-/qcode/matrix/role",
             "/-/qcode/matrix/municipality", "/-/qcode/documents", "/-/qcode/diff", "/-/qcode/search?q=werk",
             "/demo/documents.json?_shape=array&_size=max", "/demo/segments.json?_shape=array&_size=max",
             "/demo/participants.json?_shape=array&_size=max", "/demo/municipalities.json?_shape=array"]
    conn = sqlite3.connect(demo_db)
    pages += [f"/-/qcode/document/{d}" for (d,) in conn.execute("select id from documents limit 8")]
    pages += [f"/-/qcode/quote/{s}" for (s,) in conn.execute("select id from segments order by random() limit 10")]
    served = "\n".join(httpx.get(server + p, timeout=30).text for p in pages)
    assert whole_words_in(forms, served) == []
