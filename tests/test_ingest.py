"""pipeline/ingest.py: every reader on real files written to tmp_path, and every way a file can be bad."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml
from fpdf import FPDF

from pipeline.errors import IngestError
from pipeline.ingest import (describe_left_out, list_corpus_files, normalise_text, read_document, skipped_corpus_files,
                             speaker_of)

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LONG_LINE = (
    "De klantmanager licht toe dat de wachttijd voor een taalschool in de regio nog steeds lang is "
    "en dat de gemeente met de aanbieder in gesprek gaat over extra groepen in het voorjaar."
)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def make_pdf(path: Path, blocks: list[str]) -> Path:
    """A PDF with a real text layer: one multi_cell per block ("" gives an empty line)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=DEJAVU)
    pdf.set_font("DejaVu", size=11)
    for block in blocks:
        pdf.multi_cell(0, 6, block, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


# ---------------------------------------------------------------- plain text and encodings


def test_utf8_speaker_turns_become_paragraphs(tmp_path):
    path = write(tmp_path, "gesprek.txt", (
        "Klantmanager: Welkom allemaal.\n"
        "Tolk: Hij zegt dank u.\n"
        "\n"
        "Deelnemer 2: Ik wacht al lang\n"
        "op een huis.\n"
    ).encode("utf-8"))
    doc = read_document(path)
    assert doc.paragraphs == [
        "Klantmanager: Welkom allemaal.",
        "Tolk: Hij zegt dank u.",
        "Deelnemer 2: Ik wacht al lang op een huis.",
    ]
    assert [speaker_of(p) for p in doc.paragraphs] == [("Klantmanager", 14), ("Tolk", 6), ("Deelnemer 2", 13)]
    assert doc.format == "txt"
    assert doc.paragraph_attrs == [{}, {}, {}]
    assert len(doc.content_hash) == 64


@pytest.mark.parametrize("paragraph, expected", [
    ("Klantmanager: Welkom.", ("Klantmanager", 14)),
    ("Mw. De Vries: Goedemorgen.", ("Mw. De Vries", 14)),
    ("[PERSOON-3]: Ik wil werken.", ("[PERSOON-3]", 13)),
    ("Aanwezig: Tolk, klantmanager", (None, 0)),     # minutes, not somebody speaking
    ("Actiepunt: bellen met COA", (None, 0)),
    ("De taal komt langzaam.", (None, 0)),
    ("Tolk:", (None, 0)),                            # a label with nothing said
    ("Tolk ([PERSOON-2]): Hij zegt ja.", ("Tolk ([PERSOON-2])", 20)),   # who the interpreter is, in brackets
    ("Actie: KvdB belt DUO", (None, 0)),             # an action point, the next meeting, a mail header
    ("Volgend overleg: 3 juni", (None, 0)),
    ("Afwezig met bericht: wethouder", (None, 0)),
    ("Verzonden: maandag 3 juni", (None, 0)),
    ("Opmerking (intern): navragen", (None, 0)),
])
def test_speaker_of(paragraph, expected):
    assert speaker_of(paragraph) == expected


def test_cp1252_dialogue_decoded(tmp_path):
    text = "Klantmanager: De coördinator zei dat er één taalschool is.\nTolk: Hij zegt dat hij dat begrijpt.\n"
    doc = read_document(write(tmp_path, "oud.txt", text.encode("cp1252")))
    assert doc.paragraphs == [
        "Klantmanager: De coördinator zei dat er één taalschool is.",
        "Tolk: Hij zegt dat hij dat begrijpt.",
    ]


def test_cp1252_short_note_decoded(tmp_path):
    text = "De coördinator zei: één keer per week les. Dat is te weinig voor de deelnemers.\n"
    doc = read_document(write(tmp_path, "notitie.txt", text.encode("cp1252")))
    assert doc.paragraphs == ["De coördinator zei: één keer per week les. Dat is te weinig voor de deelnemers."]


def test_latin1_decoded(tmp_path):
    text = "Café in Zeeland: de coördinator vond het prima. Ça va très bien, zei hij.\n"
    doc = read_document(write(tmp_path, "latin.txt", text.encode("latin-1")))
    assert doc.paragraphs == ["Café in Zeeland: de coördinator vond het prima. Ça va très bien, zei hij."]


@pytest.mark.parametrize("data", [
    "Tolk: één coördinator\n".encode("utf-16"),                 # BOM + little-endian
    "\ufeffTolk: één coördinator\n".encode("utf-16-be"),
    "\ufeffTolk: één coördinator\n".encode("utf-8"),
], ids=["utf-16-le", "utf-16-be", "utf-8-bom"])
def test_byte_order_marks(tmp_path, data):
    doc = read_document(write(tmp_path, "bom.txt", data))
    assert doc.paragraphs == ["Tolk: één coördinator"]


@pytest.mark.parametrize("data", [b"", b"  \n\n\t \r\n"], ids=["zero-bytes", "whitespace"])
def test_empty_file(tmp_path, data):
    path = write(tmp_path, "leeg.txt", data)
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value) == f"{path}: empty file: nothing to ingest"
    assert exc.value.path == str(path)


