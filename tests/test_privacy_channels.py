"""Channels other than a document's text through which a name could reach the database or a
report: a researcher's memo, a document id chosen in the manifest, and exports that a spreadsheet
or a Markdown renderer would execute (a researcher-style test round found each of them)."""

from __future__ import annotations

import io
import re
import sqlite3
import zipfile

import httpx
import pytest
import yaml

from conftest import CODEBOOK, start_server

MANIFEST = {"documents": [
    {"file": "a.txt", "id": "interview-rahimi-ede", "kind": "interview", "municipality": "Ede"},
    {"file": "b.txt", "id": "interview-02", "kind": "interview", "municipality": "Ede"},
]}
TEXT_A = "Interviewer: Hoe gaat het?\n\nZainab Rahimi: Goed, de taallessen in Ede zijn te kort.\n"
TEXT_B = ("Interviewer: En de klantmanager?\n\n"
          "Klantmanager: =HYPERLINK(\"http://example.invalid\") de taallessen <img src=x onerror=alert(1)> zijn "
          "[kort](javascript:alert(1)), zegt Fatima Yilmaz uit Ede.\n")


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    from pipeline.build import build

    root = tmp_path_factory.mktemp("privacy")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (corpus / "b.txt").write_text(TEXT_B, encoding="utf-8")
    (corpus / "manifest.yaml").write_text(yaml.safe_dump(MANIFEST), encoding="utf-8")
    db = root / "db" / "privacy.db"
    result = build(corpus, db, CODEBOOK)
    return root, corpus, db, result


def users_file(root):
    from datasette_plugins.workbench import hash_password

    path = root / "users.yaml"
    path.write_text(yaml.safe_dump({"users": {"tester": hash_password("geheim")}}), encoding="utf-8")
    return path


def test_a_document_id_with_a_name_fails_that_document_only(small_project):
    _, corpus, db, result = small_project
    assert any(f"{corpus / 'manifest.yaml'}: document id 'interview-rahimi-ede' (a.txt) contains 'ede', 'rahimi'" in e
               for e in result.errors), result.errors
    conn = sqlite3.connect(db)
    assert [row[0] for row in conn.execute("select id from documents")] == ["interview-02"]
    assert b"rahimi" not in db.read_bytes().lower()
    conn.close()


def test_a_memo_is_stored_without_the_names_it_was_typed_with(small_project):
    """Over HTTP on a real server: the memo form's text is redacted before it is stored, so the
    quote page, memos.json and every export show kinds, not names; a rebuild redacts memos that
    came in otherwise (an older database)."""
    from pipeline.build import build

    root, corpus, db, _ = small_project
    users = users_file(root)
    segment = sqlite3.connect(db).execute("select id from segments order by seq desc").fetchone()[0]
    server = start_server(db, users)
    base = next(server)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/qcode/login").text).group(1)
            client.post("/-/qcode/login", data={"username": "tester", "password": "geheim", "csrftoken": token})
            token = re.search(r'name="csrftoken" value="([^"]+)"', client.get(f"/-/qcode/quote/{segment}").text).group(1)
            response = client.post("/-/qcode/memo", data={
                "csrftoken": token, "target_type": "segment", "target_id": segment,
                "text": "Zainab Rahimi (tel 06-29384756) wil dit citaat eerst zien.", "next": f"/-/qcode/quote/{segment}"})
            assert response.status_code == 302
            page = client.get(f"/-/qcode/quote/{segment}").text
            # Datasette serves its metadata: the logins are named by file there, not hashed
            served = client.get("/-/metadata.json").text + client.get("/-/plugins.json").text
    finally:
        next(server, None)
    stored = sqlite3.connect(db).execute("select text from memos").fetchall()
    assert stored == [("[PERSOON] (tel [TELEFOON]) wil dit citaat eerst zien.",)]
    assert "Rahimi" not in page and "[PERSOON] (tel [TELEFOON])" in page
    assert "pbkdf2" not in served and str(users) in served

    with sqlite3.connect(db) as conn:      # a memo written before memos were redacted
        conn.execute("update memos set text = 'Nog bellen met Fatima Yilmaz uit Ede.'")
    build(corpus, db, CODEBOOK)
    assert sqlite3.connect(db).execute("select text from memos").fetchall() == [("Nog bellen met [PERSOON] uit [GEMEENTE].",)]


