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


WMO_LETTER = """Raadsinformatiebrief huishoudelijke hulp

Het college voert de regie over de maatschappelijke ondersteuning. Na de aanbesteding van de huishoudelijke hulp werken wij met één aanbieder; de wachttijd voor een keukentafelgesprek is opgelopen tot acht weken.

Wij overleggen met de zorgaanbieders over de kwaliteit en zullen de raad in het voorjaar informeren over de monitor.
"""
INBURGERING_NOTE = """Verslag gesprek klantmanager

Interviewer: Hoe gaat het met de inburgering van de statushouders?

Klantmanager: Na de aanbesteding hebben we één taalaanbieder. De wachttijd tot de eerste taalles is acht weken.
"""


def test_a_document_about_another_subject_gets_no_machine_codes(tmp_path):
    """A Wmo letter says "regie", "aanbesteding", "aanbieder" and "wachttijd" as an interview about
    inburgering does; outside the codebook's scope it gets no machine codes, is marked, and the build
    says so. Without `scope` in the codebook the next build codes it, and `qcode diff` shows the gain."""
    from click.testing import CliRunner

    from datasette_plugins import workbench
    from pipeline.cli import cli

    corpus, db, codebook = tmp_path / "corpus", tmp_path / "db" / "s.db", tmp_path / "codebook.yaml"
    corpus.mkdir()
    (corpus / "wmo-brief.txt").write_text(WMO_LETTER, encoding="utf-8")
    (corpus / "gesprek.txt").write_text(INBURGERING_NOTE, encoding="utf-8")
    text = (DEMO_CORPUS.parent.parent / "codebook.yaml").read_text(encoding="utf-8")
    codebook.write_text(text, encoding="utf-8")
    args = ["build", "--corpus", str(corpus), "--db", str(db), "--codebook", str(codebook), "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert ("  outside the codebook's scope: 2 segments, not coded by machine (their document does not speak of "
            "the subject there; see 'scope' in the codebook)") in result.output
    conn = sqlite3.connect(db)
    documents = dict(conn.execute("select text, document_id from segments where seq = 0"))
    wmo, interview = documents["Raadsinformatiebrief huishoudelijke hulp"], documents["Verslag gesprek klantmanager"]
    codes = {document: {code for (code,) in conn.execute(
        "select c.code_id from codings c join segments s on s.id = c.segment_id where s.document_id = ?", [document])}
        for document in (wmo, interview)}
    assert codes[wmo] == set() and {"regie.inkoop", "snel_meedoen.wachttijd"} <= codes[interview]
    marked = [json.loads(a).get("outside_scope") for (a,) in conn.execute(
        "select attrs from segments where document_id = ? and seq > 0", [wmo])]
    assert marked == [True, True]
    shown = workbench.document(conn, wmo)["segments"]          # the document page says why
    assert [s["outside_scope"] for s in shown] == [False, True, True]
    conn.close()

    start, end = text.index("\nscope:\n"), text.index("\ncodes:\n")
    codebook.write_text(text[:start] + text[end:], encoding="utf-8")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and "outside the codebook's scope" not in result.output, result.output
    diff = CliRunner().invoke(cli, ["diff", "--db", str(db)])
    assert "regie.inkoop: +1 -0" in diff.output and "Het college voert de regie over de maatschappelijke" in diff.output, \
        diff.output


def test_suggest_codes_texts_in_the_codebooks_scope_and_explains_them(demo_db, demo_workspace, tmp_path):
    """`qcode suggest` with the demo's model: a paragraph on the subject gets its codes, with the
    rule or terms behind each (--explain); the same words about the Wmo get none and say why
    ("in_scope": false); lines of one "document" are read together, so a paragraph without the
    subject's words is coded when the paragraph before it names the subject."""
    from click.testing import CliRunner

    from pipeline.cli import cli

    lines = [
        {"id": "inburgering", "text": "Na de aanbesteding van de inburgering hebben we maar één taalaanbieder."},
        {"id": "wmo", "text": "Na de aanbesteding van de huishoudelijke hulp hebben we maar één aanbieder."},
        {"id": "brief-1", "text": "Deze brief gaat over de statushouders in onze gemeente.", "document": "brief"},
        {"id": "brief-2", "text": "Na de aanbesteding hebben we maar één aanbieder.", "document": "brief"},
    ]
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = CliRunner().invoke(cli, ["suggest", "--input", str(path), "--model", str(demo_db.with_name("demo.model.pkl")),
                                      "--codebook", str(demo_workspace / "codebook.yaml"), "--explain"])
    assert result.exit_code == 0, result.output
    out = {item["id"]: item for item in map(json.loads, result.output.splitlines())}
    assert [out[i]["in_scope"] for i in ("inburgering", "wmo", "brief-1", "brief-2")] == [True, False, True, True]
    inkoop = next(c for c in out["inburgering"]["codes"] if c["code"] == "regie.inkoop")
    assert inkoop["source"] == "rule" and inkoop["explain"]["rules"][0]["rule"].startswith("regie.inkoop.")
    assert inkoop["explain"]["terms"]
    assert out["wmo"]["codes"] == [] and "regie.inkoop" in {c["code"] for c in out["brief-2"]["codes"]}