def test_binary_with_nul_bytes(tmp_path):
    path = write(tmp_path, "foto.txt", bytes(range(256)) * 4)
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value) == (
        f"{path}: binary data, not text (it contains NUL bytes); is this really a text file?")


def test_binary_with_control_characters(tmp_path):
    path = write(tmp_path, "data.txt", bytes(range(1, 32)) * 50)
    with pytest.raises(IngestError, match="binary data") as exc:
        read_document(path)
    assert str(exc.value).startswith(f"{path}: ")


def test_undecodable_bytes_name_file_and_line(tmp_path):
    garbage = bytes([0x80, 0x81, 0x8D, 0x8F, 0x90, 0x9D, 0x98, 0xFF, 0xFE, 0xC0, 0xC1, 0xF5, 0xF8] * 20)
    path = write(tmp_path, "kapot.txt", b"Tolk: hallo\nKlantmanager: ja\n" + garbage + b"\n")
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value) == (
        f"{path}: line 3: not valid UTF-8 and the encoding could not be determined; re-save the file as UTF-8")


def test_invalid_utf8_after_utf8_bom_names_line(tmp_path):
    path = write(tmp_path, "bom.txt", b"\xef\xbb\xbfTolk: goed\nKlantmanager: \xc3\x28\n")
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value) == f"{path}: line 2: invalid utf-8 byte sequence; re-save the file as UTF-8"


def test_truncated_utf8_is_not_silently_garbled(tmp_path):
    path = write(tmp_path, "afgebroken.txt", "Tolk: één\nKlantmanager: coördinator \n".encode("utf-8") + b"\xc3")
    try:
        doc = read_document(path)
    except IngestError as exc:
        assert str(exc).startswith(f"{path}: line 3")
    else:
        assert doc.paragraphs == ["Tolk: één", "Klantmanager: coördinator"]


def test_mixed_encodings_are_not_silently_garbled(tmp_path):
    data = "Tolk: één coördinator\n\nKlantmanager: prima\n".encode("utf-8") + "Deelnemer 2: café\n".encode("cp1252")
    path = write(tmp_path, "gemengd.txt", data)
    try:
        doc = read_document(path)
    except IngestError as exc:
        assert str(exc).startswith(f"{path}: line 4")
    else:
        assert doc.paragraphs[0] == "Tolk: één coördinator"


def test_unsupported_suffix(tmp_path):
    path = write(tmp_path, "verslag.rtf", b"{\\rtf1 hallo}")
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value) == (
        f"{path}: unsupported file type '.rtf'; use one of .txt, .md, .docx, .pdf, .odt, .vtt, .srt")


def test_nfc_and_zero_width_characters(tmp_path):
    text = "Tolk: Ye\u0301s coo\u0308rdinator A\u200bmad zei\u00ad het\u00a0echt.\n"
    doc = read_document(write(tmp_path, "nfd.txt", text.encode("utf-8")))
    assert doc.paragraphs == ["Tolk: Yés coördinator Amad zei het echt."]
    assert normalise_text("  a\tb \u2060c\n d ") == "a b c d"


def test_markdown_speaker_labels(tmp_path):
    text = "# Gesprek\n\n**Tolk:** Hij zegt dat hij werk zoekt.\n\n**Klantmanager:** Dat gaan we regelen.\n\n> Een citaat.\n"
    doc = read_document(write(tmp_path, "gesprek.md", text.encode("utf-8")))
    assert doc.paragraphs == [
        "Gesprek",
        "Tolk: Hij zegt dat hij werk zoekt.",
        "Klantmanager: Dat gaan we regelen.",
        "Een citaat.",
    ]
    assert speaker_of(doc.paragraphs[1]) == ("Tolk", 6)
    assert doc.format == "md"


# ---------------------------------------------------------------- Word, ODF, PDF


def test_docx_that_is_not_a_zip(tmp_path):
    path = write(tmp_path, "verslag.docx", b"dit is geen zip-bestand")
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value) == (
        f"{path}: not a valid .docx file (it is not a ZIP archive); open and re-save it in Word")


def test_docx_damaged_zip(tmp_path):
    path = tmp_path / "kapot.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("iets.txt", "geen word")
    with pytest.raises(IngestError, match=r"damaged \.docx file") as exc:
        read_document(path)
    assert str(exc.value).startswith(f"{path}: ")


