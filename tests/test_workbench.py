"""The workbench: plugin functions on a real demo database, pages through datasette.client."""

from __future__ import annotations

import io
import re
import sqlite3
import zipfile

import pytest
from datasette.app import Datasette
from markupsafe import Markup

from datasette_plugins import workbench
from datasette_plugins.metadata import build_metadata


@pytest.fixture
def conn(demo_db):
    connection = sqlite3.connect(demo_db)
    yield connection
    connection.close()


def test_highlight_escapes_every_piece():
    html = workbench.highlight("<b>taal</b> & <script>x</script>", [[3, 7]])
    assert isinstance(html, Markup)
    assert str(html) == '&lt;b&gt;<mark style="background:#ffe066">taal</mark>&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;'


def test_search_handles_dutch_inflection(conn):
    result = workbench.search(conn, "taalles", ["taalles"], {})
    assert result["total"] >= 3
    assert any("taallessen" in r["text"] for r in result["results"])
    assert {f["value"] for f in result["facets"]["role"]}
    only_statushouders = workbench.search(conn, "taalles", ["taalles"], {"role": "statushouder"})
    assert all(r["role"] == "statushouder" for r in only_statushouders["results"])


def test_search_takes_hyphenated_words_phrases_and_operators(conn):
    """As researchers type them: "B1-route" is that word, not every word starting with "b1";
    a quoted phrase, OR and NOT as in FTS5; no words but a code: that code's segments."""
    from datasette_plugins import _lemmas

    def found(query: str, **filters) -> list[str]:
        return [r["text"] for r in workbench.search(conn, query, _lemmas(query), filters, limit=10_000)["results"]]

    b1_route = found("B1-route")
    assert b1_route and all(re.search(r"(?i)b1[-\s]route", t) for t in b1_route)
    assert len(b1_route) == sum(1 for (t,) in conn.execute("select text from segments") if re.search(r"(?i)b1-route", t))
    either = found("taalcoach OR taalmaatje")
    assert set(found("taalcoach")) | set(found("taalmaatje")) == set(either) and either
    assert not any("woning" in t.lower() for t in found("wachten NOT woning"))
    assert all("eigen regie" in t.lower() for t in found('"eigen regie"'))
    by_code = workbench.search(conn, "", [], {"code": "taal.z_route"})
    assert by_code["total"] == conn.execute(
        "select count(distinct segment_id) from segment_codes where code_id = 'taal.z_route' or theme = 'taal.z_route'").fetchone()[0]


def test_finding_triangulation(conn):
    data = workbench.finding(conn, "F07")
    assert data["triangulation"]["quotes"] > 5
    assert len(data["triangulation"]["roles"]) >= 2 and not data["weak"]
    assert set(data["groups"]) == set(data["triangulation"]["roles"])
    # minutes and unknown speakers are shown, but are no role category of people
    assert set(data["triangulation"]["voices"]) == set(data["triangulation"]["roles"]) - {"notulen", "onbekend"}
    # what a quote's support rests on: a researcher's coding or the machine's, and how many documents
    triangulation = data["triangulation"]
    manual = conn.execute("""select count(distinct sc.segment_id) from segment_codes sc join finding_codes f
                             on f.code_id = sc.code_id and f.finding_id = 'F07' where sc.source = 'manual'
                             and sc.role not in (select role from uncoded_roles)""").fetchone()[0]
    assert 0 < triangulation["by_hand"] == manual < triangulation["quotes"]
    assert triangulation["documents"] >= max(g["documents"] for g in data["groups"].values()) >= 1
    assert sum(g["count"] for g in data["groups"].values()) == triangulation["quotes"]


