"""The workbench in a real headless Debian chromium, driven by Playwright (no browser download).

Screenshots of every page land in test-artifacts/.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conftest import ARTIFACTS, CHROMIUM

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make test installs it)")]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_quote_logged_in(page, server: str, segment_id: str) -> None:
    page.goto(server + f"/-/qcode/login?next=/-/qcode/quote/{segment_id}")
    page.fill("#username", "tester")
    page.fill("#password", "geheim")
    page.click("#login-button")
    page.wait_for_selector("#quote-text")


def test_search_open_quote_and_document(server, page):
    page.goto(server + "/-/qcode/search")
    page.fill("input[name=q]", "taalles")
    page.click("#search-form button")
    page.wait_for_selector(".result")
    assert "taalles" in page.inner_text(".result mark").lower()
    shot(page, "search")
    page.goto(server + "/-/qcode/search?q=taalles&source=rule")      # the demo's second batch: coded by the machine
    page.wait_for_selector(".result")
    coded = page.locator(".result:has(.badge) .quote-link").first
    coded.click()
    page.wait_for_selector("#quote-text")
    assert page.locator(".coding .badge").count() >= 1
    assert page.locator("#quote-text mark").count() >= 1     # the span a rule matched
    shot(page, "quote")
    page.click("#document-link")
    page.wait_for_url("**/-/qcode/document/**")
    assert page.locator(".turn").count() > 5
    assert page.locator(".turn.coded .badge").count() >= 1
    shot(page, "document")


def test_finding_shows_supporting_quotes(server, page):
    page.goto(server + "/-/qcode/findings")
    shot(page, "findings")
    page.click("a[href='/-/qcode/finding/F07']")
    page.wait_for_selector("#triangulation")
    assert page.locator(".quote.supporting").count() >= 3
    assert "rollen" in page.inner_text("#triangulation")
    shot(page, "finding")


def test_other_pages_render(server, page):
    for name, path in [("codebook", "/-/qcode/codebook"), ("matrix-role", "/-/qcode/matrix/role"),
                       ("matrix-cooccurrence", "/-/qcode/matrix/cooccurrence"), ("diff", "/-/qcode/diff"),
                       ("home", "/-/qcode")]:
        page.goto(server + path)
        assert page.locator("h1").count() >= 1
        shot(page, name)


def test_anonymous_visitor_cannot_review(server, page):
    page.goto(server + "/-/qcode/search?q=werk")
    page.locator(".quote-link").first.click()
    page.wait_for_selector("#quote-text")
    assert page.locator("form[action='/-/qcode/review']").count() == 0


def test_login_reject_rebuild_keeps_rejection(server, page, demo_db, demo_workspace):
    from pipeline.build import build

    conn = sqlite3.connect(demo_db)
    segment_id, code_id = conn.execute(
        "select segment_id, code_id from segment_codes where source = 'rule' and code_id like '%.%' limit 1").fetchone()
    conn.close()
    open_quote_logged_in(page, server, segment_id)
    page.click(f"tr[data-code='{code_id}'] button:has-text('afwijzen')")
    page.wait_for_selector("#quote-text")
    assert f"tester: afgewezen {code_id}" in page.inner_text("body")
    shot(page, "review")

    build(demo_workspace / "corpus" / "demo", demo_db, demo_workspace / "codebook.yaml")

    page.goto(server + f"/-/qcode/quote/{segment_id}")
    assert f"tester: afgewezen {code_id}" in page.inner_text("body")
    assert page.locator(f".coding[data-code='{code_id}']").count() == 0
    conn = sqlite3.connect(demo_db)
    status = conn.execute("select status from manual_codings where segment_id = ? and code_id = ? and coder = 'tester'",
                          [segment_id, code_id]).fetchone()
    assert status == ("anchored",)
    shot(page, "review-after-rebuild")


def test_a_coder_marks_a_segment_done_and_withdraws_it(server, page, demo_db):
    """"geen andere code": the machine's codes leave the segment, the coder's stay (a tester had coded
    a segment fully and still found the classifier's 0.22 on it); a second click withdraws it."""
    conn = sqlite3.connect(demo_db)
    segment_id = conn.execute(
        "select segment_id from segment_codes where source in ('rule', 'classifier') and segment_id not in "
        "(select segment_id from manual_codings where decision = 'none' and segment_id is not null) limit 1").fetchone()[0]
    conn.close()

    def sources() -> list[str]:
        return sorted(page.locator(".coding td:nth-child(2)").all_inner_texts())
    open_quote_logged_in(page, server, segment_id)
    before = sources()
    assert {"rule", "classifier"} & set(before)
    page.click("button.none-decision")
    page.wait_for_selector("#quote-text")
    assert sources() == [s for s in before if s == "manual"]
    assert "tester: codeur: geen code (geen code)" in page.inner_text("body")
    assert "intrekken" in page.inner_text("button.none-decision")
    page.click("button.none-decision")
    page.wait_for_selector("#quote-text")
    assert sources() == before
    assert "codeur: geen code" not in page.inner_text("body")


def test_a_machine_code_the_coders_left_out_can_be_confirmed(server, page, demo_db):
    """On a segment coded by hand, the machine's other codes do not count; the quote page lists
    them apart, and a reviewer's confirm makes one count."""
    conn = sqlite3.connect(demo_db)
    segment_id, code_id = conn.execute(
        "select c.segment_id, c.code_id from codings c where c.code_id not in "
        "(select code_id from segment_codes s where s.segment_id = c.segment_id) and c.segment_id not in "
        "(select segment_id from manual_codings where decision in ('none', 'reject') and segment_id is not null) "
        "limit 1").fetchone()
    conn.close()
    open_quote_logged_in(page, server, segment_id)
    assert page.locator(f".coding[data-code='{code_id}']").count() == 0
    assert page.locator(f"#set-aside tr[data-code='{code_id}']").count() == 1
    shot(page, "quote-set-aside")
    page.click(f"#set-aside tr[data-code='{code_id}'] button:has-text('bevestigen')")
    page.wait_for_selector("#quote-text")
    assert page.locator(f".coding[data-code='{code_id}']").count() == 1
    assert page.locator(f"#set-aside tr[data-code='{code_id}']").count() == 0
    # The session's demo database is shared: take the confirm back, so that later tests see the
    # corpus's codings (a confirm is training data and an exported coding).
    with sqlite3.connect(demo_db) as conn:
        conn.execute("delete from manual_codings where coder = 'tester' and segment_id = ? and code_id = ?",
                     [segment_id, code_id])
    conn.close()