def test_docx_paragraphs_and_table(tmp_path):
    document = docx.Document()
    document.add_paragraph("Klantmanager: Hoe gaat het met de taalles?")
    document.add_paragraph("Deelnemer 2: Het gaat goed, maar de reistijd is lang.")
    document.add_paragraph("")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Onderwerp", "Actie"
    table.cell(1, 0).text, table.cell(1, 1).text = "Wachttijd", "Navragen bij COA"
    path = tmp_path / "gesprek.docx"
    document.save(str(path))
    doc = read_document(path)
    assert doc.paragraphs == [
        "Klantmanager: Hoe gaat het met de taalles?",
        "Deelnemer 2: Het gaat goed, maar de reistijd is lang.",
        "Onderwerp | Actie",
        "Wachttijd | Navragen bij COA",
    ]
    assert doc.format == "docx"
    assert speaker_of(doc.paragraphs[1])[0] == "Deelnemer 2"
    assert doc.left_out == {}


ODF_NAMESPACES = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                  'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
                  'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                  'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
                  'xmlns:dc="http://purl.org/dc/elements/1.1/"')


def write_odt(path, body: str, master_pages: str = ""):
    """A minimal .odt whose text body is `body` (ODF XML in the text, table, office, style and dc
    namespaces), with a styles.xml holding `master_pages` (headers and footers) when given."""
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NAMESPACES} office:version="1.2">'
               f"<office:body><office:text>{body}</office:text></office:body></office:document-content>")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
        if master_pages:
            archive.writestr("styles.xml", f'<office:document-styles {ODF_NAMESPACES} office:version="1.2">'
                                           f"<office:master-styles>{master_pages}</office:master-styles></office:document-styles>")
    return path


def test_odt_paragraphs_and_heading(tmp_path):
    path = write_odt(tmp_path / "verslag.odt",
                     '<text:h text:outline-level="1">Verslag</text:h>'
                     "<text:p>Klantmanager: De <text:span>taalschool</text:span> is vol.</text:p>"
                     "<text:p/>"
                     "<text:p>Tolk: Hij begrijpt het.</text:p>")
    doc = read_document(path)
    assert doc.paragraphs == ["Verslag", "Klantmanager: De taalschool is vol.", "Tolk: Hij begrijpt het."]
    assert doc.format == "odt"


def test_docx_keeps_reading_order_and_marks_headings(tmp_path):
    """A table stands where it stands (it was moved to the end), a merged cell once; Word's heading
    styles, Dutch ones too, mark context that is not coded."""
    document = docx.Document()
    document.add_heading("Gespreksverslag klantmanager", level=1)
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text, table.cell(0, 1).text, table.cell(0, 2).text = "Naam", "Functie", "Gemeente"
    table.cell(1, 0).merge(table.cell(1, 2)).text = "zie bijlage"
    document.add_heading("Ronde 1 – regie", level=2)
    document.add_paragraph("Klantmanager: Wij voeren de regie.")
    path = tmp_path / "verslag.docx"
    document.save(str(path))
    doc = read_document(path)
    assert doc.paragraphs == ["Gespreksverslag klantmanager", "Naam | Functie | Gemeente", "zie bijlage",
                              "Ronde 1 – regie", "Klantmanager: Wij voeren de regie."]
    assert [bool(a.get("heading")) for a in doc.paragraph_attrs] == [True, False, False, True, False]


def test_odt_tables_by_row_and_no_footnotes(tmp_path):
    """A table is one paragraph per row (every cell was a paragraph of its own), and a footnote
    is left out (its number was glued to the next word: "interviewer1Joost", and its text came twice)."""
    path = write_odt(
        tmp_path / "tabel.odt",
        "<table:table><table:table-row><table:table-cell><text:p>Naam</text:p></table:table-cell>"
        "<table:table-cell><text:p>Functie</text:p></table:table-cell></table:table-row>"
        "<table:table-row><table:table-cell><text:p>Joost Bakker</text:p></table:table-cell>"
        "<table:table-cell><text:p>klantmanager</text:p></table:table-cell></table:table-row></table:table>"
        '<text:p>Noot van de interviewer<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation>'
        "<text:note-body><text:p>Joost vroeg dit na.</text:p></text:note-body></text:note> bij de vraag.</text:p>"
        "<text:list><text:list-item><text:p>eerste punt</text:p></text:list-item></text:list>")
    doc = read_document(path)
    assert doc.paragraphs == ["Naam | Functie", "Joost Bakker | klantmanager", "Noot van de interviewer bij de vraag.",
                              "eerste punt"]
    assert doc.left_out == {"footnote": 1}


# WordprocessingML python-docx has no API for (tracked changes, content controls, fields, text boxes).
WORD_NAMESPACES = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
                   'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
                   'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
                   'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
                   'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
                   'xmlns:v="urn:schemas-microsoft-com:vml"')


def word_xml(xml: str):
    """An element from WordprocessingML written with its prefixes: '<w:ins ...>...</w:ins>'."""
    return parse_xml(re.sub(r"^<([\w:]+)", rf"<\1 {WORD_NAMESPACES}", xml))


