"""pipeline/segment.py: speaker turns, long paragraphs, stable keys, agenda items, paragraph attributes."""

from __future__ import annotations

from dataclasses import asdict

from pipeline.segment import Segment, segment_document, segment_key

MINUTES = (
    "1. Opening\n\n"
    "Klantmanager: Welkom allemaal.\n\n"
    "Tolk: Hij zegt dank u.\n\n"
    "2. Taal en werk\n\n"
    "Deelnemer 2: Ik wil werken.\n\n"
    "Tolk: Hij zegt dank u."
)
LONG = " ".join(f"Dit is zin nummer {i} over de taalles en het werk van de deelnemers." for i in range(30))  # 420 words


def test_turns_become_segments_with_speaker_and_offsets():
    segments = segment_document("doc1", MINUTES)
    assert [(s.seq, s.paragraph, s.speaker, s.start, s.end, s.text) for s in segments] == [
        (0, 0, None, 0, 10, "1. Opening"),
        (1, 1, "Klantmanager", 26, 42, "Welkom allemaal."),
        (2, 2, "Tolk", 50, 66, "Hij zegt dank u."),
        (3, 3, None, 68, 83, "2. Taal en werk"),
        (4, 4, "Deelnemer 2", 98, 112, "Ik wil werken."),
        (5, 5, "Tolk", 120, 136, "Hij zegt dank u."),
    ]
    assert all(MINUTES[s.start:s.end] == s.text for s in segments)
    assert {s.document_id for s in segments} == {"doc1"}


def test_long_paragraph_split_into_sentence_groups():
    text = "Intro.\n\n" + LONG
    segments = segment_document("d", text)
    assert [(s.paragraph, s.start, s.end, len(s.text.split())) for s in segments] == [
        (0, 0, 6, 1), (1, 8, 677, 140), (1, 678, 1357, 140), (1, 1358, 2037, 140)]
    assert all(text[s.start:s.end] == s.text for s in segments)
    assert all(s.text.startswith("Dit is zin nummer") and s.text.endswith("deelnemers.") for s in segments[1:])
    assert " ".join(s.text for s in segments[1:]) == LONG


def test_long_speaker_turn_split_keeps_speaker():
    text = "Klantmanager: " + LONG
    segments = segment_document("d", text)
    assert [(s.speaker, s.start, len(s.text.split())) for s in segments] == [
        ("Klantmanager", 14, 140), ("Klantmanager", 684, 140), ("Klantmanager", 1364, 140)]
    assert all(text[s.start:s.end] == s.text for s in segments)


def test_max_words_is_a_parameter():
    text = "Een twee drie. Vier vijf zes. Zeven acht negen."
    assert [s.text for s in segment_document("d", text, max_words=6)] == ["Een twee drie. Vier vijf zes.", "Zeven acht negen."]
    assert [s.text for s in segment_document("d", text)] == [text]


def test_keys_stable_across_calls_and_other_paragraph_edits():
    first = segment_document("doc1", MINUTES)
    assert [s.key for s in segment_document("doc1", MINUTES)] == [s.key for s in first]
    edited = MINUTES.replace("Ik wil werken.", "Ik wil graag werken in de zorg.")
    after = segment_document("doc1", edited)
    changed = [i for i, (a, b) in enumerate(zip(first, after)) if a.key != b.key]
    assert changed == [4]
    assert segment_document("doc2", MINUTES)[1].key != first[1].key      # the document id is part of the key


def test_repeated_identical_text_gets_different_keys():
    segments = segment_document("doc1", MINUTES)
    assert segments[2].text == segments[5].text == "Hij zegt dank u."
    assert segments[2].key != segments[5].key
    assert segments[2].key == segment_key("doc1", "Hij zegt dank u.", 0)
    assert segments[5].key == segment_key("doc1", "Hij zegt dank u.", 1)
    # whitespace and case do not change the key
    assert segment_key("doc1", "Hij  zegt\nDANK u.", 0) == segment_key("doc1", "Hij zegt dank u.", 0)
    assert len({s.key for s in segments}) == len(segments)


def test_agenda_headings_set_agenda_item():
    segments = segment_document("doc1", MINUTES)
    assert [s.attrs for s in segments] == [
        {"heading": True, "agenda_item": "1. Opening"},
        {"agenda_item": "1. Opening"},
        {"agenda_item": "1. Opening"},
        {"heading": True, "agenda_item": "2. Taal en werk"},
        {"agenda_item": "2. Taal en werk"},
        {"agenda_item": "2. Taal en werk"},
    ]


