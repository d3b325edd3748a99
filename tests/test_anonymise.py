"""pipeline/anonymise.py: every recogniser on real Dutch sentences, with the real lists and deduce.

The lists and deduce load once per module (about 10 s); every test then runs the full anonymiser.
"""

from __future__ import annotations

import gc
import json
import os
import re
import stat
import unicodedata
from pathlib import Path

import pytest

from pipeline.anonymise import (
    PseudonymKey, anonymise_corpus, anonymise_text, find_entities, key_path_for, load_corpus_settings,
    load_key, load_lists, redact, review_items, save_key,
)
from pipeline.errors import QcodeError


@pytest.fixture(scope="module")
def lists():
    yield load_lists()
    # deduce and the lists are millions of objects; without this the garbage collector walks them
    # all again at interpreter exit, which adds about 13 s to every run that loaded them.
    gc.freeze()


def anonymised(text: str, lists) -> str:
    return anonymise_text(text, lists).text


def detections(text: str, lists) -> list[tuple[str, str]]:
    return [(e.label, e.text) for e in anonymise_text(text, lists).entities]


# ---------------------------------------------------------------- patterns


@pytest.mark.parametrize("text, expected, entity", [
    ("Bel me op 06-12345678 als het niet lukt.",
     "Bel me op [TELEFOON] als het niet lukt.", ("PHONE", "06-12345678")),
    ("Mijn nummer is +31 6 1234 5678, bel gerust.",
     "Mijn nummer is [TELEFOON], bel gerust.", ("PHONE", "+31 6 1234 5678")),
    ("Het kantoor heeft nummer 071-5123456 voor vragen.",
     "Het kantoor heeft nummer [TELEFOON] voor vragen.", ("PHONE", "071-5123456")),
    ("Mail naar a.jansen@gemeente-voorbeeld.nl voor het verslag.",
     "Mail naar [EMAIL] voor het verslag.", ("EMAIL", "a.jansen@gemeente-voorbeeld.nl")),
    ("Kijk op https://www.taalschool-voorbeeld.nl/aanmelden voor de info.",
     "Kijk op [URL] voor de info.", ("URL", "https://www.taalschool-voorbeeld.nl/aanmelden")),
    # 123456782 passes the elfproef: 9*1+8*2+7*3+6*4+5*5+4*6+3*7+2*8 - 2 = 154 = 14*11
    ("Zijn nummer is 123456782 volgens het dossier.",
     "Zijn nummer is [ID-NUMMER] volgens het dossier.", ("ID_NUMBER", "123456782")),
    # 123456789 fails the elfproef; "BSN" before it is enough, and the comma is no part of it
    ("BSN 123456789, staat in het systeem.",
     "BSN [ID-NUMMER], staat in het systeem.", ("ID_NUMBER", "123456789")),
    ("Zijn V-nummer: 1234567890 staat op de brief.",
     "Zijn V-nummer: [ID-NUMMER] staat op de brief.", ("ID_NUMBER", "1234567890")),
    ("Ze is geboren op 3 mei 1988 en woont hier sinds 2019.",
     "Ze is geboren op [GEBOORTEDATUM] en woont hier sinds 2019.", ("DATE_OF_BIRTH", "3 mei 1988")),
    ("Zijn geboortedatum: 12-04-1990.",
     "Zijn geboortedatum: [GEBOORTEDATUM].", ("DATE_OF_BIRTH", "12-04-1990")),
    # spaces around the hyphen, as people type a number they read out
    ("Bel ons op 0182 - 63 40 19, liefst 's ochtends.",
     "Bel ons op [TELEFOON], liefst 's ochtends.", ("PHONE", "0182 - 63 40 19")),
    # a V-nummer mentioned apart from the word, followed by a comma
    ("Het staat bovenaan de brief, 2207845163, dat had ik niet mogen zeggen.",
     "Het staat bovenaan de brief, [ID-NUMMER], dat had ik niet mogen zeggen.", ("ID_NUMBER", "2207845163")),
    # a bank account, with and without spaces (its last digits are no phone number)
    ("De huur gaat van NL91 ABNA 0417 1643 00 af.",
     "De huur gaat van [ID-NUMMER] af.", ("ID_NUMBER", "NL91 ABNA 0417 1643 00")),
    ("IBAN: NL91ABNA0417164300, ten name van de gemeente.",
     "IBAN: [ID-NUMMER], ten name van de gemeente.", ("ID_NUMBER", "NL91ABNA0417164300")),
    ("Zijn auto, kenteken KL-123-B, staat bij de flat.",
     "Zijn auto, kenteken [ID-NUMMER], staat bij de flat.", ("ID_NUMBER", "KL-123-B")),
    ("Mail naar s.haddad apenstaartje gemeente punt nl.\nDan lees ik het.",
     "Mail naar [EMAIL].\nDan lees ik het.", ("EMAIL", "s.haddad apenstaartje gemeente punt nl")),
    ("Mailen kan ook, k punt mulder apenstaartje gemeente punt nl, maar dat doet niemand.",
     "Mailen kan ook, [EMAIL], maar dat doet niemand.", ("EMAIL", "k punt mulder apenstaartje gemeente punt nl")),
    ("In zijn paspoort staat nummer NM4R7K2P1, bij de IND iets anders.",
     "In zijn paspoort staat nummer [ID-NUMMER], bij de IND iets anders.", ("ID_NUMBER", "NM4R7K2P1")),
    ("Bel het kantoor, toestel 2345, na tienen.",
     "Bel het kantoor, toestel [TELEFOON], na tienen.", ("PHONE", "2345")),
    ("Nieuwe cliënt (°1990) komt morgen.",
     "Nieuwe cliënt (°[GEBOORTEDATUM]) komt morgen.", ("DATE_OF_BIRTH", "1990")),
    ("Zijn bedrijf staat onder KvK 71843926 ingeschreven.",
     "Zijn bedrijf staat onder KvK [ID-NUMMER] ingeschreven.", ("ID_NUMBER", "71843926")),
    ("Het gezin (dossier 2023-0471) kwam niet.",
     "Het gezin (dossier [ID-NUMMER]) kwam niet.", ("ID_NUMBER", "2023-0471")),
    ("Zij belt terug op 06.28.73.41.90 vanmiddag.",
     "Zij belt terug op [TELEFOON] vanmiddag.", ("PHONE", "06.28.73.41.90")),
    ("Moeder (geb. 1.5.85) belde.", "Moeder (geb. [GEBOORTEDATUM]) belde.", ("DATE_OF_BIRTH", "1.5.85")),
    ("Klantnummer gemeente: KL-2024-08817 staat erop.",
     "Klantnummer gemeente: [ID-NUMMER] staat erop.", ("ID_NUMBER", "KL-2024-08817")),
    ("Dossiernr. INB/2023/00419 is dicht.", "Dossiernr. [ID-NUMMER] is dicht.", ("ID_NUMBER", "INB/2023/00419")),
    ("met de auto (kenteken 8-kzx-41) naar les", "met de auto (kenteken [ID-NUMMER]) naar les", ("ID_NUMBER", "8-kzx-41")),
    ("adres check: marnixlaan 12bis klopt niet", "adres check: [ADRES] klopt niet", ("ADDRESS", "marnixlaan 12bis")),
    ("Paspoort nr. P03918274 is verlopen.",
     "Paspoort nr. [ID-NUMMER] is verlopen.", ("ID_NUMBER", "P03918274")),
    # an older full date with no word of birth is one, unless a word dates an event before it
    ("Cliënt, 07/11/1985, spreekt Amhaars.",
     "Cliënt, [GEBOORTEDATUM], spreekt Amhaars.", ("DATE_OF_BIRTH", "07/11/1985")),
    ("Ze is van 17 november 1986 en spreekt Dari.",
     "Ze is van [GEBOORTEDATUM] en spreekt Dari.", ("DATE_OF_BIRTH", "17 november 1986")),
    ("Hij is op 12 maart 1985 in Eritrea geboren.",
     "Hij is op [GEBOORTEDATUM] in Eritrea geboren.", ("DATE_OF_BIRTH", "12 maart 1985")),
])
def test_pattern_recognisers(lists, text, expected, entity):
    result = anonymise_text(text, lists)
    assert result.text == expected
    assert [(e.label, e.text) for e in result.entities] == [entity]


def test_street_address_with_postcode(lists):
    text = "Hij woont op de Kerkstraat 12, 2311 AB Leiden sinds vorig jaar."
    result = anonymise_text(text, lists)
    assert result.text == "Hij woont op [ADRES] sinds vorig jaar."
    [entity] = result.entities
    assert entity.label == "ADDRESS"
    assert entity.text.endswith("Kerkstraat 12, 2311 AB Leiden")
    assert text[entity.start:entity.end] == entity.text


@pytest.mark.parametrize("text", [
    "Het overleg was op 14 maart 2023 in het gemeentehuis.",   # a meeting date is no identifier
    "Hij is 32 jaar en wil graag werken.",                     # nor is an age
    "Het budget was 250000000 euro.",                          # 9 digits failing the elfproef, no BSN context
])
def test_non_identifying_numbers_kept(lists, text):
    result = anonymise_text(text, lists)
    assert (result.text, result.entities) == (text, [])


# ---------------------------------------------------------------- persons


@pytest.mark.parametrize("text, expected, names", [
    ("Ik sprak gisteren met Tesfay Gebremedhin over zijn opleiding.",
     "Ik sprak gisteren met [PERSOON-1] over zijn opleiding.", ["Tesfay Gebremedhin"]),
    ("Ik sprak gisteren met Mohammed Al-Khatib over zijn opleiding.",
     "Ik sprak gisteren met [PERSOON-1] over zijn opleiding.", ["Mohammed Al-Khatib"]),
    ("ik sprak gisteren met ahmad hassan over zijn opleiding.",
     "ik sprak gisteren met [PERSOON-1] over zijn opleiding.", ["ahmad hassan"]),
    ("De brief ging naar A. Yılmaz op het oude adres.",
     "De brief ging naar [PERSOON-1] op het oude adres.", ["A. Yılmaz"]),
    ("Ik heb meneer Haddad gebeld.", "Ik heb meneer [PERSOON-1] gebeld.", ["Haddad"]),
    ("Daarna kwam Mw. Van den Heuvel binnen.", "Daarna kwam Mw. [PERSOON-1] binnen.", ["Van den Heuvel"]),
    ("Gisteren kwam mijn neef Yonas ook mee naar de les.",
     "Gisteren kwam mijn neef [PERSOON-1] ook mee naar de les.", ["Yonas"]),
    ("De nieuwe deelnemer, hij heet Dawit, komt uit Eritrea.",
     "De nieuwe deelnemer, hij heet [PERSOON-1], komt uit Eritrea.", ["Dawit"]),
    ("محمد zegt dat hij wil werken.", "[PERSOON-1] zegt dat hij wil werken.", ["محمد"]),
])
def test_person_recognisers(lists, text, expected, names):
    result = anonymise_text(text, lists)
    assert result.text == expected
    assert [(e.label, e.text) for e in result.entities] == [("PERSON", name) for name in names]


def test_title_with_capitalised_tussenvoegsel(lists):
    assert anonymised("Ik heb mw. De Vries gebeld.", lists) == "Ik heb mw. [PERSOON-1] gebeld."


def test_speaker_labels_names_removed_roles_kept(lists):
    text = ("Amal: Ik wil graag verpleegkundige worden.\n\n"
            "Tolk: Ze wil verpleegkundige worden.\n\n"
            "Klantmanager: Dat kan via een opleiding.")
    result = anonymise_text(text, lists)
    assert result.text == ("[PERSOON-1]: Ik wil graag verpleegkundige worden.\n\n"
                           "Tolk: Ze wil verpleegkundige worden.\n\n"
                           "Klantmanager: Dat kan via een opleiding.")
    assert [(e.label, e.text, e.source) for e in result.entities] == [("PERSON", "Amal", "speaker")]