def test_exports_are_text_not_formulas_or_markup(small_project):
    from pipeline.export import ExportFilters, render

    _, _, db, _ = small_project
    sheet = zipfile.ZipFile(io.BytesIO(render(db, "xlsx", ExportFilters()))).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "=HYPERLINK" in sheet
    assert "'=HYPERLINK" in render(db, "csv", ExportFilters())
    markdown = render(db, "md", ExportFilters())
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown and "\\[kort\\](javascript:alert(1))" in markdown
    assert "<img" not in markdown


def test_a_server_others_can_reach_needs_a_login_to_read(small_project):
    """On a non-local --host (127.0.0.2 is loopback too, but not the default), every page, table,
    JSON, SQL and export asks for a login first; after logging in they answer."""
    root, _, db, _ = small_project
    server = start_server(db, users_file(root), host="127.0.0.2")
    base = next(server)
    paths = ["/-/qcode", "/-/qcode/search?q=taallessen", "/privacy", "/privacy/segments.json",
             "/privacy.json?sql=select+text+from+segments", "/-/qcode/export?format=xlsx", "/privacy/memos.csv"]
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for path in paths:
                response = client.get(path)
                assert response.status_code == 302, path
                assert response.headers["location"].startswith("/-/qcode/login?next="), path
            token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/qcode/login").text).group(1)
            login = client.post("/-/qcode/login", data={"username": "tester", "password": "geheim", "csrftoken": token,
                                                        "next": "/privacy/segments.json"})
            assert login.headers["location"] == "/privacy/segments.json"
            assert {path: client.get(path).status_code for path in paths} == {path: 200 for path in paths}
    finally:
        next(server, None)


def test_findings_come_from_the_corpus(tmp_path):
    """A study's findings are in `<corpus>/findings.yaml` (the Wi2021 ones came with every corpus);
    without the file there are none, and a broken one stops the build naming file and line."""
    from pipeline.build import build
    from pipeline.errors import QcodeError

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Klantmanager: De taallessen zijn te kort.\n", encoding="utf-8")
    db = tmp_path / "db" / "x.db"
    build(corpus, db, CODEBOOK)
    assert sqlite3.connect(db).execute("select count(*) from findings").fetchone()[0] == 0
    (corpus / "findings.yaml").write_text("findings:\n  - id: S1\n    statement: Lessen te kort.\n    codes: [taal]\n"
                                          "  - id: S2\n    codes: [taal]\n", encoding="utf-8")
    with pytest.raises(QcodeError, match=r"findings.yaml:5: a finding needs an id and a statement"):
        build(corpus, db, CODEBOOK)
    (corpus / "findings.yaml").write_text("findings:\n  - id: S1\n    statement: Lessen te kort.\n    codes: [taal]\n",
                                          encoding="utf-8")
    result = build(corpus, db, CODEBOOK)
    assert sqlite3.connect(db).execute("select finding_id, code_id from finding_codes").fetchall() == [("S1", "taal")]
    assert not result.skipped       # the file is the corpus's metadata, not a document it skipped


