"""Incremental builds: an unchanged document is not read or anonymised again, and reusing it never
changes what the database holds (compared with a build that redoes everything)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from pipeline import cache, store
from pipeline.anonymise import PseudonymKey
from pipeline.build import build
from pipeline.errors import QcodeError

ROOT = Path(__file__).resolve().parent.parent
DOCS = {
    "a.txt": "Klantmanager: Ik heb het daar met Tjoelker over gehad. De taallessen zijn te kort.\n",
    "b.txt": "Tolk: Hij zegt dat hij maanden in het azc heeft gewacht op een woning in Zwolle.\n",
}


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "corpus").mkdir()
    for name, text in DOCS.items():
        (tmp_path / "corpus" / name).write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "codebook.yaml", tmp_path / "codebook.yaml")
    return tmp_path


def run(project: Path, db_name: str = "demo.db", **options):
    return build(project / "corpus", project / "db" / db_name, project / "codebook.yaml", **options)


def query(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def texts(db: Path) -> dict[str, str]:
    return dict(query(db, "select id, text from documents"))


def test_unchanged_documents_come_from_the_cache(project):
    assert run(project).counts["documents_from_cache"] == 0
    first = texts(project / "db" / "demo.db")
    again = run(project)
    assert again.counts["documents_from_cache"] == 2
    assert texts(project / "db" / "demo.db") == first
    (project / "corpus" / "b.txt").write_text(DOCS["b.txt"] + "\nTolk: Zij wil werken in de zorg.\n", encoding="utf-8")
    assert run(project).counts["documents_from_cache"] == 1


def test_cache_lives_beside_the_key_owner_only(project):
    run(project)
    path = cache.cache_path_for(project / "keys" / "demo.key.json")
    assert path.exists() and path.parent.name == "keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The coding cache beside the database holds anonymised text only.
    coding_cache = project / "db" / "demo.coding-cache.pickle"
    assert coding_cache.exists()
    assert b"Tjoelker" not in coding_cache.read_bytes() and b"Zwolle" not in coding_cache.read_bytes()


def test_a_name_learnt_from_a_new_document_sends_old_ones_containing_it_back(project):
    run(project)
    (project / "corpus" / "c.txt").write_text("Deelnemer: Dat is mevrouw Anke Tjoelker van het Werkplein.\n",
                                              encoding="utf-8")
    result = run(project)
    assert result.counts["documents_from_cache"] == 1          # b.txt; a.txt mentions Tjoelker
    incremental = texts(project / "db" / "demo.db")
    # The same corpus built from scratch with the same key gives the same database text.
    shutil.copy(project / "keys" / "demo.key.json", project / "keys" / "full.key.json")
    run(project, "full.db", use_cache=False)
    assert texts(project / "db" / "full.db") == incremental
    assert all("Tjoelker" not in text for text in incremental.values())


def test_anonymiser_settings_or_a_new_key_invalidate_the_cache(project):
    run(project)
    (project / "corpus" / "anonymise.yaml").write_text("force_keep: [Zwolle]\n", encoding="utf-8")
    assert run(project).counts["documents_from_cache"] == 0
    assert run(project).counts["documents_from_cache"] == 2
    (project / "keys" / "demo.key.json").unlink()
    with pytest.raises(QcodeError, match="no pseudonym key, but .* was built with one; a new key would renumber"):
        run(project)        # a lost key is not replaced in silence
    assert run(project, new_key=True).counts["documents_from_cache"] == 0


def test_recheck_helpers():
    key = PseudonymKey()
    before = cache.key_forms(key)
    key.pseudonym_for("PERSON", "Anke Tjoelker")
    words = cache.names_to_recheck(before, key)
    assert words == {"anke", "tjoelker"}
    assert cache.needs_recheck("Met TJOELKER gesproken.", words)
    assert not cache.needs_recheck("Met Tjoelkers gesproken over de toekomst.", words)
    assert not cache.needs_recheck("Met Tjoelker gesproken.", set())


def codings(db: Path) -> set[tuple]:
    return set(query(db, "select segment_id, code_id, source, rule_id, spans from codings"))


def test_a_one_code_rule_edit_rematches_that_code_only(project):
    import yaml

    run(project)
    data = yaml.safe_load((project / "codebook.yaml").read_text(encoding="utf-8"))
    code = next(c for c in data["codes"] if c["id"] == "taal.lesaanbod")
    code["rules"][0]["phrases"].append("te kort")
    (project / "codebook.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = run(project)
    assert result.counts["rules_rematched"] == 1 and result.counts["segments_new"] == 0
    assert 1 <= result.counts["segments_rematched"] < result.counts["segments"]
    incremental = codings(project / "db" / "demo.db")
    assert any(c[1] == "taal.lesaanbod" for c in incremental)
    shutil.copy(project / "keys" / "demo.key.json", project / "keys" / "full.key.json")
    run(project, "full.db", use_cache=False)
    assert codings(project / "db" / "full.db") == incremental
    # A phrase removed: that rule is matched again in full, and the result is the same as a full build.
    code["rules"][0]["phrases"].pop(0)
    (project / "codebook.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert run(project).counts["rules_rematched"] == 1
    run(project, "full.db", use_cache=False)
    assert codings(project / "db" / "full.db") == codings(project / "db" / "demo.db")


def test_an_unreadable_cache_is_ignored(project):
    run(project)
    (project / "keys" / "demo.cache.pickle").write_bytes(b"\x80\x04garbage")
    (project / "db" / "demo.coding-cache.pickle").write_bytes(b"not a pickle")
    result = run(project)
    assert result.counts["documents_from_cache"] == 0 and result.counts["segments_new"] == result.counts["segments"]


def test_codes_are_reused_only_for_segments_whose_hits_model_and_thresholds_are_unchanged(tmp_path):
    import json

    import yaml

    from pipeline.codebook import load_codebook
    from pipeline.coding import CodingCache, assign_codes, assign_incremental, prepare_incremental, train_model

    items = [json.loads(line) for line in (ROOT / "corpus" / "demo" / "gold_codings.jsonl").open(encoding="utf-8")][:150]
    texts = [item["text"] for item in items]
    codebook = load_codebook(ROOT / "codebook.yaml")
    prepared, first_cache, _ = prepare_incremental(texts, codebook, CodingCache())
    model = train_model(codebook, prepared, [set(item["codes"]) for item in items])
    keys = [cache.text_hash(t) for t in texts]
    assign_incremental(codebook, prepared, model, None, keys, CodingCache(), first_cache)

    data = yaml.safe_load((ROOT / "codebook.yaml").read_text(encoding="utf-8"))
    for code in data["codes"]:   # every rule of one code now also fires on a common word
        for rule in code.get("rules", []) if code["id"] == "taal.lesaanbod" else []:
            rule.setdefault("phrases", []).append("gemeente")
    (tmp_path / "codebook.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    edited = load_codebook(tmp_path / "codebook.yaml")
    prepared_after, second_cache, redone = prepare_incremental(texts, edited, first_cache)
    assert redone["segments_rematched"] >= 1
    reused = assign_incremental(edited, prepared_after, model, None, keys, first_cache, second_cache)
    assert reused == assign_codes(edited, prepared_after, model)
    assert sum(row is first_cache.assignments[k] for k, row in zip(keys, reused)) > len(keys) // 2   # taken over
    assert any(a != b for a, b in zip(first_cache.assignments.values(), second_cache.assignments.values()))
    # Other thresholds: nothing is taken from the cache, and the codes still equal a fresh run.
    code = model.classifier.trained_codes_[0]
    model.classifier.thresholds_[code] = (1.01, 1.01)
    third = CodingCache()
    assert assign_incremental(edited, prepared_after, model, None, keys, second_cache, third) == \
        assign_codes(edited, prepared_after, model)
    assert not any(a.code_id == code for row in third.assignments.values() for a in row)


def test_a_workbench_coding_orphaned_during_the_build_is_counted(project, monkeypatch):
    run(project)
    copy_researcher_tables, copies = store.copy_researcher_tables, []

    def with_a_late_coding(path):
        tables = copy_researcher_tables(path)
        copies.append(path)
        if len(copies) == 2:     # the copy just before the swap: saved in the workbench while the build ran
            tables.setdefault("manual_codings", []).append({
                "id": "late", "segment_id": "gone", "document_id": "gone", "code_id": "taal", "coder": "a",
                "decision": "add", "created": "2026-01-01T00:00:00+00:00", "origin": "workbench",
                "anchor_text": "", "status": "anchored", "note": None})
        return tables

    monkeypatch.setattr(store, "copy_researcher_tables", with_a_late_coding)
    result = run(project)
    db = project / "db" / "demo.db"
    assert query(db, "select id, status from manual_codings") == [("late", "orphaned")]
    assert result.counts["orphaned"] == 1
    assert json.loads(query(db, f"select counts from runs where id = {result.run_id}")[0][0])["orphaned"] == 1


def test_a_decision_changed_or_withdrawn_during_the_build_is_so_after_it(project, monkeypatch):
    """A confirm turned reject keeps its id, and a withdrawn "none" is gone from the old file: the
    build's catch-up copied only new ids, so the swap brought the old decision back (tester round 5a)."""
    from datasette_plugins import workbench

    run(project)
    db = project / "db" / "demo.db"
    seg_a, seg_b = [row[0] for row in query(db, "select id from segments order by id")][:2]
    conn = sqlite3.connect(db)
    workbench.record_decision(conn, seg_a, "taal", "reject", "anna")
    workbench.record_decision(conn, seg_b, "", "none", "anna")
    conn.close()
    run(project)     # a "none" has no code, and is still a decision after a rebuild
    assert query(db, "select segment_id, decision, status from manual_codings where coder = 'anna' order by decision") == \
        [(seg_b, "none", "anchored"), (seg_a, "reject", "anchored")]
    copy_researcher_tables, copies = store.copy_researcher_tables, []

    def with_late_changes(path):
        copies.append(path)
        if len(copies) == 2:     # just before the swap: anna changed her mind in the workbench meanwhile
            conn = sqlite3.connect(path)
            workbench.record_decision(conn, seg_a, "taal", "confirm", "anna")
            workbench.record_decision(conn, seg_b, "", "none", "anna")      # a second "none" withdraws it
            conn.close()
        return copy_researcher_tables(path)

    monkeypatch.setattr(store, "copy_researcher_tables", with_late_changes)
    run(project)
    assert query(db, "select segment_id, decision from manual_codings where coder = 'anna'") == [(seg_a, "confirm")]
    assert query(db, f"select source from segment_codes where segment_id = '{seg_a}' and code_id = 'taal'") == [("manual",)]


