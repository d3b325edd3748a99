"""Manual codings survive any sequence of codebook edits, document edits, removals and rebuilds:
each is kept (re-anchored) or reported as orphaned, never silently dropped (hypothesis)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from datasette_plugins import workbench
from pipeline.build import build

ROOT = Path(__file__).resolve().parent.parent
DOCS = {
    "a.txt": "Klantmanager: De taallessen zijn te kort en de wachtlijst bij de taalschool is lang.\n\n"
             "Interviewer: En het werk?\n\nKlantmanager: Werkgevers willen wel, maar de uitkering stopt dan.\n",
    "b.txt": "Tolk: Hij zegt dat hij maanden in het azc heeft gewacht op een woning.\n\n"
             "Tolk: Zij wil graag werken in de zorg, maar haar diploma is niet erkend.\n",
    "c.txt": "Het signaal is in het schakeloverleg besproken. Actiepunt: SZW koppelt terug.\n\n"
             "De monitor heeft geen streefwaarden.\n",
}
operations = st.lists(st.sampled_from(["edit_rule", "drop_code", "add_code", "rename_code", "edit_doc", "remove_doc",
                                       "add_doc", "rebuild"]), min_size=1, max_size=5)


def manual(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("select id, status from manual_codings"))
    conn.close()
    return rows


def apply(operation: str, corpus: Path, codebook: Path, step: int) -> None:
    data = yaml.safe_load(codebook.read_text(encoding="utf-8"))
    if operation == "edit_rule":
        data["codes"][1]["rules"][0]["phrases"].append(f"nieuwwoord{step}")
    elif operation == "drop_code":
        subs = [c for c in data["codes"] if c.get("parent")]
        data["codes"].remove(subs[step % len(subs)])
    elif operation == "rename_code":       # a new id that `replaces` the old one
        code = [c for c in data["codes"] if c.get("parent")][step % 3]
        code["replaces"] = list(code.get("replaces") or []) + [code["id"]]
        code["id"] = f"{code['parent']}.hernoemd{step}"
        for rule in code.get("rules") or []:
            rule["id"] = f"{rule['id']}.hernoemd{step}"
    elif operation == "add_code":
        data["codes"].append({"id": f"taal.extra{step}", "parent": "taal", "label": "Extra", "definition": "Extra code.",
                              "rules": [{"id": f"taal.extra{step}.r", "phrases": ["docent"]}]})
    codebook.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    documents = sorted(corpus.glob("*.txt"))
    if operation == "edit_doc" and documents:
        doc = documents[step % len(documents)]
        doc.write_text(doc.read_text(encoding="utf-8").replace("lang", "erg lang", 1) + f"\nNieuwe alinea {step}.\n", encoding="utf-8")
    elif operation == "remove_doc" and documents:
        documents[step % len(documents)].unlink()
    elif operation == "add_doc":
        (corpus / f"extra{step}.txt").write_text("Werkgever: We zoeken mensen voor de werkvloer.\n", encoding="utf-8")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_manual_codings_are_never_dropped(tmp_path_factory, steps):
    root = tmp_path_factory.mktemp("durable")
    corpus, db, codebook = root / "corpus", root / "db" / "x.db", root / "codebook.yaml"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "codebook.yaml", codebook)
    build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    segments = [row[0] for row in conn.execute("select id from segments order by id")]
    codes = [row[0] for row in conn.execute("select id from codes where parent is not null order by id")]
    for i, segment in enumerate(segments):
        workbench.record_decision(conn, segment, codes[i % len(codes)], ["add", "reject", "confirm"][i % 3], "coder_a")
    conn.close()
    kept = manual(db)
    for step, operation in enumerate(steps):
        apply(operation, corpus, codebook, step)
        build(corpus, db, codebook)
        now = manual(db)
        assert set(kept) <= set(now), f"dropped after {steps[:step + 1]}"
        assert set(now.values()) <= {"anchored", "orphaned"}
        kept = now


def test_a_renamed_code_keeps_its_codings_memos_and_findings(tmp_path):
    """`replaces: [old id]` moves a code's manual codings (workbench and codings file), its memos
    and the findings that name it to the new id; without it they are orphaned and the findings
    warn (a tester renamed regie.klantmanager and lost 245 codings and a finding's support)."""
    corpus, db, codebook = tmp_path / "corpus", tmp_path / "db" / "x.db", tmp_path / "codebook.yaml"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (corpus / "codings.csv").write_text("document,quote,codes,coder\na.txt,De taallessen zijn te kort,"
                                        "regie.klantmanager,coder_b\n", encoding="utf-8")
    shutil.copy(ROOT / "corpus" / "demo" / "findings.yaml", corpus)
    shutil.copy(ROOT / "codebook.yaml", codebook)
    build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    segment = conn.execute("select id from segments order by id").fetchone()[0]
    workbench.record_decision(conn, segment, "regie.klantmanager", "add", "coder_a")
    workbench.add_memo(conn, "code", "regie.klantmanager", "coder_a", "te breed")
    conn.close()

    def rename(replaces: bool) -> None:
        text = (ROOT / "codebook.yaml").read_text(encoding="utf-8").replace("regie.klantmanager", "regie.consulent")
        if replaces:
            text = text.replace("  - id: regie.consulent\n", "  - id: regie.consulent\n    replaces: [regie.klantmanager]\n", 1)
        codebook.write_text(text, encoding="utf-8")

    rename(replaces=False)
    result = build(corpus, db, codebook)
    assert set(manual(db).values()) == {"orphaned"}
    assert any("finding F04 names code 'regie.klantmanager'" in w for w in result.warnings), result.warnings
    rename(replaces=True)
    result = build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    assert conn.execute("select code_id, status from manual_codings order by coder").fetchall() == [
        ("regie.consulent", "anchored"), ("regie.consulent", "anchored")]
    assert conn.execute("select target_id from memos").fetchall() == [("regie.consulent",)]
    assert ("F04", "regie.consulent") in conn.execute("select finding_id, code_id from finding_codes").fetchall()
    assert not any("regie.klantmanager" in w for w in result.warnings), result.warnings
    conn.close()


def test_a_quotes_status_and_memo_follow_its_edited_segment(tmp_path):
    """A report status ("goedgekeurd") and a memo on a quote follow it when its text changes (a
    name added to force_remove, a corrected transcript), as manual codings do; they stayed on the
    old segment id and vanished from every page (tester round 4)."""
    corpus, db, codebook = tmp_path / "corpus", tmp_path / "db" / "x.db", ROOT / "codebook.yaml"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    segment = conn.execute("select id from segments where text like 'Werkgevers willen wel%'").fetchone()[0]
    workbench.set_quote_status(conn, segment, "approved", "coder_a")
    workbench.add_memo(conn, "segment", segment, "coder_a", "voorgelegd op 3 juni")
    conn.close()
    (corpus / "a.txt").write_text(DOCS["a.txt"].replace("Werkgevers willen wel,", "Werkgevers willen best,"), encoding="utf-8")
    result = build(corpus, db, codebook)
    conn = sqlite3.connect(db)
    moved = conn.execute("select id from segments where text like 'Werkgevers willen best%'").fetchone()[0]
    assert moved != segment
    assert conn.execute("select segment_id, status from quote_status").fetchall() == [(moved, "approved")]
    assert conn.execute("select target_id from memos").fetchall() == [(moved,)]
    assert not result.orphaned
    conn.close()