def test_a_finding_is_supported_by_every_role_but_the_uncoded_ones(tmp_path, demo_db):
    copy = tmp_path / "copy.db"
    copy.write_bytes(demo_db.read_bytes())
    conn = sqlite3.connect(copy)
    assert [r for (r,) in conn.execute("select role from uncoded_roles")] == ["interviewer"]   # codebook.yaml
    before = workbench.finding(conn, "F07")["triangulation"]["roles"]
    assert "interviewer" not in before and "notulen" in before
    # A codebook that also leaves the minutes uncoded: they no longer support a finding.
    conn.execute("insert into uncoded_roles (role) values ('notulen')")
    assert workbench.finding(conn, "F07")["triangulation"]["roles"] == [r for r in before if r != "notulen"]
    overview = {f["id"]: f for f in workbench.findings_overview(conn)}
    assert overview["F07"]["quotes"] == workbench.finding(conn, "F07")["triangulation"]["quotes"]
    conn.close()


def test_matrix_counts_match_segment_codes(conn):
    data = workbench.matrix(conn, "role")
    total = sum(n for (code, _), n in data["cells"].items() if code == "taal")
    direct = conn.execute("select count(distinct segment_id) from segment_codes where code_id = 'taal'").fetchone()[0]
    assert total == direct
    assert workbench.matrix(conn, "cooccurrence")["cells"]


def test_a_co_occurrence_cell_leads_to_the_segments_with_both_codes(demo_db):
    """A cell of the co-occurrence matrix links to a search for segments with both codes, which
    finds as many as the cell counts, and the export of that selection has them; the last column
    counts the code's own segments (it summed pairs)."""
    import asyncio

    from pipeline.export import ExportFilters, select_quotes
    conn = sqlite3.connect(demo_db)
    data = workbench.matrix(conn, "cooccurrence")
    (code, other), n = max(((pair, n) for pair, n in data["cells"].items() if "." in pair[0] and "." in pair[1]),
                           key=lambda item: item[1])
    assert data["totals"][code] == conn.execute("select count(*) from segment_codes where code_id = ?", [code]).fetchone()[0]
    both = workbench.search(conn, "", [], {"code": code, "with_code": other}, limit=1000)
    assert both["total"] == n
    exported, _ = select_quotes(demo_db, ExportFilters(codes=[code], with_code=other))
    assert {r["segment_id"] for r in exported} == {r["id"] for r in both["results"]}
    conn.close()

    async def page():
        datasette = Datasette([str(demo_db)])
        await datasette.invoke_startup()
        return (await datasette.client.get("/-/qcode/matrix/cooccurrence")).text

    html = asyncio.run(page())
    assert f'href="/-/qcode/search?q=&amp;code={code}&amp;with_code={other}">{n}</a>' in html


def test_badge_text_is_dark_on_light_colours():
    assert workbench.ink("#1f77b4") == "#fff"      # the regie blue keeps white
    assert workbench.ink("#ffbb78") == "#000"      # light orange, light green, light purple: black
    assert workbench.ink("#98df8a") == "#000"
    assert workbench.ink("#c5b0d5") == "#000"
    assert workbench.ink("#637939") == "#fff"      # dark olive: white


def test_record_decision_is_a_manual_coding(tmp_path, demo_db):
    copy = tmp_path / "copy.db"
    copy.write_bytes(demo_db.read_bytes())
    conn = sqlite3.connect(copy)
    # a machine coding that no coder added as well (a reject by one coder leaves another's add standing)
    segment_id, code_id = conn.execute(
        "select segment_id, code_id from codings c where not exists (select 1 from manual_codings m where "
        "m.segment_id = c.segment_id and m.code_id = c.code_id and m.decision = 'add') limit 1").fetchone()
    row = workbench.record_decision(conn, segment_id, code_id, "reject", "tester")
    assert (row["decision"], row["coder"], row["origin"], row["status"]) == ("reject", "tester", "workbench", "anchored")
    assert conn.execute("select count(*) from segment_codes where segment_id = ? and code_id = ?", [segment_id, code_id]).fetchone()[0] == 0
    with pytest.raises(ValueError):
        workbench.record_decision(conn, segment_id, code_id, "delete", "tester")
    workbench.add_memo(conn, "finding", "F07", "tester", "Check with CBS table 3")
    assert workbench.memos_by_target(conn, "finding")["F07"][0]["text"] == "Check with CBS table 3"
    workbench.set_quote_status(conn, segment_id, "approved", "tester")
    assert tuple(conn.execute("select status from quote_status where segment_id = ?", [segment_id]).fetchone()) == ("approved",)