def test_a_coder_withdraws_her_codings_csv_coding_in_the_workbench(project):
    """Her reject, made after the file's add, is her latest decision: the code leaves the segment and
    her gold codings (a confirm of it by another coder would still count; tester round 5a)."""
    from datasette_plugins import workbench
    from pipeline.evaluate import gold_from_db

    (project / "corpus" / "codings.csv").write_text(
        "document,quote,codes,coder\na.txt,De taallessen zijn te kort.,taal.lesaanbod,anna\n", encoding="utf-8")
    run(project)
    db = project / "db" / "demo.db"
    segment = query(db, "select segment_id from manual_codings where coder = 'anna'")[0][0]
    assert ("taal.lesaanbod",) in query(db, f"select code_id from segment_codes where segment_id = '{segment}'")
    conn = sqlite3.connect(db)
    workbench.record_decision(conn, segment, "taal.lesaanbod", "reject", "anna")
    conn.close()
    assert ("taal.lesaanbod",) not in query(db, f"select code_id from segment_codes where segment_id = '{segment}'")
    assert [item["codes"] for item in gold_from_db(db, "anna")] == [[]]
    run(project)
    assert ("taal.lesaanbod",) not in query(db, f"select code_id from segment_codes where segment_id = '{segment}'")


def test_a_file_the_manifest_does_not_list_keeps_its_id_and_decisions_when_moved(tmp_path):
    """An unlisted file's id was the hash of its name: anyone could confirm a guessed name
    ("Dalfsen/focusgroep_Dalfsen_Lubbers.pdf") from a report, and moving the file to a subfolder
    orphaned every decision on it (tester round 7). Its id now comes from its bytes and is kept."""
    import shutil
    import sqlite3

    from pipeline.build import build
    from pipeline.manifest import default_document_id

    codebook = Path(__file__).resolve().parent.parent / "codebook.yaml"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "focusgroep_Dalfsen_Lubbers.txt").write_text(
        "Klantmanager: De wachttijd voor de taallessen is te lang, mensen wachten maanden.\n", encoding="utf-8")
    (corpus / "tweede.txt").write_text("Klantmanager: Het PIP is op tijd klaar.\n", encoding="utf-8")
    db = tmp_path / "db" / "x.db"
    build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    doc_id, segment = conn.execute("select document_id, id from segments where text like '%wachttijd%'").fetchone()
    assert doc_id != default_document_id("focusgroep_Dalfsen_Lubbers.txt")
    conn.execute("insert into manual_codings (id, segment_id, document_id, code_id, coder, decision, created, status, "
                 "anchor_text, origin) values ('m1', ?, ?, 'taal', 'anna', 'confirm', '2026-12-01', 'anchored', "
                 "'De wachttijd', 'workbench')", [segment, doc_id])
    conn.commit()
    conn.close()
    (corpus / "2024").mkdir()
    shutil.move(corpus / "focusgroep_Dalfsen_Lubbers.txt", corpus / "2024" / "focusgroep_Dalfsen_Lubbers.txt")
    result = build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    assert conn.execute("select document_id from segments where id = ?", [segment]).fetchone() == (doc_id,)
    assert conn.execute("select status from manual_codings where id = 'm1'").fetchone() == ("anchored",)
    assert result.counts["orphaned"] == 0


