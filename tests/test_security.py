"""Every page escapes corpus text and codebook fields: hostile markup never executes (real chromium)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ARTIFACTS, CODEBOOK, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make test installs it)")]
HOSTILE = ('<script>window.__xss = 1; alert(1)</script> de taallessen <img src=x onerror="window.__xss = 2; alert(2)"> '
           '<a href="javascript:window.__xss = 3">klik</a> wachten op een woning')


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    from datasette_plugins.workbench import hash_password
    from pipeline.build import build

    root = tmp_path_factory.mktemp("hostile")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(f"Klantmanager: {HOSTILE}\n\nInterviewer: {HOSTILE}\n", encoding="utf-8")
    shutil.copy(CODEBOOK.parent / "corpus" / "demo" / "findings.yaml", corpus)     # the finding pages too
    data = yaml.safe_load(CODEBOOK.read_text(encoding="utf-8"))
    taal = next(c for c in data["codes"] if c["id"] == "taal")
    taal["label"] = '<script>window.__xss = 4</script>Taal'
    taal["definition"] = '<img src=x onerror="window.__xss = 5">'
    taal["examples"] = ['<a href="javascript:window.__xss = 6">voorbeeld</a>']
    codebook = root / "codebook.yaml"
    codebook.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    db = root / "db" / "hostile.db"
    build(corpus, db, codebook)
    users = root / "users.yaml"
    users.write_text(yaml.safe_dump({"users": {"tester": hash_password("geheim")}}), encoding="utf-8")
    yield from start_server(db, users)


def test_nothing_executes(hostile_server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    dialogs = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                             "--disable-background-networking"])
        page = browser.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        paths = ["/-/qcode", "/-/qcode/search?q=taallessen", "/-/qcode/codebook", "/-/qcode/findings",
                 "/-/qcode/finding/F12", "/-/qcode/matrix/role", "/-/qcode/documents", "/hostile/segments", "/hostile/codes"]
        for path in paths:
            page.goto(hostile_server + path)
            assert page.evaluate("window.__xss") is None, path
        page.goto(hostile_server + "/-/qcode/search?q=taallessen")
        page.locator(".quote-link").first.click()
        page.wait_for_selector("#quote-text")
        assert "<script>" in page.inner_text("#quote-text")       # shown as text, not run
        for link in page.locator("a").all():
            assert not (link.get_attribute("href") or "").startswith("javascript:")
        page.click("#document-link")
        page.wait_for_selector(".turn")
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(ARTIFACTS / "hostile-document.png"), full_page=True)
        browser.close()
    assert dialogs == []