def test_agenda_heading_with_colon_is_no_speaker(lists):
    """ "3. Nareizigers: ..." heads an agenda item; read as a speaker, the word would be propagated
    as a name to every "nareizigers" in the corpus."""
    text = "Het verslag is vastgesteld.\n\n3. Nareizigers: late start\n\nDe nareizigers wachten lang."
    assert anonymise_text(text, lists).text == text


def test_organisation_name_does_not_run_over_a_line_break(lists):
    text = "Gespreksverslag coördinator taalschool\n\nVerslag van een interview met de coördinator."
    assert anonymise_text(text, lists).text == text


# ---------------------------------------------------------------- people named by initials, forms and headers


@pytest.mark.parametrize("text, expected", [
    # minutes: the attendance list's names by their initials further on
    ("Aanwezig: Hessel Storm (Leeuwarden), Loes van den Heuvel (voorzitter)\n"
     "2. Ontzorgen: HS meldt dat het goed gaat.\nActiepunten:\n- LvdH: brief aan de VNG",
     "Aanwezig: [PERSOON-1] ([GEMEENTE-1]), [PERSOON-2] (voorzitter)\n"
     "2. Ontzorgen: [PERSOON-3] meldt dat het goed gaat.\nActiepunten:\n- [PERSOON-4]: brief aan de VNG"),
    # an action list's items start with who acts; a national body there stays
    ("Actielijst:\n- GV stuurt een brief aan Divosa\n- UWV levert de cijfers",
     "Actielijst:\n- [PERSOON-1] stuurt een brief aan Divosa\n- UWV levert de cijfers"),
    # a note signed with initials; "NB" is no one's
    ("Mail aan DUO ivm lening. /GH (klantmanager)\nzie bijlage / NB",
     "Mail aan DUO ivm lening. /[PERSOON-1] (klantmanager)\nzie bijlage / NB"),
    ("Journaal | Cliënt: mw. K.A. | huisbezoek", "Journaal | Cliënt: mw. [PERSOON-1] | huisbezoek"),
    ("Gesprek met juf B. over de dochter.", "Gesprek met juf [PERSOON-1] over de dochter."),
    ("[14-05-24 19:11] Nadia H.: mijn zoon heeft koorts", "[14-05-24 19:11] [PERSOON-1]: mijn zoon heeft koorts"),
    ("Met vriendelijke groet,\ndrs. H.J. (Henk) Mulder, docent NT2",
     "Met vriendelijke groet,\ndrs. [PERSOON-1], docent NT2"),
    # a transcript's speakers after the timestamp, in lower case; a role stays
    # and their name in lower case elsewhere, though wordfreq lists "jeroen" among Dutch words
    ("00:03:25 marieke de jong\nja klopt\n00:03:41 interviewer\nen de pip\n00:03:50 jeroen\nik hoorde van jeroen dat",
     "00:03:25 [PERSOON-1]\nja klopt\n00:03:41 interviewer\nen de pip\n00:03:50 [PERSOON-2]\nik hoorde van [PERSOON-2] dat"),
    # an English e-mail header: no names Sent or June
    ("Sent: Thursday, 6 June 2024 11:02\nTo: Eline Wassink", "Sent: Thursday, 6 June 2024 11:02\nTo: [PERSOON-1]"),
    ("Hoi, dat kan. Groet, Wim | Taalatelier Achterhoek", "Hoi, dat kan. Groet, [PERSOON-1] | [ORGANISATIE-1]"),
    # a surname cut to its initial too; short forms in brackets after a name, used further on; not a
    # department's or a body's abbreviation
    ("Aanwezig: H.W. van der K. (HvdK), Sanne Verbeek (SV), Joost Mulder (HR), Werkplein (WP)\nSV en HvdK bellen.",
     "Aanwezig: [PERSOON-1] ([PERSOON-2]), [PERSOON-3] ([PERSOON-4]), [PERSOON-5] (HR), Werkplein (WP)\n"
     "[PERSOON-4] en [PERSOON-2] bellen."),
    ("Tolk Abdi (Abdirahman) vertaalt.", "Tolk [PERSOON-1] ([PERSOON-2]) vertaalt."),
    # a comment left in a Word document names its author; the comment's label stays
    ("de aanbieder [Opmerking TvE: navragen] en [Opmerking Karin Dekker: schrappen]",
     "de aanbieder [Opmerking [PERSOON-1]: navragen] en [Opmerking [PERSOON-2]: schrappen]"),
    # a surname that is a Dutch word, capitalised after a first name mid-sentence
    ("Taalcoach Marloes Wens belt haar.", "Taalcoach [PERSOON-1] belt haar."),
])
def test_people_named_by_initials_and_headers(lists, text, expected):
    assert anonymised(text, lists) == expected


@pytest.mark.parametrize("text, expected", [
    # the town after a postcode ends at the line
    ("Adres: De Maas 41, 5684 NG Best\nTelefoon: (0499) 37 22 05", "Adres: [ADRES], [ADRES]\nTelefoon: [TELEFOON]"),
    ("V-nummer: V 3104 7725 86 | Paspoort", "V-nummer: [ID-NUMMER] | Paspoort"),
    ("Dossiernr. R-WI-552019\nCliëntnummer gemeente: 00412-BOZ",
     "Dossiernr. [ID-NUMMER]\nCliëntnummer gemeente: [ID-NUMMER]"),
    ("BSN: 6023.18.774 | Zorgpolis (CZ): 88301745", "BSN: [ID-NUMMER] | Zorgpolis (CZ): [ID-NUMMER]"),
    ("Mw. K.A. (gezinsmigrant, geb. 17 mei '93) woont aan de Putsebocht 77-B02.",
     "Mw. [PERSOON-1] (gezinsmigrant, geb. [GEBOORTEDATUM]) woont aan [ADRES]."),
    ("de grootste is aan de smallepad 30 en het fietspad 3 keer", "de grootste is aan de [ADRES] en het fietspad 3 keer"),
    # a floor belongs to the address; a CV's heading and years on the next lines are no street
    ("Adres: Kerkstraat 12 2 hoog, 6511 AB Nijmegen", "Adres: [ADRES]"),
    ("Naam: Samira Haddad\nWerkervaring\n2015-2019: kok", "Naam: [PERSOON-1]\nWerkervaring\n2015-2019: kok"),
    # a court's case number; a compound of two nouns is no speaker
    ("zaaknummer: UTR 24/1187", "zaaknummer: [ID-NUMMER]"),
    ("Participatiewet-uitkering: € 1.200,00", "Participatiewet-uitkering: € 1.200,00"),
])
def test_form_fields_and_numbers(lists, text, expected):
    assert anonymised(text, lists) == expected


@pytest.mark.parametrize("text, expected", [
    # any numbered field of a letter or file: four digits or more, not a year, a phone or a page
    ("Ons kenmerk: 20240117/MvdH | Uw kenmerk: 24/INB/0558 | Kenmerk: SUB-2024-00817",
     "Ons kenmerk: [ID-NUMMER] | Uw kenmerk: [ID-NUMMER] | Kenmerk: [ID-NUMMER]"),
    ("uw COA-registratienummer 4471-88-02, leerlingnummer 20193377, klantnummer Participatiewet 700-418-336",
     "uw COA-registratienummer [ID-NUMMER], leerlingnummer [ID-NUMMER], klantnummer Participatiewet [ID-NUMMER]"),
    ("AGB-code 01-045871, intake (dossier 7724); het dossier 2024, pagina 1234 en huisnummer 1234",
     "AGB-code [ID-NUMMER], intake (dossier [ID-NUMMER]); het dossier 2024, pagina 1234 en huisnummer 1234"),
    ("| Olha Bondarenko | +380 67 410 2290 |", "| [PERSOON-1] | [TELEFOON] |"),
    ("p/a COA-locatie, Nieuwe Markt 9-11, 6101 CV Echt", "p/a COA-locatie, [ADRES], [ADRES]"),
    ("Aan het college van burgemeester en wethouders van Leiden", "Aan het college van burgemeester en wethouders van [GEMEENTE-1]"),
    ("Het dossier staat onder nummer SCH/INB/2024/0331.", "Het dossier staat onder nummer [ID-NUMMER]."),
    ("Clientnummer: ALM-INB-30592 | Verblijfsvergunning", "Clientnummer: [ID-NUMMER] | Verblijfsvergunning"),
    # a one-word municipality no word of our lists can mean, in lower case where notes put a town
    # on its own; not "putten", "huizen", nor "de duiven", "een houten tafel", "hij weert"
    ("veldnotitie 11/10 – terneuzen, na het gesprek (utrecht); we putten moed, de huizen zijn oud",
     "veldnotitie 11/10 – [GEMEENTE-1], na het gesprek ([GEMEENTE-2]); we putten moed, de huizen zijn oud"),
    ("de duiven en een houten tafel, hij weert dat. Jansen levert hout.",
     "de duiven en een houten tafel, hij weert dat. [PERSOON-1] levert hout."),
    ("Het werk gaat naar Timmerwerken De Vries & Zonen.", "Het werk gaat naar [ORGANISATIE-1]."),
    # dotted initials alone; not "N.B.", "B.V.", "A.M.v.B."
    ("De andere, K.M. uit Somalië, stopte. N.B. de B.V. volgt de A.M.v.B.",
     "De andere, [PERSOON-1] uit Somalië, stopte. N.B. de B.V. volgt de A.M.v.B."),
    # a first name in no list before a found surname, at a field's start
    ("Patiënt: Zarghuna Noori, verwezen door de huisarts.", "Patiënt: [PERSOON-1], verwezen door de huisarts."),
])
def test_letters_files_and_lists(lists, text, expected):
    assert anonymised(text, lists) == expected


@pytest.mark.parametrize("text", [
    "Kortom: het stelsel staat, maar de uitvoering hapert.",    # a word of Dutch text as a label
    "Tabel 2.\n| Gemeente | Instroom | Uitstroom |",           # particle compounds: Dutch words
    "We starten met de pilot Ontzorgen in Q3.",
])
def test_labels_and_compounds_stay(lists, text):
    assert anonymised(text, lists) == text


def test_a_surname_with_van_is_no_place(lists):
    assert detections("Lucas van Leiden schilderde het.", lists) == [("PERSON", "Lucas van Leiden")]


def test_greeting_before_a_name_stays(lists):
    assert anonymised("[ma 8 april, 11:40] Dag Taras, dank je.", lists) == "[ma 8 april, 11:40] Dag [PERSOON-1], dank je."


# ---------------------------------------------------------------- organisations and places