def append_xml(paragraph, *xml: str) -> None:
    for element in xml:
        paragraph._p.append(word_xml(element))


def add_body_xml(document, xml: str) -> None:
    """A block (paragraph, content control) at the end of the body, before its section properties."""
    body = document.element.body
    body.insert(len(body) - 1, word_xml(xml))


def run(text: str, properties: str = "") -> str:
    return f'<w:r>{properties}<w:t xml:space="preserve">{text}</w:t></w:r>'


def test_docx_reads_what_word_shows_with_tracked_changes_accepted(tmp_path):
    """python-docx's paragraph.text reads only the runs directly in a paragraph: a paragraph added
    under track changes was gone, a changed sentence lost both wordings ("De gemeente op het
    traject."), and a content control left a hole (tester round 7, S2)."""
    document = docx.Document()
    added = run("Klantmanager: Aanvulling: het zijn twaalf weken.")
    add_body_xml(document, f'<w:p><w:ins w:id="1" w:author="R">{added}</w:ins></w:p>')
    changed = document.add_paragraph("Klantmanager: De gemeente ")
    append_xml(changed, '<w:del w:id="2" w:author="R"><w:r><w:delText xml:space="preserve">heeft geen regie </w:delText>'
                        "</w:r></w:del>",
               f'<w:ins w:id="3" w:author="R">{run("voert de regie ")}</w:ins>')
    changed.add_run("op het traject.")
    control = document.add_paragraph("Klantmanager: Het PIP wordt bij ons ")
    append_xml(control, '<w:sdt><w:sdtPr><w:alias w:val="antwoord"/></w:sdtPr>'
                        f'<w:sdtContent>{run("binnen tien weken")}</w:sdtContent></w:sdt>')
    control.add_run(" vastgesteld.")
    cells = f'<w:tc><w:p>{run("Gemeente")}</w:p></w:tc><w:tc><w:p>{run("Zwolle")}</w:p></w:tc>'
    add_body_xml(document, '<w:sdt><w:sdtPr><w:alias w:val="Respondent"/></w:sdtPr><w:sdtContent>'
                           f'<w:p>{run("Respondent: klantmanager")}</w:p><w:tbl><w:tr>{cells}</w:tr></w:tbl></w:sdtContent></w:sdt>')
    prompt = run("Klik of tik om tekst in te voeren.")
    add_body_xml(document, f"<w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent><w:p>{prompt}</w:p></w:sdtContent></w:sdt>")
    fields = document.add_paragraph("Verslag: ")
    append_xml(fields, '<w:fldSimple w:instr=" AUTHOR "><w:r><w:t>de onderzoeker</w:t></w:r></w:fldSimple>', run(", versie "),
               '<w:r><w:fldChar w:fldCharType="begin"/></w:r>', '<w:r><w:instrText> REVNUM </w:instrText></w:r>',
               '<w:r><w:fldChar w:fldCharType="separate"/></w:r>', run("3"), '<w:r><w:fldChar w:fldCharType="end"/></w:r>',
               f'<w:hyperlink w:anchor="bijlage">{run(", zie bijlage")}</w:hyperlink>',
               f'<w:moveFrom w:id="4" w:author="R">{run(" (verplaatst)")}</w:moveFrom>',
               f'<w:moveTo w:id="5" w:author="R">{run(".")}</w:moveTo>')
    path = tmp_path / "membercheck.docx"
    document.save(str(path))
    doc = read_document(path)
    assert doc.paragraphs == [
        "Klantmanager: Aanvulling: het zijn twaalf weken.",
        "Klantmanager: De gemeente voert de regie op het traject.",
        "Klantmanager: Het PIP wordt bij ons binnen tien weken vastgesteld.",
        "Respondent: klantmanager",
        "Gemeente | Zwolle",
        "Verslag: de onderzoeker, versie 3, zie bijlage.",
    ]
    assert doc.left_out == {"tracked deletion": 1}


