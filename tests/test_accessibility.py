"""Accessibility of the workbench's served HTML, on a real `qcode serve` over HTTP, and in a real
headless Debian chromium (a tester's keyboard and screen-reader findings, report r7 M5, m2, m6).

The pages are fetched once, anonymously and logged in (a researcher sees the review, status and
memo forms), and parsed with html.parser: every check below reads the same parsed pages.
"""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from conftest import CHROMIUM

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make test installs it)")
TEMPLATES = Path(__file__).resolve().parent.parent / "datasette_plugins" / "templates"
CONTROLS = ("input", "select", "textarea")
UNNAMED_INPUT_TYPES = ("hidden", "submit", "button", "reset", "image")   # hidden, or named by their value


class PageStructure(HTMLParser):
    """What the checks need from one page: the <html> lang, the form controls (with the <label>
    around them), the labels' `for` and text, every id, the heading levels and the buttons' text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.controls: list[dict] = []
        self.labels: list[dict] = []
        self.ids: list[str] = []
        self.headings: list[int] = []
        self.buttons: list[dict] = []
        self._open_labels: list[dict] = []
        self._open_button: dict | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "label":
            self.labels.append({"for": attrs.get("for"), "text": ""})
            self._open_labels.append(self.labels[-1])
        elif tag in CONTROLS:
            self.controls.append({"tag": tag, "attrs": attrs,
                                  "label": self._open_labels[-1] if self._open_labels else None})
        elif tag == "button":
            self._open_button = {"attrs": attrs, "text": ""}
            self.buttons.append(self._open_button)
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))

    def handle_endtag(self, tag):
        if tag == "label" and self._open_labels:
            self._open_labels.pop()
        elif tag == "button":
            self._open_button = None

    def handle_data(self, data):
        for label in self._open_labels:
            label["text"] += data
        if self._open_button is not None:
            self._open_button["text"] += data

    def accessible_name(self, control: dict) -> str:
        """The name a screen reader announces (aria-label, aria-labelledby, a <label for=id>, or the
        <label> around it); "" when it has none."""
        attrs = control["attrs"]
        if attrs.get("aria-label", "").strip():
            return attrs["aria-label"].strip()
        if attrs.get("aria-labelledby", "").strip():
            referenced = attrs["aria-labelledby"].split()
            return " ".join(referenced) if all(ref in self.ids for ref in referenced) else ""
        texts = [label["text"] for label in self.labels if attrs.get("id") and label["for"] == attrs["id"]]
        if control["label"] is not None:
            texts.append(control["label"]["text"])
        return " ".join(" ".join(texts).split())

    def named_controls(self) -> list[dict]:
        """The controls a user fills in or chooses (not hidden fields, not buttons)."""
        return [c for c in self.controls
                if not (c["tag"] == "input" and c["attrs"].get("type", "text").lower() in UNNAMED_INPUT_TYPES)]


def describe(control: dict) -> str:
    return "<" + control["tag"] + "".join(f' {k}="{v}"' for k, v in control["attrs"].items() if k != "value") + ">"


@pytest.fixture(scope="module")
def sample(demo_db, demo_workspace) -> dict:
    """A segment with at least two codes (its document, its codes' labels), the number of codes, and
    two recorded runs, so that the diff page shows its form (a rebuild, as the browser tests do)."""
    from pipeline.build import build

    conn = sqlite3.connect(demo_db)
    if conn.execute("select count(*) from runs").fetchone()[0] < 2:
        conn.close()
        build(demo_workspace / "corpus" / "demo", demo_db, demo_workspace / "codebook.yaml")
        conn = sqlite3.connect(demo_db)
    segment_id, document_id = conn.execute(
        "select segment_id, document_id from segment_codes group by segment_id having count(*) >= 2 "
        "order by segment_id limit 1").fetchone()
    codes = {code: label for code, label in conn.execute(
        "select sc.code_id, c.label from segment_codes sc join codes c on c.id = sc.code_id where sc.segment_id = ?",
        [segment_id])}
    code_count = conn.execute("select count(*) from codes").fetchone()[0]
    conn.close()
    return {"segment_id": segment_id, "document_id": document_id, "codes": codes, "code_count": code_count}


@pytest.fixture(scope="module")
def paths(sample) -> dict[str, str]:
    document = f"/-/qcode/document/{sample['document_id']}"
    return {
        "home": "/-/qcode",
        "search": "/-/qcode/search",
        "search results": "/-/qcode/search?q=taalles",
        "document": document,
        "document filtered": f"{document}?code={sorted(sample['codes'])[0]}",
        "quote": f"/-/qcode/quote/{sample['segment_id']}",
        "codebook": "/-/qcode/codebook",
        "findings": "/-/qcode/findings",
        "finding": "/-/qcode/finding/F07",
        "matrix": "/-/qcode/matrix/role",
        "cooccurrence": "/-/qcode/matrix/cooccurrence",
        "diff": "/-/qcode/diff",
        "documents": "/-/qcode/documents",
        "login": "/-/qcode/login",
    }


def csrf_token(html: str) -> str:
    parsed = PageStructure(html)
    return next(c["attrs"]["value"] for c in parsed.controls if c["attrs"].get("name") == "csrftoken")


@pytest.fixture(scope="module")
def pages(server, paths) -> dict[tuple[str, str], PageStructure]:
    """Every page, parsed, as ("anonymous" | "researcher", page name)."""
    out = {}
    with httpx.Client(base_url=server, timeout=30) as anonymous, httpx.Client(base_url=server, timeout=30) as researcher:
        login = researcher.post("/-/qcode/login", data={"username": "tester", "password": "geheim",
                                                        "csrftoken": csrf_token(researcher.get("/-/qcode/login").text)})
        assert login.status_code == 302, login.text[:300]
        for who, client in (("anonymous", anonymous), ("researcher", researcher)):
            for name, path in paths.items():
                response = client.get(path)
                assert response.status_code == 200, (who, path, response.status_code)
                out[(who, name)] = PageStructure(response.text)
    return out


def test_the_pages_hold_the_forms_checked_here(pages, sample):
    """The checks below are not vacuous: the researcher's forms, the code filter, the run choice
    and a memo field per code are on the pages checked."""
    def names(who, page, tag):
        return [c["attrs"].get("name") for c in pages[(who, page)].named_controls() if c["tag"] == tag]
    assert names("researcher", "quote", "select") == ["code_id", "status"]
    assert names("researcher", "quote", "textarea") == ["text"]
    assert names("researcher", "codebook", "input").count("text") == sample["code_count"] > 1
    assert names("anonymous", "document", "select") == ["code"]
    assert names("anonymous", "diff", "select") == ["a", "b"]
    assert names("anonymous", "home", "input") == names("anonymous", "search", "input") == ["q"]
    assert names("anonymous", "login", "input") == ["username", "password"]
    assert len(pages[("anonymous", "search results")].headings) > 3      # the facets' headings


def test_every_page_says_it_is_dutch(pages):
    """A screen reader picks its Dutch voice from <html lang>."""
    assert {key: page.lang for key, page in pages.items() if page.lang != "nl"} == {}


def test_every_form_control_has_an_accessible_name(pages):
    """A placeholder or loose text next to a field is not its name: each needs a <label> (around it
    or with for=id), aria-label or aria-labelledby."""
    unnamed = [(who, name, describe(control)) for (who, name), page in pages.items()
               for control in page.named_controls() if not page.accessible_name(control)]
    assert unnamed == []


def test_ids_are_unique_on_every_page(pages):
    """A repeated id (a memo form per code) makes <label for> and aria-labelledby point at the first one."""
    repeated = {key: sorted({i for i in page.ids if page.ids.count(i) > 1}) for key, page in pages.items()}
    assert {key: ids for key, ids in repeated.items() if ids} == {}


def test_no_select_submits_on_change(pages):
    """A select that submits on change loads a new page at the first arrow key."""
    auto = [(who, name, describe(c)) for (who, name), page in pages.items()
            for c in page.controls if c["tag"] == "select" and "onchange" in c["attrs"]]
    assert auto == []


def test_the_code_filter_has_a_visible_label_and_a_button(pages):
    page = pages[("anonymous", "document")]
    [select] = [c for c in page.controls if c["tag"] == "select" and c["attrs"].get("name") == "code"]
    assert [label["text"] for label in page.labels if label["for"] and label["for"] == select["attrs"].get("id")] == ["Filter op code:"]
    assert "Toon" in [b["text"].strip() for b in page.buttons]


def test_headings_go_down_one_level_at_a_time(pages):
    """h1 then h2, not h1 then h3: a screen reader's list of headings is the page's outline."""
    skipped = {}
    for key, page in pages.items():
        levels = page.headings
        if levels[:1] != [1] or any(b > a + 1 for a, b in zip(levels, levels[1:])):
            skipped[key] = levels
    assert skipped == {}


def test_review_buttons_say_which_code_they_act_on(pages, sample):
    """"bevestigen" and "afwijzen" once per code: each button's name names its code."""
    page = pages[("researcher", "quote")]
    names = sorted(b["attrs"].get("aria-label", "") for b in page.buttons
                   if b["text"].strip() in ("bevestigen", "afwijzen"))
    assert names == sorted(f"{verb}: {label}" for label in sample["codes"].values() for verb in ("bevestigen", "afwijzen"))


def test_the_html_element_is_datasettes_with_only_lang_added():
    """qcode_page.html is Datasette's base.html with <html lang="nl"> (base.html has no block for
    the <html> element). If Datasette is upgraded this fails: copy its new base.html again."""
    import datasette

    ours = (TEMPLATES / "qcode_page.html").read_text(encoding="utf-8")
    theirs = (Path(datasette.__file__).parent / "templates" / "base.html").read_text(encoding="utf-8")
    ours = re.sub(r"\A\{#.*?-#\}\n", "", ours, flags=re.S)
    assert ours.count('<html lang="nl">') == 1
    assert ours.replace('<html lang="nl">', "<html>") == theirs


# ---------------------------------------------------------------- in chromium


@pytest.mark.browser
@needs_chromium
def test_arrow_keys_step_through_the_code_filter_without_loading_a_page(server, page, paths):
    """A keyboard user steps down the codes with ArrowDown and stays on the page and in the select;
    "Toon" then applies the filter."""
    page.goto(server + paths["document"])
    select = page.locator("select[name=code]")
    select.focus()
    url = page.url
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(700)     # a submit on change has loaded the next page by now
    assert page.url == url
    assert page.evaluate("document.activeElement.name") == "code"
    page.keyboard.press("ArrowDown")
    chosen = select.input_value()
    assert chosen == page.eval_on_selector("select[name=code]", "s => s.options[2].value")
    page.get_by_role("button", name="Toon").click()
    page.wait_for_url(lambda address: address.endswith(f"?code={chosen}"))
    assert page.locator(".turn.dim").count() > 0


CONTRAST = """() => {
  const channels = c => c.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
      .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const blend = (top, under) => { const a = top.length > 3 ? top[3] : 1; return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)); };
  const background = el => {      // the colour under el: its own and its ancestors' backgrounds, blended
    const layers = [];
    for (let e = el; e; e = e.parentElement) layers.push(channels(getComputedStyle(e).backgroundColor));
    return layers.reverse().reduce((under, top) => blend(top, under), [255, 255, 255]);
  };
  const opacity = el => { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  return [...document.querySelectorAll(".meta, .turn.dim, .turn.dim strong, .turn.dim a:not(.badge)")].map(el => {
    const under = background(el);
    const text = blend([...blend(channels(getComputedStyle(el).color), under), opacity(el)], under);
    const [hi, lo] = [luminance(text), luminance(under)].sort((a, b) => b - a);
    const what = el.matches(".meta") ? "meta" : el.matches(".turn.dim") ? "filtered-out turn" : "in a filtered-out turn: " + el.tagName;
    return {what, text: el.textContent.trim().slice(0, 30), ratio: (hi + 0.05) / (lo + 0.05)};
  });
}"""


@pytest.mark.browser
@needs_chromium
def test_meta_lines_role_labels_and_filtered_out_turns_meet_wcag_aa(server, page, paths):
    """Text at least 4.5:1 against what is under it (WCAG AA), opacity included."""
    checked = []
    for name in ("document filtered", "quote", "search results"):
        page.goto(server + paths[name])
        checked += [(name, e["what"], e["text"], round(e["ratio"], 2)) for e in page.evaluate(CONTRAST)]
    assert {what for _, what, _, _ in checked} >= {"meta", "filtered-out turn"}
    assert [c for c in checked if c[3] < 4.5] == []