def test_unlisted_ids_kept_from_older_builds_and_by_file(tmp_path):
    """A project built before ids came from the bytes keeps its files' old ids (their codings hang
    on them); an edited file keeps its id; a new file where a moved one was gets an id of its own."""
    from pipeline.anonymise import PseudonymKey
    from pipeline.build import _unlisted_document_ids
    from pipeline.ingest import Document
    from pipeline.manifest import content_document_id, default_document_id

    def doc(content: str) -> Document:
        return Document(path=tmp_path / "x", text=content, format="txt", content_hash=content * 8)

    key = PseudonymKey({"documents": {default_document_id("oud.txt"): "/corpus/oud.txt"}})
    first = _unlisted_document_ids({"oud.txt": doc("a"), "nieuw.txt": doc("b")}, key)
    assert first == {"oud.txt": default_document_id("oud.txt"), "nieuw.txt": content_document_id("b" * 8)}
    assert _unlisted_document_ids({"oud.txt": doc("c"), "nieuw.txt": doc("d")}, key) == first   # edited
    moved = _unlisted_document_ids({"map/nieuw.txt": doc("b"), "nieuw.txt": doc("e"), "oud.txt": doc("a")}, key)
    assert moved["map/nieuw.txt"] == first["nieuw.txt"] and moved["nieuw.txt"] == content_document_id("e" * 8)
    twins = _unlisted_document_ids({"x.txt": doc("f"), "y.txt": doc("f")}, PseudonymKey())
    assert twins == {"x.txt": content_document_id("f" * 8), "y.txt": content_document_id("f" * 8) + "-2"}


def test_a_name_forced_out_later_leaves_the_report_status_too(tmp_path):
    """A lower-case name the anonymiser missed, added to force_remove after a quote got a report
    status, stayed readable in quote_status.anchor_text (tester round 8)."""
    import sqlite3

    from pipeline.build import build

    codebook = Path(__file__).resolve().parent.parent / "codebook.yaml"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notities.txt").write_text("Klantmanager: ik heb zwanetje kortlever gebeld over de taallessen.\n",
                                         encoding="utf-8")
    db = tmp_path / "db" / "x.db"
    build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    segment, text = conn.execute("select id, text from segments where text like '%gebeld%'").fetchone()
    conn.execute("insert into quote_status (segment_id, status, updated_by, updated, anchor_text) values "
                 "(?, 'selected', 'anna', '2026-12-01', ?)", [segment, text])
    conn.commit()
    conn.close()
    (corpus / "anonymise.yaml").write_text("force_remove:\n  - zwanetje kortlever\n", encoding="utf-8")
    build(corpus, db, codebook)
    anchors = [row[0] for row in sqlite3.connect(db).execute("select anchor_text from quote_status")]
    assert anchors and not any("kortlever" in anchor for anchor in anchors)