def test_codebook_examples_and_findings_are_served_without_names(tmp_path):
    """A codebook example quoted with its speaker's name and a finding naming a town were stored and
    served as written (tester round 8): the database's copies are redacted, the files named."""
    from pipeline.build import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Klantmanager: De taallessen in Zwolle zijn te kort.\n", encoding="utf-8")
    codebook = yaml.safe_load(CODEBOOK.read_text(encoding="utf-8"))
    codebook["codes"][0]["examples"] = ["Mevrouw Jansen zei: ik mag zelf kiezen.", "Ik kies zelf mijn school."]
    (corpus / "codebook.yaml").write_text(yaml.safe_dump(codebook, allow_unicode=True), encoding="utf-8")
    (corpus / "findings.yaml").write_text(
        "findings:\n  - id: S1\n    statement: In Zwolle wachten statushouders het langst op taallessen.\n"
        "    source: Algemene Rekenkamer 2017\n    codes: [taal]\n", encoding="utf-8")
    db = tmp_path / "db" / "x.db"
    result = build(corpus, db, corpus / "codebook.yaml")
    conn = sqlite3.connect(db)
    examples = conn.execute("select examples from codes where id = ?", [codebook["codes"][0]["id"]]).fetchone()[0]
    assert examples == '["Mevrouw [PERSOON] zei: ik mag zelf kiezen.", "Ik kies zelf mijn school."]'
    assert conn.execute("select statement, source from findings").fetchone() == (
        "In [GEMEENTE] wachten statushouders het langst op taallessen.", "Algemene Rekenkamer 2017")
    assert f"{corpus / 'findings.yaml'}: finding S1: statement: an identifier was replaced in the database's copy; " \
           f"write it without names" in result.warnings
    assert any(w.startswith(f"{corpus / 'codebook.yaml'}: code {codebook['codes'][0]['id']}: examples:")
               for w in result.warnings)
    assert "Jansen" not in db.read_bytes().decode("utf-8", "replace")
    # the next build takes the redacted texts from the build cache (loading the anonymiser for them took seconds)
    from pipeline import cache
    from pipeline.anonymise import key_path_for, load_corpus_settings

    redactions = cache.load_redactions(cache.cache_path_for(key_path_for(db)),
                                       cache.anonymiser_fingerprint(load_corpus_settings(corpus)))
    assert redactions["Algemene Rekenkamer 2017"] == ("Algemene Rekenkamer 2017", 0)
    assert build(corpus, db, corpus / "codebook.yaml").warnings == result.warnings
    # the classifier learns from the redacted descriptions too: its model file in db/ keeps the
    # words of its training texts
    from pipeline.build import StudyTextRedactor, _redacted_descriptions
    from pipeline.codebook import load_codebook
    from pipeline.coding import code_descriptions

    texts, _ = code_descriptions(_redacted_descriptions(load_codebook(corpus / "codebook.yaml"),
                                                        StudyTextRedactor(load_corpus_settings(corpus), redactions)))
    assert "Mevrouw [PERSOON] zei: ik mag zelf kiezen." in texts and not [t for t in texts if "Jansen" in t]