def test_passwords():
    stored = workbench.hash_password("geheim", salt="abc")
    assert workbench.check_password("geheim", stored)
    assert not workbench.check_password("fout", stored)



def test_pages_through_datasette_client(demo_db):
    import asyncio

    async def run():
        datasette = Datasette([str(demo_db)])
        await datasette.invoke_startup()
        paths = ["/-/qcode", "/-/qcode/search?q=werk", "/-/qcode/codebook", "/-/qcode/findings",
                 "/-/qcode/finding/F07", "/-/qcode/matrix/municipality_type", "/-/qcode/diff", "/-/qcode/documents",
                 "/demo/code_by_role.json"]
        statuses = {}
        for path in paths:
            statuses[path] = (await datasette.client.get(path)).status_code
        segment = sqlite3.connect(demo_db).execute("select id, document_id from segments limit 1").fetchone()
        statuses["quote"] = (await datasette.client.get(f"/-/qcode/quote/{segment[0]}")).status_code
        statuses["document"] = (await datasette.client.get(f"/-/qcode/document/{segment[1]}")).status_code
        statuses["missing"] = (await datasette.client.get("/-/qcode/quote/ffff")).status_code
        # URLs that match no route (a typo of /finding/F07): 404, not 500
        statuses["no route"] = {(await datasette.client.get(path)).status_code
                                for path in ("/-/qcode/findings/F07", "/-/qcode/codebook/taal", "/-/a/b/c")}
        anonymous_post = await datasette.client.post("/-/qcode/review", data={"segment_id": segment[0], "code_id": "taal", "decision": "add"})
        return statuses, anonymous_post.status_code

    statuses, post_status = asyncio.run(run())
    assert statuses.pop("missing") == 404
    assert statuses.pop("no route") == {404}
    assert set(statuses.values()) == {200}, statuses
    assert post_status in (403, 400)   # no login (403) or no CSRF token (403/400): never written


def test_table_search_takes_fts_operators_and_plain_hyphenated_words(demo_db):
    """Datasette's own search of the segments table: raw FTS5 where the query is valid FTS5 (so
    prefix and OR work), escaped where it is not (a hyphenated term answered 400 before)."""
    import asyncio

    conn = sqlite3.connect(demo_db)
    assert workbench.fts_query_is_valid(conn, "taal* OR regie")
    assert not workbench.fts_query_is_valid(conn, "B1-route")
    texts = [t for (t,) in conn.execute("select text from segments")]

    async def run():
        datasette = Datasette([str(demo_db)], metadata=build_metadata("demo"))   # as `qcode serve` starts it
        await datasette.invoke_startup()

        async def found(query, **extra):
            response = await datasette.client.get("/demo/segments.json", params={
                "_search": query, "_shape": "array", "_size": "max", "_col": "text", **extra})
            return response.status_code, [row["text"] for row in response.json()] if response.status_code == 200 else []

        return {query: await found(query) for query in ("B1-route", "inburger*", "statushouder OR statushouders",
                                                        "regie: gemeente")} | {
            "explicit raw": await found("B1-route", _searchmode="raw"),
            "html page": (await datasette.client.get("/demo/segments", params={"_search": "B1-route"})).status_code}

    results = asyncio.run(run())
    status, rows = results["B1-route"]
    assert status == 200 and rows and all(re.search(r"B1[- ]route", row, re.IGNORECASE) for row in rows)
    status, rows = results["inburger*"]            # a prefix (escaped, it would find no segment)
    assert status == 200 and any("inburgering" in row.lower() for row in rows)
    status, rows = results["statushouder OR statushouders"]
    assert status == 200 and any("statushouders" in row.lower() for row in rows) and any(
        re.search(r"\bstatushouder\b", row.lower()) for row in rows)
    assert results["regie: gemeente"][0] == 200
    assert results["explicit raw"][0] == 400      # the researcher's own choice of mode stands
    assert results["html page"] == 200
    assert len(results["B1-route"][1]) == sum(1 for t in texts if re.search(r"\bB1[- ]route\b", t, re.IGNORECASE))