@pytest.mark.parametrize("text, expected, entity", [
    ("Ze volgt les bij Taalschool De Brug in het centrum.",
     "Ze volgt les bij [ORGANISATIE-1] in het centrum.", ("ORGANISATION", "Taalschool De Brug")),
    ("Hij werkt nu bij Metaalbedrijf Van Dijk B.V. als lasser.",
     "Hij werkt nu bij [ORGANISATIE-1] als lasser.", ("ORGANISATION", "Metaalbedrijf Van Dijk B.V.")),
    ("De begeleiding loopt via Stichting Vluchtelingenwerk Oost sinds januari.",
     "De begeleiding loopt via [ORGANISATIE-1] sinds januari.",
     ("ORGANISATION", "Stichting Vluchtelingenwerk Oost")),
    ("Ze woont nu in Tilburg bij haar zus.",
     "Ze woont nu in [GEMEENTE-1] bij haar zus.", ("MUNICIPALITY_OR_TOWN", "Tilburg")),
    ("De Tilburgse aanpak werkt goed.", "De [GEMEENTE-1] aanpak werkt goed.", ("MUNICIPALITY_OR_TOWN", "Tilburgse")),
    ("De Emmense klantmanagers doen het anders.",
     "De [GEMEENTE-1] klantmanagers doen het anders.", ("MUNICIPALITY_OR_TOWN", "Emmense")),
    ("Hij woont in Sas van Gent sinds de zomer.",
     "Hij woont in [GEMEENTE-1] sinds de zomer.", ("MUNICIPALITY_OR_TOWN", "Sas van Gent")),
    ("Hij zat eerst in het azc Budel en toen in een noodopvang.",
     "Hij zat eerst in het azc [GEMEENTE-1] en toen in een noodopvang.", ("MUNICIPALITY_OR_TOWN", "Budel")),
    ("Aanwezig: een ervaringsdeskundige van Platform Nieuwe Stemmen.",
     "Aanwezig: een ervaringsdeskundige van [ORGANISATIE-1].", ("ORGANISATION", "Platform Nieuwe Stemmen")),
    # a neighbourhood before a colon that ends no speaker label
    ("Zij noemt een gezin in de Kruiskamp: moeder en drie kinderen.",
     "Zij noemt een gezin in de [GEMEENTE-1]: moeder en drie kinderen.", ("MUNICIPALITY_OR_TOWN", "Kruiskamp")),
    ("Ze spreekt al een beetje Gouds met de buren.",
     "Ze spreekt al een beetje [GEMEENTE-1] met de buren.", ("MUNICIPALITY_OR_TOWN", "Gouds")),
    ("Zijn zoon speelt bij VV De Heuvelrug Boys sinds de zomer.",
     "Zijn zoon speelt bij [ORGANISATIE-1] sinds de zomer.", ("ORGANISATION", "VV De Heuvelrug Boys")),
    ("Hij traint bij SV Zuiderzee '75 op dinsdag.",
     "Hij traint bij [ORGANISATIE-1] op dinsdag.", ("ORGANISATION", "SV Zuiderzee '75")),
    ("Aanbieder: Dagbesteding Het Wiel, drie dagen per week.",
     "Aanbieder: [ORGANISATIE-1], drie dagen per week.", ("ORGANISATION", "Dagbesteding Het Wiel")),
    # a capitalised compound naming a school, with its article
    ("Ze zit in groep 7 van De Vlietschool sinds maart.",
     "Ze zit in groep 7 van [ORGANISATIE-1] sinds maart.", ("ORGANISATION", "De Vlietschool")),
    # a neighbourhood named with Dutch words: capitalised after a place preposition
    ("Toen hij in Korte Akkeren een kamer kreeg, ging het beter.",
     "Toen hij in [GEMEENTE-1] een kamer kreeg, ging het beter.", ("MUNICIPALITY_OR_TOWN", "Korte Akkeren")),
])
def test_organisation_and_place_recognisers(lists, text, expected, entity):
    result = anonymise_text(text, lists)
    assert result.text == expected
    assert [(e.label, e.text) for e in result.entities] == [entity]


# ---------------------------------------------------------------- allow-list


@pytest.mark.parametrize("text", [
    "Het COA en de IND werken samen met DUO en Blik op Werk aan de Participatiewet.",
    "De B1-route en de Z-route zijn nieuw sinds de wet.",
    "Veel mensen uit Syrië en Eritrese jongeren wonen in Zeeland.",
    "De klantmanager belt volgende week.",
    "Taal komt langzaam, maar het gaat vooruit.",
    "Hij sprak met de klantmanager en de IND over zijn zaak.",
    "De gemeente organiseert de inburgering samen met de taalschool.",
    "De cijfers staan in Bijlage 2 en in Hoofdstuk IV van het rapport.",
    "Hij woont nu in Nederland en werkte eerder in Duitsland.",
    "Ze volgt de Module Arbeidsmarkt en Participatie, betaald door het ministerie van JenV.",
    # an organisation keyword in lower case, then an allow-listed term: no organisation's name
    "We hebben samen ingekocht: één school voor de B1-route en één stichting voor de Z-route.",
])
def test_allow_listed_terms_kept(lists, text):
    result = anonymise_text(text, lists)
    assert (result.text, result.entities) == (text, [])


def test_names_and_places_typed_in_lower_case(lists):
    """Quick notes: a listed place after a place preposition, a name after a title, a listed first
    name that is no Dutch or English word; found as weak (to review)."""
    text = "ik heb fatima gebeld, ze woont sinds mei in zuidhorn. afspraak met mw. de vries van het COA."
    result = anonymise_text(text, lists)
    assert result.text == "ik heb [PERSOON-1] gebeld, ze woont sinds mei in [GEMEENTE-1]. afspraak met mw. [PERSOON-2] van het COA."
    assert all(not e.strong for e in result.entities)
    # Dutch words stay: "in het noorden", "je bent", "in best gezin" (Best is a town), "een buddy".
    kept = "je bent in het noorden, in best gezin en met een buddy; mevrouw zei dat het goed ging."
    assert anonymised(kept, lists) == kept


def test_places_next_to_policy_words_and_postcodes(lists):
    """A town after a postcode is a town in any case; a person's name does not open with a place
    ("Den Haag de Wet inburgering" is no name "Den Haag de Wet"); a language level after an
    organisation word is no organisation's name."""
    assert anonymised("Rijnlaan 4, 3522 BV utrecht", lists) == "[ADRES] [GEMEENTE-1]"
    assert detections("Volgens Den Haag de Wet inburgering is het helder.", lists) == [
        ("MUNICIPALITY_OR_TOWN", "Den Haag")]
    assert detections("Ze zit bij taalschool Bolder op B1 in groep A2.", lists) == [("ORGANISATION", "Bolder")]


def test_notes_minutes_and_forms(lists):
    """Action points name people by initials; a form's fields are no speakers; a name does not run
    on into the next line; a lower-case first name takes its surname; a genitive name is a name;
    an organisation before a school word; an article that opens a neighbourhood's name."""
    text = "Actie: KvdB / HJW stuurt planning.\nKlantnummer: 1234\nPortefeuillehouder: wethouder Gerda Lubbers\nHamid: ja"
    assert detections(text, lists) == [("PERSON", "KvdB"), ("PERSON", "HJW"), ("ID_NUMBER", "1234"), ("PERSON", "Gerda Lubbers"),
                                       ("PERSON", "Hamid")]
    assert detections("- mw. fatima el amrani, woont nu in azc budel", lists) == [
        ("PERSON", "fatima el amrani"), ("MUNICIPALITY_OR_TOWN", "budel")]
    assert detections("Mohammeds neef zit op het Hanzeland College in de wijk De Kruiskamp.", lists) == [
        ("PERSON", "Mohammeds"), ("ORGANISATION", "Hanzeland College"), ("MUNICIPALITY_OR_TOWN", "De Kruiskamp")]
    assert detections("Aanwezig: P. van 't Zand. De heer Benhaddou van Centrum Nieuwe Wortels.", lists) == [
        ("PERSON", "P. van 't Zand"), ("PERSON", "Benhaddou"), ("ORGANISATION", "Centrum Nieuwe Wortels")]
    assert detections("nieuw adres: 1507 ek zaandam. In 2025 in drie gemeenten. Het College en het Rijk.", lists) == [
        ("ADDRESS", "1507 ek zaandam")]


def test_transcripts_in_lower_case(lists):
    """Speech recognition writes names in lower case: after a title even a listed name that is a
    Dutch word is a name, unless it is frequent or a verb form; so is a listed surname after a
    first name; a lower-case firm is named by a word that is Dutch by no list; a phone number may
    be read out digit by digit."""
    text = ("mevrouw roos mees zei het, en mevrouw kok ook. meneer van der bos en meneer pieter visser. "
            "de consulent marloes bakker. mevrouw belt morgen, meneer kan niet, mevrouw van de taalschool.")
    assert [t for _, t in detections(text, lists)] == [
        "roos mees", "kok", "van der bos", "pieter visser", "marloes bakker"]
    assert detections("dat is taalhuis kempenland, stage bij garage van ginkel; de garage opnieuw", lists) == [
        ("ORGANISATION", "taalhuis kempenland"), ("ORGANISATION", "garage van ginkel")]
    text = "naar taalpunt de wissel, op de christelijke school de wegwijzer; omdat de school de kinderen stuurt"
    assert anonymised(text, lists) == ("naar taalpunt [ORGANISATIE-1], op de christelijke school [ORGANISATIE-2]; "
                                       "omdat de school de kinderen stuurt")
    assert anonymised("bel nul drie zes vijf vijf vijf twee acht nul nul als u wilt", lists) == "bel [TELEFOON] als u wilt"
    assert anonymised("namens de gemeente utrecht, wijk veldhuizen", lists) == "namens de gemeente [GEMEENTE-1], wijk [GEMEENTE-2]"


def test_registers_letters_and_agreements(lists):
    """Surnames in capitals before initials or a first name, client numbers with letters, streets
    named kind-first, units, house number ranges, a dash in a phone number."""
    text = "DE VRIES, J. en NOORZAI, Farida (klantnr. DH-558120); later belt DE VRIES."
    assert anonymised(text, lists) == "[PERSOON-1] en [PERSOON-2] (klantnr. [ID-NUMMER]); later belt [PERSOON-1]."
    assert [t for _, t in detections("Laan van Westenenk 211-D, Industrieweg 17 unit 4, Westzijde 61-63, tel. 0499 – 37 12 90", lists)] == [
        "Laan van Westenenk 211-D", "Industrieweg 17 unit 4", "Westzijde 61-63", "0499 – 37 12 90"]
    assert detections("Ze zit op OBS De Regenboog.", lists) == [("ORGANISATION", "OBS De Regenboog")]



def test_tables_forms_and_chats(lists):
    """A pasted table's cells under an identifying header (CSV, Markdown), a form's field whose
    value is a name in no list, a role's field only when its value has a name's shape (not a
    speaker's sentence), a chat's user names; a place's lower-case form that is a Dutch word stays."""
    table = ("klantnr;naam;woonplaats;taalaanbieder;status\n"
             "IB-10231;Ahmad Rahimi;'t Harde;Noordwest Veluwe College;actief\n"
             "IB-10232;Jan Bos;Best;VluchtelingenWerk;wacht op MAP")
    assert anonymised(table, lists) == ("klantnr;naam;woonplaats;taalaanbieder;status\n"
                                        "[ID-NUMMER];[PERSOON-1];[GEMEENTE-1];[ORGANISATIE-1];actief\n"
                                        "[ID-NUMMER];[PERSOON-2];[GEMEENTE-2];VluchtelingenWerk;wacht op MAP")
    courses = "cursist;cursistnummer;groep\nQorri Xh.;C-20931;B1-3\nDalmar;C-20932;B1-3"
    assert anonymised(courses, lists) == "cursist;cursistnummer;groep\n[PERSOON-1];[ID-NUMMER];B1-3\n[PERSOON-2];[ID-NUMMER];B1-3"
    markdown = "| Nr | Naam | Klantnr. |\n|---|---|---|\n| 1 | Agnieszka Wiśniewska (vrijwillig) | 66-4102 |"
    assert anonymised(markdown, lists).endswith("| 1 | [PERSOON-1] (vrijwillig) | [ID-NUMMER] |")
    form = ("Geboorteplaats: Kayseri (Turkije)\nInterviewer: IvdB. Respondent: Hans Koster, bedrijfsleider\n"
            "Werkgever: Twee jongens uit Syrië, dat ging goed.\nTolk: Hij zegt dat het goed gaat.")
    assert anonymised(form, lists) == ("Geboorteplaats: [GEMEENTE-1] (Turkije)\nInterviewer: [PERSOON-1]. "
                                       "Respondent: [PERSOON-2], bedrijfsleider\nWerkgever: Twee jongens uit Syrië, "
                                       "dat ging goed.\nTolk: Hij zegt dat het goed gaat.")
    chat = "joost.vd.linden 10:02\n@priya.ramsaran weet jij dat? mail mirjam@taal.nl @channel\npriya.ramsaran 10:05\nnee"
    assert anonymised(chat, lists) == "[PERSOON-1] 10:02\n@[PERSOON-2] weet jij dat? mail [EMAIL] @channel\n[PERSOON-2] 10:05\nnee"
    texts = {"a": "Ik woon in Huizen, bij Hoorn.", "b": "Er zijn te weinig huizen; hij pakt de hoorn op."}
    assert anonymise_corpus(texts, lists, PseudonymKey())["b"].text == texts["b"]