def test_an_id_qcode_made_is_not_checked_for_names(tmp_path):
    """The hash qcode makes for a file the manifest does not list can spell a town ("doc-3fede0a1"
    holds "ede"): only ids a researcher chose are checked (the 100x benchmark lost 2 documents)."""
    from pipeline.build import build
    from pipeline.manifest import default_document_id

    name = next(f"f{i}.txt" for i in range(100_000) if "ede" in default_document_id(f"f{i}.txt"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_text("Klantmanager: In Ede zijn de taallessen te kort.\n", encoding="utf-8")
    result = build(corpus, tmp_path / "db" / "x.db", CODEBOOK)
    assert not result.errors and result.counts["documents"] == 1


def test_a_login_ends_when_the_researcher_is_removed_changes_password_or_logs_out(small_project):
    """Datasette's signed cookie stays valid for ever: a removed researcher, an old password or a
    copy of a logged-out cookie could still write codings (tester round 5a). Over HTTP on a real server."""
    from datasette_plugins.workbench import hash_password

    root, _, db, _ = small_project
    users = root / "sessions.yaml"

    def set_users(**passwords):
        users.write_text(yaml.safe_dump({"users": {n: hash_password(p) for n, p in passwords.items()}}), encoding="utf-8")
    set_users(anna="een", bram="twee")
    segment = sqlite3.connect(db).execute("select id from segments order by seq desc").fetchone()[0]
    server = start_server(db, users)
    base = next(server)

    def logged_in(name, password):
        client = httpx.Client(base_url=base, timeout=60)
        token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/qcode/login").text).group(1)
        client.post("/-/qcode/login", data={"username": name, "password": password, "csrftoken": token})
        return client

    def writes(client) -> bool:
        page = client.get(f"/-/qcode/quote/{segment}").text
        token = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)
        return client.post("/-/qcode/status", data={"csrftoken": token, "segment_id": segment,
                                                    "status": "selected"}).status_code == 302
    try:
        anna, bram = logged_in("anna", "een"), logged_in("bram", "twee")
        copy = httpx.Client(base_url=base, timeout=60, cookies=dict(anna.cookies))
        assert writes(anna) and writes(bram) and writes(copy)
        assert 'name="target_type" value="code"' in anna.get("/-/qcode/codebook").text     # a code's memo form
        anna.get("/-/qcode/logout")                 # a GET (a link, an image elsewhere) logs nobody out
        assert writes(copy)
        token = re.search(r'name="csrftoken" value="([^"]+)"', anna.get("/-/qcode").text).group(1)
        anna.post("/-/qcode/logout", data={"csrftoken": token})
        assert not writes(copy)
        set_users(anna="een")                       # bram removed
        assert not writes(bram) and "Ingelogd als" not in bram.get(f"/-/qcode/quote/{segment}").text
        anna = logged_in("anna", "een")
        assert writes(anna)
        set_users(anna="nieuw")                     # a new password
        assert not writes(anna)
        wrong = httpx.Client(base_url=base, timeout=60)
        token = re.search(r'name="csrftoken" value="([^"]+)"', wrong.get("/-/qcode/login").text).group(1)
        page = wrong.post("/-/qcode/login", data={"username": "anna", "password": "fout", "csrftoken": token,
                                                  "next": f"/-/qcode/quote/{segment}"}).text
        assert f'name="next" value="/-/qcode/quote/{segment}"' in page     # a wrong password keeps the page to go back to
    finally:
        for _ in server:
            pass


def test_the_server_log_keeps_no_search_words(small_project):
    """A researcher searches a name to check for a leak: the access log writes the path, not the query."""
    import os
    import subprocess
    import sys
    import time

    from conftest import free_port

    _, _, db, _ = small_project
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--db", str(db), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/-/qcode/search?q=Verhoeven", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        time.sleep(0.5)
    finally:
        process.terminate()
        log = process.communicate(timeout=20)[0].decode()
    assert "/-/qcode/search?…" in log and "Verhoeven" not in log


def test_the_model_file_holds_no_name_from_a_codebook_example(tmp_path):
    """The classifier trains on the codebook's examples and teaching examples as well as on the
    coded segments; a name quoted in an example went into its vocabulary, pickled in db/ beside
    the database."""
    from pipeline.build import build
    from pipeline.classify import model_path_for

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    turns = [f"Klantmanager: {'De taallessen' if i % 2 else 'Het contract met de school'} duurt nummer {i} weken."
             for i in range(24)]
    (corpus / "a.txt").write_text("\n\n".join(turns) + "\n", encoding="utf-8")
    (corpus / "codings.csv").write_text("document,quote,codes,coder\n" + "".join(
        f"a.txt,{turn.split(': ', 1)[1]},{'taal' if i % 2 else 'regie'},anna\n" for i, turn in enumerate(turns)),
        encoding="utf-8")
    codebook = yaml.safe_load(CODEBOOK.read_text(encoding="utf-8"))
    # twice: a word of a single training text is no feature (min_df=2)
    codebook["codes"][0]["examples"] = ["Mevrouw Jansen zei: ik mag zelf kiezen.", "Volgens Jansen kiest zij zelf."]
    # ... and on its teaching examples
    codebook["teaching_examples"] += [{"codes": ["regie"], "text": "Wethouder Verhoeven regelt de inkoop zelf."},
                                      {"codes": [], "text": "Wethouder Verhoeven opent het zwembad."}]
    (corpus / "codebook.yaml").write_text(yaml.safe_dump(codebook, allow_unicode=True), encoding="utf-8")
    db = tmp_path / "db" / "x.db"
    result = build(corpus, db, corpus / "codebook.yaml")
    assert result.counts["model"]["status"] == "trained"
    model = model_path_for(db).read_bytes().lower()
    assert b"zelf" in model and b"jansen" not in model and b"verhoeven" not in model