def test_segment_codes_table_follows_every_manual_coding_write(tmp_path, demo_db):
    """segment_codes is a table kept current by triggers: after adds, confirms, rejects and deletes
    it equals a fresh computation from codings and manual codings."""
    from pipeline.store import open_db, refresh_segment_codes, segment_codes_select

    copy = tmp_path / "copy.db"
    copy.write_bytes(demo_db.read_bytes())
    conn = sqlite3.connect(copy)
    conn.row_factory = None
    # Machine codings of segments no coder coded by hand (a manual sub-code would give its theme the
    # source 'manual' too): after the workbench's decision is deleted, the machine's source shows again.
    coded = conn.execute("""select segment_id, code_id from codings c where not exists (select 1 from manual_codings m
                            where m.segment_id = c.segment_id) order by id limit 3""").fetchall()
    uncoded = conn.execute("""select s.id, c.id from segments s, codes c where not exists (select 1 from codings x
                              where x.segment_id = s.id and x.code_id = c.id) order by s.id limit 1""").fetchone()
    workbench.record_decision(conn, *coded[0], "reject", "tester")
    workbench.record_decision(conn, *coded[1], "confirm", "tester")
    workbench.record_decision(conn, *uncoded, "add", "tester")
    conn.row_factory = None
    assert conn.execute("select source from segment_codes where segment_id = ? and code_id = ?", uncoded).fetchone() == ("manual",)
    conn.execute("delete from manual_codings where segment_id = ? and code_id = ? and origin = 'workbench'", coded[0])
    conn.commit()
    assert conn.execute("select source from segment_codes where segment_id = ? and code_id = ?", coded[0]).fetchone()[0] != "manual"

    def table():
        conn.row_factory = None
        return sorted(conn.execute("select segment_id, code_id, source, role, municipality from segment_codes").fetchall())

    incremental = table()
    refresh_segment_codes(open_db(copy))
    assert incremental == table()
    fresh = segment_codes_select("1 = 1", "1 = 1")
    assert len(incremental) == len(conn.execute(fresh).fetchall())


def test_a_manual_sub_code_counts_for_its_theme_at_once(tmp_path, demo_db):
    """A sub-code a coder adds implies its theme, as a build's codings do: the code x role matrix
    showed `regie.inkoop` on interviewer turns (which get no machine codings) without `regie`.
    A coder's reject of the theme on that segment still wins."""
    copy = tmp_path / "copy.db"
    copy.write_bytes(demo_db.read_bytes())
    conn = sqlite3.connect(copy)
    segment = conn.execute("""select s.id from segments s where s.role = 'interviewer' and not exists
                              (select 1 from segment_codes sc where sc.segment_id = s.id) order by s.id""").fetchone()[0]

    def counted():
        return dict(conn.execute("select code_id, source from segment_codes where segment_id = ?", [segment]).fetchall())

    workbench.record_decision(conn, segment, "regie.inkoop", "add", "tester")
    assert counted() == {"regie.inkoop": "manual", "regie": "manual"}
    workbench.record_decision(conn, segment, "regie.klantmanager", "add", "tester")
    assert counted() == {"regie.inkoop": "manual", "regie.klantmanager": "manual", "regie": "manual"}
    workbench.record_decision(conn, segment, "regie", "reject", "tester")
    assert counted() == {"regie.inkoop": "manual", "regie.klantmanager": "manual"}
    role_matrix = workbench.matrix(conn, "role")["cells"]
    conn.execute("delete from manual_codings where segment_id = ? and code_id = 'regie'", [segment])
    conn.commit()
    assert counted()["regie"] == "manual"
    assert workbench.matrix(conn, "role")["cells"][("regie", "interviewer")] == role_matrix.get(("regie", "interviewer"), 0) + 1
    conn.close()