def test_lower_case_notes_name_firms_titles_and_streets(lists):
    """Notes: a family firm after its kind ("kwekerij van den brink"), not "het buurthuis van de
    wijk"; a name after "dr."; a municipality after "gem."; a street ending in -baan, not a loopbaan."""
    assert anonymised("werkt bij kwekerij van den brink; het buurthuis van de wijk is dicht", lists) == (
        "werkt bij [ORGANISATIE-1]; het buurthuis van de wijk is dicht")
    assert anonymised("huisarts dr. wagenaar, in oostburg (gem. sluis), zuiderbaan 14. zijn loopbaan 20 jaar", lists) == (
        "huisarts dr. [PERSOON-1], in [GEMEENTE-1] (gem. [GEMEENTE-2]), [ADRES]. zijn loopbaan 20 jaar")
    assert anonymised("een leerplek bij Hotel-Restaurant De Veluwse Koning.", lists) == "een leerplek bij [ORGANISATIE-1]."

@pytest.mark.parametrize("text", [
    # a group or committee named by policy terms, a national body, a language group, a closing
    "De Stuurgroep Inburgering Drenthe en het Werkgeversservicepunt spraken over de Rijksbijdrage.",
    "Werkt u samen met VluchtelingenWerk? Ja, in groep B1-3, via de Leerroute Werk.",
    "Dank voor je bericht.\nGroet,\nAnouk",
])
def test_groups_national_bodies_and_closings_kept(lists, text):
    kept = [t for _, t in detections(text, lists)]
    assert kept == (["Anouk"] if "Anouk" in text else [])


def test_regions_below_the_province_are_removed(lists):
    """A labour-market region narrows a study down to a few municipalities, so regions below the
    province are not allow-listed; a municipality named like one, and a firm named after one, are removed."""
    assert detections("Samen met Midden-Drenthe en Taalatelier Parkstad.", lists) == [
        ("MUNICIPALITY_OR_TOWN", "Midden-Drenthe"), ("ORGANISATION", "Taalatelier Parkstad")]


def test_a_sentence_adverb_is_no_surname(lists):
    assert anonymised("Pas na drie maanden durfde hij het. Pas daar ging het.", lists) == \
        "Pas na drie maanden durfde hij het. Pas daar ging het."
    assert detections("Meneer Pas zegt dat het goed gaat.", lists) == [("PERSON", "Pas")]


@pytest.mark.parametrize("text", [
    "Beleidsmedewerker: Mooi doel, maar de vergoeding stopt.",
    "Ja, veertien maanden. Niks doen, alleen wachten.",
    "Jongens die in de kas beginnen, verdienen meteen.",
    "Interviewer: Ken je het lerend stelsel?",
    "Hij woont verderop. Leg dat maar eens uit.",
    "Bus naar Terneuzen is een uur.",
    "Ze zegt, 'Mooi werk, maar mijn Nederlands wordt slechter.'",
])
def test_a_frequent_word_that_opens_a_sentence_is_no_name(lists, text):
    """Dutch capitalises any word that opens a sentence: a frequent Dutch word there that is also a
    surname or a village ("Mooi", "Niks", "Leg") is the word, unless the text capitalises it elsewhere."""
    assert [d for d in detections(text, lists) if d[1] != "Terneuzen"] == []


def test_a_surname_that_opens_a_sentence_stays_a_name_with_evidence(lists):
    """Mid-sentence, in a longer name or before a verb that reports what a person did, the capital says name."""
    assert anonymised("Jan Koning belde. Koning gaat de lessen geven.", lists) == \
        "[PERSOON-1] belde. [PERSOON-1] gaat de lessen geven."
    assert detections("Koning zei dat het goed ging.", lists) == [("PERSON", "Koning")]


def test_a_key_form_that_is_a_word_is_not_brought_back_at_a_sentence_start(lists):
    """A key written before this rule holds "Mooi" and "Leg": a sentence's first word and the verb
    "leg" stay words in every later build, as in a first one."""
    key = PseudonymKey()
    anonymise_corpus({"a": "Mevrouw Mooi belt morgen. Ze woont in Leg."}, lists, key)
    out = anonymise_corpus({"b": "Mooi dat u er bent. Dat leg ik uit."}, lists, key)["b"]
    assert out.text == "Mooi dat u er bent. Dat leg ik uit."


@pytest.mark.parametrize("text, expected", [
    ("Namens Leefbaar Emmen, Lokaal Gestels Belang.", [("ORGANISATION", "Leefbaar Emmen"), ("ORGANISATION", "Lokaal Gestels Belang")]),
    ("Betaal t.n.v. Van Dalen & Partners, onder vermelding.", [("ORGANISATION", "Van Dalen & Partners")]),
    ("Ze werkt nu bij Banketzaak Van de Haar, vroege dienst.", [("ORGANISATION", "Banketzaak Van de Haar")]),
    ("Ria v. Dijk draait de dienst.", [("PERSON", "Ria v. Dijk")]),
    ("via Marieke Koning van het Sociaal Wijkteam.", [("PERSON", "Marieke Koning")]),
    ("Rajesh Raghunathan\nHR Business Partner Benelux\nNordLogix Europe B.V.",
     [("PERSON", "Rajesh Raghunathan"), ("ORGANISATION", "NordLogix Europe B.V.")]),
    ("bellen na 18u\nTODO: reactie klantmanager\nAHMED: ik weet het niet.", [("PERSON", "AHMED")]),
])
def test_parties_firms_and_name_edges(lists, text, expected):
    """Local parties name their town; '& Partners' ends a firm's name, which stays on its line; a
    particle written short is part of the name, an allow-listed phrase after 'van het' is not; a
    one-word label in capitals is a marker or a role, unless a listed name."""
    assert detections(text, lists) == expected


@pytest.mark.parametrize("text, expected", [
    ("Wijkteammedewerker: We vragen eerst wat iemand zelf kan.", []),
    ("Langdurige zorg valt onder de Wlz, medische zorg onder de Zvw. De Treeknorm is vier weken.", []),
    ("gesproken met wijkteammedewerker tom lemmens (s. mulder)", [("PERSON", "tom lemmens"), ("PERSON", "s. mulder")]),
    ("Zorgaanbieder Jeugdhulp Kompas in de regio Noordoost-Brabant, niet in Noord-Brabant of Oost-Nederland.",
     [("ORGANISATION", "Jeugdhulp Kompas"), ("MUNICIPALITY_OR_TOWN", "Noordoost-Brabant")]),
])
def test_another_domains_roles_terms_and_notes(lists, text, expected):
    """From a Wmo study (test round 5b): a role compounded of three words is no speaker's name; the
    social domain's national laws and norms stay; notes name people in lower case by first name or
    initial; a region below the province is removed, a province kept; care providers' kinds."""
    assert detections(text, lists) == expected


@pytest.mark.parametrize("text, expected", [
    ("Actiepunten\n- JP/SV: gesprek plannen\n- A.v.d.M.: voorstel uitwerken",
     [("PERSON", "JP"), ("PERSON", "SV"), ("PERSON", "A.v.d.M.")]),
    ("huisbezoek bij mw. k. (fam. kramer), kerkstraat 14, putten.",
     [("PERSON", "k."), ("PERSON", "kramer"), ("ADDRESS", "kerkstraat 14"), ("MUNICIPALITY_OR_TOWN", "putten")]),
    ("aanwezig: jan-willem, en jobcoach m.v.d.berg.", [("PERSON", "jan-willem"), ("PERSON", "m.v.d.berg")]),
    ("Ze staat elf maanden op de lijst bij De Kompasroos.", [("ORGANISATION", "De Kompasroos")]),
    ("Sems moeder houdt een dagboek bij; in de PIP's staat het ook.", [("PERSON", "Sems")]),
    ("Interviewer: Mooi. Wat gebeurt er daarna?", []),
    ("De inkooporganisatie van Gooi en Vechtstreek, en de Betuwe.",
     [("MUNICIPALITY_OR_TOWN", "Gooi en Vechtstreek"), ("MUNICIPALITY_OR_TOWN", "Betuwe")]),
    ("Klachtbehandelaar Petra Woudstra belde de Woningstichting Het Westerhuis.",
     [("PERSON", "Petra Woudstra"), ("ORGANISATION", "Woningstichting Het Westerhuis")]),
])
def test_the_social_domains_notes_minutes_and_names(lists, text, expected):
    """From the fourteenth gold file (the social domain): action items with several initials or
    particle letters, initials after a title and a town after a street in lower-case notes, double
    first names, a capitalised article mid-sentence before a name, a short first name's genitive (not
    an acronym's plural), a one-word reply, a region by its name, a compound role before a name,
    housing corporations."""
    assert detections(text, lists) == expected


@pytest.mark.parametrize("text, expected", [
    # system and file numbers: a letter prefix and five digits, a year and a serial; not a public paper's
    ("gebruiker=M10482 dossier=WI-2024-05521 klant K-10234, zaak Z/24/118734",
     [("ID_NUMBER", "M10482"), ("ID_NUMBER", "WI-2024-05521"), ("ID_NUMBER", "K-10234"), ("ID_NUMBER", "Z/24/118734")]),
    ("Mutatie 2024-0417-3391, koppeling 2024-117; Zaak: BB-0193", [("ID_NUMBER", "2024-0417-3391"),
     ("ID_NUMBER", "2024-117"), ("ID_NUMBER", "BB-0193")]),
    ("Raadsvoorstel 2024-117 over 2019-2023, Q1-2024, ISO 27001 en NEN-7510.", []),
    # a form in capitals; a year and a preposition are no postcode there
    ("ADRES: STATIONSSTRAAT 58A\nGEBOORTEDATUM: 27-08-2014\nZWEMLES BIJ ZWEMVERENIGING DE VENNEN IN 2022 IN NEDERLAND",
     [("ADDRESS", "STATIONSSTRAAT 58A"), ("DATE_OF_BIRTH", "27-08-2014"), ("ORGANISATION", "ZWEMVERENIGING DE VENNEN")]),
    # OCR's O and l in numbers
    ("Adres: Dorpsstraat l7\nTelefoon: 06 - 2O38 4471\nGeboortedatum: 14-O3-1971",
     [("ADDRESS", "Dorpsstraat l7"), ("PHONE", "06 - 2O38 4471"), ("DATE_OF_BIRTH", "14-O3-1971")]),
    # a freepost number, a Belgian postcode, Flemish bodies, a nickname before a full name
    ("Antwoordnummer 10452. Adres: Kapelstraat 23 bus 2, 9100 Sint-Niklaas",
     [("ADDRESS", "Antwoordnummer 10452"), ("ADDRESS", "Kapelstraat 23 bus 2, 9100 Sint-Niklaas")]),
    ("Het Groeipakket loopt via FONS en het OCMW Gent.", [("ORGANISATION", "OCMW Gent")]),
    ("Binnen komt Mo (Mohamed Amrani) met een envelop.", [("PERSON", "Mo"), ("PERSON", "Mohamed Amrani")]),
    # a chat speaker's role is no name; a housing corporation by its kind after the name, not "Beschermd Wonen"
    ("Huismeester Kees: Goedemorgen.", [("PERSON", "Kees")]),
    ("gemeld bij Wijdemeren Wonen; Beschermd Wonen blijft.", [("ORGANISATION", "Wijdemeren Wonen")]),
    # a town that is a word, ending an address line; a document's title before a street
    ("groep 7b, OBS De Regenboog, Haren\nGroep", [("ORGANISATION", "OBS De Regenboog"), ("MUNICIPALITY_OR_TOWN", "Haren")]),
    ('document="Huurovereenkomst Oranjestraat 19.pdf" en de Huisvestingsverordening', [("ADDRESS", "Oranjestraat 19")]),
    # a national body's site stays, a local one goes; platforms are no people
    ("Bronnen: www.staatvenz.nl en www.taalhuis-zwolle.nl", [("URL", "www.taalhuis-zwolle.nl")]),
    ("Ik vond de vacature op LinkedIn en via Indeed, niet in Bergen op Zoom.", [("MUNICIPALITY_OR_TOWN", "Bergen op Zoom")]),
    # an imperative opening a note's sentence is no part of the name after it; an initial is
    ("Bel Piet morgen. Vraag Anna om het PIP. W. Postma belde.",
     [("PERSON", "Piet"), ("PERSON", "Anna"), ("PERSON", "W. Postma")]),
    # a phone number in brackets keeps its brackets; an area code's are the number's
    ("bel haar (06-12345678) of (020) 123 4567.", [("PHONE", "06-12345678"), ("PHONE", "(020) 123 4567")]),
])
def test_numbers_forms_ocr_and_flemish_material(lists, text, expected):
    """From the fifteenth gold file (housing, work and safety; system logs, forms in capitals,
    OCR'd forms, Flemish reports)."""
    assert detections(text, lists) == expected