def test_docx_reports_what_it_leaves_out(tmp_path):
    """Headers, footers, comments and notes are left out, as is what Word does not show (tracked
    deletions, hidden text: it had been read and coded), and the document says so (tester round 7, M1)."""
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "Gespreksverslag – gemeente Zwolle"
    section.footer.paragraphs[0].text = "Opgesteld door de onderzoeker"
    section.different_first_page_header_footer = True
    section.first_page_footer.paragraphs[0].text = "1"          # a page number only: nothing lost
    commented = document.add_paragraph("Klantmanager: De wachttijd is zes weken.")
    document.add_comment(commented.runs, text="Check dit met de teamleider", author="SH", initials="SH")
    append_xml(commented, '<w:r><w:footnoteReference w:id="1"/></w:r>', '<w:r><w:endnoteReference w:id="1"/></w:r>')
    hidden = document.add_paragraph("Klantmanager: Het contact loopt goed.")
    append_xml(hidden, run(" Verborgen: BSN 123456782.", "<w:rPr><w:vanish/></w:rPr>"),
               run(" Dat blijft zo.", '<w:rPr><w:vanish w:val="0"/></w:rPr>'),
               '<w:del w:id="1" w:author="R"><w:r><w:delText>eerst</w:delText></w:r></w:del>',
               '<w:del w:id="2" w:author="R"><w:r><w:delText>dan</w:delText></w:r></w:del>')
    path = tmp_path / "verslag.docx"
    document.save(str(path))
    doc = read_document(path)
    assert doc.paragraphs == ["Klantmanager: De wachttijd is zes weken.", "Klantmanager: Het contact loopt goed. Dat blijft zo."]
    assert doc.left_out == {"header": 1, "footer": 1, "comment": 1, "footnote": 1, "endnote": 1, "tracked deletion": 2,
                            "hidden passage": 1}
    assert describe_left_out(doc.left_out) == ("1 header, 1 footer, 1 comment, 1 footnote, 1 endnote, 2 tracked deletions, "
                                               "1 hidden passage")


def test_docx_text_boxes_and_nested_tables_are_read_where_they_stand(tmp_path):
    """A text box (a case description beside the text) follows its paragraph, once although Word
    stores it twice (as a drawing and as its VML fallback); a table nested in a cell follows the
    row it stands in (its rows were gone); a row with no text is no paragraph ("|")."""
    box = f'<w:txbxContent><w:p>{run("Casus: zij wachtte vijf maanden op taalles.")}</w:p></w:txbxContent>'
    document = docx.Document()
    framed = document.add_paragraph("Kader:")
    append_xml(framed, '<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic>'
                       '<a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp>'
                       f"<wps:txbx>{box}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>"
                       f'<mc:Fallback><w:pict><v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict></mc:Fallback>'
                       "</mc:AlternateContent></w:r>")
    table = document.add_table(rows=3, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Route", "Aandeel"
    table.cell(1, 0).text = "Taalniveaus per route"
    inner = table.cell(1, 1).add_table(rows=2, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "B1-route", "ongeveer 60 procent"
    inner.cell(1, 0).text, inner.cell(1, 1).text = "Z-route", "ongeveer 15 procent"
    document.add_paragraph("Klantmanager: Dat klopt.")
    path = tmp_path / "kader.docx"
    document.save(str(path))
    assert read_document(path).paragraphs == [
        "Kader:", "Casus: zij wachtte vijf maanden op taalles.",
        "Route | Aandeel", "Taalniveaus per route |", "B1-route | ongeveer 60 procent", "Z-route | ongeveer 15 procent",
        "Klantmanager: Dat klopt.",
    ]


def test_odt_leaves_out_tracked_deletions_and_comments(tmp_path):
    """Text deleted under track changes is kept apart in text:tracked-changes and came back as
    evidence (S3); a comment's author, date and note were glued into the speaker's words (S4)."""
    change_info = "<office:change-info><dc:creator>R</dc:creator><dc:date>2024-04-02T09:00:00</dc:date></office:change-info>"
    path = write_odt(
        tmp_path / "wijzigingen.odt",
        f'<text:tracked-changes><text:changed-region text:id="ct1"><text:deletion>{change_info}'
        "<text:p>Taalaanbieder: Deze zin is geschrapt door de respondent.</text:p></text:deletion></text:changed-region>"
        f'<text:changed-region text:id="ct2"><text:insertion>{change_info}</text:insertion></text:changed-region>'
        "</text:tracked-changes>"
        '<text:p>Taalaanbieder: We geven <text:change-start text:change-id="ct2"/>vier<text:change-end text:change-id="ct2"/> '
        'dagdelen les.<text:change text:change-id="ct1"/></text:p>'
        "<text:p>Taalaanbieder: We werken samen met de klantmanagers.<office:annotation><dc:creator>Janna Kuipers</dc:creator>"
        "<dc:date>2024-02-01T10:00:00</dc:date><text:p>Vraag: mag de naam hier blijven?</text:p></office:annotation>"
        " Dat gaat goed.</text:p>"
        '<text:p>Over <office:annotation office:name="a1"><dc:creator>JK</dc:creator><text:p>bron?</text:p></office:annotation>'
        'deze zin<office:annotation-end office:name="a1"/> niets.</text:p>',
        master_pages='<style:master-page style:name="Standard"><style:header><text:p>Verslag door Truus Ophof</text:p></style:header>'
                     "<style:footer><text:p><text:page-number>1</text:page-number></text:p></style:footer></style:master-page>")
    doc = read_document(path)
    assert doc.paragraphs == ["Taalaanbieder: We geven vier dagdelen les.",
                              "Taalaanbieder: We werken samen met de klantmanagers. Dat gaat goed.", "Over deze zin niets."]
    assert doc.left_out == {"header": 1, "comment": 2, "tracked deletion": 1}


def test_markdown_headings_and_front_matter(tmp_path):
    """Front matter is the file's metadata, not text; every `#` heading is a paragraph of its own
    marked as a heading, also right above a paragraph."""
    path = tmp_path / "focusgroep.md"
    path.write_text("---\nauteur: Sanne de Vries\ne-mail: sanne@example.org\n---\n"
                    "# Focusgroep klantmanagers\n\n## Ronde 3 – signalen naar het Rijk\n"
                    "**Klantmanager:** We melden het bij het ministerie.\n\n> Een citaat\n", encoding="utf-8")
    doc = read_document(path)
    assert doc.paragraphs == ["Focusgroep klantmanagers", "Ronde 3 – signalen naar het Rijk",
                              "Klantmanager: We melden het bij het ministerie.", "Een citaat"]
    assert [bool(a.get("heading")) for a in doc.paragraph_attrs] == [True, True, False, False]


def test_odt_without_content_xml(tmp_path):
    path = tmp_path / "leeg.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    with pytest.raises(IngestError, match=r"not a valid \.odt file") as exc:
        read_document(path)
    assert str(exc.value).startswith(f"{path}: ")


def test_pdf_numbered_heading_is_its_own_paragraph(tmp_path):
    path = make_pdf(tmp_path / "notulen.pdf", [
        "Notulen overleg inburgering",
        "",
        "3. Signalen uit de praktijk",
        LONG_LINE,
        "",
        "Er is één coördinator voor alle statushouders.",
    ])
    doc = read_document(path)
    assert doc.paragraphs == [
        "Notulen overleg inburgering",
        "3. Signalen uit de praktijk",
        LONG_LINE,
        "Er is één coördinator voor alle statushouders.",
    ]
    assert doc.format == "pdf"


def test_pdf_headings_without_blank_lines(tmp_path):
    path = make_pdf(tmp_path / "agenda.pdf", ["2. Stand van zaken", LONG_LINE, "3. Signalen uit de praktijk", LONG_LINE])
    assert read_document(path).paragraphs == ["2. Stand van zaken", LONG_LINE, "3. Signalen uit de praktijk", LONG_LINE]


def test_pdf_without_text_layer(tmp_path):
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 50, 30)
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value) == f"{path}: PDF has no text layer (a scan?); OCR it first, e.g. with ocrmypdf"
    assert "OCR" in str(exc.value)


