"""A study of its own, in another domain (a researcher-style test round, session 13, started a Wmo
and youth-care study): its codebook, its speaker labels and roles, its group interviews and its
document ids must not fall back on the demo's inburgering assumptions."""

from __future__ import annotations

import sqlite3

import pytest
import yaml
from click.testing import CliRunner

from conftest import CODEBOOK

MANIFEST = {"documents": [
    {"file": "focusgroep.txt", "id": "focus-01", "kind": "focus_group", "participants": [
        {"speaker": "Aanbieder 1", "role": "zorgaanbieder"},
        {"speaker": "Aanbieder 9 (Kees Hoekstra)", "role": "zorgaanbieder"},
    ]},
    {"file": "wijkteam.txt", "id": "int-01", "kind": "interview", "participants": [
        {"speaker": "Wijkteammedewerker", "role": "wijkteammedewerker"},
    ]},
    {"file": "ouders.txt", "id": "groep-01", "kind": "group_interview", "interpreter": True, "participants": [
        {"speaker": "Ouder 1", "role": "ouder"}, {"speaker": "Ouder 2", "role": "ouder"},
        {"speaker": "Moeder van Yara", "role": "ouder"},
    ]},
    {"file": "meppel.txt", "id": "meppel-wijkcoach", "kind": "interview", "municipality": "Meppel"},
]}
TEXTS = {
    "focusgroep.txt": "Gespreksleider: Hoe lang wachten cliënten?\n\n"
                      "Aanbieder 1 (Kees Hoekstra, directeur Thuiszorg Zaanstreek): De wachtlijsten voor "
                      "begeleiding zijn lang, soms drie maanden.\n\n"
                      "Aanbieder 1 (Kees Hoekstra): Op papier is de toegang geregeld.\n",
    "wijkteam.txt": "I: Hoe gaat een keukentafelgesprek?\n\n"
                    "Wijkteammedewerker: We vragen eerst wat iemand zelf nog kan en wat de mantelzorger doet.\n\n"
                    "Interviewster: En de eigen bijdrage?\n\n"
                    "Wijkteammedewerker: Die is sinds het abonnementstarief voor iedereen gelijk.\n",
    "ouders.txt": "Interviewer: Hoe lang wacht u op hulp voor uw zoon?\n\n"
                  "Ouder 1: Al vier maanden, niemand belt terug.\n\n"
                  "Tolk: Zij zegt dat ze al drie maanden wacht op de jeugdhulp.\n\n"
                  "Moeder van Yara: Ik wil alleen dat Yara weer naar school gaat.\n",
    "meppel.txt": "Interviewer: Wat doet de wijkcoach?\n\nWijkcoach: Ik ga bij mensen thuis langs.\n",
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A Wmo study whose key, from an earlier build, holds the role word as a name (as a round's
    first build did) and whose anonymise.yaml has kept it since."""
    from pipeline.anonymise import PseudonymKey, save_key
    from pipeline.build import build

    root = tmp_path_factory.mktemp("wmo")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in TEXTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (corpus / "manifest.yaml").write_text(yaml.safe_dump(MANIFEST, allow_unicode=True), encoding="utf-8")
    (corpus / "anonymise.yaml").write_text(yaml.safe_dump({"force_keep": ["Wijkteammedewerker"]}), encoding="utf-8")
    key_path = root / "keys" / "wmo.key.json"
    save_key(PseudonymKey({"entries": {"PERSOON-1": {"label": "PERSON", "forms": ["Wijkteammedewerker"]}},
                           "counters": {"PERSOON": 1}}), key_path)
    db = root / "db" / "wmo.db"
    result = build(corpus, db, CODEBOOK, key_path=key_path)
    return corpus, db, result


def roles(db, document_id):
    conn = sqlite3.connect(db)
    rows = conn.execute("select speaker, role, interpreted from segments where document_id = ? and speaker is not null "
                        "order by seq", (document_id,)).fetchall()
    conn.close()
    return rows


def test_a_manifest_speaker_matches_a_label_with_a_bracket_after_it(study):
    """"Aanbieder 1" in the manifest is the speaker of "Aanbieder 1 ([PERSOON-n], directeur ...):";
    a participant whose label speaks nowhere is a warning, not a silent 'onbekend'."""
    corpus, db, result = study
    providers = [(speaker, role) for speaker, role, _ in roles(db, "focus-01") if speaker.startswith("Aanbieder")]
    assert len(providers) == 2 and {role for _, role in providers} == {"zorgaanbieder"}
    assert any(f"{corpus / 'manifest.yaml'}: focusgroep.txt: participant 'Aanbieder 9 (Kees Hoekstra)' speaks nowhere"
               in w for w in result.warnings), result.warnings


def test_a_role_word_the_key_once_held_keeps_its_role(study):
    """force_keep brings the label back into the text; the participant's role follows it, not the
    key's stale pseudonym (which had made the role 'onbekend')."""
    _, db, _ = study
    assert [(s, r) for s, r, _ in roles(db, "int-01") if s == "Wijkteammedewerker"] == \
        [("Wijkteammedewerker", "wijkteammedewerker")] * 2


def test_transcribers_interviewer_labels_are_the_interviewer(study):
    _, db, _ = study
    assert {s: r for s, r, _ in roles(db, "int-01")}["I"] == "interviewer"
    assert {s: r for s, r, _ in roles(db, "int-01")}["Interviewster"] == "interviewer"


def test_an_interpreter_speaks_for_the_group_it_interprets(study):
    """In a group interview of parents the interpreter's turns are the parents' voice, not a
    statushouder's (the demo's domain); a label that holds a name is matched with the name's
    pseudonym ("Moeder van [PERSOON-n]:"; test round 6)."""
    _, db, _ = study
    assert ("Tolk", "ouder", 1) in roles(db, "groep-01")
    mother = [(speaker, role) for speaker, role, _ in roles(db, "groep-01") if speaker.startswith("Moeder van")]
    assert len(mother) == 1 and mother[0][0].startswith("Moeder van [PERSOON-") and mother[0][1] == "ouder"


def test_a_document_id_with_its_own_municipality_fails_in_the_first_build(study):
    corpus, db, result = study
    assert any("document id 'meppel-wijkcoach' (meppel.txt) contains 'meppel'" in e for e in result.errors), result.errors
    conn = sqlite3.connect(db)
    assert "meppel-wijkcoach" not in {row[0] for row in conn.execute("select id from documents")}
    conn.close()


def test_build_codes_a_corpus_with_its_own_codebook(tmp_path):
    """`qcode build` takes <corpus>/codebook.yaml; without one it says that it codes with the demo's."""
    from pipeline.cli import cli

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TEXTS["wijkteam.txt"], encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["build", "--corpus", str(corpus), "--db", str(tmp_path / "db" / "a.db"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"warning: {corpus} has no codebook.yaml: coding with codebook.yaml" in result.output
    assert "with the codebook codebook.yaml" in result.output
    own = yaml.safe_load(CODEBOOK.read_text(encoding="utf-8"))
    own["codes"] = [c for c in own["codes"] if c["id"] == "taal" or c["id"].startswith("taal.")]
    (corpus / "codebook.yaml").write_text(yaml.safe_dump(own, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(cli, ["build", "--corpus", str(corpus), "--db", str(tmp_path / "db" / "a.db"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "no codebook.yaml" not in result.output and "skipped" not in result.output
    assert f"with the codebook {corpus / 'codebook.yaml'}" in result.output
    assert "segments per theme: taal" in result.output and "regie" not in result.output


def test_a_municipality_attribute_qcode_does_not_read_is_an_error(tmp_path):
    """A study's own attribute ('inkoopmodel') had vanished without a word; field notes are a kind."""
    from pipeline.errors import QcodeError
    from pipeline.manifest import load_manifest

    manifest = {"documents": [{"file": "a.txt", "kind": "field_notes"}],
                "municipalities": {"Meppel": {"size_class": "klein", "inkoopmodel": "open house"}}}
    (tmp_path / "manifest.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    with pytest.raises(QcodeError) as exc:
        load_manifest(tmp_path)
    assert str(exc.value) == (f"{tmp_path / 'manifest.yaml'}: municipality 'Meppel': unknown keys ['inkoopmodel']; qcode "
                              "reads ['region', 'size_class', 'type', 'urbanisation'] (put your own grouping in 'type', "
                              "which is free text)")
    del manifest["municipalities"]["Meppel"]["inkoopmodel"]
    (tmp_path / "manifest.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    assert load_manifest(tmp_path).documents["a.txt"].kind == "field_notes"


def test_a_report_status_set_from_a_page_opened_before_a_change_is_refused(study):
    """Bram records the speaker's approval; Anna, from a page opened before it, sets 'selected':
    nothing is written and she is told who changed it (last writer had won; tester round 5a)."""
    from datasette_plugins import workbench

    _, db, _ = study
    conn = sqlite3.connect(db)
    segment = conn.execute("select id from segments where document_id = 'int-01' order by seq desc").fetchone()[0]
    seen_by_anna = ""                                    # no status when her page was opened
    workbench.set_quote_status(conn, segment, "approved", "bram", seen="")
    with pytest.raises(workbench.StaleStatus, match="intussen gewijzigd door bram"):
        workbench.set_quote_status(conn, segment, "selected", "anna", seen=seen_by_anna)
    row = workbench.quote(conn, segment)["status_row"]
    assert (row["status"], row["updated_by"]) == ("approved", "bram")
    workbench.set_quote_status(conn, segment, "selected", "anna", seen=row["updated"])     # after a reload
    assert workbench.quote(conn, segment)["status_row"]["status"] == "selected"
    conn.close()


def test_the_quote_page_names_codes_the_coders_disagree_on(study):
    """One coder's add counts even where another rejects it: the page says so (tester round 5a)."""
    from datasette_plugins import workbench

    _, db, _ = study
    conn = sqlite3.connect(db)
    segment = conn.execute("select id from segments where document_id = 'int-01' order by seq").fetchall()[1][0]
    workbench.record_decision(conn, segment, "taal", "add", "anna")
    workbench.record_decision(conn, segment, "taal", "reject", "bram")
    workbench.record_decision(conn, segment, "regie", "reject", "anna")
    assert workbench.quote(conn, segment)["conflicts"] == ["taal"]
    workbench.record_decision(conn, segment, "taal", "add", "bram")      # bram changed his mind
    assert workbench.quote(conn, segment)["conflicts"] == []
    conn.close()