@pytest.mark.parametrize("text", [
    "Ze ging naar de Pinkstergemeente De Olijftak in het dorp.",
    "Het vrouwencafé van de Protestantse Gemeente De Ark helpt.",
])
def test_congregations_are_organisations(lists, text):
    assert [label for label, _ in detections(text, lists)] == ["ORGANISATION"]


@pytest.mark.parametrize("text", [
    # Policy prose capitalises the titles of laws and documents: a Dutch word + a document kind.
    "In de Kamerbrief en in het Coalitieakkoord staat dat de Jeugdwet en de Wmo blijven.",
    "Het Inburgeringsbesluit regelt de inburgering; de inburgering start na de brede intake.",
    "De Staatscourant meldde het in de Voorjaarsnota en de Najaarsnota.",
    # an acronym joined to a Dutch word is a common noun, as the acronym alone is
    "Voor een VCA-diploma of een HBO-opleiding is Nederlands nodig.",
    "Nieuwkomers die Tarifit of Tigrinya spreken; Roemenen en Bulgaren vallen buiten de wet.",
    "Van A2 naar B1 gaat via de B1-route, niet via NT2-B2; zie COVID-19 en artikel 2.4-5.",
    "Rondvraag: niemand. Zij (Oekr., geen plicht) doet mee aan de Module Arbeidsmarkt & Participatie.",
    # a Dutch word + a kind of public body, fund or programme; a language + an inflected Dutch word
    "Het geld gaat via het Gemeentefonds naar het Evaluatieprogramma en de Mobiliteitsteams.",
    "Het Tigrinyasprekende tolkennetwerk hielp de Arabischsprekenden in groep A2.",
    # rarer than the frequency cut-off, but inflections and compounds of Dutch words
    "Juist daarom schreef de Minister voor Volkshuisvesting en Ruimtelijke Ordening een Terugblik. Eind mei volgt meer.",
    # dates of events in policy prose and minutes, older than the Wi2021 material
    "De Raad van State gaf op 3 augustus 2006 advies; het geldt per 1 januari 2007, tot en met 1 november 2007.",
])
def test_policy_vocabulary_kept(lists, text):
    """(Also: language levels, routes and codes with hyphens are no licence plates or bank accounts.)"""
    result = anonymise_text(text, lists)
    assert (result.text, result.entities) == (text, [])


def test_a_word_the_text_writes_in_lower_case_is_a_common_word(lists):
    """"ontzorging" is rarer than the Dutch word lists go; the text's own lower-case uses show it
    is a common word, capitalised in a title ("Plan Ontzorging")."""
    text = "Volgens het Plan Ontzorging gaat de ontzorging trager, want bij ontzorging hoort geduld."
    assert detections(text, lists) == []
    # A name written capitalised more often than in lower case is still a name.
    name = "Ik sprak Qorvelian. Toen belde Qorvelian, en Qorvelian zei: qorvelian, qorvelian."
    assert anonymised(name, lists) == "Ik sprak [PERSOON-1]. Toen belde [PERSOON-1], en [PERSOON-1] zei: [PERSOON-1], [PERSOON-1]."
    # A capitalised compound of Dutch words that is no document title is still a name.
    assert detections("Gisteren sprak ik met de coördinator van Polderlicht.", lists) == [("PERSON", "Polderlicht")]
    assert detections("Het Haddadrapport kwam te laat.", lists) == [("PERSON", "Haddadrapport")]


def test_a_weak_name_does_not_propagate_onto_a_common_word(lists):
    """A weak find ("Plan Nazorging": capitalised, in no word list) is propagated only where
    another text does not use the word as a common word, and onto a lower-case form only in a text
    that capitalises it too."""
    results = anonymise_corpus({
        "a": "Het Plan Nazorging is klaar.",
        "b": "De Monitor Nazorging laat zien dat de nazorging traag gaat. Voor nazorging is geld nodig.",
        "c": "Over nazorging sprak de raad.",
    }, lists, PseudonymKey())
    assert results["a"].text == "Het Plan [PERSOON-1] is klaar."
    assert [(e.source, e.strong) for e in results["a"].entities] == [("weak", False)]
    assert results["b"].text == "De Monitor Nazorging laat zien dat de nazorging traag gaat. Voor nazorging is geld nodig."
    assert results["c"].text == "Over nazorging sprak de raad."


def test_allow_listed_phrases_protect_propagated_names_and_titles_are_no_addresses(lists):
    results = anonymise_corpus({
        "a": "Een vrijwilliger van het lokale Kennisplatform belde.",   # weak: a capitalised compound
        "b": "Zie Kennisplatform Inclusief Samenleven en het Uitvoeringsplan Inburgering 2023-2026.",
    }, lists, PseudonymKey())
    assert results["a"].text == "Een vrijwilliger van het lokale [PERSOON-1] belde."
    assert results["b"].text == "Zie Kennisplatform Inclusief Samenleven en het Uitvoeringsplan Inburgering 2023-2026."


def test_organisation_keyword_before_allow_listed_body_kept(lists):
    text = "Ze volgt les bij de taalschool en het COA helpt met huisvesting."
    assert detections(text, lists) == []


# ---------------------------------------------------------------- corpus propagation and the key


def test_speaker_label_name_propagates_to_other_documents(lists):
    key = PseudonymKey()
    results = anonymise_corpus({
        "a": "Yılmaz: Ik wil graag werken in de zorg.\n\nTolk: Hij wil in de zorg werken.",
        "b": "De klantmanager belde Yilmaz over de les. YILMAZ kwam niet.",
    }, lists, key)
    assert results["a"].text == "[PERSOON-1]: Ik wil graag werken in de zorg.\n\nTolk: Hij wil in de zorg werken."
    assert results["b"].text == "De klantmanager belde [PERSOON-1] over de les. [PERSOON-1] kwam niet."
    assert key.to_dict() == {
        "entries": {"PERSOON-1": {"label": "PERSON", "forms": ["Yılmaz", "Yilmaz", "YILMAZ"]}},
        "documents": {}, "document_ids": {}, "counters": {"PERSON": 1},
    }


def test_unlisted_name_propagates_in_any_case(lists):
    """'Qorvelian' is in no list: doc b on its own catches the capitalised form weakly, and that find
    is propagated to the other forms as a later build would (the key keeps every replaced form), so
    the first build and the next give the same text."""
    b = "De klantmanager belde Qorvelian over de les. QORVELIAN kwam niet, en qorvelian belde later terug."
    key = PseudonymKey()
    alone = anonymise_corpus({"b": b}, lists, key)["b"]
    assert alone.text == "De klantmanager belde [PERSOON-1] over de les. [PERSOON-1] kwam niet, en [PERSOON-1] belde later terug."
    assert [(e.source, e.strong) for e in alone.entities] == [("weak", False), ("propagated", False), ("propagated", False)]
    again = anonymise_corpus({"b": b}, lists, key)["b"]       # the next build, with the key: the same, still to review
    assert (again.text, [e.strong for e in again.entities]) == (alone.text, [False, False, False])
    results = anonymise_corpus({"a": "Qorvelian: Ik wil graag werken in de zorg.", "b": b}, lists, PseudonymKey())
    assert results["b"].text == (
        "De klantmanager belde [PERSOON-1] over de les. [PERSOON-1] kwam niet, en [PERSOON-1] belde later terug.")
    assert [e.source for e in results["b"].entities] == ["weak", "propagated", "propagated"]
    assert results["b"].replacements == [
        (22, 31, 22, 33, "[PERSOON-1]"), (45, 54, 47, 58, "[PERSOON-1]"), (69, 78, 73, 84, "[PERSOON-1]")]


def test_name_variants_share_one_pseudonym(lists):
    key = PseudonymKey()
    results = anonymise_corpus({
        "a": "Ik sprak met Ahmad Al-Khatib over werk. Later belde meneer Al-Khatib terug.",
        "b": "Ahmad was er niet. Meneer Al-Khatib wel.",
    }, lists, key)
    assert results["a"].text == "Ik sprak met [PERSOON-1] over werk. Later belde meneer [PERSOON-1] terug."
    assert results["b"].text == "[PERSOON-1] was er niet. Meneer [PERSOON-1] wel."
    assert key.entries == {"PERSOON-1": {"label": "PERSON", "forms": ["Ahmad Al-Khatib", "Al-Khatib", "Ahmad"]}}
    assert key.original_of("[PERSOON-1]") == {"label": "PERSON", "forms": ["Ahmad Al-Khatib", "Al-Khatib", "Ahmad"]}
    assert key.original_of("[PERSOON-9]") is None
    assert key.lookup("ahmad al-khatib") == "[PERSOON-1]"
    assert key.lookup("AHMAD AL KHATIB") == "[PERSOON-1]"
    assert key.lookup("Onbekend") is None


def test_key_numbers_per_label_and_tags_fixed_labels():
    key = PseudonymKey()
    assert key.pseudonym_for("PERSON", "Amal") == "[PERSOON-1]"
    assert key.pseudonym_for("MUNICIPALITY_OR_TOWN", "Tilburg") == "[GEMEENTE-1]"
    assert key.pseudonym_for("PERSON", "Dawit") == "[PERSOON-2]"
    assert key.pseudonym_for("PERSON", "AMAL") == "[PERSOON-1]"
    assert key.pseudonym_for("PHONE", "06-12345678") == "[TELEFOON]"
    assert key.counters == {"PERSON": 2, "MUNICIPALITY_OR_TOWN": 1}
    assert "06-12345678" not in key.all_forms()