def test_damaged_pdf(tmp_path):
    path = write(tmp_path, "kapot.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value).startswith(f"{path}: damaged PDF (")


def test_damaged_pdf_gives_only_qcodes_message(tmp_path, caplog, capfd):
    # pypdf's own "EOF marker not found" names no file; qcode's error does.
    path = write(tmp_path, "kapot.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(IngestError):
        read_document(path)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == []
    assert capfd.readouterr() == ("", "")


# ---------------------------------------------------------------- transcripts


VTT = """WEBVTT

NOTE opgenomen in het gemeentehuis

1
00:00:01.000 --> 00:00:04.500
<v Klantmanager>Welkom bij het gesprek.

2
00:00:04.500 --> 00:00:07.000
<v Klantmanager>We beginnen met
de taalles.</v>

3
00:00:07.000 --> 00:00:10.250
<v.loud Deelnemer 2>Ik wacht nog op een plek.

4
00:00:10.250 --> 00:00:12.000
<v Klantmanager>Dat begrijp ik.
"""


def test_vtt_voice_tags_and_merged_cues(tmp_path):
    doc = read_document(write(tmp_path, "opname.vtt", VTT.encode("utf-8")))
    assert doc.paragraphs == [
        "Klantmanager: Welkom bij het gesprek. We beginnen met de taalles.",
        "Deelnemer 2: Ik wacht nog op een plek.",
        "Klantmanager: Dat begrijp ik.",
    ]
    assert doc.paragraph_attrs == [
        {"start_time": "00:00:01.000", "end_time": "00:00:07.000"},
        {"start_time": "00:00:07.000", "end_time": "00:00:10.250"},
        {"start_time": "00:00:10.250", "end_time": "00:00:12.000"},
    ]
    assert doc.format == "vtt"


def test_srt_speaker_labels_and_times(tmp_path):
    srt = (
        "1\n00:00:01,000 --> 00:00:03,000\nTolk: Hij zegt dat het goed gaat.\n\n"
        "2\n00:00:03,000 --> 00:00:06,500\nKlantmanager: Mooi om te horen.\n\n"
        "3\n00:00:06,500 --> 00:00:08,000\nKlantmanager: Tot volgende week.\n"
    )
    doc = read_document(write(tmp_path, "opname.srt", srt.encode("utf-8")))
    assert doc.paragraphs == [
        "Tolk: Hij zegt dat het goed gaat.",
        "Klantmanager: Mooi om te horen. Tot volgende week.",
    ]
    assert doc.paragraph_attrs == [
        {"start_time": "00:00:01.000", "end_time": "00:00:03.000"},
        {"start_time": "00:00:03.000", "end_time": "00:00:08.000"},
    ]


def test_transcript_without_cues(tmp_path):
    path = write(tmp_path, "leeg.vtt", b"WEBVTT\n\nNOTE niets opgenomen\n")
    with pytest.raises(IngestError) as exc:
        read_document(path)
    assert str(exc.value) == f"{path}: no cues with timestamps found; is this a WebVTT/SRT file?"


# ---------------------------------------------------------------- corpus folders


def test_list_corpus_files_skips_metadata_hidden_and_underscore(tmp_path):
    corpus = tmp_path / "corpus"
    for name in ["README.md", "Readme.txt", "planted_identifiers.txt", ".verborgen.txt", "_concept.txt",
                 "a.txt", "b.docx", "sub/c.vtt", "notities.csv", ".git/x.txt", "_oud/d.txt"]:
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    assert list_corpus_files(corpus) == [corpus / "a.txt", corpus / "b.docx", corpus / "sub" / "c.vtt"]


def test_skipped_corpus_files_names_unsupported_types_only(tmp_path):
    corpus = tmp_path / "corpus"
    for name in ["a.txt", "oud.doc", "sub/notes.RTF", "manifest.yaml", "codings.csv", "anonymise.yaml",
                 "gold_codings.jsonl", "README.md", ".DS_Store", ".verborgen.doc", "_oud/x.doc"]:
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    assert skipped_corpus_files(corpus) == [
        f"{corpus / 'oud.doc'} (unsupported file type .doc; save it as .docx)",
        f"{corpus / 'sub' / 'notes.RTF'} (unsupported file type .rtf; use one of .txt, .md, .docx, .pdf, .odt, .vtt, .srt)",
    ]
    assert list_corpus_files(corpus) == [corpus / "a.txt"]


def test_codings_csv_as_excel_saves_it_in_dutch_settings(tmp_path):
    """Windows-1252, ';' between the columns, and the codes in a quoted field with their own ';'."""
    from pipeline.manifest import load_codings_file

    path = tmp_path / "codings.csv"
    path.write_bytes('document;quote;codes;coder\r\ngoed.txt;"De taallessen zijn te kort, zegt café-eigenaar.";'
                     '"taal;taal.lesaanbod";a\r\n'.encode("cp1252"))
    [row] = load_codings_file(path)
    assert (row.document, row.quote, row.codes, row.coder) == (
        "goed.txt", "De taallessen zijn te kort, zegt café-eigenaar.", ["taal", "taal.lesaanbod"], "a")


def test_a_role_that_looks_like_a_misspelt_one_is_named():
    from pipeline.manifest import DocumentInfo, Manifest, role_typos

    people = [{"role": "klantmanager"}] * 3 + [{"role": "klantmanger"}, {"role": "werkgever"}]
    manifest = Manifest({"a.txt": DocumentInfo(file="a.txt", id="a", participants=people)}, {})
    assert role_typos(manifest) == ["manifest.yaml: role 'klantmanger' (1x) looks like 'klantmanager' (3x); "
                                    "roles are counted as written"]


def test_dated_lines_of_case_notes_are_entries(tmp_path):
    """Case notes with one dated entry per line (no blank lines) were one 150-word segment with
    codes from every theme; each dated line is a paragraph of its own."""
    path = tmp_path / "notities.txt"
    path.write_text("aantekeningen week 10\nma 4/3: gebeld, taalles loopt.\ndi 5/3: gesprek over PIP,\nwil werken.\n"
                    "12-03-2024 huisbezoek met taalcoach.\n", encoding="utf-8")
    assert read_document(path).paragraphs == ["aantekeningen week 10", "ma 4/3: gebeld, taalles loopt.",
                                              "di 5/3: gesprek over PIP, wil werken.", "12-03-2024 huisbezoek met taalcoach."]


def test_a_txt_with_a_paragraph_per_line_keeps_its_agenda(tmp_path):
    """Word's "Save as .txt" writes a paragraph per line and no blank lines: each line is a paragraph,
    so the agenda items of minutes stay headings (they had been glued to the paragraph below; tester
    round 5b). A text wrapped by hand, with short lines, is still joined."""
    from pipeline.segment import segment_document

    long = "De aanbesteding loopt vertraging op doordat twee aanbieders bezwaar hebben gemaakt tegen de gunning aan de nieuwe partij."
    path = tmp_path / "notulen.txt"
    path.write_text(f"Notulen inkoopoverleg\n1. Opening\n{long}\n2. Rondvraag\n{long}\nActie: HV stuurt de planning rond.\n",
                    encoding="utf-8")
    document = read_document(path)
    assert document.paragraphs == ["Notulen inkoopoverleg", "1. Opening", long, "2. Rondvraag", long,
                                   "Actie: HV stuurt de planning rond."]
    headings = [s.text for s in segment_document("n", document.text, document.paragraph_attrs) if s.attrs.get("heading")]
    assert headings == ["Notulen inkoopoverleg", "1. Opening", "2. Rondvraag"]
    wrapped = tmp_path / "wrapped.txt"
    wrapped.write_text("Klantmanager: de lessen zijn\nte kort en de wachttijd\nis te lang.\n", encoding="utf-8")
    assert read_document(wrapped).paragraphs == ["Klantmanager: de lessen zijn te kort en de wachttijd is te lang."]


def test_a_transcript_laid_out_as_a_table_is_read_as_turns(tmp_path):
    """A Speaker | Text table and a Vraag | Antwoord table lost every role (tester round 7): their
    rows are turns, the questions the interviewer's; other tables stay one paragraph per row."""
    document = docx.Document()
    for header, rows in ((("Spreker", "Tekst"), [("Interviewer", "Hoe gaat de intake?"), ("Klantmanager", "Goed, binnen tien weken.")]),
                         (("Vraag", "Antwoord"), [("Wie voert de regie?", "De gemeente, samen met de regio.")]),
                         (("Route", "Aandeel"), [("B1-route", "60 procent")])):
        table = document.add_table(rows=1 + len(rows), cols=2)
        for number, cells in enumerate([header, *rows]):
            table.cell(number, 0).text, table.cell(number, 1).text = cells
    document.save(str(tmp_path / "tabel.docx"))
    expected = ["Interviewer: Hoe gaat de intake?", "Klantmanager: Goed, binnen tien weken.",
                "Interviewer: Wie voert de regie?", "De gemeente, samen met de regio.", "Route | Aandeel", "B1-route | 60 procent"]
    assert read_document(tmp_path / "tabel.docx").paragraphs == expected
    row = "<table:table-row>" + "".join("<table:table-cell><text:p>{}</text:p></table:table-cell>") * 2 + "</table:table-row>"
    odt = write_odt(tmp_path / "tabel.odt", "<table:table>" + row.format("Vraag", "Antwoord")
                    + row.format("Wie voert de regie?", "De gemeente, samen met de regio.") + "</table:table>")
    assert read_document(odt).paragraphs == expected[2:4]


def test_an_interview_with_one_respondent_gives_her_what_no_label_gives_the_interviewer():
    from pipeline.manifest import DocumentInfo, role_for

    info = DocumentInfo(file="x.docx", id="interview-02", kind="interview",
                        participants=[{"speaker": "Beleidsmedewerker", "role": "beleidsmedewerker"}])
    assert role_for(None, info, {})[0] == "beleidsmedewerker"
    assert role_for("Interviewer", info, {})[0] == "interviewer"
    two = DocumentInfo(file="y.docx", id="interview-03", kind="interview",
                       participants=[{"speaker": "A", "role": "klantmanager"}, {"speaker": "B", "role": "werkgever"}])
    assert role_for(None, two, {})[0] == "onbekend"


def test_pdf_running_header_and_footer_are_left_out(tmp_path):
    """A PDF's header and footer on every page became segments of role 'onbekend' (tester round 7);
    they go, as in .docx, and the build says so. A line on one page only stays."""
    from fpdf import FPDF

    class Report(FPDF):
        def header(self):
            self.cell(0, 6, "Focusgroep gemeente Dalfsen – vertrouwelijk", new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-15)
            self.cell(0, 6, f"Pagina {self.page_no()} van 3")

    pdf = Report()
    pdf.add_font("DejaVu", fname=DEJAVU)
    pdf.set_font("DejaVu", size=11)
    for number in range(3):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Klantmanager: Dit is wat ik op pagina {number + 1} vertel over de wachttijd.",
                       new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "focusgroep.pdf"))
    doc = read_document(tmp_path / "focusgroep.pdf")
    assert doc.paragraphs == [f"Klantmanager: Dit is wat ik op pagina {n} vertel over de wachttijd." for n in (1, 2, 3)]
    assert doc.left_out == {"header": 1, "footer": 1}


@pytest.mark.parametrize("paragraph", ["Casus: mevrouw wacht vijf maanden op les.", "Samenvatting: de regie is zwak.",
                                       "Bron: CBS, 2023.", "Achtergrond: de wet van 2021."])
def test_a_reports_own_labels_are_no_speakers(paragraph):
    """A text box's "Casus:" was a speaker (tester round 7, as seen by a helper)."""
    assert speaker_of(paragraph) == (None, 0)