def test_a_coders_none_removes_the_machine_codings_of_the_segment(conn):
    """"Read, no code applies" is a decision: machine codings on such a segment do not count (a
    klantmanager introducing himself counted as regie.klantmanager evidence); codes a coder added
    there still do."""
    none_segments = {row[0] for row in conn.execute(
        "select segment_id from manual_codings where decision = 'none' and status = 'anchored'")}
    machine = conn.execute("select count(*) from codings where segment_id in (select segment_id from manual_codings "
                           "where decision = 'none' and status = 'anchored')").fetchone()[0]
    counted = conn.execute("select segment_id, source from segment_codes").fetchall()
    assert none_segments and machine > 0
    assert {source for segment, source in counted if segment in none_segments} <= {"manual"}


def test_export_downloads_the_current_selection(demo_db):
    import asyncio

    from lxml import etree

    from pipeline import refi

    async def run():
        datasette = Datasette([str(demo_db)])
        await datasette.invoke_startup()
        get = datasette.client.get
        return {
            "qdpx": await get("/-/qcode/export?format=qdpx&code=taal.z_route&role=statushouder"),
            "md": await get("/-/qcode/export?format=md&q=taallessen&role=statushouder"),
            "docx": await get("/-/qcode/export?format=docx&finding=F07"),
            "bad format": await get("/-/qcode/export?format=exe"),
            "bad code": await get("/-/qcode/export?format=md&code=%3Cscript%3E"),
            "search": await get("/-/qcode/search?q=taalles&role=statushouder&code=taal"),
            "finding": await get("/-/qcode/finding/F07"),
            "codebook": await get("/-/qcode/codebook"),
        }

    r = asyncio.run(run())
    qdpx = r["qdpx"]
    assert qdpx.status_code == 200 and qdpx.headers["content-type"] == "application/zip"
    assert qdpx.headers["content-disposition"] == 'attachment; filename="qcode-taal.z_route.qdpx"'
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(qdpx.content)).read("project.qde"))
    refs = {e.get("targetGUID") for e in root.iter(f"{{{refi.NS_PROJECT}}}CodeRef")}
    assert refs == {refi.guid("code", "taal.z_route")}
    conn = sqlite3.connect(demo_db)
    expected = {refi.guid("selection", s) for (s,) in conn.execute(
        "select s.id from segment_codes sc join segments s on s.id = sc.segment_id where sc.code_id = 'taal.z_route' and s.role = 'statushouder'")}
    assert {e.get("guid") for e in root.iter(f"{{{refi.NS_PROJECT}}}PlainTextSelection")} == expected
    md = r["md"]
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.headers["content-disposition"] == 'attachment; filename="qcode-export.md"'
    quotes = [line for line in md.text.splitlines() if line.startswith("> ") and not line.startswith("> —")]
    assert quotes and all(re.search("taalles", q, re.IGNORECASE) for q in quotes)
    assert all("statushouder" in line for line in md.text.splitlines() if line.startswith("> —"))
    assert r["docx"].headers["content-disposition"] == 'attachment; filename="qcode-F07.docx"'
    assert r["docx"].content[:2] == b"PK"
    assert r["bad format"].status_code == 400 and "unknown format 'exe'" in r["bad format"].text
    assert r["bad code"].status_code == 400 and r["bad code"].headers["content-type"].startswith("text/plain")
    search = r["search"].text
    assert 'href="/-/qcode/export?q=taalles&amp;code=taal&amp;role=statushouder&amp;format=qdpx"' in search
    assert 'href="/-/qcode/export?finding=F07&amp;format=docx"' in r["finding"].text
    assert 'href="/-/qcode/export?code=taal.z_route&amp;format=xlsx"' in r["codebook"].text
    assert 'href="/-/qcode/export?format=md"' in r["codebook"].text