def test_numbered_sentence_is_no_heading():
    text = "Intro zonder agenda.\n\n3. We spreken af dat de klantmanager belt."
    assert [s.attrs for s in segment_document("d", text)] == [{}, {}]


def test_paragraph_attrs_carried_to_segments():
    text = "Klantmanager: Welkom.\n\nDeelnemer 2: Dank u.\n\nTolk: Graag gedaan."
    attrs = [{"start_time": "00:00:01.000", "end_time": "00:00:04.500"},
             {"start_time": "00:00:04.500", "end_time": "00:00:07.000"}]
    segments = segment_document("d", text, attrs)
    assert [s.attrs for s in segments] == attrs + [{}]
    segments[0].attrs["extra"] = 1
    assert attrs[0] == {"start_time": "00:00:01.000", "end_time": "00:00:04.500"}   # copied, not shared


def test_empty_text_has_no_segments():
    assert segment_document("d", "") == []


def test_segment_is_a_plain_record():
    [segment] = segment_document("d", "Tolk: Hallo.")
    assert asdict(segment) == {
        "key": segment_key("d", "Hallo.", 0), "document_id": "d", "seq": 0, "paragraph": 0,
        "speaker": "Tolk", "start": 6, "end": 12, "text": "Hallo.", "attrs": {},
    }
    assert isinstance(segment, Segment)


def test_a_documents_title_is_a_heading_not_a_first_sentence_or_lower_case_line():
    def first_is_heading(text: str) -> bool:
        return bool(segment_document("d", text)[0].attrs.get("heading"))

    assert first_is_heading("Gespreksverslag werkgever (supermarkt)\n\nWerkgever: We hebben drie mensen.")
    assert first_is_heading("Verslag groepsgesprek statushouders ([PERSOON-1], met tolk)\n\nTolk: Ja.")
    assert not first_is_heading("De taallessen zijn te kort.\n\nDat zegt iedereen.")
    assert not first_is_heading("ja ik ben hier sinds twee jaar en ik werk\n\nnee dat niet")
    assert not first_is_heading("Klantmanager: Goedemorgen\n\nInterviewer: Dank.")
    assert not segment_document("d", "Intro\n\nTweede alinea zonder punt")[1].attrs.get("heading")


def test_a_tables_rows_of_short_cells_are_a_register_not_evidence():
    """An attendance list's and an action list's rows were coded and counted as support for a
    finding (tester round 7); a row with a sentence in a cell is what someone said."""
    text = ("Aanwezig\n\n[PERSOON-10] | klantmanager | [TELEFOON]\n\n"
            "Wachttijden in kaart brengen | [PERSOON-6] | maart\n\nTaalniveaus per route |\n\n"
            "Antwoord | De wachttijd voor de Z-route is bij ons veel te lang geworden, zegt de klantmanager.")
    registers = [s.attrs.get("register", False) for s in segment_document("d", text)]
    assert registers == [False, True, True, True, False]


def test_a_table_of_contents_is_a_register_not_evidence():
    """A report's table of contents, as a PDF's text gives it (one paragraph, a heading and a page
    number per line), names every theme and was coded as evidence (real policy documents,
    session 18); prose whose lines end in a number is not one."""
    contents = ("Inhoudsopgave\n1 Inleiding 3\n2 De Wet inburgering 2013 in de praktijk 7\n"
                "2.1 Drie typen duale trajecten 9\n3 Wachttijden en taalniveau ............ 14\n"
                "Bijlage 2 Geraadpleegde documenten 57")
    prose = "In 2023 heeft de gemeente 12\nstatushouders gehuisvest en wacht zij op 40\nnieuwe woningen, ongeveer 15"
    registers = [s.attrs.get("register", False) for s in segment_document("d", f"Rapport\n\n{contents}\n\n{prose}")]
    assert registers == [False, True, False]


def test_a_register_row_gets_no_codes(tmp_path):
    import sqlite3
    from pathlib import Path

    from pipeline.build import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notulen.txt").write_text(
        "Overleg inburgering\n\nActielijst\n\nWachttijden taallessen in kaart brengen | Piet | maart\n\n"
        "Klantmanager: De wachttijd voor de taallessen is te lang, mensen wachten maanden op een plek.\n",
        encoding="utf-8")
    build(corpus, tmp_path / "x.db", Path(__file__).resolve().parent.parent / "codebook.yaml")
    coded = dict(sqlite3.connect(tmp_path / "x.db").execute(
        "select s.text like '%|%', count(sc.code_id) from segments s left join segment_codes sc on sc.segment_id = s.id "
        "where s.text like '%wacht%' group by 1").fetchall())
    assert coded[1] == 0 and coded[0] > 0