def test_save_key_is_owner_only_and_round_trips(tmp_path):
    key = PseudonymKey()
    key.pseudonym_for("PERSON", "Amal")
    path = tmp_path / "keys" / "demo.key.json"
    save_key(key, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert list(path.parent.iterdir()) == [path]          # no temporary file left behind
    assert json.loads(path.read_text(encoding="utf-8"))["entries"] == {"PERSOON-1": {"label": "PERSON", "forms": ["Amal"]}}
    assert load_key(path).to_dict() == key.to_dict()
    assert load_key(tmp_path / "missing.key.json").to_dict() == {"entries": {}, "documents": {}, "document_ids": {}, "counters": {}}


def test_key_path_is_beside_db_not_inside(tmp_path):
    assert key_path_for(Path("x/db/demo.db")) == Path("x/keys/demo.key.json").resolve()
    assert key_path_for(tmp_path / "elders" / "demo.db") == tmp_path / "elders" / "keys" / "demo.key.json"
    assert "db" not in key_path_for(Path("x/db/demo.db")).relative_to(Path("x").resolve()).parts


# ---------------------------------------------------------------- bad and unusual input


def test_empty_text(lists):
    result = anonymise_text("", lists)
    assert (result.text, result.entities, result.replacements) == ("", [], [])
    assert find_entities("   \n\n  ", lists) == []


def test_very_long_line(lists):
    text = ("De gemeente organiseert de inburgering samen met de taalschool. " * 3200)[:200_000]
    result = anonymise_text(text, lists)
    assert (result.text, result.entities) == (text, [])
    unbroken = "x" * 200_000
    assert anonymise_text(unbroken, lists).text == unbroken


def test_decomposed_diacritics_removed_offsets_into_input(lists):
    text = unicodedata.normalize("NFD", "Ik sprak met Ayşe Yi\u0307lmaz over haar opleiding.")
    assert text != unicodedata.normalize("NFC", text)
    result = anonymise_text(text, lists)
    assert result.text == "Ik sprak met [PERSOON-1] over haar opleiding."
    [entity] = result.entities
    assert (entity.label, entity.start) == ("PERSON", 13)
    assert text[entity.start:entity.end] == entity.text
    assert unicodedata.normalize("NFC", entity.text) == unicodedata.normalize("NFC", "Ayşe Yi\u0307lmaz")


def test_zero_width_inside_name_removed_offsets_into_input(lists):
    text = "Ik sprak met Ah\u200bmad Hassan over zijn opleiding."
    result = anonymise_text(text, lists)
    assert result.text == "Ik sprak met [PERSOON-1] over zijn opleiding."
    assert [(e.start, e.end, e.text) for e in result.entities] == [(13, 26, "Ah\u200bmad Hassan")]
    assert [(e.start, e.end) for e in find_entities(text, lists)] == [(13, 26)]


# ---------------------------------------------------------------- review report


def test_review_items_list_weak_detections_with_context(lists):
    text = "Gisteren sprak ik met de coördinator van Polderlicht over de groep."
    entities = find_entities(text, lists)
    assert [(e.text, e.label, e.strong, e.source) for e in entities] == [("Polderlicht", "PERSON", False, "weak")]
    assert review_items(text, entities, width=10) == [{
        "text": "Polderlicht", "label": "PERSON", "start": 41, "end": 52,
        "context": "nator van «Polderlicht» over de g",
    }]


def test_review_items_skip_strong_detections(lists):
    text = "Bel Tesfay Gebremedhin op 06-12345678."
    entities = find_entities(text, lists)
    assert entities and all(e.strong for e in entities)
    assert review_items(text, entities) == []


# ---------------------------------------------------------------- corpus settings


def write_settings(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "anonymise.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_force_keep_and_force_remove(tmp_path, lists):
    write_settings(tmp_path, "force_keep:\n  - Polderlicht\nforce_remove:\n  - Wegwijs\n"
                             "  - {text: Hoekstra Groep, label: ORGANISATION}\n")
    settings = load_corpus_settings(tmp_path)
    assert settings == {"force_keep": ["Polderlicht"],
                        "force_remove": ["Wegwijs", {"text": "Hoekstra Groep", "label": "ORGANISATION"}]}
    custom = load_lists(settings)
    kept = "Gisteren sprak ik met de coördinator van Polderlicht over de groep."
    assert anonymised(kept, lists) == "Gisteren sprak ik met de coördinator van [PERSOON-1] over de groep."
    assert anonymised(kept, custom) == kept
    assert anonymised("Ze gaat naar wegwijs voor hulp.", lists) == "Ze gaat naar wegwijs voor hulp."
    assert anonymised("Ze gaat naar wegwijs voor hulp.", custom) == "Ze gaat naar [PERSOON-1] voor hulp."
    assert anonymised("Ze werkt bij hoekstra groep.", custom) == "Ze werkt bij [ORGANISATIE-1]."


def test_no_settings_file(tmp_path):
    assert load_corpus_settings(tmp_path) == {}


def test_invalid_settings_yaml_names_file_and_line(tmp_path):
    path = write_settings(tmp_path, "force_keep:\n\t- Polderlicht\n")
    with pytest.raises(QcodeError) as exc:
        load_corpus_settings(tmp_path)
    assert str(exc.value) == f"{path}: line 2 invalid YAML (found character '\\t' that cannot start any token)"


def test_settings_unknown_key_and_label(tmp_path):
    path = write_settings(tmp_path, "force_keep: [a]\nforce_remov: [b]\n")
    with pytest.raises(QcodeError) as exc:
        load_corpus_settings(tmp_path)
    assert str(exc.value) == f"{path}: unknown keys ['force_remov']; use force_keep and force_remove"
    write_settings(tmp_path, "force_remove:\n  - {text: X, label: NAME}\n")
    with pytest.raises(QcodeError) as exc:
        load_corpus_settings(tmp_path)
    assert str(exc.value) == (f"{path}: unknown label 'NAME'; use one of PERSON, PHONE, EMAIL, URL, ID_NUMBER, "
                              "ADDRESS, DATE_OF_BIRTH, MUNICIPALITY_OR_TOWN, ORGANISATION")


@pytest.mark.parametrize("text", ["- {text: Wegwijs}\n", "force_remove:\n  - {label: PERSON}\n"],
                         ids=["top-level-list", "force-remove-without-text"])
def test_malformed_settings_raise_qcode_error(tmp_path, text):
    path = write_settings(tmp_path, text)
    with pytest.raises(QcodeError, match=str(path)):
        load_lists(load_corpus_settings(tmp_path))


def test_force_keep_string_is_not_silently_ignored(tmp_path):
    write_settings(tmp_path, "force_keep: Polderlicht\n")
    text = "Gisteren sprak ik met de coördinator van Polderlicht over de groep."
    try:
        settings = load_corpus_settings(tmp_path)
    except QcodeError as exc:
        assert "force_keep" in str(exc)
    else:
        assert anonymised(text, load_lists(settings)) == text


# ---------------------------------------------------------------- the gold passages


# Every miss the README lists ("Known gaps" and the gold files' paragraphs), per gold file.
GOLD_MISSES = {
    # a town that is a Dutch word at a sentence start; an organisation with 'in' between its parts
    "anonymiser_gold.yaml": [
        ("p29", "Echt"), ("p44", "Stichting Welkom in Goes"),
    ],
    # lower-case names that are Dutch words too
    "anonymiser_gold_hard.yaml": [
        ("h16", "mohammed"), ("h16", "bas"),
    ],
    # an unlisted neighbourhood in lower case
    "anonymiser_gold_blind.yaml": [
        ("b17", "hoograven"),
    ],
    # quick notes in lower case, firms named by a Dutch word, a province's adjective
    "anonymiser_gold_fresh.yaml": [
        ("f06", "ahmeds"), ("f06", "taalcentrum de wissel"), ("f07", "Drentse"), ("f15", "Hofstad Vakcollege"),
        ("f19", "Zeeuwse Lasunie"), ("f20", "ivo"), ("f20", "ivo"), ("f20", "vurehout 143"),
        ("f20", "de zaanse taaltuin"), ("f20", "stg. welzijn krommenie"),
    ],
    # speech-recognition transcripts in lower case: surnames that are frequent words, a town that is a
    # Dutch word, a nickname; 'taalpunt de wissel' counts as missed because the kind stays ('taalpunt
    # [ORGANISATIE-1]'), as with capitals
    "anonymiser_gold_sixth.yaml": [
        ("g01", "henk de wit"), ("g01", "taal centrum de brug"), ("g02", "best"), ("g02", "sterre van den hoek"),
        ("g02", "vandenhoek"), ("g06", "Zeeuwse Taalcoach"), ("g15", "bakker"), ("g15", "bakker"),
        ("g15", "bakker"), ("g15", "taalpunt de wissel"), ("g15", "atolwijk"), ("g20", "roos"),
        ("g20", "taalcentrum de vallei"), ("g22", "Mo"), ("g24", "taalschool het anker"),
    ],
    # an organisation named kind-first, initials in lower case, a firm with no kind in a signature
    "anonymiser_gold_seventh.yaml": [
        ("h14", "Zorg- en Activeringscentrum De Meerpaal"), ("h16", "Werkkompas Veenendaal"),
    ],
    # a chat's name and a neighbourhood in lower case, organisations whose kind follows the name
    "anonymiser_gold_eighth.yaml": [
        ("e10", "taalkracht eemland"), ("e10", "vathorst"), ("e17", "Aksoy Groente & Fruit"),
        ("e18", "Werkgeverskring Noordelijke Flevopolder"), ("e24", "Protestantse wijkgemeente De Ark Veldhuizen"),
    ],
    # organisations that keep a part ('Rekenkamer [GEMEENTE-1]'), a two-letter village (Ee), a town's
    # part ('Nieuw-')
    "anonymiser_gold_ninth.yaml": [
        ("n05", "Rekenkamer Emmen"), ("n06", "Werkfit Brabant"), ("n07", "Ee"),
        ("n14", "Stap voor Stap Nijmegen"), ("n15", "Tilburg Sociaal Lokaal"),
        ("n22", "Nieuw-Den Helder"), ("n23", "Stichting Thuis in Arnhem"),
    ],
    # a town that is a Dutch word ('kantoor Leek'), organisations of which a part stays, a street
    # without a number, a field note's lower-case names and organisations
    "anonymiser_gold_tenth.yaml": [
        ("t03", "Leek"), ("t05", "Scheepswerf Tjalk & Zn"),
        ("t07", "Langs de Wal"), ("t07", "Regionale Sociale Dienst Kromme Rijn"),
        ("t08", "ITC Het Nieuwe Leren Deventer"), ("t11", "TaalKracht Twente"),
        ("t17", "'t Karrewiel"), ("t18", "kevin v.d. berg"),
        ("t18", "de schelde taal"), ("t18", "joke"),
    ],
    # organisations whose kind stays ('buurthuis [ORGANISATIE-1]'),
    # a spoken number after 'eh...', a lower-case first
    # name that is a Dutch word
    "anonymiser_gold_eleventh.yaml": [
        ("k01", "team Inburgering Zeist"), ("k03", "kees"), ("k03", "obs de regenboog"),
        ("k06", "buurthuis De Kroon"), ("k13", "Wijkse Courant"),
        ("k13", "cultureel centrum Calypso"),
        ("k15", "sociaal team Barneveld"), ("k16", "wijkcentrum Het Klooster"),
        ("k17", "taalpunt de schelde"), ("k17", "obs de meerpaal"),
    ],
    # schools whose kind stays ('NT2-school [ORGANISATIE-1]'), an OCR'd letter's O for 0 and l for 1,
    # a name with no kind, a neighbourhood named after its town, a date of birth in words
    "anonymiser_gold_twelfth.yaml": [
        ("m09", "NT2-school Het Lindenhuis"), ("m11", "Postbus 1OOOO"), ("m11", "O4O - 263 l7 45"),
        ("m13", "ISK De Vaart Harderwijk"), ("m13", "Taalwerk Veluwe"), ("m19", "Nieuw Den Helder"),
        ("m22", "vijftien augustus negentienhonderdtweeënnegentig"),
    ],
    # blind: 0.977; its misses (local parties, '& Partners', kind-first firms, 'v. Dijk') are rules now
    "anonymiser_gold_thirteenth.yaml": [],
    # blind: 0.929 (the social domain); still missed: a lower-case
    # firm whose kind stays ('kringloop [ORGANISATIE-1]'), lower-case initials that spell a word ('r.k.'),
    # organisations that keep a region or a national name ('Veilig Thuis [GEMEENTE-1]')
    "anonymiser_gold_fourteenth.yaml": [
        ("s19", "kringloop de vlasbloem"), ("s19", "r.k."),
        ("s20", "Kind in Zicht Westelijke Mijnstreek"), ("s22", "Veilig Thuis Kennemerland"),
    ],
    # blind: 0.911 (housing, work, safety, health, Flemish material, OCR, system logs); still missed:
    # a firm's name with a lower-case word before its legal form ('Zorg met Aandacht [ORGANISATIE-1]')
    "anonymiser_gold_fifteenth.yaml": [("t16", "Zorg met Aandacht Hoek VOF")],
    # blind: 0.980 (parliament, objections and courts, chats, forums, radio)
    "anonymiser_gold_sixteenth.yaml": [],
    # blind: 0.965 (ordinary interviews, minutes and notes; file listings, class lists, a job fair).
    # The school's kind stays before its replaced name ('obs [ORGANISATIE-1]'); a town that is a
    # Dutch word after a comma ('Zorggroep Maasheuvel, Echt.')
    "anonymiser_gold_seventeenth.yaml": [("y20", "obs De Finne"), ("y22", "Echt")],
    # blind: 0.965 (interviews, minutes, mails, a voicemail, notes, letters, a vacancy, a roster, a Teams
    # transcript and invitation, an OCR'd letter, a field diary); still missed: a neighbourhood in
    # lower case, one named with 'voor' in it, a two-letter village (Ee)
    "anonymiser_gold_eighteenth.yaml": [("z10", "rietkampen"), ("z15", "Graan voor Visch"), ("z19", "Ee")],
}
MISSED_LINE = re.compile(r"^MISSED\s+(\w+)\s+\w+\s+(['\"])(.+?)\2  ", re.MULTILINE)


def _evaluate_gold(gold_file: str) -> str:
    from click.testing import CliRunner

    from pipeline.cli import cli

    result = CliRunner().invoke(cli, ["evaluate-anonymiser", "--gold", f"tests/data/{gold_file}"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("gold_file", list(GOLD_MISSES))
def test_evaluate_anonymiser_on_the_gold_files(gold_file):
    """`qcode evaluate-anonymiser` on each gold file: only the misses the README documents."""
    missed = [(passage, name) for passage, _, name in MISSED_LINE.findall(_evaluate_gold(gold_file))]
    assert missed == GOLD_MISSES[gold_file]


def test_evaluate_anonymiser_on_policy_prose():
    """No identifier of the policy passages (written by someone who had not seen the rules) survives."""
    output = _evaluate_gold("anonymiser_gold_policy.yaml")
    assert re.search(r"^ALL\s+1\.000$", output, re.MULTILINE) and "MISSED" not in output
    assert re.search(r"^keep rate: 0\.\d{3} \(\d+/191 allow-list words kept\)$", output, re.MULTILINE)



def test_evaluate_anonymiser_sums_several_gold_files():
    """With several --gold files, one line per file and totals that are their sums (the check
    after every rule change: did any file lose an identifier or a kept word?)."""
    from click.testing import CliRunner

    from pipeline.cli import cli

    files = ["tests/data/anonymiser_gold_policy.yaml", "tests/data/anonymiser_gold_blind.yaml"]
    result = CliRunner().invoke(cli, ["evaluate-anonymiser", "--gold", files[0], "--gold", files[1]])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:]}
    assert list(rows) == ["anonymiser_gold_policy.yaml", "anonymiser_gold_blind.yaml", "ALL"]
    found = [tuple(map(int, row[1].split("/"))) for row in rows.values()]
    kept = [tuple(map(int, row[3].split("/"))) for row in rows.values()]
    assert found[2] == (found[0][0] + found[1][0], found[0][1] + found[1][1])
    assert kept[2] == (kept[0][0] + kept[1][0], kept[0][1] + kept[1][1]) and kept[0][1] == 191
    assert float(rows["ALL"][0]) == round(found[2][0] / found[2][1], 3)


def test_a_lower_case_town_found_once_is_replaced_everywhere_in_the_text(lists):
    """Notes found "in almelo" but kept their heading "aantekeningen km almelo", which gave the
    pseudonym away; a listed place that is no Dutch word is replaced at every lower-case use.
    A place that is a word stays a word ("best" after "in best")."""
    assert anonymised("aantekeningen km almelo\n\nde matching met werk in almelo loopt niet.", lists) == \
        "aantekeningen km [GEMEENTE-1]\n\nde matching met werk in [GEMEENTE-1] loopt niet."
    assert anonymised("zij woont in best.\n\nhet gaat best goed.", lists).endswith("het gaat best goed.")


def test_force_keep_wins_over_a_name_the_key_already_has():
    """A word added to force_keep after a build stays, though the key lists it from that build
    (the key's forms were propagated regardless, so only a new key undid a false detection)."""
    from pipeline.anonymise import PseudonymKey, anonymise_corpus, load_lists

    text = {"a": "Zij volgde eerst een cursus aan de Volkshochschule in Keulen, daarna de B1-route."}
    key = PseudonymKey()
    assert "Volkshochschule" not in anonymise_corpus(text, load_lists(), key)["a"].text
    kept = anonymise_corpus(text, load_lists({"force_keep": ["Volkshochschule"]}), key)["a"].text
    assert "Volkshochschule" in kept


def test_a_lower_case_dutch_word_in_a_name_is_not_a_name_everywhere(lists):
    """A detection that took a verb with the name ("bent Marco Veldkamp") must not make the verb a
    name in lower case everywhere ("wie bent u" became "wie [PERSOON-21] u" in 19 interviews)."""
    from pipeline.anonymise import NameIndex

    index = NameIndex(lists.dutch_words, lists.lemma_words)
    index.add("bent Marco Veldkamp", "PERSON", lists)      # as a key from before kept it
    assert [e.text for e in index.find("Wie bent u? Ik ben Veldkamp.", [])] == ["Veldkamp"]
    assert anonymised("U bent Marco Veldkamp, manager. Wie bent u?", lists) == "U bent [PERSOON-1], manager. Wie bent u?"


def test_notes_write_a_known_name_in_lower_case_and_a_body_ends_a_name(lists):
    """A first name that only wordfreq's frequencies count among Dutch words is the name in lower case
    where the corpus names that person ("kevin", "joost van dijk"); "bent" stays a verb. A name
    ends before "van" and a body's name ("Anouk Bakker van Ambulante Dienst Cluster 4"), so
    "ambulante" does not become her name everywhere (test round 6)."""
    out = anonymise_corpus({
        "a": "Kevin zit thuis. Joost van Dijk belde. Anouk Bakker van Ambulante Dienst Cluster 4 komt. Bent Hansen belde.",
        "b": "met joost van dijk gebeld over kevin. anouk bakker van de ambulante dienst. wie bent u?"}, lists, PseudonymKey())
    assert out["b"].text == "met [PERSOON-2] gebeld over [PERSOON-1]. [PERSOON-3] van de ambulante dienst. wie bent u?"


def test_a_redacted_memo_is_redacted_again_as_it_is(lists):
    """Every build redacts the memos it carries again: "Anna: ..." became "[PERSOON]: ...", and the
    next build took "[PERSOON]" for a speaker's name ("[[PERSOON]]: ..."; tester round 5a)."""
    once = redact("Anna: eerst voorleggen aan Fatima Yilmaz uit Ede.", lists)[0]
    assert once == "[PERSOON]: eerst voorleggen aan [PERSOON] uit [GEMEENTE]."
    assert redact(once, lists) == (once, 0)


def test_a_line_s_bullet_or_time_opens_a_compound_but_not_a_name(lists):
    """Programmes and lists open lines with a time or a bullet: a compound of Dutch words there is
    an item ("13.30 Paneldiscussie"), a date and time is no phone number, while a word that is
    Dutch by no list is still taken for a name, as mid-sentence."""
    text = "13.30 Paneldiscussie met VNG\n- Voortgangsgesprek met de klant\n* Vlothuizerink regelt de zaal\n24:10 De Wet inburgering 2021"
    assert anonymised(text, lists) == ("13.30 Paneldiscussie met VNG\n- Voortgangsgesprek met de klant\n"
                                       "* [PERSOON-1] regelt de zaal\n24:10 De Wet inburgering 2021")
    assert anonymised("[05-03-2024 08:55] Graag een reactie.", lists) == "[05-03-2024 08:55] Graag een reactie."


def test_a_timestamped_line_without_a_colon_names_only_its_leading_capitalised_words(lists):
    """Show notes and minutes put a topic after a time ("38:55 Rients over de brede intake"): the
    speaker is the line's leading name, particles included; a lower-case line typed by a transcriber
    ("00:03:25 marieke de jong") is a name as a whole."""
    text = "38:55 Rients over de brede intake\n12:10 Quarrema van der Zwaluw over taal\n00:03:25 marieke de jong"
    assert anonymised(text, lists) == "38:55 [PERSOON-1] over de brede intake\n12:10 [PERSOON-2] over taal\n00:03:25 [PERSOON-3]"


def test_a_long_noun_in_ering_and_a_number_is_no_street_but_a_short_one_may_be(lists):
    assert anonymised("Aflevering 14 gaat over taal. Hij woont op Kering 5.", lists) == \
        "Aflevering 14 gaat over taal. Hij woont op [ADRES]."


def test_a_name_ends_before_aan_de_and_an_office(lists):
    """deduce reads "aan de" as a surname's particle ("Aan de Stegge"): "Vragen van het lid X aan de
    Minister van ..." lost the minister. Surnames after such a particle stay names."""
    assert anonymised("Vragen van het lid Van der Meulen-Aksoy aan de Minister van Sociale Zaken en "
                      "Werkgelegenheid over wachtlijsten.", lists) == (
        "Vragen van het lid [PERSOON-1] aan de Minister van Sociale Zaken en Werkgelegenheid over wachtlijsten.")
    assert anonymised("Een brief van Jansen aan de Staatssecretaris.", lists) == "Een brief van [PERSOON-1] aan de Staatssecretaris."
    assert anonymised("Contact: Wendy Op den Kamp en Harm aan de Stegge.", lists) == "Contact: [PERSOON-1] en [PERSOON-2]."
    assert anonymised("Ik sprak Joost in 't Veld gisteren.", lists) == "Ik sprak [PERSOON-1] gisteren."
    # a place ending in "aan de Maas" is not cut (deduce's label for it is PERSON, as before)
    assert "Maas" not in anonymised("Het college van burgemeester en wethouders van Horst aan de Maas besluit.", lists)


def test_an_article_after_a_title_is_no_name(lists):
    """"mevrouw het woord" is no surname "het Woord" (no surname begins with "het"), and so the
    text's other "Het woord" stays too; "mevrouw de vries" is a name."""
    text = "Bij 04:15 gebruikt mevrouw het woord 'hadar'.\nHet woord 'Gemeente' gebruikt ze ook."
    assert anonymised(text, lists) == text
    assert anonymised("Ik sprak mevrouw de vries.", lists) == "Ik sprak mevrouw [PERSOON-1]."


def test_a_file_listing_names_people_in_file_names(lists):
    """Underscores join the words of a file name: the names in it are found, as the same
    pseudonyms as elsewhere; the minutes of a time and a date after it are no phone number; an
    e-mail address and a user name with underscores stay whole."""
    text = ("-rw-r----- 1 onderzoek team 48213 mrt  4 11:02 2024-03-04_interview_Fatima_El_Amrani.docx\n"
            "-rw-r----- 1 onderzoek team 30775 mrt 13 08:47 mail_Sandra_van_der_Linden_Stichting_Vluchtelingenhulp_Sliedrecht.msg\n"
            "Fatima El Amrani mailt via f_el_amrani@hotmail.com.")
    assert anonymised(text, lists) == (
        "-rw-r----- 1 onderzoek team 48213 mrt  4 11:02 2024-03-04_interview_[PERSOON-1].docx\n"
        "-rw-r----- 1 onderzoek team 30775 mrt 13 08:47 mail_[PERSOON-2]_[ORGANISATIE-1].msg\n"
        "[PERSOON-1] mailt via [EMAIL].")
    assert anonymised("Arif_K schreef op 4 april:", lists) == "[PERSOON-1] schreef op 4 april:"


def test_an_address_without_the_word_before_it(lists):
    """A note's "Huisbezoek" is no part of the street's name; a street's own adjective, title or
    initials are ("Oude Molenweg", "Mr. P.J. Troelstraweg")."""
    assert anonymised("Huisbezoek Lindenstraat 8b in Kerkrade.", lists) == "Huisbezoek [ADRES] in [GEMEENTE-1]."
    assert anonymised("Ze wonen op de Mr. P.J. Troelstraweg 90.", lists) == "Ze wonen op [ADRES]."
    assert anonymised("Hij woont op de Oude Molenweg 12.", lists) == "Hij woont op [ADRES]."
    assert anonymised("Adres: Burgemeester Visserstraat 4", lists) == "Adres: [ADRES]"


def test_a_table_cell_name_without_its_title(lists):
    text = ("| Nr | Respondent | Rol |\n|----|------------|-----|\n"
            "| R15 | Wethouder A.C. Brink-de Graaf | bestuurder |\n| R13 | dhr. J. van Dijk | werkgever |")
    assert anonymised(text, lists) == ("| Nr | Respondent | Rol |\n|----|------------|-----|\n"
                                       "| R15 | Wethouder [PERSOON-1] | bestuurder |\n| R13 | dhr. [PERSOON-2] | werkgever |")


def test_a_place_name_quoted_as_a_word(lists):
    """"zegt 'Kamp' voor het AZC": a Dutch word in quotes; a quoted surname or municipality stays a name."""
    assert anonymised("Respondent zegt 'Kamp' voor het AZC in Zeist.", lists) == (
        "Respondent zegt 'Kamp' voor het AZC in [GEMEENTE-1].")
    assert anonymised("We noemen hem 'Smit'. Ze komt uit 'Putten'.", lists) == (
        "We noemen hem '[PERSOON-1]'. Ze komt uit '[GEMEENTE-1]'.")


def test_policy_prose_keeps_acronyms_law_titles_and_headings(lists):
    """Found on real policy documents (Kamerbrieven, rekenkamer reports, monitors): the acronym of
    a law or body in brackets after its name is no person's initials; a law's or a paper's title
    is no name, nor its word in lower case elsewhere; a heading's first word after its section
    number, and a form's label, are Dutch words."""
    for text in ["op grond van de Wet Werk en Bijstand (WWB) en de oude Wet Inburgering Nieuwkomers (WIN).",
                 "Het rapport van de Wetenschappelijke Raad voor het Regeringsbeleid (WRR) verscheen.",
                 "Gegevens over de Wet Taaleis ontbreken; de taaleis wordt weinig toegepast.",
                 "4.1.2 Extra maatregelen 4.2.1 Benutting ambities en mogelijkheden",
                 "Bijlage 3 Activeringsladder en participatieladder. Artikel 1 Begripsomschrijvingen",
                 "Raadsvergadering: 17 december 2014 Portefeuillehouder: zie bijlage",
                 "Een nieuwe kijk op de Wet Inburgering 2013 De Wet Inburgering 2013 heeft ertoe geleid",
                 "Hoofdstuk 4 Maatschappelijke begeleiding in de praktijk Maatschappelijke begeleiding vanuit de gemeente",
                 "Kamervragen 2023Z01734 en de brief 2023D04025 daarover."]:
        assert anonymised(text, lists) == text, text
    # ... but a person's initials in brackets, and a name after a heading's number, are still found
    assert anonymised("Ria Kramer (RK) belt. RK zegt ja.", lists) == "[PERSOON-1] ([PERSOON-2]) belt. [PERSOON-2] zegt ja."
    # a local body's acronym, whose name holds its place, names the place too
    assert "SWZ" not in anonymised("de Sociale Werkvoorziening Zeist (SWZ) en later de SWZ", lists)
    assert anonymised("Bijlage 2 Vlothuizerink", lists) == "Bijlage 2 [PERSOON-1]"
    assert anonymised("Verslaglegging: Zonneveld", lists) == "Verslaglegging: [PERSOON-1]"


def test_policy_prose_keeps_offices_registers_and_truncated_compounds(lists):
    """An office before a name is no part of it ("Kamerlid Ceder"); national registers, the
    state's formulae, research instruments and a compound's first part written once stay."""
    assert anonymised("Eerder diende Kamerlid Ceder een motie in.", lists) == "Eerder diende Kamerlid [PERSOON-1] een motie in."
    for text in ["7. De Handhavings- en maatregelenverordening in te trekken.",
                 "De Divosa Benchmark Statushouders maakt vergelijken mogelijk; in de benchmark zie je het.",
                 "Staatsblad van het Koninkrijk der Nederlanden, Vergaderjaar 2022-2023.",
                 "De Basisregistratie personen en de regeling Generaal Pardon."]:
        assert anonymised(text, lists) == text, text


def test_policy_prose_keeps_common_nouns_regions_and_national_bodies(lists):
    """From a second batch of real policy documents: a compound capitalised in a title is the
    common noun where the text writes it in lower case; a linking adverb opens its sentence;
    provinces' adjectives, the King's commissioner, demonyms, ministries and national bodies stay;
    the labour market is no street. A place's name in lower case, and a street, are still found."""
    for text in ["Kadernotitie beleid WSW voor de raad. Deze kadernotitie stelt verzelfstandiging voor.",
                 "De regeling is duidelijk. Immers, de raad besloot anders.",
                 "De Noord-Hollandse gemeenten en de Commissaris van de Koning (CdK) overleggen.",
                 "Marokkanen, Surinaamse en Antilliaanse Nederlanders.",
                 "De minister van Binnenlandse Zaken en Koninkrijksrelaties en de Inspectie Werk en Inkomen.",
                 "Programma Verdere Integratie op de Arbeidsmarkt.",
                 "Het Beleidsplan Schulddienstverlening en de Impactanalyse Jeugdhulp, met Budgetbeheer."]:
        assert anonymised(text, lists) == text, text
    assert anonymised("In de Merenwijk wonen gezinnen. in de merenwijk is het rustig.", lists) == (
        "In de [GEMEENTE-1] wonen gezinnen. in de [GEMEENTE-1] is het rustig.")
    assert anonymised("Ze woont sinds vorig jaar in Velp, op de Hoofdstraat.", lists) == (
        "Ze woont sinds vorig jaar in [GEMEENTE-1], op de [ADRES].")


# ---------------------------------------------------------------- the eighteenth gold file's rules


def test_a_mosque_named_before_its_kind_is_one_organisation(lists):
    """"de Mevlana moskee": the name and the kind after it go together; a mosque named by its
    community's adjective names no one."""
    assert anonymised("Na het gebed in de Mevlana moskee praatten we na. Hij bidt soms in de Turkse moskee.", lists) == \
        "Na het gebed in de [ORGANISATIE-1] praatten we na. Hij bidt soms in de Turkse moskee."


def test_a_kind_of_office_and_its_region_name_one_office(lists):
    """Both words are kept alone, but "Werkplein Achterhoek" is one office; a national body's
    regional desk stays."""
    assert anonymised("Ze meldde zich bij Werkplein Achterhoek, met een brief van het Werkgeversservicepunt Twente.", lists) == \
        "Ze meldde zich bij [ORGANISATIE-1], met een brief van het Werkgeversservicepunt Twente."


@pytest.mark.parametrize("text, expected", [
    ("Overleg met Stg. Welzijn Ommen gepland.", "Overleg met [ORGANISATIE-1] gepland."),
    ("De migrantenorganisatie Samen Verder helpt mee.", "De migrantenorganisatie [ORGANISATIE-1] helpt mee."),
    ("Hij leert Nederlands bij Ons Taalhuis Hoogland, twee ochtenden.", "Hij leert Nederlands bij [ORGANISATIE-1], twee ochtenden."),
    ("Het taalcafé van Welzijnswerk Zuid is op dinsdag.", "Het taalcafé van [ORGANISATIE-1] is op dinsdag."),
    ("Hij helpt bij Repair Café De Schroevendraaier. Het Repair Café is elke zaterdag open.",
     "Hij helpt bij [ORGANISATIE-1]. Het Repair Café is elke zaterdag open."),
])
def test_organisations_by_their_kind_or_their_compass_part(lists, text, expected):
    """"Stg." is Stichting, any "-organisatie" is a kind, "Ons" opens a name mid-sentence, a
    compass word ends one; "Repair Café" alone is the movement, kept."""
    assert anonymised(text, lists) == expected


def test_numbers_after_a_plural_key_or_a_few_spoken_words(lists):
    """"de zaaknummers A en B" lists two values; a voicemail says the number a few words after
    its key. A short number after "nummer" is no one's."""
    assert anonymised("De zaaknummers ZK-B-2231 en ZK-B-2240 staan in de map.", lists) == \
        "De zaaknummers [ID-NUMMER] en [ID-NUMMER] staan in de map."
    assert anonymised("ja haar klantnummer is bij ons denk ik 5531 2098 of zo", lists) == \
        "ja haar klantnummer is bij ons denk ik [ID-NUMMER] of zo"
    assert anonymised("Het nummer van de bus is 12 en we waren met 1500 mensen.", lists) == \
        "Het nummer van de bus is 12 en we waren met 1500 mensen."


def test_initials_after_a_closing_sign_a_mail(lists):
    assert anonymised("Ik stuur het morgen. Groeten, MB", lists) == "Ik stuur het morgen. Groeten, [PERSOON-1]"
    assert anonymised("Ik stuur het morgen.\nMet vriendelijke groet,\nCOA", lists).endswith("groet,\nCOA")


def test_a_title_a_province_and_a_teams_guest_stay(lists):
    """"Dominee" is a title, "(Gr.)" a province after a town, "(Gast)" Teams' mark of an outside attendee."""
    assert anonymised("Dominee Hazenberg opende de avond.", lists) == "Dominee [PERSOON-1] opende de avond."
    assert anonymised("De les is in Haren (Gr.), elke dinsdag.", lists) == "De les is in [GEMEENTE-1] (Gr.), elke dinsdag."
    assert anonymised("[00:01:10] Sanne Bos (Gast): Ik hoor jullie.", lists) == "[00:01:10] [PERSOON-1] (Gast): Ik hoor jullie."


def test_text_written_by_mail_and_meeting_software_stays(lists):
    text = ("Wanneer: dinsdag 4 maart 2025 10:00-11:00 (UTC+01:00) Brussel, Kopenhagen, Madrid, Parijs\n"
            "Alleen audio: +31 20 123 4567,,55512345# Nederland, Rotterdam\n"
            "Groet, Hanna Visser\nVerzonden vanaf mijn iPhone")
    assert anonymised(text, lists) == (
        "Wanneer: dinsdag 4 maart 2025 10:00-11:00 (UTC+01:00) Brussel, Kopenhagen, Madrid, Parijs\n"
        "Alleen audio: [TELEFOON],,55512345# Nederland, Rotterdam\n"
        "Groet, [PERSOON-1]\nVerzonden vanaf mijn iPhone")


def test_a_job_title_is_no_name_and_a_surname_of_a_dutch_noun_stays_whole(lists):
    """"Magazijnmedewerker" in a vacancy's heading is a job. "van de Wetering" is a surname though
    "wetering" is a Dutch noun (so "Kees Verbeek van het Informatiepunt" loses the office too: a
    name that leaks is worse than an office lost)."""
    assert anonymised("Ik sprak Jan van de Wetering, en ook Kees Verbeek van het Informatiepunt.", lists) == \
        "Ik sprak [PERSOON-1], en ook [PERSOON-2]."
    assert anonymised("VACATURE – Magazijnmedewerker (24 uur)", lists) == "VACATURE – Magazijnmedewerker (24 uur)"


def test_a_scanned_letter_s_broken_words(lists):
    """A name broken at a line's end goes with its rest; a law broken so is no name; deduce's
    address takes the house number's letter."""
    text = ("met onze consulent mevrouw B. de Wil-\nde op 3 mei. U behoudt uw uitkering ingevolge de Partici-\npatiewet.\n"
            "Aan: mevrouw S. Tekle, Noord-Willemsvaart 14-C, 1234 AB Stad")
    assert anonymised(text, lists) == (
        "met onze consulent mevrouw [PERSOON-1] op 3 mei. U behoudt uw uitkering ingevolge de Partici-\npatiewet.\n"
        "Aan: mevrouw [PERSOON-2], [ADRES], [ADRES]")



def test_an_article_and_a_common_noun_are_no_hamlet(lists):
    """"De groep" is the hamlet De Groep only when its noun is capitalised (or no Dutch word: "De
    meern" typed carelessly is still De Meern)."""
    assert anonymised("Het ging goed. De groep was klein, de lessen in De meern ook.", lists) == \
        "Het ging goed. De groep was klein, de lessen in [GEMEENTE-1] ook."
    assert anonymised("Zij woont in Ter Apel, vlak bij De Groeve.", lists) == "Zij woont in [GEMEENTE-1], vlak bij [GEMEENTE-2]."