def test_a_running_server_reads_the_rebuilt_database(server, demo_db, demo_workspace):
    """`qcode build` replaces the database file under a running `qcode serve`: every later request
    reads the new file (Datasette keeps a read connection per worker thread, by the database's name)."""
    import httpx

    from pipeline.build import build

    url = f"{server}/{demo_db.stem}.json?sql=select+max(id)+as+run+from+runs&_shape=array"

    def runs_seen() -> set[int]:
        return {httpx.get(url, timeout=30).json()[0]["run"] for _ in range(8)}

    before = runs_seen()
    build(demo_workspace / "corpus" / "demo", demo_db, demo_workspace / "codebook.yaml")
    assert len(before) == 1
    assert runs_seen() == {max(before) + 1}


def test_a_build_right_after_the_server_starts_is_seen(demo_db, demo_workspace, tmp_path):
    """A rebuild between `qcode serve` starting and its first read: every read sees the new file
    (Datasette's threads had opened the old one before the plugin noted which file it was; a
    tester saw runs 8 and 9 alternate for a minute)."""
    import shutil
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from conftest import free_port
    from pipeline.build import build

    db = tmp_path / "db" / "demo.db"
    db.parent.mkdir()
    shutil.copy(demo_db, db)
    shutil.copytree(demo_workspace / "keys", tmp_path / "keys")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--db", str(db), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:      # listening, and not one request made
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        before = sqlite3.connect(db).execute("select max(id) from runs").fetchone()[0]
        build(demo_workspace / "corpus" / "demo", db, demo_workspace / "codebook.yaml")
        url = f"http://127.0.0.1:{port}/demo.json?sql=select+max(id)+as+run+from+runs&_shape=array"
        assert [httpx.get(url, timeout=30).json()[0]["run"] for _ in range(12)] == [before + 1] * 12
    finally:
        process.terminate()
        process.wait(10)


def test_login_goes_back_to_a_page_of_this_server_only(server):
    """`next` after logging in is a path here; another site ("https://evil.example/x",
    "//evil.example") is replaced by the workbench's home (no open redirect)."""
    import re as regex

    import httpx

    def location_after_login(next_url: str) -> str:
        with httpx.Client(base_url=server) as client:
            form = client.get("/-/qcode/login").text
            token = regex.search(r'name="csrftoken" value="([^"]+)"', form).group(1)
            response = client.post("/-/qcode/login", data={"username": "tester", "password": "geheim",
                                                            "csrftoken": token, "next": next_url})
            assert response.status_code == 302, response.text[:300]
            return response.headers["location"]

    assert location_after_login("/-/qcode/findings") == "/-/qcode/findings"
    for hostile in ("https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        assert location_after_login(hostile) == "/-/qcode"
    with httpx.Client(base_url=server) as client:      # a memo's "next" too; an empty memo goes back
        token = regex.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/qcode/login").text).group(1)
        client.post("/-/qcode/login", data={"username": "tester", "password": "geheim", "csrftoken": token})
        token = regex.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/qcode/findings").text).group(1)
        response = client.post("/-/qcode/memo", data={"csrftoken": token, "target_type": "finding", "target_id": "F07",
                                                      "text": "  ", "next": "https://evil.example/x"})
        assert (response.status_code, response.headers["location"]) == (302, "/-/qcode")


def test_serves_metadata_file_is_deleted_once_read(tmp_path, monkeypatch):
    """`qcode serve` hands Datasette a temporary metadata file with the login hashes; the plugin's
    startup deletes it (only a file of that name)."""
    from datasette_plugins import _delete_serve_metadata
    from pipeline.serve import METADATA_ENV

    metadata, other = tmp_path / "qcode-serve-abc.json", tmp_path / "notes.json"
    for path in (metadata, other):
        path.write_text("{}")
        monkeypatch.setenv(METADATA_ENV, str(path))
        _delete_serve_metadata()
    assert not metadata.exists() and other.exists()
