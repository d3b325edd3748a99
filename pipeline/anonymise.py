"""Stage 2: find what identifies a person or a municipality and replace it with a pseudonym.

Layered recognisers (see `detect_entities`):

1. deduce (Dutch de-identification) for persons, places, streets, phones, e-mail, BSN, dates.
2. Patterns for what must be caught every time: phones, e-mail, URLs, BSN/V-nummer, addresses,
   postcodes, dates of birth.
3. Context rules: speaker labels, titles (meneer, mw., dhr.), initials, kinship words, "heet X".
4. Name lists for the populations in the research and all Dutch municipalities and places,
   with adjectival forms ("Tilburgse") and multi-word names ("Sas van Gent").
5. Organisation patterns ("Taalschool De Brug", "Van Dijk B.V.", "azc Budel").
6. Weak evidence: a capitalised word that is no Dutch word and no allow-listed term. Replaced too,
   and listed in the review report so a researcher checks it.

Then an allow-list drops detections the research needs (COA, Syrië, Z-route, klantmanager ...).
Across a corpus, `anonymise_corpus` propagates every detected name to all documents, in any case or
diacritic form, and `PseudonymKey` gives variants of one person one pseudonym.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from .errors import QcodeError
from .ingest import NOT_SPEAKERS, ZERO_WIDTH, bare_label, speaker_of
from .memory import paused_gc

LABELS = (
    "PERSON", "PHONE", "EMAIL", "URL", "ID_NUMBER", "ADDRESS", "DATE_OF_BIRTH",
    "MUNICIPALITY_OR_TOWN", "ORGANISATION",
)
TAGS = {
    "PERSON": "PERSOON", "MUNICIPALITY_OR_TOWN": "GEMEENTE", "ORGANISATION": "ORGANISATIE",
    "PHONE": "TELEFOON", "EMAIL": "EMAIL", "URL": "URL", "ID_NUMBER": "ID-NUMMER",
    "ADDRESS": "ADRES", "DATE_OF_BIRTH": "GEBOORTEDATUM",
}
NUMBERED = {"PERSON", "MUNICIPALITY_OR_TOWN", "ORGANISATION"}
# When detections overlap, the merged span takes the label listed first.
LABEL_PRIORITY = ["ADDRESS", "EMAIL", "URL", "PHONE", "ID_NUMBER", "DATE_OF_BIRTH",
                  "ORGANISATION", "PERSON", "MUNICIPALITY_OR_TOWN"]
# A pseudonym, or a redacted memo's unnumbered kind ("[PERSOON]: ..." is no speaker's name).
PSEUDONYM = re.compile(r"\[(?:PERSOON|GEMEENTE|ORGANISATIE)(?:-\d+)?\]|\[(?:TELEFOON|EMAIL|URL|ID-NUMMER|ADRES|GEBOORTEDATUM)\]")

# Not across "_": file names join words with it ("interview_Wouter_Dekker.docx").
WORD = re.compile(r"[^\W\d_](?:[^\W_]|[\u0300-\u036f]|[-'’](?=[^\W_]))*", re.UNICODE)
NON_LATIN_NAME = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u1200-\u137f\u0400-\u04ff]+(?:\s+[\u0600-\u06ff\u0750-\u077f\u1200-\u137f\u0400-\u04ff]+)*")

TUSSENVOEGSELS = {"van", "de", "der", "den", "te", "ter", "ten", "het", "'t", "in", "op", "la", "le",
                  "el", "al", "bin", "ibn", "abu", "abd", "bint", "ould", "da", "dos", "du", "von", "zu"}
TITLES = r"(?:[Mm]eneer|[Mm]evrouw|[Mm]evr\.?|[Mm]w\.?|[Dd]hr\.?|[Hh]eer|[Jj]uffrouw|[Jj]uf|[Mm]eester|[Dd]okter|[Dd]r\.|[Mm]r\.|[Ii]r\.|[Dd]rs\.|[Ii]ng\.|[Pp]rof\.|[Ww]ethouder|[Ii]mam|[Dd]ominee|[Pp]astoor|[Pp]astor|[Oo]om|[Tt]ante)"
KINSHIP = r"(?:[Mm]ijn|[Zz]ijn|[Hh]aar|[Hh]un|[Oo]nze|[Oo]ns)\s+(?:neef|nicht|broer|broertje|zus|zusje|zoon|dochter|vrouw|man|echtgenote|echtgenoot|moeder|vader|oom|tante|vriend|vriendin|buurman|buurvrouw|collega|schoonzus|zwager|opa|oma|kleinzoon|kleindochter|baby|kind|jongste|oudste)"
NAME_TOKEN = r"[A-ZÀ-ÖØ-Þ\u0130\u015e\u00c7][\w\u0300-\u036f'’\-]+"
# A name does not run on into the next line ("wethouder Gerda Lubbers\nHamid: ...").
# Particles after which only a surname comes ("P. van 't Zand", "J. de Boer"); "van" may also begin a
# firm's name ("Benhaddou van Centrum Nieuwe Wortels").
SURNAME_PARTICLES = (TUSSENVOEGSELS | {"t"}) - {"van", "in", "op"}
NAME_SEQ = rf"{NAME_TOKEN}(?:[^\S\n]+(?:(?:{'|'.join(sorted(TUSSENVOEGSELS - {'in', 'op'}))})[^\S\n]+)*{NAME_TOKEN}){{0,3}}"
ORG_KEYWORDS = (
    "Taalschool|Taalinstituut|Taalpunt|Taalcentrum|Taalacademie|Stichting|Vereniging|Bakkerij|Slagerij|"
    "Zorgcentrum|Zorggroep|Woonzorgcentrum|Verpleeghuis|Klimpark|Klimbos|Metaalbedrijf|Metaalwerken|"
    "Metaaltechniek|Glashandel|Glaszetterij|Glasbedrijf|Bouwbedrijf|Aannemersbedrijf|Installatiebedrijf|"
    "Schoonmaakbedrijf|Hoveniersbedrijf|Kwekerij|Tuinbouwbedrijf|Boerderij|Melkveebedrijf|Transportbedrijf|"
    "Uitzendbureau|Detacheringsbureau|Welzijn|Welzijnsorganisatie|Buurthuis|Wijkcentrum|Dorpshuis|"
    "Restaurant|Hotel|Café|Supermarkt|Garage|Autobedrijf|Drukkerij|Kapsalon|Kinderopvang|Kinderdagverblijf|"
    "Basisschool|School|College|Lyceum|Moskee|Kerk|Sportschool|Voetbalvereniging|Werkplaats|Re-integratiebureau|"
    "Participatiebedrijf|Leerwerkbedrijf|Sociaal\\s+werkbedrijf|Werkbedrijf|Vluchtelingenwerk|Inburgeringsbureau|"
    "Opleidingscentrum|Kenniscentrum|Adviesbureau|Bureau|Groep|Fabriek|Timmerfabriek|Houtbewerking|Logistiek|"
    "Camping|Vakantiepark|Tuincentrum|Bloemenkwekerij|Champignonkwekerij|Slachterij|Visverwerking|Pluimveebedrijf"
)
ORG_KEYWORDS += (
    "|Apotheek|Fietsenmaker|Fietsenwinkel|Taalhuis|Buurtcentrum|Bibliotheek|Voedselbank|Kringloopwinkel|"
    "Kringloop|Toko|Winkel|Tandartspraktijk|Huisartsenpraktijk|Praktijk|Speeltuin|Zwembad|Sportvereniging|"
    "Theater|Museum|Boekhandel|Kapper|Slager|Loodgieter|Schildersbedrijf|Timmerbedrijf|Constructiebedrijf|"
    "Staalbouw|Machinefabriek|Koeriersdienst|Bezorgdienst|Taxibedrijf|Cateraar|Catering|Lunchroom|Snackbar|"
    "Pizzeria|Eetcafé|Brasserie|Bakkerij|Opvanghuis|Woningcorporatie|Woonstichting|Wooncorporatie|"
    "Zorginstelling|Thuiszorg|Jeugdhuis|Scouting|Sportclub|Gym|Dansschool|Muziekschool|Rijschool|Volksuniversiteit"
)
ORG_KEYWORDS += "|Platform|Centrum|Netwerk|Collectief|Coöperatie|Fonds"
ORG_KEYWORDS += "|ROC|Pinkstergemeente|Baptistengemeente|Protestantse\\s+Gemeente|Evangelische\\s+Gemeente|Parochie|Synagoge"
ORG_KEYWORDS += "|Taalhûs|Taalhus"   # Frisian
ORG_KEYWORDS += "|OBS|KBS|PCBS|IKC|obs|kbs|ikc|Kindcentrum|Peuterspeelzaal|Peuterspeelgroep"   # kinds of primary school and playgroup
ORG_KEYWORDS += "|Talencentrum|Praktijkschool|Leerwerkplaats|Werkplaats|Zorgboerderij|Kliniek|Atelier|Ziekenhuis|Revalidatiecentrum|Gezondheidscentrum|Apotheek|GGZ|Ggz"
ORG_KEYWORDS += "|VV|SV|RKSV|RKVV|FC|Voetbalclub|Hockeyclub|Korfbalvereniging|Tennisvereniging|Zwemvereniging"   # sports clubs
ORG_KEYWORDS += "|Dagbesteding|Taalmaatjes"   # day care for the Z-route, volunteers' language projects
ORG_KEYWORDS += "|Lokaal|Leefbaar|Gemeentebelangen|Dorpsbelangen"   # local parties name their town: "Leefbaar Emmen"
ORG_KEYWORDS += "|Jeugdhulp|Jeugdteam|Wijkteam|Buurtteam|Gebiedsteam|Jeugdbescherming"   # care providers and a municipality's teams
ORG_KEYWORDS += "|Samenwerkingsverband|Woningstichting|Woningbouwvereniging|Rekenkamercommissie"
ORG_KEYWORDS += "|Werkplein|Taalcafé|Taalcafe"   # a region's job centre, volunteers' language café: "Werkplein De Dollard"
ORG_KEYWORDS += "|Welzijnsplein|Sporthal"   # a welfare desk, the hall of a job fair: "Sporthal Het Wiekske"
ORG_KEYWORDS += "|Sociaal\\s+[Tt]eam|OCMW|CVO|CAW"   # a municipality's social team; Flemish welfare centres and adult schools
ORG_KEYWORDS += "|Repair\\s+Café|Repair\\s+Cafe"   # kept alone (allow list), a name after it: "Repair Café Het Slot"
ORG_KEYWORDS += "|Stg."   # Stichting written short, as in notes and signatures: "Stg. Welzijn Noord"
# Any compound naming a kind of organisation: "Praktijkschool De Hoeksteen", "taalcentrum Polderlicht",
# "vrijwilligersorganisatie Samen Doen".
ORG_COMPOUND = "[A-Za-zà-ÿ]+(?:school|centrum|bedrijf|punt|instituut|academie|fabriek|kwekerij|praktijk|vereniging|huis|groep|bureau|atelier|bakkerij|slagerij|drukkerij|kliniek|zaak|handel|voorziening|werkplaats|organisatie)"


def _trie_alternation(words: list[str]) -> str:
    """One regex for many literal words, as a trie ("Taal(?:school|punt|...)"): the `re` module
    tries a flat alternation word by word at every position; a trie shares the prefixes (ORG_BEFORE
    became 3.5 times faster, with the same matches). Longer words still win, as optional groups are greedy."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(char) + build(node[char]) for char in sorted(k for k in node if k)]
        if "" in node:
            return "(?:" + "|".join(branches) + ")?" if branches else ""
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return build(trie)


_KEYWORDS = sorted({k for k in ORG_KEYWORDS.split("|")} | {k[0].lower() + k[1:] for k in ORG_KEYWORDS.split("|")})
_PATTERN_KEYWORDS = [k for k in _KEYWORDS if "\\" in k]   # "Sociaal\\s+werkbedrijf": a pattern, not a literal
ORG_KEYWORDS = "|".join([_trie_alternation([k for k in _KEYWORDS if k not in _PATTERN_KEYWORDS])] + _PATTERN_KEYWORDS + [ORG_COMPOUND])
ORG_SUFFIX_KINDS = (
    "Koeriers|Transport|Logistics|Logistiek|Bouw|Installatietechniek|Schoonmaak|Catering|Techniek|Metaal|Staal|Glas|"
    "Hoveniers|Uitzendbureau|Uitzendgroep|Personeelsdiensten|Services|Solutions|Academy|Academie|Company|Trading|Food|"
    "Foods|Market|Markt|College|Vakcollege|Lyceum|Gymnasium|Belang|Belangen|Wonen|"
    "Moskee|moskee").split("|")   # a mosque is named before the word: "Al-Fatih moskee", "Mevlana Moskee"
ORG_SUFFIX_WORDS = re.compile(
    rf"\b{NAME_TOKEN}(?:\s+{NAME_TOKEN})*\s+(?:{'|'.join(ORG_SUFFIX_KINDS)})(?:\s+(?:B\.V\.|BV))?(?![\w])"
)
_SUFFIX_KINDS_FOLDED = frozenset(k.lower() for k in ORG_SUFFIX_KINDS)
# The gaps are spaces, not line breaks: "Gespreksverslag taalschool\n\nVerslag ..." names no school.
ORG_JOINERS = {"de", "het", "'t", "van", "der", "den", "aan", "op", "en", "&"}
ORG_BEFORE = re.compile(
    rf"\b(?:{ORG_KEYWORDS})[^\S\n]+(?:(?:[Dd]e|[Hh]et|'t|[Vv]an|der|den|voor)[^\S\n]+)*{NAME_TOKEN}(?:[^\S\n]+(?:(?:[Dd]e|[Hh]et|'t|[Vv]an|der|den|aan|op|en|&)[^\S\n]+)*{NAME_TOKEN})*"
)
# A kind of organisation of another one: "Taalcafé van Buurthuis ...", "Taalhuis van Bibliotheek ...".
INNER_KIND = re.compile(rf"[^\S\n]+(?:van|voor)[^\S\n]+(?:de[^\S\n]+|het[^\S\n]+)?(?=(?:{ORG_KEYWORDS})\b)")
ORG_AFTER = re.compile(
    rf"(?:(?:{NAME_TOKEN}|&|Zn\.|Zonen)[^\S\n]+)*(?:{NAME_TOKEN}|&|Zn\.)[^\S\n]*(?:(?:B\.V\.|BV|V\.O\.F\.|VOF|N\.V\.|NV|Holding|Groep)(?![\w.])|(?<=&\s)(?:Zn\.?|Zonen|Partners|Co\.?|Compagnie)(?!\w))"
)
AZC = re.compile(rf"\b(?:azc|AZC|asielzoekerscentrum|opvanglocatie|noodopvang)\s+(?:in\s+|te\s+)?(?P<place>{NAME_TOKEN}(?:[\s-](?:{NAME_TOKEN}|aan|op|van|den|de)){{0,3}})")

EMAIL = re.compile(r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\"']+[^\s<>()\"'.,;:!?]|\b[\w\-]+(?:\.[\w\-]+)*\.(?:nl|com|org|net|eu|info|be|de)(?:/[^\s<>()\"']*[^\s<>()\"'.,;:!?])?\b")
# Not a date and a time ("05-03-2024 08:55", a chat's or a ticket's stamp): ten digits from 0 too.
# Not the minutes of a clock time and what follows ("11:02 2024-03-04_interview.docx" in a file listing).
PHONE = re.compile(r"(?<![\w+])(?<!\d[:.])(?!\d{1,2}[\-/.]\d{1,2}[\-/.](?:19|20)\d{2}(?!\d))(?:(?:\+|00)31[\s\-]?(?:\(0\)[\s\-]?)?|\(?0)(?:\d(?:\s?[\-–/.]\s?|[\s)]|\)\s)?){8}\d(?![\d])")
# A phone number read out in words, as speech recognition writes it: "nul zes twaalf ..." is too
# free; ten digits said one by one are not: "nul drie zes vijf vijf vijf twee acht nul nul".
SPOKEN_PHONE = re.compile(r"\bnul(?:[\s,]+(?:nul|een|één|twee|drie|vier|vijf|zes|zeven|acht|negen)){8,}\b", re.IGNORECASE)
# A place name with the old genitive "'s-" ("'s-Gravenzande", "'s-Heer Arendskerke"): Dutch writes
# no other word so, so it is a place even when no list has it.
S_PLACE = re.compile(r"(?<![\w'’])['’]s-[A-ZÀ-Þ][a-zà-ÿ]+(?:[- ][A-ZÀ-Þ][a-zà-ÿ]+)?")
SHORT_PHONE = re.compile(r"(?<![\w+])14\s?0\d{2,3}(?!\d)")
BSN = re.compile(r"(?<![\d.,])(?:\d{9}|\d{3}[. ]\d{2}[. ]\d{2}[. ]\d{2}|\d{4}[. ]\d{2}[. ]\d{3}|\d{3}[. ]\d{3}[. ]\d{3})(?!\d|[.,]\d)")
# A numbered field of a letter, file or form, and its value: "V-nummer: V 3104 7725 86", "Ons
# kenmerk: 20240117/MvdH", "klantnummer Participatiewet 700-418-336", "Zorgpolis (CZ): 88301745",
# "AGB-code 01-045871", "KvK 71843926", "cursist 2023-ZS-1188", "dossier 7724" (see _field_numbers).
# The field's key word is found first, then the word it ends and the value after it (a pattern
# that starts with the whole label tries every word of a text).
NUMBER_FIELD_KEY = re.compile(r"(?:[Nn]ummers?|nr\.?|[Kk]enmerk|-code|[Dd]ossier|[Pp]olis|KvK|[Kk]vk|[Kk]la{1,2}nt|[Cc]ursist|[Zz]aak)(?![\w\-])")
# Keys that are a noun of their own ("de klant", "KvK") need a longer value than "dossier 7724".
BARE_NUMBER_KEYS = ("polis", "kvk", "klant", "klaant", "cursist", "zaak")
NUMBER_FIELD_VALUE = re.compile(
    r"(?:[^\S\n]+(?![A-Z]{2,5}[^\S\n]\d)[^\W\d_]+(?:-[^\W\d_]+)*(?=[\s:(]))?"        # "gemeente"; not a court's "ROE" before its number
    r"(?:[^\S\n]*\([^)\n]{1,12}\))?[^\S\n]*:?[^\S\n]*\n?[^\S\n]*"   # "(CZ)", ":"
    r"(?P<number>[Vv][^\S\n]?-?\d[\d .]{6,12}\d|\d{2,4}(?:[^\S\n]\d{2,4}){1,3}(?![\w\-/])|"      # "V 3104 7725 86", "700 418 336"
    r"(?:[A-Z]{1,5}[\-/]|[A-Z]{2,5}[^\S\n](?=\d))*[A-Z]{0,4}\d[\dA-Za-z\-/.]{2,24}[\dA-Za-z]|\d{4})(?![\w\-/])")   # "ARN 23/4417"
# More values of a plural key: "de casusnummers INB-J-0912 en INB-J-0937".
NUMBER_LIST_JOIN = re.compile(r"[^\S\n]*(?:,|en|of|&)(?=[^\S\n])")
# A number said a few words after its key, as people speak ("zijn klantnummer bij jullie is volgens
# mij 4402 1187"): long (seven digits or more) and no phone (which opens with a 0).
SPOKEN_FIELD_NUMBER = re.compile(r"(?:[^\S\n]+[a-zà-ÿ]+){1,6}[^\S\n]*:?[^\S\n]+(?P<number>[1-9]\d{2,3}(?:[ .]\d{3,4}){1,2}|[1-9]\d{6,9})(?![\w\-/]|[.,]\d)")
# Parliament's number of Kamervragen or of a document, public as they are: "2024Z02817", "2023D04025" (as a "kenmerk" only; after
# "dossier" or "klantnummer" a number of that form is a client's).
PUBLIC_PAPER_NUMBER = re.compile(r"(?:19|20)\d{2}[DZ]\d{5}")
NOT_ID_FIELDS = ("telefoon", "huis", "fax", "mobiel", "pagina", "volg", "versie", "artikel", "hoofdstuk", "bijlage", "tel")
# A foreign phone number, as newcomers' families have: "+380 67 410 2290", "+49 (0)30 1234567".
FOREIGN_PHONE = re.compile(r"(?<![\w+])\+(?!31)\d{1,3}(?:[^\S\n]?[\-.]?[^\S\n]?\(?\d{1,4}\)?){2,6}(?!\d)")
TEN_DIGITS = re.compile(r"(?<![\d.,])\d{10}(?!\d|,\d)")   # a V-nummer; not "1234567890,50"
# A bank account: country, check digits, then groups of four (NL: bank code and ten digits).
# Rent and benefits are paid from it during the first months ("ontzorging").
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
# A Dutch licence plate: three groups of letters or digits, letters and digits both present
# ("KL-123-B", "12-ABC-3", "99-XX-99").
LICENCE_PLATE = re.compile(r"\b(?:[A-Z]{1,3}|\d{1,3})-(?:[A-Z]{2,3}|\d{2,3})-(?:[A-Z]{1,3}|\d{1,3})\b")
# An e-mail address written out so that spam robots miss it ("k punt mulder apenstaartje gemeente punt nl").
_SPELLED_DOT = r"(?: *(?:punt|\(dot\)|\[dot\]) *|\.)"
SPELLED_EMAIL = re.compile(rf"\b(?:[\w+\-]+{_SPELLED_DOT})*[\w+\-]+ *(?:apenstaartje|\(at\)|\[at\]) *[\w\-]+(?:{_SPELLED_DOT}[\w\-]+)+\b",
                           re.IGNORECASE)
# A passport, ID card or residence document number: eight to ten capitals and digits, both present
# (a Dutch passport "NM4R7K2P1"); shorter codes ("NT2", "G40", "A2") are no such number.
DOCUMENT_NUMBER = re.compile(r"\b[A-Z0-9]{8,10}\b")     # with at least three digits and two letters
# A file's or a system's number: a letter prefix and at least five digits ("M10482", "K-10234",
# "WI-2024-05521", "Z/24/118734"), or a year and a serial ("2024-117", "2024-0417-3391"; not the
# years "2019-2023"). Standards keep theirs ("ISO 27001", "NEN-7510"); a quarter is no number ("Q1-2024").
PREFIXED_NUMBER = r"(?!ISO|NEN|EN\b)[A-Z]{1,3}[\-/]?\d{2,}(?:[\-/]\d{2,}){0,2}"
YEAR_SERIAL = r"(?:19|20)\d{2}-(?!(?:19|20)\d{2}\b)\d{3,6}(?:-\d{2,6})?"
CODES = re.compile(rf"\b(?=[A-Z0-9])(?:(?P<iban>{IBAN.pattern[2:-2]})|(?P<document>{DOCUMENT_NUMBER.pattern[2:-2]})|"
                   rf"(?P<plate>{LICENCE_PLATE.pattern[2:-2]})|(?P<prefixed>{PREFIXED_NUMBER})|(?P<serial>{YEAR_SERIAL}))\b(?![\-/]\w|[.,]\d)")
PO_BOX = re.compile(r"\b(?:[Pp]ostbus|POSTBUS|[Aa]ntwoordnummer|ANTWOORDNUMMER)[^\S\n]+\d{1,6}\b")
# An extension: "toestel 2345", "tst. 12".
EXTENSION = re.compile(r"\b(?:[Tt]oestel|[Tt]st\.?|[Dd]oorkies(?:nummer)?)\s*:?\s*(?P<number>\d{2,5})\b")
# A year of birth: "(°1990)", "° 12-03-1988".
BORN_SIGN = re.compile(r"°\s?(?P<date>\d{1,2}[\-/.]\d{1,2}[\-/.](?:19|20)\d{2}|(?:19|20)\d{2})\b")
MONTHS = "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|jan\\.?|feb\\.?|mrt\\.?|apr\\.?|jun\\.?|jul\\.?|aug\\.?|sep\\.?|sept\\.?|okt\\.?|nov\\.?|dec\\.?"
DATE = rf"(?:\d{{1,2}}[\-/.]\d{{1,2}}[\-/.](?:(?:19|20)?\d{{2}}|'\d{{2}})(?!\d)|(?:19|20)\d{{2}}-\d{{2}}-\d{{2}}|\d{{1,2}}\s+(?:{MONTHS})\s+(?:(?:19|20)?\d{{2}}|'\d{{2}}))"
DATE_OF_BIRTH = re.compile(
    rf"(?:[Gg]eboren|[Gg]eb\.|[Gg]eb\b|[Gg]eboortedatum|GEBOORTEDATUM|GEBOREN|[Gg]eb\.\s?datum|[Gg]eboren\s+op|DOB|[Gg]eboortedag)[\s:,]*(?:[\w.]+\s+){{0,3}}?(?:op\s+)?(?P<date>{DATE})"
)
# A full date before 2009 in this material is a date of birth (meetings and arrivals are later).
OLD_FULL_DATE = re.compile(rf"(?<![\w/-])(?:\d{{1,2}}[\-/.]\d{{1,2}}[\-/.](?:19\d{{2}}|200[0-8])|(?:19\d{{2}}|200[0-8])-\d{{2}}-\d{{2}}|\d{{1,2}}\s+(?:{MONTHS})\s+(?:19\d{{2}}|200[0-8]))(?![\w/-])")
EVENT_BEFORE = re.compile(r"(?:\b(?:van|op|per|sinds|vanaf|tot|tussen|en|met|na|voor|vóór|datum|dd|ingang|t/m)|d\.d\.)[\s:]+$", re.IGNORECASE)
BORN_IN_VAN = re.compile(r"\b(?:is|ben|bent|zijn|was|waren)\s+van[\s:]+$", re.IGNORECASE)
BIRTH_WORD = re.compile(r"gebor|\bgeb\b|geb\.|jarig|geboorte", re.IGNORECASE)
# The town after a postcode or street, on the same line: "5684 NG Best\nTelefoon: ..." ends at "Best".
TOWN_AFTER = rf"[^\S\n]+{NAME_TOKEN}(?:(?:[^\S\n]|-){NAME_TOKEN})*"
BARE_STREET = re.compile(r"\b[A-ZÀ-Þ][\w'’\-]*(?:straat|weg|laan|plein|singel|gracht|kade|dijk|dreef|steeg|markt)\b")
POSTCODE = re.compile(rf"\b[1-9]\d{{3}}\s?(?!SA|SD|SS)[A-Z]{{2}}\b(?:{TOWN_AFTER})?")
STREET_SUFFIX = "strjitte|bocht|meent|wei|leane|dyk|paad|zijde|straat|weg|laan|plein|singel|gracht|kade|dijk|hof|park|steeg|dreef|pad|markt|baan|ring|wal|veld|erf|haven|kanaal|burg|berg|rade|hoven|akker|wijk|straatweg|boulevard|promenade|allee|kamp|dam|dries|loop|gang|lei|hoeve|donk|horst|beemd"
# The street's name and its number stand on one line ("Selam Tesfay\nWerkervaring\n2012" in a CV
# is no street); a floor ("3 hoog", "2e etage") belongs to the address, and so does a Belgian
# postcode, four digits without letters ("Kapelstraat 23 bus 2, 9100 Sint-Niklaas").
STREET = re.compile(
    rf"\b(?:(?:{NAME_TOKEN}|[Vv]an|de|der|den|Dr\.|Mr\.|Prof\.|St\.|(?:[A-Z]\.)+)(?:[^\S\n]|-))*[A-ZÀ-Þ][\w'’\-]*(?:{STREET_SUFFIX})(?:-(?:Oost|West|Noord|Zuid))?[^\S\n]+\d{{1,4}}(?:bis\b|\s?[a-zA-Z](?![\w]))?(?:[\-/ ](?:bis|hs|[A-Z]{{1,2}}\d{{0,3}}|I{{1,3}}|IV|\d{{1,3}}(?:e|de|ste)?)(?![\w]))?(?:[^\S\n]+(?:hoog|etage|verdieping)\b)?(?:\s+(?:unit|bus|kamer)\s+\d{{1,4}})?(?:,?\s+[1-9]\d{{3}}(?:\s?[A-Z]{{2}}|(?=[^\S\n]+[A-ZÀ-Þ])))?(?:{TOWN_AFTER})?"
)
# A street named by a word and a street word on its own: "Nieuwe Markt 9-11", "Oude Gracht 12".
STREET_WORDS = "Markt|Gracht|Haven|Kade|Dijk|Singel|Wal|Dam|Plein|Laan|Weg|Straat|Steeg"
STREET_WORD_AFTER_NAME = re.compile(rf"\b{NAME_TOKEN}[^\S\n]+(?:{STREET_WORDS})[^\S\n]+\d{{1,4}}(?:[a-zA-Z](?!\w)|[\-/](?:\d{{1,3}}|[A-Z]{{1,2}}\d{{0,3}}|I{{1,3}})(?!\w))?")
STREET_WORD_SIGN = re.compile(rf" (?:{STREET_WORDS}) \d")
# Notes and transcripts type a firm or school in lower case: "taalhuis kempenland", "garage van ginkel",
# "taalpunt de wissel" (see _lower_case_organisation; weak, to review).
LOWER_ORG = re.compile(r"\b(?:taalhuis|taalschool|taalcentrum|taal centrum|taalpunt|taalinstituut|basisschool|school|bureau|"
                       r"garage|stichting|stg\.|bakkerij|kwekerij|buurthuis|wijkcentrum|dorpshuis|kbs|obs|ikc|"
                       r"zorgcentrum|woonzorgcentrum|verpleeghuis|zorgboerderij|thuiszorg|jeugdhulp|wijkteam|buurtteam|"
                       r"dagbesteding|kinderopvang|kringloop|kringloopwinkel)\s+"
                       r"(?:(?P<article>de|het|'t)\s+|(?P<van>van\s+(?:de[nr]?\s+)?))?(?P<name>[a-zà-ÿ][a-zà-ÿ\-]{3,})\b")
# A form filled in capitals ("ADRES: STATIONSSTRAAT 58A", "BIJ ZWEMVERENIGING DE VENNEN"): the
# patterns above want a capital and then lower case. Only where two words in capitals follow each other.
CAPITALS_RUN = re.compile(r"[A-ZÀ-Þ]{2,}[^\S\n]+[A-ZÀ-Þ]{2,}")
CAPS_WORD = r"[A-ZÀ-Þ][A-ZÀ-Þ'’\-]+"
CAPS_STREET = re.compile(
    rf"\b(?:{CAPS_WORD}[^\S\n]+){{0,2}}[A-ZÀ-Þ'’\-]*(?:{STREET_SUFFIX.upper()})(?:[^\S\n]+|-)\d{{1,4}}(?:[A-Z](?![\w]))?(?![\w])")
# Words that end a name in capitals: prepositions, conjunctions, the verbs a form's sentence goes on with.
CAPS_NAME_ENDS = {"bij", "in", "op", "voor", "met", "en", "te", "of", "aan", "naar", "sinds", "om", "uit", "over", "door",
                  "tot", "als", "is", "was", "wordt", "werd", "heeft", "had", "gaat", "ging", "zit", "zat", "werkt", "woont",
                  "maar", "want", "omdat", "die", "dat", "wat", "waar", "ook", "nog", "niet", "geen", "vanaf", "per"}
_CAPS_KINDS = sorted({k.upper() for k in _KEYWORDS if "\\" not in k and k[0].isupper()})
CAPS_ORG_BEFORE = re.compile(
    rf"\b(?:{_trie_alternation(_CAPS_KINDS)}|[A-ZÀ-Þ]+(?:SCHOOL|CENTRUM|BEDRIJF|INSTITUUT|ACADEMIE|PRAKTIJK|VERENIGING|CLUB))"
    rf"(?P<name>(?:[^\S\n]+(?:DE|HET|'T|VAN|DER|DEN))*(?:[^\S\n]+{CAPS_WORD}){{1,4}})")


def _capitals_entities(text: str, lists: Lists) -> list[Entity]:
    if not CAPITALS_RUN.search(text):
        return []
    found = [Entity(m.start(), m.end(), "ADDRESS", m.group()) for m in CAPS_STREET.finditer(text)]
    for m in CAPS_ORG_BEFORE.finditer(text):
        end, named = m.start("name"), False
        for word in WORD.finditer(text, m.start("name"), m.end("name")):   # the name ends at "BIJ", "IN", "WOONT"
            lower = word.group().lower()
            if lower in CAPS_NAME_ENDS or (named and lower in ("de", "het", "van")):
                break
            end, named = word.end(), named or lower not in ("de", "het", "'t", "van", "der", "den")
        if named:
            found.append(Entity(m.start(), end, "ORGANISATION", text[m.start():end], True, "organisation"))
    return found


LEVEL_CODE = re.compile(r"[ABC][0-2](?:[-/+][\w]{1,3})?")   # "B1-3", "A2+": a language level, a group
DETERMINERS = {"de", "het", "een", "die", "deze", "dit", "dat", "onze", "ons", "hun", "zijn", "haar", "mijn", "jouw", "elke", "iedere", "welke"}
# A street named "Laan van ...", "Plein der ...": the kind of street first.
STREET_KIND_FIRST = re.compile(rf"\b(?:Laan|Plein|Weg|Kade|Singel|Dreef|Park|Hof)\s+(?:(?:van|der|de|den|op|in|te|het)\s+)+{NAME_TOKEN}(?:\s+{NAME_TOKEN})?\s+\d{{1,4}}(?:[A-Za-z](?!\w)|[\-/][A-Za-z0-9]{{1,3}})?")
STREET_KIND_SIGN = re.compile(r"(?:Laan|Plein|Weg|Kade|Singel|Dreef|Park|Hof) (?:van|der|de|den|op|in|te|het) ")
CAPITALS_COMMA = re.compile(r"[A-ZÀ-Þ]{3}, [A-ZÀ-Þ]")   # the sign of a register line: "NOORZAI, Farida"
# Quick notes type streets in lower case ("marnixlaan 12bis"): only the unmistakable street words.
LOWER_STREET = re.compile(r"\b[a-zà-ÿ][a-zà-ÿ'\-]{2,}(?:straat|laan|weg|plein|singel|gracht|kade|dreef|steeg|pad|dijk|baan)\s+\d{1,4}(?:bis\b|\s?[a-z](?!\w))?(?:[\-/ ](?:bis|hs|I{1,3}|\d{1,3})(?!\w))?")
GENERIC_ROADS = {"snelweg", "autoweg", "rijksweg", "zijstraat", "winkelstraat", "fietsstraat", "ringweg", "fietspad",
                 "voetpad", "wandelpad", "zandpad", "tuinpad", "leerpad", "groeipad", "zeedijk", "rivierdijk",
                 "loopbaan", "rijbaan", "fietsbaan", "busbaan", "startbaan", "ijsbaan", "renbaan", "atletiekbaan"}
LOWER_STREET_SIGN = re.compile(r"[a-z](?:straat|laan|weg|plein|singel|gracht|kade|dreef|steeg|pad|dijk|baan)\s+\d")
# A postcode typed in lower case counts only before a listed place: "1507 ek zaandam".
LOWER_POSTCODE = re.compile(r"\b[1-9]\d{3}\s?(?!sa|sd|ss|in|en|op|om|te|al|nu|zo|de|ik|je|ze|we|er|af|na|of|is|ga)[a-z]{2}\s+(?P<place>[a-zà-ÿ][\w'\-]*(?:\s[a-zà-ÿ][\w'\-]*){0,2})")
PLATE_AFTER_WORD = re.compile(r"\b[Kk]enteken(?:nummer)?\s*:?\s*(?P<plate>[A-Za-z0-9]{1,3}-[A-Za-z0-9]{2,3}-[A-Za-z0-9]{1,3})\b")
INITIALS_NAME = re.compile(rf"\b(?:[A-Z]\.\s?){{1,3}}(?:\([A-Z][a-zà-ÿ\-]+\)\s+)?(?:(?:van|de|der|den|ter|ten|te|het|'t|in|op|el|al|El|Al|Van|De)\s+)*{NAME_TOKEN}")
# Case notes name a client by title and initials only: "mw. K.A.", "Dhr. B."
INITIALS_TOKEN = re.compile(r"(?<!\S)(?:[A-Z]\.){1,3}(?!\w)")
# The word just before a detection on its line, with its dot ("mw. K.A."): a title before initials,
# a first name before a surname's initial ("Nadia H.:") or before a found surname (see _word_before).
WORD_BEFORE = re.compile(r"(?<![\w\-'’])(?P<word>[^\W\d_][\w'’\-]*)(?P<dot>\.?)[^\S\n]+$")
# A Teams or Zoom transcript puts each speaker on a line of their own after the time, often in
# lower case: "00:03:25 marieke de jong".
TIMESTAMP_SPEAKER = re.compile(r"(?m)^[^\S\n]*\[?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?\]?[^\S\n]+(?P<name>[^\W\d_][^\n:\d()]{0,40}?)[^\S\n]*(?P<colon>:?)[^\S\n]*$")
# A name's words at the start of a line: capitalised, with particles between them ("Quarrema van der Zwaluw").
CAPITALISED_RUN = re.compile(rf"(?:{NAME_TOKEN}(?:(?:[^\S\n]+(?:{'|'.join(sorted(TUSSENVOEGSELS))}))+(?=[^\S\n]+[A-ZÀ-Þ]))?(?:[^\S\n]+|$))*")
CLUB_YEAR = re.compile(r"[^\S\n]'\d{2}\b")   # a club's founding year: "SV Zuiderzee '75"
# Abbreviations in capitals that are no one's initials: "NB", "PS", "ZSM".
ABBREVIATIONS = {"nb", "ps", "ok", "nvt", "zsm", "tav", "ivm", "iom", "cc", "bcc", "pm", "vs", "ca", "dd", "nl", "eu",
                 "bv", "nv", "vof", "aub", "mbv", "oa", "tzt", "dwz", "miv", "zoz", "evt", "us", "uk", "ao", "bw"}
# A case note signed with the writer's initials at its end: "... lening. /GH (klantmanager)", "/km S.O."
NOTE_SIGNATURE = re.compile(r"(?m)(?<![\w/])/[^\S\n]?(?:[a-z]{2,3}[^\S\n]+)?(?P<initials>[A-Z][A-Za-z]{1,3}|(?:[A-Z]\.){1,3})(?=[^\S\n]*(?:\(|$))")
# An action list's items start with the initials of who acts: "Actielijst:\n- GV stuurt ...", "- LvdH: brief ...".
ACTION_LIST = re.compile(r"(?m)^[^\S\n]*[Aa]ctie(?:punten|lijst|s)[^\S\n]*:?[^\S\n]*\n(?P<items>(?:[^\S\n]*(?:[-•*]|\d{1,2}[.)])[^\n]*(?:\n|$))+)")
ACTION_ITEM_INITIALS = re.compile(r"(?m)^[^\S\n]*(?:[-•*]|\d{1,2}[.)])[^\S\n]+"
                                  r"(?P<initials>[A-Z][A-Za-z.]{1,7}(?:[^\S\n]*/[^\S\n]*[A-Z][A-Za-z.]{1,7})*)(?=:|[^\S\n]+[a-z])")
# Minutes' action points name people by their initials: "Actie: KvdB", "Actiehouder: HJW / PvtZ".
ACTION_INITIALS = re.compile(r"\b[Aa]ctie(?:houder)?s?\s*:[^\S\n]*(?P<names>[A-Z][A-Za-z]{1,4}(?:[^\S\n]*(?:/|,|&|en)[^\S\n]*[A-Z][A-Za-z]{1,4})*)\b")
# Initials that sign a mail or note after its closing: "Groet, DJ", "Met vriendelijke groet,\nA.B."
CLOSING_INITIALS = re.compile(r"\b(?:[Gg]roet(?:en|jes)?|[Gg]r\.|[Mm]vg|MVG|[Vv]r\.?[Gg]r\.?)[,.!]?(?:[^\S\n]+|[^\S\n]*\n[^\S\n]*)"
                              r"(?P<initials>[A-Z]{2,3}|(?:[A-Z]\.){2,3})(?=[^\S\n]*(?:\n|$))")
# A name cut to initials, its surname too: "J.P. de W.", "A. van der B.".
INITIALS_PARTICLE_INITIAL = re.compile(r"(?<!\S)(?:[A-Z]\.){1,3}[^\S\n]?(?:(?:van|de|der|den|ter|ten|te|'t|in|op)[^\S\n]+){1,3}[A-Z]\.(?!\w)")
# Short forms given in brackets after a name, used after that instead of it: "J.P. de W. (JdW)",
# "Ria Kramer (RK)"; and a nickname before the name: "Mo (Mohammed)".
BRACKETED_INITIALS = re.compile(r"\((?P<initials>[A-Z][A-Za-z]{0,3}[A-Z])\)")
NICKNAME_THEN_NAME = re.compile(r"\b(?P<nickname>[A-Z][a-z]{1,5})[^\S\n]+\((?P<name>[A-Z][a-z]{2,})"
                                r"(?:[^\S\n]+(?:(?:van|de|der|den|el|al|ter|ten)[^\S\n]+)*[A-Z][\w'’\-]+){0,2}\)")   # "Mo (Mohamed Amrani)"
# A comment or tracked change left in a Word document names its author: "[Opmerking JdV: ...]".
COMMENT_AUTHOR = re.compile(r"\[(?:[Oo]pmerking|[Cc]ommentaar|[Cc]omment|[Ii]ngevoegd door|[Vv]erwijderd door|[Gg]ewijzigd door)[^\S\n]+(?P<initials>[A-Z][A-Za-z]{0,3}[A-Z])[^\S\n]*[:\]]")
# "YILMAZ, H." as in registers and exam lists: a surname, a comma, initials.
# "Jansen, P.", and as address books and chat exports write it, with the particles after the
# surname and the first name in brackets: "Berg, van den, J. (Joost)".
SURNAME_INITIALS = re.compile(r"\b(?P<name>(?:(?:DE|DEN|DER|VAN|TER|TEN|EL|AL|De|Van|El|Al)\s+){0,2}[A-ZÀ-Þ][\w'’\-]{2,}),\s?"
                              r"(?:(?:van der|van den|van de|van 't|in 't|van|de|der|den|ter|ten|te|'t),\s?)?"
                              r"(?:[A-Z]\.){1,3}(?!\w)(?:[^\S\n]?\([A-ZÀ-Þ][a-zà-ÿ]+\))?")
# Registers in capitals, surname first: "NOORZAI, Farida", "EL AMRANI, Karim".
SURNAME_FIRST_NAME = re.compile(r"\b(?P<name>(?:(?:DE|DEN|DER|VAN|TER|TEN|EL|AL)\s+){0,2}[A-ZÀ-Þ]{3,}(?:-[A-ZÀ-Þ]{2,})?),\s(?P<first>[A-ZÀ-Þ][a-zà-ÿ]{2,})\b")
TITLE_NAME = re.compile(rf"\b{TITLES}\s+(?P<name>(?:(?:[A-Z]\.\s?){{1,3}})?(?:(?:van|de|der|den|ter|ten|el|al|El|Al|Van|De)\s+)*{NAME_SEQ})")
KINSHIP_NAME = re.compile(rf"\b{KINSHIP}(?:,)?\s+(?P<name>{NAME_SEQ})")
CALLED_NAME = re.compile(rf"\b(?:heet|heette|heten|genaamd|naam is|noemen (?:hem|haar)|noemt zich)\s+(?P<name>{NAME_SEQ})")
TITLE_WORD = re.compile(rf"{TITLES}|[Hh]eer|[Aa]an|[Nn]aam|[Vv]oor|(?i:mw|mevr|dhr|dr|drs|mr|ir|ing|prof|ds|fam|familie)")
# A speaker label at the start of a paragraph, or inline after a sentence end ("... langzaam. Tesfay: ...").
AGENDA_NUMBER = re.compile(r"(?:^|\n)[^\S\n]*\d{1,2}[.)][^\S\n]+$")
INLINE_SPEAKER = re.compile(r"(?:^|(?<=\n)|(?<=[.!?] ))(?=[A-ZÀ-Þ\u0130\[][^\n:.!?]{0,45}:\s)", re.MULTILINE)
# Lower-case slips ("ik sprak ahmad gisteren") are only caught by the lists or by propagation.


ZERO_WIDTH_RE = re.compile("[" + "".join(map(chr, ZERO_WIDTH)) + "]")


@dataclass(frozen=True)
class Entity:
    """A detected identifier: character span in the text, label, evidence and recogniser."""

    start: int
    end: int
    label: str
    text: str
    strong: bool = True
    source: str = "rule"


@dataclass
class AnonymisedText:
    """Result of anonymising one text: new text plus the entities with offsets into the input."""

    text: str
    entities: list[Entity]
    replacements: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    # (input_start, input_end, output_start, output_end, pseudonym)


# ---------------------------------------------------------------- text folding


@functools.lru_cache(maxsize=500_000)
def fold(text: str) -> str:
    """Case-, diacritic- and punctuation-insensitive form: "Yılmaz", "YILMAZ", "Yilmaz" -> "yilmaz"."""
    text = text.translate(ZERO_WIDTH).replace("ı", "i").replace("İ", "I").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^\w]+", "", text.casefold())


def canonical_text(text: str) -> tuple[str, list[int]]:
    """NFC text without zero-width characters, and for each of its characters the input index."""
    if unicodedata.is_normalized("NFC", text) and not ZERO_WIDTH_RE.search(text):
        return text, range(len(text))
    out_chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ord(ch) in ZERO_WIDTH:
            continue
        out_chars.append(ch)
        index.append(i)
    joined = "".join(out_chars)
    nfc = unicodedata.normalize("NFC", joined)
    if nfc == joined:
        return joined, index
    # Re-map per grapheme cluster: compose each base character with its combining marks.
    result, result_index, i = [], [], 0
    while i < len(joined):
        j = i + 1
        while j < len(joined) and unicodedata.combining(joined[j]):
            j += 1
        composed = unicodedata.normalize("NFC", joined[i:j])
        for ch in composed:
            result.append(ch)
            result_index.append(index[i])
        i = j
    return "".join(result), result_index


# Text read by OCR mistakes digits for letters ("Telefoon: 06 - 2O38 4471", "Dorpsstraat l7",
# "14-O3-1971"): in a number, O and o are 0, l and I are 1. Detection only; the output keeps the text.
OCR_SIGN = re.compile(r"\d[OolI]|[OolI]\d")
OCR_NUMBER = re.compile(r"(?<![\w.\-/])[\dOolI][\dOolI\-./]*[\dOolI](?![\w])")
OCR_DIGITS = str.maketrans("OolI", "0011")


UNDERSCORED_TOKEN = re.compile(r"[^\s_@]*_\S*")
# Between words of two letters or more: a user name "Arif_K" stays one word.
WORD_JOINING_UNDERSCORE = re.compile(r"(?<=[^\W_]{2})_+(?=[^\W_]{2})")


def _spaced_underscores(text: str) -> str:
    """The same text, as long, with the underscores that join words read as spaces: a file name
    ("2024-03-05_statushouder_Habtom_Kidane.m4a") is read as the words it joins. Not in an e-mail
    address or a link, whose own patterns read it whole."""
    if "_" not in text:
        return text

    def spaced(m: re.Match) -> str:
        token = m.group()
        return token if "@" in token or "://" in token or "www." in token else WORD_JOINING_UNDERSCORE.sub(
            lambda u: " " * len(u.group()), token)
    return UNDERSCORED_TOKEN.sub(spaced, text)


def _ocr_digits(text: str) -> str:
    """The same text, as long, with OCR's letters in numbers read as digits."""
    if not OCR_SIGN.search(text):
        return text
    def digits(m: re.Match) -> str:
        token = m.group()
        letters = sum(c in "OolI" for c in token)
        return token.translate(OCR_DIGITS) if 0 < letters <= sum(c.isdigit() for c in token) else token
    return OCR_NUMBER.sub(digits, text)


# ---------------------------------------------------------------- lists


@dataclass
class Lists:
    """Word lists the recognisers use. Built once per process (about a second)."""

    dutch_words: frozenset
    first_names: frozenset
    surnames: frozenset
    ambiguous_names: frozenset
    places: dict            # folded token tuple -> canonical place name
    ambiguous_places: frozenset
    allow: frozenset        # folded allow-listed words and phrases
    force_remove: list      # (text, label)
    allow_phrases: re.Pattern | None = None  # multi-word allow-listed phrases, to protect in context
    place_lengths: dict = field(default_factory=dict)  # first word of a place name -> longest length
    allow_prefixes: tuple = ()   # allow-listed words that may open a compound ("Arabisch|sprekenden")
    lemma_words: frozenset = frozenset()   # every form in spaCy's lemma table, names included
    municipality_words: frozenset = frozenset()   # one-word municipalities that no Dutch word can mean


def _data_path(*parts: str) -> Path:
    return Path(str(resources.files("pipeline.data").joinpath(*parts)))


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def _import_deduce():
    """Import deduce without letting it reconfigure the root logger (it switches on DEBUG output)."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    import deduce

    root.setLevel(level)
    root.handlers[:] = handlers
    return deduce


def _deduce_src() -> Path:
    return Path(_import_deduce().__file__).parent / "data" / "lookup" / "src"


@functools.lru_cache(maxsize=1)
def load_dutch_words() -> frozenset:
    """Dutch word forms (spaCy lookup table + deduce's common words), lower-case."""
    words = set(_lemma_words())
    # spaCy's table lacks many everyday forms ("goede", "vanuit", "bent"): add the 60,000 most
    # frequent Dutch words (wordfreq). Names and places among them are taken out in _base_lists.
    from wordfreq import top_n_list, zipf_frequency

    # Only frequent words (Zipf >= 4): rarer entries of a frequency list are mostly names and
    # foreign places ("aleppo" 3.8, "kabul" 3.2), which must stay detectable.
    words.update(w for w in top_n_list("nl", 30000) if zipf_frequency(w, "nl") >= 4.0)
    src = _deduce_src() / "whitelist"
    for name in ("lst_common_word", "lst_stop_word"):
        words.update(w.lower() for w in _read_lines(src / name / "items.txt"))
    return frozenset(words)


def _lists_cache_path() -> Path:
    """A pickle of the built lists, keyed by the files and package versions they come from."""
    import hashlib
    from importlib.metadata import version

    sources = sorted(_data_path("names").glob("*.txt")) + [_data_path("places_extra.txt")]
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sources if p.exists())
    stamp += "|" + "|".join(version(p) for p in ("deduce", "wordfreq", "spacy-lookups-data")) + "|v14"   # bump when the list building changes
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qcode"
    return cache / f"lists-{digest}.pickle"


@functools.lru_cache(maxsize=1)
def _base_lists() -> tuple:
    """The word lists, from a cache when their sources are unchanged (saves ~2 s per start)."""
    import pickle

    path = _lists_cache_path()
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError):
        pass
    built = _build_base_lists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as handle:
            pickle.dump(built, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass   # a read-only home: build the lists each time
    return built


def _build_base_lists() -> tuple:
    dutch = load_dutch_words()
    names_dir = _data_path("names")
    first, surnames, ambiguous, foreign = set(), set(), set(), set()
    for path in sorted(names_dir.glob("*.txt")) if names_dir.exists() else []:
        entries = _read_lines(path)
        if path.name == "exclusions.txt":
            ambiguous.update(fold(e) for e in entries)
            continue
        target = surnames if "surname" in path.name else first
        for entry in entries:
            for token in WORD.findall(entry):
                if len(token) >= 3:
                    target.add(fold(token))
                    if "dutch" not in path.name:
                        foreign.add(fold(token))
    # spaCy's lookup table also holds many names ("mehari"): a name from our curated lists counts as a
    # Dutch word only when the exclusions list says it is one.
    from wordfreq import zipf_frequency

    common = {w.lower() for sub in ("lst_common_word", "lst_stop_word")
              for w in _read_lines(_deduce_src() / "whitelist" / sub / "items.txt")}
    deduce_names = _deduce_src() / "names"
    dutch_names = {fold(n) for sub in ("lst_first_name", "lst_surname") for n in _read_lines(deduce_names / sub / "items.txt")}
    # A frequency list holds names and places too ("mohammed", "tilburg"): they are no Dutch words
    # for us, unless deduce's common-word list or our exclusions say they are.
    not_words = {n for n in foreign - ambiguous if n not in common and zipf_frequency(n, "nl") < 4.5}
    not_words |= {n for n in dutch_names if n not in common and zipf_frequency(n, "nl") < 4.0}
    villages = _villages_named_by_words()
    not_words |= {fold(p) for p in _raw_place_names() if " " not in p and "-" not in p and fold(p) not in common
                  and fold(p) not in villages}
    dutch = frozenset(dutch - not_words)
    first.update(fold(n) for n in _read_lines(deduce_names / "lst_first_name" / "items.txt") if len(n) >= 3)
    surnames.update(fold(n) for n in _read_lines(deduce_names / "lst_surname" / "items.txt") if len(n) >= 3)
    dutch = dutch | _built_from_dutch_words(dutch, not_words | first | surnames)
    ambiguous.update(n for n in first | surnames if n in dutch)
    places, ambiguous_places = _place_names(dutch)
    lemma_words = _lemma_words()
    return (dutch, frozenset(first), frozenset(surnames), frozenset(ambiguous), places, frozenset(ambiguous_places),
            lemma_words, _municipality_words(dutch | lemma_words | common, frozenset(ambiguous_places)))


# Particles that make Dutch nouns and verbs from others ("instroom", "uitval", "doorstroom").
SEPARABLE_PARTICLES = ("in", "uit", "op", "af", "aan", "toe", "door", "om", "mee", "na", "voor", "over", "onder",
                       "terug", "samen", "bij", "weg")


def _built_from_dutch_words(dutch: frozenset, names: set) -> set[str]:
    """Less frequent words (Zipf 3-4) that are an inflection or a compound of frequent Dutch words:
    "ruimtelijk|e", "binnenland|s", "terug|blik", "volks|huisvesting". The frequency cut-off keeps
    rarer names out of the Dutch words; these are built from Dutch words, so they are Dutch too.
    Words of our name lists, and words more frequent in English, stay out."""
    from wordfreq import top_n_list, zipf_frequency

    known = dutch.__contains__
    built = set()
    for word in top_n_list("nl", 200000):
        frequency = zipf_frequency(word, "nl")
        if word in dutch or word in names or not word.isalpha() or not 2.5 <= frequency < 4.0:
            continue
        if zipf_frequency(word, "en") >= frequency:
            continue   # English more than Dutch, often a name or a brand: "trade", "newton", "phillips"
        if any(word.startswith(p) and len(word) - len(p) >= 4 and known(word[len(p):]) for p in SEPARABLE_PARTICLES):
            built.add(word)   # "in|stroom", "uit|stroom", "terug|val": a particle and a frequent word, down to Zipf 2.5
        elif frequency >= 3.0 and (_dutch_stem(word, known) or any(word.endswith(end) and known(word[:-len(end)]) for end in INFLECTIONS) or (
                word.endswith("ing") and known(word[:-3] + "en"))):    # "instemm|ing" from "instemmen"
            built.add(word)
    return built


def _villages_named_by_words() -> set[str]:
    """Villages and hamlets (no municipality) whose name is a frequent Dutch word form: "Juist",
    "Eind", "Raar", "Waarde". They stay Dutch words, so they are places only in context ("in Raar"),
    not at the start of "Juist daarom ..." or "Eind mei ...". Municipalities stay places anywhere."""
    from wordfreq import zipf_frequency

    src = _deduce_src() / "locations" / "lst_placename"
    municipalities = {fold(n) for n in _municipality_names()}
    villages = {fold(n) for n in _read_lines(src / "lst_residence" / "items.txt") if " " not in n and "-" not in n}
    lemma_words = _lemma_words()
    return {v for v in villages - municipalities if v in lemma_words and zipf_frequency(v, "nl") >= 4.0}


def _raw_place_names() -> set[str]:
    src = _deduce_src() / "locations" / "lst_placename"
    names = set()
    for sub in ("lst_municipality", "lst_residence"):
        names.update(_read_lines(src / sub / "items.txt"))
    names.update(_read_lines(_data_path("places_extra.txt")))
    return names


def _place_names(dutch: frozenset) -> tuple[dict, set]:
    names = _raw_place_names()
    places: dict = {}
    ambiguous = set()
    common = {w.lower() for w in _read_lines(_deduce_src() / "whitelist" / "lst_common_word" / "items.txt")}
    for name in sorted(names):   # sorted: an adjectival form's place ("Loonaar") is the same on every build
        if "(" in name:
            continue   # "Haren (Gr)": the bare name is listed too; a province written after it is no place
        if name.startswith("'S-"):
            name = "'s-" + name[3:]
        tokens = tuple(fold(t) for t in WORD.findall(name))
        if not tokens or (len(tokens) == 1 and len(tokens[0]) < 3):
            continue
        places[tokens] = name
        if len(tokens) == 1 and tokens[0] in dutch:
            ambiguous.add(tokens)
        for form in _adjectival_forms(name) if len(tokens) == 1 else ():
            key = (fold(form),)
            if form.lower() not in common and key not in places:
                places[key] = name
                if form.lower() in dutch and not form.endswith("se"):
                    ambiguous.add(key)   # "Gouds": a place only capitalised mid-sentence (see _place_ok)
    return places, ambiguous


def _adjectival_forms(name: str) -> list[str]:
    """Tilburg -> Tilburgse, Tilburger(s); Leiden -> Leidse, Leids, Leidenaren; Emmen -> Emmense; Gouda -> Goudse, Gouds."""
    forms = [name + "se", name + "er", name + "ers", name + "naar", name + "naren", name + "enaar",
             name + "enaren", name + "aar", name + "aren", name + "s"]
    if name.endswith("en"):
        forms += [name[:-2] + "se", name[:-2] + "s", name[:-2] + "ens", name[:-1] + "aar", name[:-1] + "aren", name[:-1] + "r"]
    if name.endswith("er"):
        forms += [name[:-1] + "naren", name[:-2] + "enaren", name[:-1] + "naar"]
    if name.endswith("e"):
        forms += [name + "nse", name[:-1] + "se"]
    if name.endswith("a"):   # Gouda -> Goudse, (het) Gouds; Breda -> Bredase
        forms += [name[:-1] + "se", name[:-1] + "s", name + "se"]
    return forms


@functools.lru_cache(maxsize=1)
def _allow_groups() -> dict:
    """allow_list.yaml, read once per process: group name -> entries."""
    data = yaml.safe_load(_data_path("allow_list.yaml").read_text(encoding="utf-8")) or {}
    return {group: list(entries or []) for group, entries in data.items()}


def _allow_entries(extra: list[str] = ()) -> list[str]:
    return [w for group in _allow_groups().values() for w in group] + list(extra)


@functools.lru_cache(maxsize=1)
def _allowed_regions() -> frozenset:
    """The allow list's provinces and regions: kept, but they do not make a name a policy term.
    Regions below the province (labour-market regions such as Midden-Holland) are not kept: they
    narrow a study down to a few municipalities."""
    return frozenset(fold(w) for w in _allow_groups().get("provinces_and_regions", []))


def load_allow_list(extra: list[str] = ()) -> frozenset:
    return frozenset(fold(w) for w in _allow_entries(extra) if fold(w))


def _allow_phrase_pattern(extra: list[str] = ()) -> re.Pattern:
    # A trie, not a flat alternation: the same matches (longest first), in 40% of the time; it runs
    # twice over every text.
    phrases = sorted({w.lower() for w in _allow_entries(extra) if len(WORD.findall(w)) > 1})
    return re.compile(r"(?<!\w)(?:" + _trie_alternation(phrases) + r")(?!\w)", re.IGNORECASE)


def load_lists(corpus_settings: dict | None = None) -> Lists:
    """All lists, with a corpus's force_keep / force_remove (from <corpus>/anonymise.yaml) applied."""
    settings = corpus_settings or {}
    dutch, first, surnames, ambiguous, places, ambiguous_places, lemma_words, municipality_words = _base_lists()
    allow = load_allow_list(settings.get("force_keep") or [])
    force_remove = []
    for item in settings.get("force_remove") or []:
        if isinstance(item, str):
            force_remove.append((item, "PERSON"))
        else:
            force_remove.append((item["text"], item.get("label", "PERSON")))
    return Lists(
        dutch_words=dutch, first_names=first, surnames=surnames, ambiguous_names=ambiguous,
        places=places, ambiguous_places=ambiguous_places,
        allow=allow, force_remove=force_remove,
        allow_phrases=_allow_phrase_pattern(settings.get("force_keep") or []),
        place_lengths=_first_word_lengths(places),
        allow_prefixes=tuple(a for a in allow if len(a) >= 5 and a.isalpha()),
        lemma_words=lemma_words,
        municipality_words=municipality_words,
    )


def _municipality_names() -> list[str]:
    return _read_lines(_deduce_src() / "locations" / "lst_placename" / "lst_municipality" / "items.txt")


def _municipality_words(words: frozenset, ambiguous_places: frozenset) -> frozenset:
    """One-word municipalities that are no word of our lists, spaCy's lemma table, deduce's common
    words (`words`) or English ("terneuzen", "utrecht"; not "huizen", "sluis", "putten", "goes").
    Some are Dutch words all the same ("duiven", "houten", "weert"), so in lower case they count
    only where notes put a town on its own (`_after_a_field_sign`)."""
    from wordfreq import zipf_frequency

    names = {fold(n) for n in _municipality_names() if " " not in n and "-" not in n and "'" not in n}
    return frozenset(n for n in names if len(n) >= 4 and n not in words and (n,) not in ambiguous_places
                     and zipf_frequency(n, "en") < 3.0)


def _first_word_lengths(places: dict) -> dict[str, int]:
    lengths: dict[str, int] = {}
    for words in places:
        lengths[words[0]] = max(lengths.get(words[0], 0), len(words))
    return lengths


def load_corpus_settings(corpus_dir: Path) -> dict:
    """<corpus>/anonymise.yaml: {force_keep: [...], force_remove: [text | {text, label}]}."""
    path = Path(corpus_dir) / "anonymise.yaml"
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise QcodeError(f"{path}:{where} invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise QcodeError(f"{path}: expected a mapping with force_keep and force_remove lists")
    unknown = set(data) - {"force_keep", "force_remove"}
    if unknown:
        raise QcodeError(f"{path}: unknown keys {sorted(unknown)}; use force_keep and force_remove")
    for key in ("force_keep", "force_remove"):
        if not isinstance(data.get(key) or [], list):
            raise QcodeError(f"{path}: {key} must be a list (one entry per line starting with '- ')")
    for item in data.get("force_keep") or []:
        if not isinstance(item, str):
            raise QcodeError(f"{path}: force_keep entries must be strings, not {item!r}")
    for item in data.get("force_remove") or []:
        if isinstance(item, dict) and not isinstance(item.get("text"), str):
            raise QcodeError(f"{path}: force_remove entry {item!r} needs a 'text'")
        if not isinstance(item, (str, dict)):
            raise QcodeError(f"{path}: force_remove entries must be strings or {{text, label}}")
        if isinstance(item, dict) and item.get("label", "PERSON") not in LABELS:
            raise QcodeError(f"{path}: unknown label {item.get('label')!r}; use one of {', '.join(LABELS)}")
    return data


# ---------------------------------------------------------------- the recognisers


@functools.lru_cache(maxsize=1)
def _deduce():
    import logging

    deduce = _import_deduce()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    # deduce unpickles millions of small objects for its lookup lists: 2 s instead of 7-9 s.
    with paused_gc(freeze=True):
        model = deduce.Deduce()
    root.setLevel(level)
    root.handlers[:] = handlers
    return model


def warm_up() -> None:
    """Build deduce's lookup cache and our lists now (about 90 s the first time after install)."""
    _deduce()
    _base_lists()


DEDUCE_LABELS = {
    "persoon": "PERSON", "patient": "PERSON", "locatie": "MUNICIPALITY_OR_TOWN",
    "telefoonnummer": "PHONE", "emailadres": "EMAIL", "url": "URL", "bsn": "ID_NUMBER",
    "patientnummer": "ID_NUMBER", "ziekenhuis": "ORGANISATION", "zorginstelling": "ORGANISATION",
    "instelling": "ORGANISATION",
}


# A house number's letter or addition, which deduce leaves out: "Zuid-Willemsvaart 112-B", "Kerkstraat 4-a".
HOUSE_LETTER = re.compile(r"[\-/][A-Za-z]{1,2}(?![\w\-])")


def _deduce_entities(text: str) -> list[Entity]:
    # Dates and ages are not identifiers by themselves (dates of birth are our pattern's job), and
    # phones, e-mail, URLs and organisations are caught by our own patterns (deduce's institutions are
    # hospitals and care homes, which our organisation keywords cover): skipping those groups halves its time.
    doc = _deduce().deidentify(text, disabled={"dates", "ages", "phone_numbers", "email_addresses", "urls", "institutions"})
    found = []
    for ann in doc.annotations:
        label = DEDUCE_LABELS.get(ann.tag.split("_")[0].lower()) or DEDUCE_LABELS.get(ann.tag.lower())
        if label is None:
            continue  # dates and ages: only dates of birth identify (handled by our pattern)
        if label == "MUNICIPALITY_OR_TOWN" and re.search(r"\d", ann.text):
            label = "ADDRESS"
        # deduce joins spans across sentence ends ("Sas van Gent. Zeeland"): split them again.
        start = ann.start_char
        for part in re.split(r"([.;!?:]\s+|\n)", ann.text) if label not in ("EMAIL", "URL") else [ann.text]:
            if part and not re.fullmatch(r"[.;!?:]\s+|\n", part):
                part_label = "MUNICIPALITY_OR_TOWN" if label == "ADDRESS" and not re.search(r"\d", part) else label
                end = start + len(part)
                letter = HOUSE_LETTER.match(text, end) if part_label == "ADDRESS" and part[-1].isdigit() else None
                end = letter.end() if letter else end
                found.append(Entity(start, end, part_label, text[start:end], True, "deduce"))
            start += len(part)
    return found


def _pattern_entities(text: str, lists: "Lists | None" = None) -> list[Entity]:
    found = []
    for regex, label in ((EMAIL, "EMAIL"), (PHONE, "PHONE"), (SHORT_PHONE, "PHONE"), (STREET, "ADDRESS"), (POSTCODE, "ADDRESS"),
                         (S_PLACE, "MUNICIPALITY_OR_TOWN")):
        found += [_unbracketed(_after_a_title(_street_only(Entity(m.start(), m.end(), label, m.group()), lists), lists))
                  for m in regex.finditer(text)
                  if label != "ADDRESS" or not (_allow_listed_street(m.group(), lists) or _year_in_capitals(text, m.start()))]
    emails = [(e.start, e.end) for e in found if e.label == "EMAIL"]
    for m in URL.finditer(text):
        if not any(s <= m.start() < e for s, e in emails) and not _national_site(m.group(), lists):
            found.append(Entity(m.start(), m.end(), "URL", m.group()))
    for m in BSN.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        context = text[max(0, m.start() - 40):m.start()].lower()
        if _elf_proef(digits) or "bsn" in context or "burgerservice" in context:
            found.append(Entity(m.start(), m.end(), "ID_NUMBER", m.group()))
    found += _field_numbers(text)
    if "+" in text:
        found += [Entity(m.start(), m.end(), "PHONE", m.group()) for m in FOREIGN_PHONE.finditer(text)
                  if 9 <= sum(c.isdigit() for c in m.group()) <= 15]
    if STREET_WORD_SIGN.search(text):
        found += [Entity(m.start(), m.end(), "ADDRESS", m.group()) for m in STREET_WORD_AFTER_NAME.finditer(text)]
    for m in TEN_DIGITS.finditer(text):
        if not text[m.start():m.end()].startswith("0"):
            found.append(Entity(m.start(), m.end(), "ID_NUMBER", m.group()))
    ibans = []
    for m in CODES.finditer(text):   # one scan for bank accounts, licence plates and document numbers
        kind = m.lastgroup
        if kind == "iban" and _letters_and_digits(m.group(), 2, 8):      # not a run of acronyms
            ibans.append(Entity(m.start(), m.end(), "ID_NUMBER", m.group()))
        elif (kind == "plate" and _letters_and_digits(m.group(), 1, 1)) or (kind in ("serial", "prefixed") and (
                _letters_and_digits(m.group(), 0, 5 if kind == "prefixed" else 0) and not _public_reference(text, m.start()))) or (kind == "document" and (
                _letters_and_digits(m.group(), 2, 3) or _letters_and_digits(m.group(), 1, 6)) and not PUBLIC_PAPER_NUMBER.fullmatch(m.group())):   # "P03918274"
            found.append(Entity(m.start(), m.end(), "ID_NUMBER", m.group()))
    if ibans:   # its digits can look like a phone number ("NL91 ABNA 0417 1643 00")
        spans = _coverage(ibans)
        found = [e for e in found if not (e.label == "PHONE" and _covered(spans, e.start, e.end))] + ibans
    # The rarer patterns run only where their key word or sign occurs (each pass costs ~1% of the time).
    if "-" in text:   # a region below the province ("Noordoost-Brabant", "West-Limburg"); allow-listed provinces stay
        found += [Entity(m.start(), m.end(), "MUNICIPALITY_OR_TOWN", m.group()) for m in COMPASS_REGION.finditer(text)
                  if fold(m.group()) not in (lists.allow if lists else ())]
    if "oestel" in text or "tst" in text or "oorkies" in text:
        found += [Entity(m.start("number"), m.end("number"), "PHONE", m.group("number")) for m in EXTENSION.finditer(text)]
    if "nul " in text or "Nul " in text:
        found += [Entity(m.start(), m.end(), "PHONE", m.group()) for m in SPOKEN_PHONE.finditer(text)]
    if "°" in text:
        found += [Entity(m.start("date"), m.end("date"), "DATE_OF_BIRTH", m.group("date")) for m in BORN_SIGN.finditer(text)]
    if "apenstaartje" in text or "(at)" in text or "[at]" in text or "Apenstaartje" in text:
        found += [Entity(m.start(), m.end(), "EMAIL", m.group()) for m in SPELLED_EMAIL.finditer(text)]
    for m in DATE_OF_BIRTH.finditer(text):
        found.append(Entity(m.start("date"), m.end("date"), "DATE_OF_BIRTH", m.group("date")))
    for m in OLD_FULL_DATE.finditer(text):
        if not _event_date(text, m.start(), m.end()):
            found.append(Entity(m.start(), m.end(), "DATE_OF_BIRTH", m.group()))
    if STREET_KIND_SIGN.search(text):
        found += [Entity(m.start(), m.end(), "ADDRESS", m.group()) for m in STREET_KIND_FIRST.finditer(text)]
    if LOWER_STREET_SIGN.search(text):   # the full pattern backtracks over every word: only where a street may be
        found += [Entity(m.start(), m.end(), "ADDRESS", m.group()) for m in LOWER_STREET.finditer(text)
                  if m.group().split()[0] not in GENERIC_ROADS]   # not "de snelweg 12 keer"
    if any(sign in text for sign in ("ostbus", "OSTBUS", "ntwoordnummer", "NTWOORDNUMMER")):   # a PO box, a freepost number
        found += [Entity(m.start(), m.end(), "ADDRESS", m.group()) for m in PO_BOX.finditer(text)]
    if "enteken" in text:
        found += [Entity(m.start("plate"), m.end("plate"), "ID_NUMBER", m.group("plate")) for m in PLATE_AFTER_WORD.finditer(text)]
    if lists is not None:
        for m in LOWER_POSTCODE.finditer(text):
            words = m.group("place").split()
            for length in range(len(words), 0, -1):
                key = tuple(fold(w) for w in words[:length])
                if key in lists.places and key not in lists.ambiguous_places:
                    end = m.start("place") + len(" ".join(words[:length]))
                    found.append(Entity(m.start(), end, "ADDRESS", text[m.start():end]))
                    break
    for m in BARE_STREET.finditer(text):   # "aan de Rijnsburgerweg": a street without a number
        if lists is not None and fold(m.group()) in lists.allow or m.group().lower() in ECONOMIC_MARKETS:
            continue   # "het Werkplein" when a corpus keeps it; a market in the economic sense ("op de Arbeidsmarkt")
        if not _sentence_start(text, m.start()):
            found.append(Entity(m.start(), m.end(), "ADDRESS", m.group(), True, "bare_street"))
    return found


# Markets in the economic sense, capitalised in programme names ("Integratie op de Arbeidsmarkt");
# a town's "Vismarkt" or "Paardenmarkt" is a square.
ECONOMIC_MARKETS = {"arbeidsmarkt", "woningmarkt", "huurmarkt", "koopmarkt", "huizenmarkt", "zorgmarkt",
                    "consumentenmarkt", "onderwijsmarkt", "inburgeringsmarkt", "opleidingsmarkt", "banenmarkt"}


def _field_numbers(text: str) -> list[Entity]:
    """Values of numbered fields ("Ons kenmerk: 20240117/MvdH", "V-nummer: V 3104 7725 86",
    "dossier 7724"): at least four digits, not a year, not a phone, house or page number."""
    found = []
    for key in NUMBER_FIELD_KEY.finditer(text):
        start = key.start()
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "-"):
            start -= 1      # back to the start of the label's word: "COA-registratie|nummer"
        label = text[start:key.end()].lower()
        if label.startswith(NOT_ID_FIELDS) or (label.endswith("-code") and not re.fullmatch(r"[a-z]{2,5}-code", label)):
            continue
        m = NUMBER_FIELD_VALUE.match(text, key.end())
        while m and _field_number(m.group("number"), key.group().lower()):
            found.append(Entity(m.start("number"), m.end("number"), "ID_NUMBER", m.group("number")))
            join = NUMBER_LIST_JOIN.match(text, m.end()) if key.group().endswith("s") else None
            m = NUMBER_FIELD_VALUE.match(text, join.end()) if join else None
        spoken = SPOKEN_FIELD_NUMBER.match(text, key.end()) if key.group().lower().startswith("nummer") else None
        if spoken and sum(c.isdigit() for c in spoken.group("number")) >= 7:
            found.append(Entity(spoken.start("number"), spoken.end("number"), "ID_NUMBER", spoken.group("number")))
    return found


def _field_number(number: str, key: str) -> bool:
    """At least four digits, no year; a noun of a key ("de klant 1500 euro") wants a longer value."""
    public = key == "kenmerk" and PUBLIC_PAPER_NUMBER.fullmatch(number)
    return not (sum(c.isdigit() for c in number) < 4 or re.fullmatch(r"(?:19|20)\d{2}", number) or public or (
        key in BARE_NUMBER_KEYS and len(number) < 6))


def _event_date(text: str, start: int, end: int) -> bool:
    """A date after a word that dates an event ("het advies van 3 augustus 2006", "per 1 januari
    2007", "d.d. 12-10-2006"), with no word of birth just after it: no date of birth. Policy
    prose and minutes cite older dates than the people in them were born on."""
    before = EVENT_BEFORE.search(text, max(0, start - 30), start)
    if not before or BIRTH_WORD.search(text, end, end + 40):
        return False
    # "ze is van 17 november 1986" says when she was born
    return not BORN_IN_VAN.search(text, max(0, start - 30), start)


# A council's or parliament's papers are public, and so are their numbers: "Raadsvoorstel 2024-117".
PUBLIC_PAPER_BEFORE = re.compile(
    r"\b(?i:raadsvoorstel|raadsbesluit|raadsinformatiebrief|raadsbrief|raadsvragen|collegebesluit|collegevoorstel|"
    r"motie|amendement|besluit|kamerbrief|kamerstuk|kamerstukken|staatsblad|stb\.?|staatscourant|stcrt\.?|verordening|"
    r"nota|rapport|rib)[^\S\n]*(?:nr\.?|nummer)?[^\S\n]*:?[^\S\n]*$")


def _public_reference(text: str, start: int) -> bool:
    return bool(PUBLIC_PAPER_BEFORE.search(text, max(0, start - 40), start))


def _unbracketed(entity: Entity) -> Entity:
    """A phone number in brackets without its opening one: "(06-12345678)" left "[TELEFOON])" (the
    pattern takes "(" for an area code's, as in "(020) 123 4567", which keeps both)."""
    if entity.label != "PHONE" or not entity.text.startswith("(") or ")" in entity.text:
        return entity
    return Entity(entity.start + 1, entity.end, entity.label, entity.text[1:], entity.strong, entity.source)


def _national_site(url: str, lists: "Lists | None") -> bool:
    """A national body's website on its own ("www.staatvenz.nl", "https://www.cbs.nl/"): allow-listed.
    With a path it may name a municipality ("waarstaatjegemeente.nl/dashboard/gemeente-zwolle")."""
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url).rstrip("/")
    return lists is not None and "/" not in host and fold(host) in lists.allow


def _after_a_title(address: Entity, lists: "Lists | None") -> Entity:
    """An address without the document's title before it: "Huurovereenkomst Oranjestraat 19"."""
    first = WORD.match(address.text)
    if address.label != "ADDRESS" or lists is None or not first or first.end() == len(address.text) or not (
            first.group()[0].isupper() and _document_title(first.group().lower(), lists.dutch_words.__contains__)):
        return address
    start = address.start + first.end() + 1
    return Entity(start, address.end, address.label, address.text[first.end() + 1:], address.strong, address.source)


# A year and a preposition in a sentence in capitals look like a postcode: "SINDS 2022 IN NEDERLAND".
YEAR_IN_CAPITALS = re.compile(r"(?:19|20)\d{2}\s?(?:IN|OP|TE|OM|NA|EN|DE)\b")
CAPS_WORD_BEFORE = re.compile(r"\b[A-ZÀ-Þ]{2,}[^\S\n]+$")


def _year_in_capitals(text: str, start: int) -> bool:
    return bool(YEAR_IN_CAPITALS.match(text, start) and CAPS_WORD_BEFORE.search(text, max(0, start - 30), start))


def _letters_and_digits(token: str, letters: int, digits: int) -> bool:
    return sum(c.isdigit() for c in token) >= digits and sum(c.isalpha() for c in token) >= letters


def _allow_listed_street(address: str, lists: "Lists | None") -> bool:
    """A "street" that is an allow-listed word and a number: "Inburgering 2023" ends in the street
    suffix "ring", but is a plan's title and its year; or a Dutch noun in -ering alone and a number
    ("Aflevering 14", "Vergadering 3"): Dutch makes nouns of verbs so, and names no street so."""
    words = WORD.findall(re.split(r"\s+\d", address, maxsplit=1)[0])
    if lists is None or not words or POSTCODE.search(address):
        return False
    # long ones only: a short one may name a street ("Kering 5")
    noun = len(words) == 1 and len(words[0]) >= 9 and words[0].lower().endswith("ering") and words[0].lower() in lists.dutch_words
    return fold(words[-1]) in lists.allow or noun


def _elf_proef(digits: str) -> bool:
    """The BSN check digit test (elfproef)."""
    if len(digits) != 9 or digits == "0" * 9:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1))) - int(digits[8])
    return total % 11 == 0


def _context_entities(text: str, lists: Lists) -> list[Entity]:
    found = []
    for regex in (TITLE_NAME, KINSHIP_NAME, CALLED_NAME):
        for m in regex.finditer(text):
            start, end = _trim_name(text, m.start("name"), m.end("name"), lists)
            if end > start:
                found.append(Entity(start, end, "PERSON", text[start:end], True, "context"))
    for m in SURNAME_INITIALS.finditer(text):
        word = m.group("name")
        key = fold(word.split()[-1])
        parts = [fold(p) for p in word.split()[-1].split("-")]     # "Goossen-Verhage, M.": either surname
        if key not in lists.allow and (word.isupper() or any(p in lists.surnames or p in lists.first_names for p in parts)):
            found.append(Entity(m.start(), m.end(), "PERSON", m.group(), True, "initials"))
    for m in SURNAME_FIRST_NAME.finditer(text) if CAPITALS_COMMA.search(text) else ():
        if fold(m.group("first")) in lists.first_names and fold(m.group("name")) not in lists.allow:
            found.append(Entity(m.start(), m.end(), "PERSON", m.group(), True, "initials"))
    found += _initials_entities(text, lists)
    found += _field_values(text, lists) + _chat_handles(text)
    for m in INITIALS_NAME.finditer(text):
        start, end = _trim_name(text, m.start(), m.end(), lists)
        if end > start and "." in text[start:end]:
            found.append(Entity(start, end, "PERSON", text[start:end], True, "initials"))
    for m in INLINE_SPEAKER.finditer(text):
        if AGENDA_NUMBER.search(text, max(0, m.start() - 8), m.start()):
            continue   # "3. Nareizigers: late start": an agenda item's heading, not a speaker
        label, _ = speaker_of(text[m.start():m.start() + 60])
        label = bare_label(label) if label else label   # a name in "Tolk (Farid Azimi):" is left to the other rules
        span = _speaker_name_span(label, lists) if label else None
        if span:
            start, end = m.start() + span[0], m.start() + span[1]
            found.append(Entity(start, end, "PERSON", text[start:end], True, "speaker"))
    for m in NON_LATIN_NAME.finditer(text):
        found.append(Entity(m.start(), m.end(), "PERSON", m.group(), True, "script"))
    for m in ORG_BEFORE.finditer(text):
        start, end = m.start(), _trim_org(text, m.start(), m.end(), lists)
        inner = INNER_KIND.match(text, WORD.match(text, start).end())
        if inner and inner.end() < end:
            start = inner.end()    # "het Taalcafé van Buurthuis De Klaproos": the buurthuis is named, not the café
        while start > 1 and text[start - 1] == "-" and text[start - 2].isalpha():   # "Hotel-Restaurant De ..."
            start -= 1
            while start > 0 and text[start - 1].isalpha():
                start -= 1
        kind = WORD.match(text, m.start())
        if kind.group().endswith("organisatie") and text.startswith((" van ", " voor "), kind.end()):
            continue   # "de inkooporganisatie van Gooi en Vechtstreek": whose it is, not its name
        start = _with_own_word(text, start)
        if text[start].islower():  # "via uitzendbureau Werkkracht": the name is what follows
            start = WORD.search(text, start).end() + 1
            while (word := WORD.match(text, start)) and word.group() in ("voor", "de", "het", "van", "der", "den"):
                start = word.end() + 1   # "één school voor de B1-route": the name is "B1-route"
        name_words = [w for w in WORD.findall(text[start:end]) if w.lower() not in TUSSENVOEGSELS]
        if text[m.start()].islower() and all(fold(w) in lists.allow for w in name_words):
            continue   # "bij de taalschool het COA": COA is no school's name
        if text[m.start()].islower() and len(name_words) == 1 and name_words[0].endswith("e") and _inflected_dutch(
                name_words[0].lower(), lists) and NEXT_WORD.match(text, end):
            continue   # "... in de praktijk Maatschappelijke begeleiding": a heading's adjective and noun, no name
        after_kind = [w for w in WORD.findall(text[m.start():end])[1:] if w.lower() not in TUSSENVOEGSELS]
        if after_kind and any(_policy_term(w, lists) or LEVEL_CODE.fullmatch(w) for w in after_kind) and all(
                fold(w) in lists.allow or LEVEL_CODE.fullmatch(w) for w in after_kind):
            continue   # "Stuurgroep Inburgering Drenthe", "groep B1-3"; not "Taalatelier Parkstad"
        founded = CLUB_YEAR.match(text, end)
        end = founded.end() if founded else end
        found.append(Entity(start, end, "ORGANISATION", text[start:end], True, "organisation"))
    for m in LOWER_ORG.finditer(text):
        entity = _lower_case_organisation(text, m, lists)
        if entity:
            found.append(entity)
    for m in ORG_SUFFIX_WORDS.finditer(text):
        if all(w.lower() in DETERMINERS for w in WORD.findall(m.group())[:-1]):
            continue   # "Het College", "De Markt": no name before the word
        start = _skip_common_words(text, m.start(), m.end(), lists)
        if start < m.end() and not all(fold(w) in lists.allow for w in WORD.findall(text[start:m.end()])[:-1]):
            found.append(Entity(start, m.end(), "ORGANISATION", text[start:m.end()], True, "organisation"))
    legal_form = any(sign in text for sign in ("B.V", "BV", "V.O.F", "VOF", "N.V", "NV", "Holding", "Groep", "& Z", "& P", "& C"))
    for m in ORG_AFTER.finditer(text) if legal_form else ():   # its pattern tries every capitalised word
        start = _skip_common_words(text, m.start(), m.end(), lists)
        if start < m.end():
            found.append(Entity(start, m.end(), "ORGANISATION", text[start:m.end()], True, "organisation"))
    for m in AZC.finditer(text):
        start, end = _trim_name(text, m.start("place"), m.end("place"), lists)
        if end > start:
            found.append(Entity(start, end, "MUNICIPALITY_OR_TOWN", text[start:end], True, "azc"))
    return found


# The labels of a form's fields and a table's columns whose values identify (checked in this
# order, on the label's words: "naam taalaanbieder" is an organisation, "naam klant" a person).
FIELD_KINDS = (
    ("DATE_OF_BIRTH", {"geboortedatum", "geb.datum", "geboren"}),
    ("ADDRESS", {"adres", "woonadres", "straat", "straatnaam", "postadres", "bezoekadres"}),
    ("ORGANISATION", {"werkgever", "taalaanbieder", "aanbieder", "school", "taalschool", "organisatie", "bedrijf",
                      "leerbedrijf", "stageplek", "werkplek", "opleiding", "onderwijsinstelling"}),
    ("MUNICIPALITY_OR_TOWN", {"woonplaats", "geboorteplaats", "plaats", "gemeente", "stad", "dorp", "wijk",
                              "vestigingsplaats", "woonwijk"}),
    ("PERSON", {"naam", "voornaam", "achternaam", "roepnaam", "voorletters", "geboortenaam", "contactpersoon",
                "klantmanager", "consulent", "casemanager", "jobcoach", "coach", "mentor", "begeleider",
                "werkbegeleider", "docent", "deelnemer", "cursist", "respondent", "interviewer", "notulist",
                "behandelaar", "medewerker", "tolk", "partner", "leerling", "taalcoach", "taalmaatje"}),
)
# A role is a speaker's label in a transcript ("Tolk: Hij zegt ..."): its field takes a name only.
FIELD_ROLES = FIELD_KINDS[-1][1] - {"naam", "voornaam", "achternaam", "roepnaam", "voorletters", "geboortenaam"}
# A field found by its label's word ("Geboorteplaats:", "Naam taalaanbieder:"; a pattern that
# tries every word of a text as a label cost 4% of the anonymiser), then its value.
FIELD_LABEL = re.compile(
    r"(?<![\w\-])(?P<label>(?i:" + _trie_alternation(sorted({w for kind, words in FIELD_KINDS if kind in NUMBERED for w in words}))
    + r")(?![\w\-])(?:[^\S\n]+[a-zà-ÿ][\w.\-]*)?)[^\S\n]*:[^\S\n]*"
    r"(?P<value>[^\n|;:]{1,60}?)[^\S\n]*(?=[|;\n]|\.(?:\s|$)|\s\(|,\s|$)")
LABEL_BEFORE = re.compile(r"(?m)(?:^|(?<=[|;])|(?<=\.\s))[^\S\n]*(?:[A-Za-zÀ-ÿ][\w.\-]*[^\S\n]+)?$")
TABLE_SEPARATORS = (";", "\t", "|")


def _field_kind(label: str, value: str = "") -> str | None:
    """The kind of identifier a field or column with this label holds, if any."""
    words = [w for w in re.split(r"[^\w.]+", label.lower()) if w]
    # A key that is a noun of its own ("cursist", "klant") names a person's column, not a number's.
    if any(w in ("bsn", "id") or (re.search(NUMBER_FIELD_KEY.pattern + "$", w) and not w.startswith(NOT_ID_FIELDS)
                                  and w not in BARE_NUMBER_KEYS) for w in words):
        return "ID_NUMBER"
    for kind, keys in FIELD_KINDS:
        if any(w in keys for w in words):
            return kind
    return None


def _name_shaped(value: str, lists: Lists) -> bool:
    """Capitalised words (with name particles) that are not all Dutch or allow-listed words: "Hans
    Koster", "IvdB", "M. de Groot"; not "Ja", "Dank u", "Hij zegt"."""
    words = WORD.findall(value)
    if not words or len(words) > 5 or any(w[0].islower() and w.lower() not in NAME_PARTICLES - {"het"} for w in words):
        return False
    first = next((w for w in words if w.lower() not in NAME_PARTICLES), "")
    if _zipf(first.lower(), "nl") >= 3.5 and fold(first) not in lists.first_names and fold(first) not in lists.surnames:
        return False    # a sentence after a speaker's label: "Klantmanager: Neem Fatima, ..."
    return not all(w.lower() in lists.dutch_words or fold(w) in lists.allow for w in words)


LEADING_TITLE = re.compile(rf"{TITLES}\.?[^\S\n]+")


def _field_value_entity(text: str, start: int, end: int, kind: str, lists: Lists, in_table: bool = False) -> Entity | None:
    value = text[start:end]
    if not re.search(r"\w", value) or fold(value) in lists.allow or value.lower().strip(".") in ("onbekend", "nvt", "n.v.t", "geen"):
        return None
    if (kind in ("DATE_OF_BIRTH", "ADDRESS") and not re.search(r"\d", value)) or (
            kind == "ID_NUMBER" and sum(c.isdigit() for c in value) < 4):     # not a row's number "1"
        return None
    # A field's label can be a speaker's too ("Werkgever: Twee jongens uit Syrië, ..."): a name
    # has the shape of one, or is a listed place ("Woonplaats: Best"). A table's column is no speaker.
    if kind in NUMBERED and not ((in_table and any(w[0].isupper() for w in WORD.findall(value))) or _name_shaped(value, lists) or (
            kind == "MUNICIPALITY_OR_TOWN" and tuple(fold(w) for w in WORD.findall(value)) in lists.places)):
        return None
    title = LEADING_TITLE.match(value) if kind == "PERSON" else None
    if title and title.end() < len(value):     # "| Wethouder A.C. Brink-de Graaf |": the name, not its title
        start, value = start + title.end(), value[title.end():]
    return Entity(start, end, kind, value, True, "field")


def _field_values(text: str, lists: Lists) -> list[Entity]:
    """The values of a form's fields ("Geboorteplaats: Kayseri (Turkije)", "Interviewer: IvdB.")
    and of a pasted table's columns, by their label: a place, name, organisation or number in any
    list or none."""
    found = []
    if ":" in text:
        for m in FIELD_LABEL.finditer(text):
            line_start = text.rfind("\n", 0, m.start()) + 1
            before = LABEL_BEFORE.search(text, line_start, m.start())     # a label opens its line or field
            if not before:
                continue
            label = text[before.start():m.end("label")].strip()
            kind = _field_kind(label)   # numbers, dates and streets: the patterns find them
            if kind in NUMBERED and not (label.lower().split()[-1] in FIELD_ROLES and not _name_shaped(m.group("value"), lists)):
                entity = _field_value_entity(text, m.start("value"), m.end("value"), kind, lists)
                found += [entity] if entity else []
    for separator in TABLE_SEPARATORS:
        if text.count(separator) >= 4:
            found += _table_values(text, separator, lists)
    return found


def _table_values(text: str, separator: str, lists: Lists) -> list[Entity]:
    """A table pasted as text (a CSV export, a register, a Markdown table): a header line of three
    or more columns, then lines with as many; each cell under an identifying header."""
    found, kinds, line_start = [], None, 0
    for line in text.split("\n"):
        row, row_start = line.strip(), line_start + len(line) - len(line.lstrip())
        line_start += len(line) + 1
        if separator == "|" and len(row) > 1 and row[0] == row[-1] == "|":   # "| Nr | Naam |"
            row, row_start = row[1:-1], row_start + 1
        cells = row.split(separator)
        if kinds is not None and len(cells) == len(kinds):
            if not re.fullmatch(r"[\s|:\-]+", row):        # not a Markdown table's rule "|---|:---|"
                found += _cell_values(text, row_start, cells, separator, kinds, lists)
        elif len(cells) >= 3 and all(0 < len(c.strip()) <= 30 for c in cells):
            kinds = [_field_kind(c) for c in cells]
            kinds = kinds if any(kinds) else None
        else:
            kinds = None
    return found


def _cell_values(text: str, start: int, cells: list[str], separator: str, kinds: list, lists: Lists) -> list[Entity]:
    found = []
    for cell, kind in zip(cells, kinds):
        value = cell.strip().split(" (")[0]     # "Agnieszka Wiśniewska (vrijwillig)"
        if kind and value:
            value_start = start + cell.index(value)
            entity = _field_value_entity(text, value_start, value_start + len(value), kind, lists, in_table=True)
            found += [entity] if entity else []
        start += len(cell) + len(separator)
    return found


# A chat's user names: "@priya.ramsaran weet jij ...", and a copied Slack or Teams message's
# header, the name before the time: "joost.vd.linden 10:02".
MENTION = re.compile(r"(?<![\w.@])@(?P<handle>[^\W_][\w.\-]{0,40}[^\W_]|[^\W_])")
HANDLE_HEADER = re.compile(r"(?m)^[^\S\n]*(?P<handle>[a-z][a-z0-9]*(?:[._\-][a-z0-9]+)+)[^\S\n]+\[?\d{1,2}:\d{2}\b")
# A forum's or a comment thread's user name before what it wrote: "Arif_K schreef op 4 april:".
WROTE_VERBS = ("schreef", "reageerde", "antwoordde", "wrote")
HANDLE_WROTE = re.compile(rf"(?m)^[^\S\n]*(?P<handle>[^\W\d_][\w.\-]*(?:_|\d)[\w.\-]*)[^\S\n]+(?:{'|'.join(WROTE_VERBS)})\b")
GROUP_MENTIONS = {"channel", "here", "everyone", "iedereen", "allen", "all", "team", "admin"}


def _chat_handles(text: str) -> list[Entity]:
    """Every use of a user name that a chat mentions with "@" or puts before a message's time, or
    a forum before what it wrote."""
    handles = {m.group("handle") for m in MENTION.finditer(text)} if "@" in text else set()
    handles |= {m.group("handle") for m in HANDLE_HEADER.finditer(text)} if ":" in text else set()
    if any(verb in text for verb in WROTE_VERBS):
        handles |= {m.group("handle").rstrip(".-") for m in HANDLE_WROTE.finditer(text)}
    handles = {h for h in handles if re.split(r"[.\-_]", h.lower())[0] not in GROUP_MENTIONS}
    if not handles:
        return []
    pattern = re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, sorted(handles, key=len, reverse=True))) + r")(?![\w@]|\.\w)")
    return [Entity(m.start(), m.end(), "PERSON", m.group(), True, "chat") for m in pattern.finditer(text)]


CAPITALISED_AFTER_ARTICLE = re.compile(rf"(?:[^\S\n]+{NAME_TOKEN}){{1,3}}")
COMPASS_REGION = re.compile(r"\b(?:Noord|Zuid|Oost|West|Midden|Centraal|Noordoost|Noordwest|Zuidoost|Zuidwest)-"
                            r"(?!Nederland\b|Europa\b|Afrika\b|Azië\b|Amerika\b)[A-Z][a-zà-ÿ]+\b(?!-)")
LOWER_TITLE_INITIALS = re.compile(r"\b(?:mw|mevr|dhr|fam)\.[^\S\n]+(?P<initials>[a-z]\.(?:[a-z]\.)*)(?![\w])")
LOWER_INITIAL_SURNAME = re.compile(
    r"(?<![\w.])[a-z]\.(?P<particle>v\.(?:d\.)?)?(?:[a-z]\.)*(?(particle)[^\S\n]*|[^\S\n]+)"
    r"(?:(?:van|de|der|den|ter|ten|te|'t)[^\S\n]+)*(?P<surname>[a-z]{3,})\b(?!\.\w)")


def _initials_entities(text: str, lists: Lists) -> list[Entity]:
    """People named by initials: in minutes' action points, after a title in case notes, a
    surname cut to its initial after a first name, a note's signature; and speakers after a
    transcript's timestamps."""
    found = []

    def add(start: int, end: int, source: str = "initials") -> None:
        found.append(Entity(start, end, "PERSON", text[start:end], True, source))

    def initials(token: str) -> bool:
        key = fold(token).replace(".", "")
        return sum(c.isupper() for c in token) >= 2 and key not in lists.allow and key not in ABBREVIATIONS
    if "ctie" in text:
        for m in ACTION_INITIALS.finditer(text):
            for token in re.finditer(r"[A-Za-z]+", m.group("names")):
                if initials(token.group()):
                    add(m.start("names") + token.start(), m.start("names") + token.end())
        for m in ACTION_LIST.finditer(text):
            for item in ACTION_ITEM_INITIALS.finditer(m.group("items")):
                start = m.start("items") + item.start("initials")    # "- JP/SV: ...", "- A.v.d.M.: ..."
                for part in re.finditer(r"[^/\s]+", item.group("initials")):
                    if initials(part.group()):
                        add(start + part.start(), start + part.end())
    for m in INITIALS_TOKEN.finditer(text):
        before = _word_before(text, m.start())
        if before and before.group("word").lower() in HONORIFICS:
            add(m.start(), m.end())    # "mw. K.A.", "juf B."
        elif len(m.group()) >= 4 and initials(m.group()):
            add(m.start(), m.end())    # "A.M. uit Somalië stopte": initials alone; not "N.B.", "B.V."
        elif len(m.group()) == 2 and before and not before.group("dot"):   # "Nadia H.", "Bram K.": a first
            key = fold(before.group("word"))                                 # name and the surname's initial
            if before.group()[0].isupper() and key in lists.first_names and key not in lists.ambiguous_names:
                add(before.start(), m.end())
    for m in NOTE_SIGNATURE.finditer(text) if "/" in text else ():
        if initials(m.group("initials")):
            add(m.start("initials"), m.end("initials"))
    for m in CLOSING_INITIALS.finditer(text):
        if initials(m.group("initials")):
            add(m.start("initials"), m.end("initials"))
    for m in INITIALS_PARTICLE_INITIAL.finditer(text) if ". " in text else ():
        add(m.start(), m.end())
    for m in LOWER_TITLE_INITIALS.finditer(text) if ". " in text else ():
        add(m.start("initials"), m.end("initials"), "lower_initials")     # notes: "bij mw. k. (fam. ...)"
    for m in LOWER_INITIAL_SURNAME.finditer(text) if "." in text else ():
        surname = m.group("surname")
        if fold(surname) in lists.surnames and (m.group("particle") or _zipf(surname, "nl") < 4.5):
            add(m.start(), m.end(), "lower_initials")    # notes in lower case: "(s. mulder)", "met j. van dam"
    for m in COMMENT_AUTHOR.finditer(text) if "[" in text else ():
        if initials(m.group("initials")):
            add(m.start("initials"), m.end("initials"))
    if "(" in text:
        found += _bracketed_short_names(text, lists, initials)
    if ":" in text:
        for m in TIMESTAMP_SPEAKER.finditer(text):
            # Without a colon the line may be a chapter of show notes or minutes ("38:55 Rients over
            # de intake"): only its leading capitalised words can be a speaker's name.
            end = m.end("name") if m.group("colon") or _all_name_words(m.group("name"), lists) else (
                m.start("name") + len(CAPITALISED_RUN.match(m.group("name")).group().rstrip()))
            if end > m.start("name") and _transcript_speaker(text[m.start("name"):end], lists):
                add(m.start("name"), end, "transcript")
    return found


def _bracketed_short_names(text: str, lists: Lists, initials) -> list[Entity]:
    """Initials in brackets after a person's name or initial, and a nickname before a first name
    in brackets (the name itself is found by the other rules; the short form is propagated)."""
    found = []
    for m in BRACKETED_INITIALS.finditer(text):
        # The short form's letters are the initials of the words before it: "Ria Kramer (RK)",
        # "J.P. de W. (JdW)"; not "Ineke Swinkels (HR)", "Werkgeversservicepunt (WSP)".
        words = re.findall(r"[^\W\d_]+", text[text.rfind("\n", 0, m.start()) + 1:m.start("initials")])[-6:]
        if initials(m.group("initials")) and _abbreviates(m.group("initials"), words) and not _abbreviates_a_title(
                m.group("initials"), words, lists):
            found.append(Entity(m.start("initials"), m.end("initials"), "PERSON", m.group("initials"), True, "initials"))
    for m in NICKNAME_THEN_NAME.finditer(text):
        nickname = m.group("nickname")
        short_for = m.group("name").lower().startswith(nickname.lower())      # "Mo (Mohammed)"
        if (fold(m.group("name")) in lists.first_names and fold(nickname) not in lists.allow
                and (short_for or nickname.lower() not in lists.dutch_words)):
            found.append(Entity(m.start("nickname"), m.end("nickname"), "PERSON", nickname, True, "initials"))
    return found


def _abbreviates(short: str, words: list[str]) -> bool:
    """The letters of `short`, in order, are first letters of `words`, the last of them the last word's."""
    firsts = iter(w[0].lower() for w in words)
    return bool(words) and short[-1].lower() == words[-1][0].lower() and all(c.lower() in firsts for c in short)


def _abbreviates_a_title(short: str, words: list[str], lists: Lists) -> bool:
    """The short form abbreviates Dutch words, none of them a name: the acronym of a law or a
    national body, "Wet Inburgering Nieuwkomers (WIN)", "Wetenschappelijke Raad voor het
    Regeringsbeleid (WRR)"; not a person's "Ria Kramer (RK)", nor a local body's "Sociale
    Werkvoorziening Zeist (SWZ)", which names its place."""
    first = next((i for i, w in enumerate(words) if w[0].lower() == short[0].lower()), None)
    if first is None:
        return False
    dutch = lists.dutch_words.__contains__
    for word in words[first:]:
        lower = word.lower()
        if len(word) < 2 or fold(word) in lists.first_names or (fold(word),) in lists.places:
            return False
        if not (lower in TUSSENVOEGSELS or dutch(lower) or fold(word) in lists.allow or _inflected_dutch(lower, lists)
                or _dutch_stem(lower, dutch)):
            return False
    return True


def _all_name_words(name: str, lists: Lists) -> bool:
    """Every word capitalised, a particle or a listed name part ("marieke de jong" in a transcript
    typed in lower case)."""
    return all(w[0].isupper() or w.lower() in TUSSENVOEGSELS or fold(w) in lists.first_names or fold(w) in lists.surnames
               for w in WORD.findall(name))


def _transcript_speaker(name: str, lists: Lists) -> bool:
    """The words after a transcript's timestamp name a person, not a role ("Interviewer", "tolk")."""
    words = [w for w in WORD.findall(name) if w.lower() not in TUSSENVOEGSELS]
    if not words or len(words) > 4 or all(fold(w) in lists.allow for w in words):
        return False
    return any((fold(w) in lists.first_names or fold(w) in lists.surnames or w.lower() not in lists.dutch_words)
               and fold(w) not in lists.allow for w in words)


def _lower_case_organisation(text: str, m: re.Match, lists: Lists) -> Entity | None:
    """A firm or school typed in lower case after its kind (LOWER_ORG), weak: named by a word that
    is Dutch by no list ("taalhuis kempenland"), or by an article and a noun ("taalpunt de wissel":
    then the kind stays, as with capitals) where the kind follows no article or possessive ("omdat
    de school de kinderen ...") and the noun is no plural or inflected adjective."""
    name = m.group("name")
    if fold(name) in lists.allow:
        return None
    before = text[max(0, m.start() - 12):m.start()].split()[-1:]
    after_determiner = bool(before) and before[0].lower() in DETERMINERS       # "omdat de school de kinderen ..."
    if m.group("van"):   # "kwekerij van den brink": a family firm; not "het buurthuis van de wijk"
        named = fold(name) in lists.surnames or not (name in lists.dutch_words or _dutch_anywhere(name, lists))
        if named and not after_determiner and _zipf(name, "nl") < 4.0:
            return Entity(m.start(), m.end(), "ORGANISATION", m.group(), False, "weak")
        return None
    if not m.group("article"):
        if name in lists.dutch_words or _dutch_anywhere(name, lists) or _dutch_stem(name, lists.dutch_words.__contains__):
            return None
        return Entity(m.start(), m.end(), "ORGANISATION", m.group(), False, "weak")
    dutch = lists.dutch_words
    plural = name.endswith(("en", "s")) and (name[:-2] in dutch or name[:-1] in dutch or name[:-3] in dutch)
    adjective = name.endswith("e") and name[:-1] in dutch
    if after_determiner or plural or adjective:
        return None
    return Entity(m.start("article"), m.end(), "ORGANISATION", text[m.start("article"):m.end()], False, "weak")


def _speaker_name_span(label: str, lists: Lists) -> tuple[int, int] | None:
    """The part of a speaker label that names a person ("Directeur Gert-Jan ter Horst" -> the name).

    Roles ("Tolk", "Deelnemer 2", "Klantmanager in de focusgroep") and pseudonyms are no names.
    """
    if PSEUDONYM.fullmatch(label) or re.search(r"\d", label):
        return None
    words = list(WORD.finditer(label))
    while words and (fold(words[0].group()) in lists.allow or TITLE_WORD.fullmatch(words[0].group())):
        words.pop(0)
    if not words or any(not (w.group()[0].isupper() or w.group().lower() in TUSSENVOEGSELS) for w in words):
        return None
    keys = [fold(w.group()) for w in words]
    if len(words) > 1 and words[0].group().lower() in lists.dutch_words and (
            keys[0] not in lists.first_names or keys[0] in lists.ambiguous_names):
        return None  # "Uit het DUO-overzicht:" is a sentence, not a name
    if len(words) == 1:
        word, key = words[0].group(), keys[0]
        if key not in lists.first_names and key not in lists.surnames and (_common_noun(word, lists) or word.isupper()):
            # "Dossier:", "Mail:", a form's fields: "Klantnummer:", "V-nummer:"; in capitals a
            # role or a note's marker ("INTERVIEWER:", "TODO:"), unless a listed name ("AHMED:")
            return None
        return words[0].start(), words[0].end()
    listed = any((k in lists.first_names or k in lists.surnames) and k not in lists.ambiguous_names for k in keys)
    unknown = any(w.group().lower() not in lists.dutch_words and k not in lists.allow for w, k in zip(words, keys))
    if not (listed or unknown):
        return None
    return words[0].start(), words[-1].end()


MAIL_HEADERS = {"from", "sent", "to", "cc", "bcc", "subject", "date", "van", "aan", "verzonden", "onderwerp", "datum", "bijlage", "bijlagen"}
# English month and day names are first names too ("June", "May"); next to a number they date something.
ENGLISH_DATE_WORDS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                      "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


def _common_noun(word: str, lists: Lists) -> bool:
    """A Dutch word, a compound of two ("klant|nummer", "portefeuille|houder"), a letter,
    acronym or common noun joined to one ("V-nummer", "KvK-nummer", "Participatiewet-uitkering"),
    or a word of Dutch text below our lists' frequency cut-off ("Kortom:", "Spoed:", a report's
    labels), or a numbered field ("Clientnummer:")."""
    lower, dutch = word.lower(), lists.dutch_words.__contains__
    head, _, tail = lower.rpartition("-")
    return dutch(lower) or _dutch_stem(lower, dutch) or _three_words(lower, dutch) or (bool(head) and dutch(tail) and (
        len(head) <= 3 or _common_noun(head, lists))) or (
        _zipf(lower, "nl") >= 3.5 and _zipf(lower, "nl") > _zipf(lower, "en")) or lower.endswith(("nummer", "nr"))


def _trim_name(text: str, start: int, end: int, lists: Lists) -> tuple[int, int]:
    """Drop trailing words of a context match that are ordinary Dutch words ("Ahmad Zei" stays)."""
    tokens = [(m.start() + start, m.end() + start, m.group()) for m in WORD.finditer(text[start:end])]
    while tokens and (tokens[-1][2].lower() in TUSSENVOEGSELS or (
            len(tokens) > 1 and tokens[-1][2].lower() in lists.dutch_words
            # "P. van 't Zand", "J. de Boer": a surname follows; "Benhaddou van Centrum ...": a firm may follow "van"
            and tokens[-2][2].lower() not in SURNAME_PARTICLES
            and fold(tokens[-1][2]) not in lists.surnames and fold(tokens[-1][2]) not in lists.first_names)):
        tokens.pop()
    if not tokens or fold(text[tokens[0][0]:tokens[-1][1]]) in lists.allow:
        return start, start
    return tokens[0][0], tokens[-1][1]


# "Ons Huis", "Onze Taalschool": names that open with a capitalised possessive.
OWN_WORD_BEFORE = re.compile(r"\b(?:Ons|Onze)[^\S\n]+$")


def _with_own_word(text: str, start: int) -> int:
    """"bij Ons Taalhuis Parkstad": a capitalised "Ons" inside a sentence is part of the name; at a
    sentence's start it is the possessive ("Onze Taalschool De Brug ...")."""
    own = OWN_WORD_BEFORE.search(text, max(0, start - 8), start)
    if own and text[start].isupper() and not _sentence_start(text, own.start()):
        return own.start()
    return start


def _trim_org(text: str, start: int, end: int, lists: Lists) -> int:
    """End an organisation name before a trailing common word that starts a new sentence part."""
    tokens = list(WORD.finditer(text, start, end))
    while len(tokens) > 2 and tokens[-1].group().lower() in lists.dutch_words and tokens[-1].group()[0].islower():
        tokens.pop()
    # "Taalschool Bolder op B1", "Stichting Thuis en COA": an allow-listed term after a joining
    # word is the sentence going on, not part of the name.
    while len(tokens) > 3 and tokens[-2].group().lower() in ORG_JOINERS and (
            fold(tokens[-1].group()) in lists.allow or _acronym_compound(tokens[-1].group(), lists.dutch_words.__contains__)):
        del tokens[-2:]
        while len(tokens) > 2 and tokens[-1].group().lower() in ORG_JOINERS:
            tokens.pop()   # "... Zuidwest-Drenthe en het Werkgeversservicepunt": the "en" goes too
    return tokens[-1].end() if tokens else end


def _skip_common_words(text: str, start: int, end: int, lists: Lists) -> int:
    """'Bij Van Dijk B.V.': start the organisation after a leading sentence word such as 'Bij'.

    The last word before the legal form always stays: "Glans B.V." is a name even though
    "glans" is a Dutch word.
    """
    words = [m for m in WORD.finditer(text, start, end) if m.group() not in ("B", "V", "N", "O", "F", "Zn")]
    for m in words[:-1]:
        word = m.group()
        if word.lower() in TUSSENVOEGSELS:
            return m.start()
        if word.lower() in lists.dutch_words and fold(word) not in lists.surnames:
            continue
        return m.start()
    return words[-1].start() if words else start


def _list_entities(text: str, lists: Lists) -> list[Entity]:
    """Name-list and place-list hits over word tokens, extended over adjacent name parts."""
    tokens = [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]
    folded = [fold(t[2]) for t in tokens]
    found = []
    i = 0
    while i < len(tokens):
        place_len = _match_place(folded, i, lists)
        if place_len and _place_ok(text, tokens, i, place_len, lists):
            start, end = tokens[i][0], tokens[i + place_len - 1][1]
            found.append(Entity(start, end, "MUNICIPALITY_OR_TOWN", text[start:end], True, "places"))
            i += place_len
            continue
        if _is_listed_name(text, tokens, folded, i, lists):
            j = i + 1
            while j < len(tokens) and _continues_name(text, tokens, folded, j, lists):
                j += 1
            while j - 1 > i and tokens[j - 1][2].lower() in TUSSENVOEGSELS:
                j -= 1
            start, end = tokens[i][0], tokens[j - 1][1]
            found.append(Entity(start, end, "PERSON", text[start:end], True, "names"))
            i = j
            continue
        i += 1
    return found


def _match_place(folded: list[str], i: int, lists: Lists) -> int:
    longest = lists.place_lengths.get(folded[i], 0)
    for length in range(min(longest, len(folded) - i), 0, -1):
        if tuple(folded[i:i + length]) in lists.places:
            return length
    return 0


CLOSINGS = {"groet"}   # "Groet, Wim": a letter's closing, not the village Groet
POSTCODE_BEFORE = re.compile(r"\b[1-9]\d{3}\s?[A-Z]{2},?[^\S\n]+$")
STREET_BEFORE = re.compile(rf"[a-zà-ÿ](?:{STREET_SUFFIX})[^\S\n]+\d{{1,4}}[a-z]?,[^\S\n]+$", re.IGNORECASE)
PLACE_CONTEXT = {"in", "uit", "naar", "te", "bij", "rond", "gemeente", "gemeenten", "dorp", "dorpen", "stad", "steden",
                 "kern", "kernen", "regio", "omgeving", "azc", "vanuit", "richting", "tot"}


# "de burgemeester van Leiden", "inwoners van Echt": a place, not the surname "van Leiden".
OF_THE_PLACE = {"burgemeester", "wethouder", "wethouders", "gemeente", "gemeenteraad", "raad", "college", "inwoners",
                "bewoners", "centrum", "omgeving", "regio", "buurt", "gemeentehuis", "stadhuis", "noorden", "zuiden",
                "oosten", "westen", "rand", "stad", "dorp"}


def _place_ok(text, tokens, i, length, lists) -> bool:
    first = tokens[i][2]
    previous = tokens[i - 1][2].lower() if i > 0 else ""
    if not first[0].isupper():
        if POSTCODE_BEFORE.search(text, max(0, tokens[i][0] - 12), tokens[i][0]) or \
                STREET_BEFORE.search(text, max(0, tokens[i][0] - 40), tokens[i][0]):
            return True   # "3522 BV utrecht", "kerkstraat 14, putten": the town of an address, typed in lower case
        # "in alphen aan den rijn": a lower-case multi-word place only after a place preposition.
        return length > 1 and previous in PLACE_CONTEXT and first not in ("het", "de", "'t", "een")
    words = tuple(fold(t[2]) for t in tokens[i:i + length])
    if "".join(words) in lists.allow:
        return False
    if length > 1 and words[0] in ("de", "het", "t") and tokens[i + 1][2].islower() and tokens[i + 1][2] in lists.dutch_words:
        return False   # "De groep was klein": an article and a noun in lower case, not the hamlet De Groep
    if length == 1 and _letter_closing(text, tokens[i][0], tokens[i][1], words[0]):
        return False
    if words in lists.ambiguous_places:
        if _sentence_start(text, tokens[i][0]):
            return False
        # Dutch writes adjectives in lower case, so a capitalised one mid-sentence is a place's ("het Gouds").
        return previous in PLACE_CONTEXT or (len(words) == 1 and fold(lists.places[words]) != words[0]) or (
            previous == "van" and i > 1 and tokens[i - 2][2].lower() in OF_THE_PLACE) or (
            ADDRESS_LINE_END.match(text, tokens[i + length - 1][1]) and NAME_COMMA_BEFORE.search(text, max(0, tokens[i][0] - 40), tokens[i][0]))
    return True


# The town that ends an address line, after a name or number and a comma: "OBS De Regenboog, Haren",
# "Kerkstraat 4, Best (NB)".
ADDRESS_LINE_END = re.compile(r"[^\S\n]*(?:\n|$|\()")
NAME_COMMA_BEFORE = re.compile(r"(?:\b[A-ZÀ-Þ][\w'’\-]*|\d\w*),[^\S\n]*$")


def _letter_closing(text: str, start: int, end: int, word: str) -> bool:
    """A letter's closing, not the village Groet: "Groet, Wim" in a sentence's place, or any one
    word and a comma alone on a line ("Groet,\n")."""
    if text[end:end + 1] != "," or not _sentence_start(text, start):
        return False
    alone_on_a_line = (start == 0 or text[start - 1] == "\n") and re.match(r",[^\S\n]*\n", text[end:end + 3])
    return word in CLOSINGS or bool(alone_on_a_line)


# What may stand before a line's first word: a bullet, a clock time or a chat's or transcript's
# stamp ("13.30 Lunch", "38:55 Over de intake", "[05-03-2024 08:55] Graag"), an item's number or letter.
LINE_MARKER = re.compile(r"[^\S\n]*(?:[-–—•*·▪>]|\[?[\d:.\-/]+(?:[^\S\n]+[\d:.\-/]+)*\]?|[a-z]?\d{0,3}[.)])[^\S\n]*")


# A compound's first part whose second it shares with the next word: "Handhavings- en maatregelenverordening".
TRUNCATED_COMPOUND = re.compile(r"-[^\S\n]+(?:en|of|en/of)[^\S\n]+[a-zà-ÿ]")
# The words a law's or a policy paper's title begins with: the capitalised word after it is part of the title.
TITLE_OPENERS = {"Wet", "Regeling", "Besluit", "Verordening", "Nota", "Programma", "Actieplan", "Beleidsplan", "Beleidsregels"}
# A section's number or an article, appendix or chapter before a heading's first word (a report's
# headings and table of contents, also when a PDF's lines run together).
HEADING_NUMBER = re.compile(r"(?:^|\s)(?:\d{1,2}(?:\.\d{1,2})+\.?|\d{1,2}\.|(?:Artikel|Bijlage|Hoofdstuk|Paragraaf|Deel)[^\S\n]+[\dIVX]{1,4}[a-z]?\.?|§[^\S\n]?\d{1,2}(?:\.\d{1,2})*)[^\S\n]+$")


def _sentence_start(text: str, start: int) -> bool:
    """Does a sentence or line begin here?"""
    before = text[max(0, start - 64):start].rstrip(" \"'“‘(«„[")   # a window: this runs per capitalised word
    if not before and start > 64:
        before = text[:start].rstrip(" \"'“‘(«„[")
    return not before or before[-1] in ".!?:\n" or before.endswith("...")


def _after_line_marker(text: str, start: int) -> bool:
    """Does a line's bullet, clock time or stamp stand just before this word (LINE_MARKER)?"""
    line_start = text.rfind("\n", max(0, start - 64), start) + 1
    return (line_start > 0 or start <= 64) and LINE_MARKER.fullmatch(text, line_start, start) is not None


def _is_listed_name(text, tokens, folded, i, lists) -> bool:
    word, key = tokens[i][2], folded[i]
    if len(key) < 3 or key in lists.allow or not (key in lists.first_names or key in lists.surnames):
        return key[-1:] == "s" and word[0].isupper() and _possessive_name(word, key, lists)
    if word[0].isupper():
        if key in lists.ambiguous_names or word.lower() in lists.dutch_words:
            # "Roos" or "Hoop": a name only next to another name part.
            if _sentence_start(text, tokens[i][0]):
                return False
            after_first_name = (i > 0 and text[tokens[i - 1][1]:tokens[i][0]] == " "
                                and folded[i - 1] in lists.first_names and tokens[i - 1][2][0].isupper()
                                and folded[i - 1] not in lists.ambiguous_names)
            return _next_is_name_part(tokens, folded, i, lists, text=text) or after_first_name
        return True
    # Lower-case slip: only as a pair of listed, non-Dutch name tokens ("ahmad hassan").
    return (word.lower() not in lists.dutch_words and key not in lists.ambiguous_names
            and _next_is_name_part(tokens, folded, i, lists, allow_lower=True, text=text))


def _possessive_name(word: str, key: str, lists: Lists) -> bool:
    """"Mohammeds neef", "Tesfayes vrouw": a listed first name with the genitive s, where the name
    is no Dutch word and the word is rare in Dutch ("Frans" is a language too)."""
    stem = key[:-1]
    return (word[0].isupper() and not word[1:2].isupper() and key.endswith("s") and len(stem) >= 3   # not "PIP's"
            and stem in lists.first_names and stem not in lists.allow
            and stem not in lists.ambiguous_names and stem not in lists.dutch_words
            and fold(word) not in lists.allow and _zipf(word.lower(), "nl") < 3.0)


def _next_is_name_part(tokens, folded, i, lists, allow_lower=False, text=None) -> bool:
    if i + 1 >= len(tokens) or tokens[i + 1][0] - tokens[i][1] > 2:
        return False
    if text is not None and not re.fullmatch(r" {1,2}", text[tokens[i][1]:tokens[i + 1][0]]):
        return False
    nxt, key = tokens[i + 1][2], folded[i + 1]
    if not (nxt[0].isupper() or allow_lower):
        return False
    return (key in lists.first_names or key in lists.surnames) and nxt.lower() not in lists.dutch_words


def _continues_name(text, tokens, folded, j, lists) -> bool:
    if not re.fullmatch(r" {1,2}|-", text[tokens[j - 1][1]:tokens[j][0]]):
        return False
    word, key = tokens[j][2], folded[j]
    if word.lower() in TUSSENVOEGSELS:
        return j + 1 < len(tokens) and (tokens[j + 1][2][0].isupper() or tokens[j + 1][2].lower() in TUSSENVOEGSELS)
    if key in lists.allow:
        return False
    if word[0].isupper():
        return key in lists.first_names or key in lists.surnames or word.lower() not in lists.dutch_words
    return (key in lists.first_names or key in lists.surnames) and word.lower() not in lists.dutch_words


ABSTRACT_NOUN_ENDINGS = ("logie", "iatrie", "isme", "iteit", "heid", "schap")
# The heads of job titles: no name or place ends in them.
JOB_HEADS = ("medewerker", "medewerkster", "monteur", "chauffeur", "coördinator", "coordinator", "adviseur",
             "begeleider", "consulent", "docent", "manager", "assistent", "verkoper", "schoonmaker", "operator")
ORG_HEADS = ("school", "college", "centrum", "bedrijf", "instituut", "academie", "vereniging", "praktijk", "kliniek")
PLACE_SUFFIXES = ("wijk", "dorp", "veen", "horst", "hof", "kamp", "oord", "broek", "hoven", "dam", "meer", "burg",
                  "rade", "huizen", "zijl", "haven", "woude", "drecht", "recht", "sloot", "terp", "hout", "bosch")


# Kinds of legal and policy document. Policy text capitalises their titles ("Jeugdwet",
# "Kamerbrief", "Inburgeringsbesluit", "Coalitieakkoord"); a capitalised compound of a Dutch word and
# one of these is such a title, not a name (names of neighbourhoods and organisations end otherwise).
DOCUMENT_HEADS = ("wet", "besluit", "regeling", "brief", "nota", "akkoord", "courant", "blad", "verslag", "rapport", "onderzoek",
                  "stukken", "begroting", "doorlichting", "convenant", "richtlijn", "circulaire", "handreiking", "debat",
                  "verordening", "overeenkomst", "reglement", "beschikking", "vergunning")
# Heads of compounds that name a kind of public body, fund or programme rather than one place or
# firm: "Gemeentefonds", "Evaluatieprogramma", "Mobiliteitsteams", "Participatieloket".
INSTITUTION_HEADS = ("fonds", "programma", "team", "teams", "loket", "plan", "aanpak", "agenda", "monitor", "overleg",
                     "beleid", "traject", "commissie", "uitkering", "subsidie", "budget", "keurmerk", "register",
                     "bijdrage", "route", "pakket",
                     # the activities and analyses that policy titles and headings name ("Schulddienstverlening",
                     # "Budgetbeheer", "Impactanalyse", "Kadernotitie"), seen capitalised in real policy documents
                     "verlening", "beheer", "analyse", "notitie", "ondersteuning", "begeleiding", "voorziening",
                     "voorzieningen", "participatie", "visie", "strategie", "evaluatie", "verkenning", "vergelijking",
                     "beschrijving", "ladder", "opgave", "regie")
TITLE_HEADS = DOCUMENT_HEADS + INSTITUTION_HEADS
LINKING = ("", "s", "e", "en")      # Dutch linking sounds between the parts of a compound
INFLECTIONS = ("e", "en", "s", "er", "st", "ste")   # of Dutch adjectives and nouns: "ruimtelijk|e", "hoog|st"


LOCATIVE = re.compile(r"(?:\b(?:in|uit|naar|vanuit|te|richting|wijk|buurt|dorp|stadsdeel|woonwijk|locatie))\s+$", re.IGNORECASE)
NUMBERED_PART = re.compile(r"\s+(?:\d|[IVX]+\b)")   # "in Bijlage 2", "in Hoofdstuk IV"


def _weak_entities(text: str, lists: Lists, taken: list[Entity]) -> list[Entity]:
    """Capitalised words mid-sentence that are no Dutch word, no allow-listed term, no acronym;
    and names and places typed in lower case where no Dutch word can be meant
    (`_lower_case_identifier`).

    Dutch writes common nouns in lower case, so a capitalised compound mid-sentence ("Merenwijk",
    "Polderlicht") is a name even when its parts are Dutch words, unless it is the title of a law
    or document ("Jeugdwet") or the text writes it in lower case elsewhere; so is a capitalised
    Dutch word right after a place preposition ("in Korte Akkeren", "uit Hoogkerk").
    """
    covered = _coverage(taken)
    common = CommonInText(text)

    def dutch(word: str) -> bool:
        return word in lists.dutch_words or word in common

    found = []
    last_end = -1
    word = ""
    for m in WORD.finditer(text):
        previous, word = word, m.group()
        if m.start() < last_end:
            continue
        if word.islower():
            # Set look-ups first, the most selective one first: this runs for every lower-case word.
            after_locative = word in lists.place_lengths and (previous.lower() in PLACE_PREPOSITIONS or (
                word in lists.municipality_words and _after_a_field_sign(text, m.start())))
            after_title = previous.lower() in HONORIFICS and (
                word in NAME_PARTICLES or word not in lists.dutch_words or _name_though_a_word(word, lists))
            if "-" in word and all(len(p) >= 3 and p in lists.first_names for p in word.split("-")) and (
                    not _covered(covered, m.start(), m.end())):
                found.append(Entity(m.start(), m.end(), "PERSON", word, False, "weak"))   # "jan-willem", "anne-marie"
                last_end = m.end()
                continue
            if after_title or after_locative or (len(word) >= 4 and word in lists.first_names):
                entity = _lower_case_identifier(text, m, lists, after_title, after_locative)
                if entity and not _covered(covered, entity.start, entity.end):
                    found.append(entity)
                    last_end = entity.end
            continue
        if not word[0].isupper() or (len(word) < 3 and word != "De") or word.isupper() or any(c.isdigit() for c in word) or _covered(covered, m.start(), m.end()):
            continue
        if _sentence_start(text, m.start()) or (FIELD_END.match(text, m.end()) and _label_so_far(text, m.start())) or (
                _quoted_word(text, m.start(), m.end()) and (fold(word),) in lists.places and _word_quoted_as_word(word, lists)):
            continue
        place = _capitalised_place_after_preposition(text, m, lists)
        if place:
            found.append(Entity(m.start(), place, "MUNICIPALITY_OR_TOWN", text[m.start():place], False, "weak"))
            last_end = place
            continue
        # After a line's bullet or time "De" opens the line's sentence: "24:10 De Wet inburgering".
        named = CAPITALISED_AFTER_ARTICLE.match(text, m.end()) if word in ("De", "Het") and not _after_line_marker(text, m.start()) else None
        if named and not all(fold(w) in lists.allow for w in WORD.findall(named.group())) and (
                WORD.findall(named.group())[0] not in TITLE_OPENERS):    # "2013 De Wet Inburgering 2013": a title
            # Mid-sentence Dutch writes "de" in lower case: "bij De Kompasroos" is a name (a home, a school).
            found.append(Entity(m.start(), named.end(), "ORGANISATION", text[m.start():named.end()], False, "weak"))
            last_end = named.end()
            continue
        lower = word.lower()
        parts = re.split(r"[-'’]", lower)
        if lower in lists.dutch_words or fold(word) in lists.allow or all(
                p in lists.dutch_words or fold(p) in lists.allow for p in parts if p):
            continue
        if any(fold(p) in lists.allow for p in parts if p) or fold(word[:-1]) in lists.allow:
            continue   # "Syriërs", "DUO-overzicht"
        if any(lower.startswith(a) and _dutch_compound(lower[len(a):], lists.dutch_words.__contains__) for a in lists.allow_prefixes):
            continue   # "Arabischsprekenden": an allow-listed word and an inflected Dutch one
        if any(lower.endswith(a) and _dutch_compound(lower[:-len(a)], lists.dutch_words.__contains__)
               for a in lists.allow_prefixes if len(lower) > len(a) + 2):
            continue   # "Voorinburgering": a Dutch word and an allow-listed one
        if text[m.end():m.end() + 1] == "." and any(a.startswith(lower) for a in lists.allow_prefixes):
            continue   # an abbreviation of an allow-listed word: "Oekr." for "Oekraïens"
        if lower.endswith("nr") and _dutch_stem(lower[:-2], dutch):
            continue   # "Dossiernr.", "Klantnr": a Dutch word and "nummer" shortened
        # The text's own common words last: counting a word's uses is the costly check.
        if _document_title(lower, dutch) or _acronym_compound(word, dutch) or dutch(lower) or all(
                dutch(p) or fold(p) in lists.allow for p in parts if p):
            continue
        if _where_a_term_is_capitalised(text, m, previous, lists) and (
                _dutch_compound_noun(lower, dutch) or _verbal_noun(lower, lists)):
            continue
        if fold(word).endswith(ABSTRACT_NOUN_ENDINGS):
            continue   # "afdeling Neurologie", "het Hindoeïsme": Dutch nouns by their ending, no one's name
        if lower.endswith(JOB_HEADS) and _dutch_stem(lower, dutch):
            continue   # a vacancy's or signature's job: "Productiemedewerker", "Vrachtwagenchauffeur"
        if lower.endswith(ORG_HEADS):   # "De Vlietschool": a school's name, with its article
            start = m.start() - 3 if text[max(0, m.start() - 3):m.start()] == "De " else \
                m.start() - 4 if text[max(0, m.start() - 4):m.start()] == "Het " else m.start()
            found.append(Entity(start, m.end(), "ORGANISATION", text[start:m.end()], False, "weak"))
            continue
        label = "MUNICIPALITY_OR_TOWN" if lower.endswith(PLACE_SUFFIXES) else "PERSON"
        found.append(Entity(m.start(), m.end(), label, word, False, "weak"))
    return found


class CommonInText:
    """Whether a text writes a word in lower case at least twice and at least as often as
    capitalised: a common word ("inburgering" in a text that also says "Monitor Inburgering"),
    however rare in the word lists. A name is not written in lower case, or seldom. Counted per
    word when asked (a few words per text), not for every word."""

    def __init__(self, text: str):
        self.text = text
        self._lowered: str | None = None
        self._counts: dict[str, tuple[int, int]] = {}

    def counts(self, word: str) -> tuple[int, int]:
        """(lower-case uses, capitalised uses) of a lower-case word, as a whole word."""
        if word not in self._counts:
            self._counts[word] = self._count(word)
        return self._counts[word]

    def _count(self, word: str) -> tuple[int, int]:
        # str.find on the lower-cased text, not a regex per word: compiling one cost more than the count.
        if self._lowered is None:
            self._lowered = self.text.lower()
        lowered, text = self._lowered, self.text
        if len(lowered) != len(text):       # lower-casing changed offsets ("İ"): the slow way
            uses = re.findall(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text, re.IGNORECASE)
        else:
            uses, start = [], lowered.find(word)
            while start != -1:
                end = start + len(word)
                if not (start and _word_char(lowered[start - 1])) and not (end < len(lowered) and _word_char(lowered[end])):
                    uses.append(text[start:end])
                start = lowered.find(word, end)
        return sum(1 for u in uses if u.islower()), sum(1 for u in uses if u[:1].isupper())

    def __contains__(self, word: str) -> bool:
        lower, capitalised = self.counts(word)
        return lower >= 2 and lower >= capitalised


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_" or unicodedata.combining(char) > 0


NAME_PARTICLES = TUSSENVOEGSELS - {"in", "op"}   # "juf op kbs ..." is no "juf Op"
HONORIFICS = {"meneer", "mevrouw", "mevr", "mw", "dhr", "heer", "juf", "juffrouw", "dr", "drs", "mr", "dokter", "fam", "familie"}
PLACE_PREPOSITIONS = {"in", "uit", "naar", "vanuit", "bij", "te", "richting", "azc", "gemeente", "gem", "wijk"}


def _after_a_field_sign(text: str, start: int) -> bool:
    """A word that opens a line or follows a dash, bracket, colon, comma or slash: where notes put a
    town on its own ("veldnotitie – terneuzen", "(utrecht)"), not "de duiven", "hij weert"."""
    before = text[max(0, start - 4):start].rstrip(" \t")
    return not before or before[-1] in "\n–-(:,/;"


def _lower_case_identifier(text: str, m: re.Match, lists: Lists, after_title: bool, after_locative: bool) -> Entity | None:
    """Names and places typed in lower case, as in quick notes ("ik heb fatima gebeld", "woont in
    zuidhorn", "mw. de vries"), found on weak evidence (to review). Only where no Dutch word can be
    meant: a listed place after a place preposition, a name after a title, a listed first name that
    is no Dutch word."""
    return ((after_locative and _lower_case_place(text, m, lists))
            or (after_title and _lower_case_name_after_title(text, m, lists))
            or _lower_case_name(text, m, lists))


def _lower_case_place(text: str, m: re.Match, lists: Lists) -> Entity | None:
    """"in zuidhorn", "naar alphen aan den rijn": a listed place of up to three words."""
    words = [m] + _following_words(text, m.end(), 2)
    for length in range(len(words), 0, -1):
        key = tuple(fold(w.group()) for w in words[:length])
        # Our Dutch words, not spaCy's lemma table: it lists "utrecht" and "mohammed" too.
        if key in lists.places and key not in lists.ambiguous_places and not any(
                w.group() in lists.dutch_words or w.group() in COMPASS for w in words[:length] if w.group() not in TUSSENVOEGSELS):
            return Entity(m.start(), words[length - 1].end(), "MUNICIPALITY_OR_TOWN",
                          text[m.start():words[length - 1].end()], False, "weak")
    return None


def _lower_case_name_after_title(text: str, m: re.Match, lists: Lists) -> Entity | None:
    """"mevrouw kok", "meneer van der bos", "meneer pieter visser"; not "mevrouw van de taalschool"."""
    end = m.start()
    for w in [m] + _following_words(text, m.end(), 2):
        end = w.end()
        if w.group() not in TUSSENVOEGSELS:
            break
    if m.group() in ("het", "der"):
        return None     # no surname begins with these: "mevrouw het woord", "meneer der dingen"
    last = text[m.start():end].split()[-1]
    if end != m.end():   # particles, then the surname
        named = fold(last) in lists.surnames or not (
            last in lists.dutch_words or _dutch_anywhere(last, lists) or _dutch_stem(last, lists.dutch_words.__contains__))
    else:
        named = last not in lists.dutch_words or _name_though_a_word(last, lists)
    if not named or fold(last) in lists.allow or len(last) < 3:
        return None
    end = _lower_case_surname_end(text, end, lists) if end == m.end() and fold(m.group()) in lists.first_names else end
    return Entity(m.start(), end, "PERSON", text[m.start():end], False, "weak")


def _lower_case_name(text: str, m: re.Match, lists: Lists) -> Entity | None:
    """"ik heb fatima gebeld", "fatima el amrani": a listed first name that is no Dutch word."""
    if len(m.group()) < 4 or not _lower_case_first_name(m.group(), lists):
        return None
    end = _lower_case_surname_end(text, m.end(), lists)
    return Entity(m.start(), end, "PERSON", text[m.start():end], False, "weak")


def _lower_case_surname_end(text: str, end: int, lists: Lists) -> int:
    """After a first name typed in lower case, the end of its surname if one follows ("fatima el
    amrani"): tussenvoegsels, then a listed surname or a word that is Dutch by no list."""
    following = _following_words(text, end, 3)
    while following and following[0].group() in TUSSENVOEGSELS:
        following.pop(0)
    if following:
        word = following[0].group()
        if word.islower() and len(word) >= 3 and fold(word) not in lists.allow and (
                (word not in lists.dutch_words and (fold(word) in lists.surnames or not _dutch_anywhere(word, lists)))
                or (fold(word) in lists.surnames and _name_though_a_word(word, lists))):
            return following[0].end()
    return end


def _name_though_a_word(word: str, lists: Lists) -> bool:
    """A listed name that is also a Dutch word, but no frequent one and no verb form: after a title
    ("mevrouw kok", "meneer van der bos") or a first name ("marloes bakker") it names a person.
    Not "mevrouw belt" (bellen), "meneer kan", "mevrouw wil"."""
    key = fold(word)
    if not (key in lists.surnames or key in lists.first_names) or _zipf(word, "nl") >= 4.5:
        return False
    verb = word.endswith("t") and (word[:-1] + "en" in lists.dutch_words or word[:-1] + word[-2] + "en" in lists.dutch_words)
    return not verb


def _following_words(text: str, end: int, count: int) -> list[re.Match]:
    """Up to `count` words right after `end`, each one space after the last."""
    found = []
    for nxt in WORD.finditer(text, end):
        if text[end:nxt.start()] != " " or len(found) == count:
            break
        found.append(nxt)
        end = nxt.end()
    return found


COMPASS = {"noorden", "zuiden", "oosten", "westen", "noord", "zuid", "oost", "west"}   # "in het noorden"


def _lower_case_first_name(word: str, lists: Lists) -> bool:
    """A listed first name that is no Dutch or English word: not an ambiguous name ("roos") and not
    `_dutch_anywhere` ("bent" is a first name too), nor frequent in English ("buddy", "hope") or in
    Dutch text ("hout", "houten": our word lists leave out words that are names or places too)."""
    key = fold(word)
    if key not in lists.first_names or key in lists.ambiguous_names or key in lists.allow or _dutch_anywhere(word, lists):
        return False
    return _zipf(word, "en") < 4.0 and _zipf(word, "nl") < 4.0


def _dutch_anywhere(word: str, lists: Lists) -> bool:
    """A Dutch word by any list: the Dutch words (which leave out names and places), spaCy's lemma
    table ("duale", "putten"), or very frequent in Dutch ("bent": wordfreq Zipf 5.8)."""
    return word in lists.dutch_words or word in lists.lemma_words or _zipf(word, "nl") >= 5.0


@functools.lru_cache(maxsize=65536)
def _zipf(word: str, language: str) -> float:
    """wordfreq's frequency (cached: a look-up costs tens of microseconds)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, language)


@functools.lru_cache(maxsize=1)
def _lemma_words() -> frozenset:
    """Every form in spaCy's lemma table, lower-case (built into the cached lists, not per run)."""
    from .nlp import load_lemma_lookup

    lookup = load_lemma_lookup()
    return frozenset(w.lower() for w in lookup) | frozenset(w.lower() for w in lookup.values())


def _document_title(lower: str, dutch) -> bool:
    """A compound of Dutch words ending in a kind of legal or policy document ("kamer|brief",
    "inburgering|s|besluit", "raad|s|informatie|brief"): the title of such a document
    (DOCUMENT_HEADS); or in a kind of public body or fund ("gemeente|fonds", INSTITUTION_HEADS)."""
    for head in TITLE_HEADS:
        if lower.endswith(head) and len(lower) > len(head):
            stem = lower[:-len(head)]
            if _dutch_stem(stem, dutch):
                return True
    return False


def _inflected_dutch(word: str, lists: "Lists") -> bool:
    """An inflected form of a Dutch word, below the word lists' frequency cut-off: "ambulante",
    "regionale" (adjectives in -e), plurals in -en and -s."""
    return any(word.endswith(end) and len(word) - len(end) >= 4 and word[:-len(end)] in lists.dutch_words
               for end in ("e", "en", "s"))


def _where_a_term_is_capitalised(text: str, m: re.Match, previous: str, lists: Lists) -> bool:
    """Where Dutch capitalises a common noun mid-sentence: opening a programme's or list's line
    ("13.30 Paneldiscussie", "- Voortgangsgesprek"), a heading after its number ("4.2.1 Benutting",
    "Bijlage 3 Activeringsladder"), a law's or a paper's title ("Wet Taaleis", "Nota Inburgering"),
    the first part of two compounds written once ("De Handhavings- en maatregelenverordening"), or
    a form's label ("Besluitnummer:"; not a surname, a speaker's)."""
    return (_after_line_marker(text, m.start()) or previous in TITLE_OPENERS
            or TRUNCATED_COMPOUND.match(text, m.end()) is not None
            or HEADING_NUMBER.search(text, max(0, m.start() - 16), m.start()) is not None
            or (text.startswith(":", m.end()) and fold(m.group()) not in lists.surnames))


def _dutch_compound_noun(word: str, dutch) -> bool:
    """A compound of two or three Dutch words ("kosten|vergelijking", "wijk|team|medewerker")."""
    return _dutch_stem(word, dutch) or _three_words(word, dutch)


def _verbal_noun(word: str, lists: Lists) -> bool:
    """A noun made of a Dutch verb with -ing, or a compound ending in one: "benutting" (benutten),
    "activeringsladder" (activeren); the word lists leave many out."""
    head, _, tail = word.partition("ings")
    noun = head + "ing" if tail and (_dutch_compound(tail, lists.dutch_words.__contains__) or tail in lists.dutch_words) else word
    return noun.endswith("ing") and len(noun) >= 7 and (noun[:-3] + "en" in lists.dutch_words or noun[:-3] + "en" in lists.lemma_words)


def _verb_stem(word: str, lemma_words: frozenset) -> bool:
    """The stem of a Dutch verb, its first person present ("leg" of "leggen", "maak" of "maken",
    "gooi" of "gooien"), which spaCy's table leaves out when the form is no other word."""
    if len(word) < 3:
        return False
    forms = [word + "en", word + word[-1] + "en"]
    if word[-2] == word[-3] and word[-2] in "aeou":
        forms.append(word[:-2] + word[-1] + "en")
    return any(form in lemma_words for form in forms)


def _dutch_stem(stem: str, dutch) -> bool:
    """One or two Dutch words, each maybe followed by a linking sound ("huis|vesting|s")."""
    return _dutch_compound(stem, dutch) or any(_dutch_compound(stem[:i], dutch) and _dutch_compound(stem[i:], dutch)
                                               for i in range(3, len(stem) - 2))


def _three_words(stem: str, dutch) -> bool:
    """A compound of three Dutch words ("wijk|team|medewerker", "jeugd|zorg|aanbieder")."""
    return any(_dutch_compound(stem[i:], dutch) and _dutch_stem(stem[:i], dutch) for i in range(6, len(stem) - 2))


def _dutch_compound(stem: str, dutch) -> bool:
    """A Dutch word, maybe followed by a linking sound ("inburgering|s")."""
    return any(stem.endswith(link) and len(stem) - len(link) >= 3 and dutch(stem[:len(stem) - len(link)])
               for link in LINKING)


def _acronym_compound(word: str, dutch) -> bool:
    """An acronym joined to a lower-case Dutch word ("VCA-diploma", "HBO-opleiding"): a common noun,
    as the acronym on its own is (acronyms are not names here)."""
    head, _, tail = word.rpartition("-")
    return bool(re.fullmatch(r"[A-Z]{2,}", head)) and tail.islower() and dutch(tail)


FIELD_END = re.compile(r"(?:[^\S\n]*\([^)\n]{1,12}\))?:")   # the end of a label: "Tolk:", "Zorgpolis (CZ):"


def _label_so_far(text: str, start: int) -> bool:
    """Only capitalised words since the sentence began: the word ends a speaker label ("Directeur
    Taalschool:"), not a sentence ("een gezin in de Kruiskamp: moeder en ...")."""
    sentence = re.split(r"[.!?\n|]", text[max(0, start - 60):start])[-1]   # "... | Zorgpolis (CZ):", a form's field
    return all(w[0].isupper() for w in WORD.findall(sentence))


def _capitalised_place_after_preposition(text: str, m: re.Match, lists: Lists) -> int:
    """The end of a run of capitalised words that follows "in", "uit", "naar" ... mid-sentence and is
    no allow-listed term ("in Nederland") nor a numbered part of a document ("in Bijlage 2"); 0 if none."""
    if not LOCATIVE.search(text, max(0, m.start() - 12), m.start()):
        return 0
    end, words = m.end(), [m.group()]
    for nxt in WORD.finditer(text, m.end()):
        if not re.fullmatch(r" |-", text[end:nxt.start()]) or not nxt.group()[0].isupper() or re.fullmatch(r"[IVX]+", nxt.group()):
            break
        end = nxt.end()
        words.append(nxt.group())
    if len(words) == 1 and words[0] in ("De", "Het"):
        return 0
    if NUMBERED_PART.match(text, end) or fold(" ".join(words)) in lists.allow or fold(text[m.start():end]) in lists.allow:
        return 0
    if any(fold(w) in lists.allow for w in words):
        return 0
    return end


def _forced_entities(text: str, lists: Lists) -> list[Entity]:
    found = []
    for phrase, label in lists.force_remove:
        for m in re.finditer(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", text, re.IGNORECASE):
            found.append(Entity(m.start(), m.end(), label, m.group(), True, "force_remove"))
    return found


def _coverage(entities: list[Entity]) -> list[tuple[int, int]]:
    return sorted((e.start, e.end) for e in entities)


def _covered(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Is [start, end) inside one of the sorted spans? (bisect: texts have thousands of spans)"""
    import bisect

    index = bisect.bisect_right(spans, (start, float("inf"))) - 1
    while index >= 0 and spans[index][0] <= start:
        if end <= spans[index][1]:
            return True
        index -= 1
        if start - spans[index + 1][0] > 200:
            break
    return False


# Text that software writes into every mail or invitation, its places none of the writer's: Outlook's
# time zone ("(UTC+01:00) Amsterdam, Berlijn, Bern, Rome, Stockholm, Wenen"), the city of a Teams
# dial-in number ("+31 20 794 8731,,742118053# Nederland, Amsterdam"), a phone's signature.
MACHINE_TEXT = re.compile(r"\(UTC[+\-−]\d{2}:\d{2}\)[^\n]*|(?<=\d#)[^\S\n]*[^\W\d_][^\n,#]*,[^\S\n]*[^\W\d_][^\n]*|"
                          r"\b(?:Sent from my|Verzonden (?:vanaf|vanuit|met) mijn|Verstuurd (?:vanaf|vanuit|met) mijn)[^\S\n]+[\w ]+")


def _protected_spans(text: str, lists: Lists) -> list[tuple[int, int]]:
    """Allow-listed phrases and machine-written text: the names inside them stay."""
    spans = [(m.start(), m.end()) for m in lists.allow_phrases.finditer(text)] if lists.allow_phrases else []
    if "UTC" in text or "#" in text or "Sent" in text or "erzonden" in text or "erstuurd" in text:
        spans = sorted(spans + [(m.start(), m.end()) for m in MACHINE_TEXT.finditer(text)])
    return spans


def detect_entities(text: str, lists: Lists, use_deduce: bool = True) -> list[Entity]:
    """Every identifier in one (canonical) text, overlaps merged, allow-listed terms dropped."""
    if not text.strip():
        return []
    found = _pattern_entities(text, lists) + _context_entities(text, lists)
    found += [e for e in _list_entities(text, lists) if not (e.source == "places" and _capitalised_by_sentence(e, text, lists))]
    found += _forced_entities(text, lists) + _capitals_entities(text, lists)
    protected = _protected_spans(text, lists)
    if use_deduce:
        ends = [e.start for e in found if e.label == "ORGANISATION"] + [start for start, _ in protected]
        places = {(e.start, e.end) for e in found if e.source == "places"}
        found += [_cut_at(e, ends, text) for e in _deduce_entities(text)
                  if not (_allowed(e, lists) or _allowed_compound_part(e, text, lists) or _capitalised_by_sentence(e, text, lists)
                          or _starts_with_place(e, places, lists)
                          or _year_in_capitals(text, e.start)
                          or (e.label == "ADDRESS" and _allow_listed_street(e.text, lists)))]
    # An allow-listed phrase protects the names and bare street-like words inside it
    # ("Module Arbeidsmarkt en Participatie"), not a full address or a number.
    found = [e for e in found if e.source == "force_remove" or not (
        _allowed(e, lists) or ((e.label in NUMBERED or e.source == "bare_street") and _covered(protected, e.start, e.end)))]
    found += [e for e in _weak_entities(text, lists, found) if not _covered(protected, e.start, e.end)]
    found = [e for e in found if e.end > e.start and not (e.label == "PERSON" and (
        _mail_header_word(e, text) or _report_label(e, text, lists)))]
    tidy = _tidied(merge_entities(found, text), text, lists)
    # merged again: a name that took its first name, and initials, may now touch another detection
    return merge_entities(tidy + _initials_of_people(text, tidy, lists), text)


def _tidied(entities: list[Entity], text: str, lists: Lists) -> list[Entity]:
    """Each detection tidied (_tidy), then extended over what belongs to it."""
    result = []
    for entity in entities:
        entity = _tidy(entity, text, lists)
        if entity is not None and "-\n" in text:
            entity = _with_broken_rest(entity, text, lists)
        if entity is not None:
            entity = _with_word_surname(_with_unlisted_first_name(entity, text, lists), text, lists)
            result.append(_with_compass_part(entity, text))
    return result


HYPHENATED_REST = re.compile(r"(?:-[^\W\d_]+)+")


def _allowed_compound_part(entity: Entity, text: str, lists: Lists) -> bool:
    """deduce's place that is the first part of an allow-listed hyphenated word: "de Noord" of
    "de Noord-Hollandse gemeenten"."""
    rest = HYPHENATED_REST.match(text, entity.end)
    if not rest:
        return False
    words = WORD.findall(entity.text)
    if words and words[0].lower() in DETERMINERS:
        words = words[1:]
    return bool(words) and fold(" ".join(words) + rest.group()) in lists.allow


def _word_before(text: str, start: int) -> re.Match | None:
    """WORD_BEFORE: the word just before `start`, if only spaces on its line (and its dot) follow it."""
    return WORD_BEFORE.search(text, max(0, start - 30), start)


def _with_unlisted_first_name(entity: Entity, text: str, lists: Lists) -> Entity:
    """A first name in no list just before a found surname is the same person's: "Patiënt:
    Zarghuna Noori", "Fareed Ahmadzay" (the rules skip a capitalised word at a sentence or field
    start, where a Dutch word would be capitalised too). Not a Dutch or allow-listed word, nor a title."""
    if entity.label != "PERSON":
        return entity
    before = _word_before(text, entity.start)
    word = before.group("word") if before and not before.group("dot") else ""
    if entity.text.islower() and word.islower() and len(word) >= 3 and fold(word) in lists.first_names and (
            word not in TUSSENVOEGSELS and _zipf(word, "nl") < 5.0):
        # notes in lower case: "wijkteammedewerker tom lemmens", the first name before a found surname
        return Entity(before.start(), entity.end, "PERSON", text[before.start():entity.end], entity.strong, entity.source)
    if len(word) < 3 or not re.fullmatch(r"[A-ZÀ-Þ][a-zà-ÿ'\-]+", word):
        return entity
    lower = word.lower()
    if lower in lists.dutch_words or fold(word) in lists.allow or TITLE_WORD.fullmatch(word) or lower in GREETINGS or (
            _zipf(lower, "nl") >= 3.0 and fold(word) not in lists.first_names) or (fold(word),) in lists.places:
        return entity
    return Entity(before.start(), entity.end, "PERSON", text[before.start():entity.end], entity.strong, entity.source)


# A capitalised word after a first name, then a lower-case word or a sentence's end: "Jobcoach
# Ellen Hoop begeleidt", a surname that is a Dutch word too (not "Ellen Maandag").
WORD_SURNAME_AFTER = re.compile(r"[^\S\n](?P<surname>[A-Z][a-z]{2,})(?=[^\S\n]+[a-z]|[.,;:)]|$)")
CALENDAR_WORDS = {"maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag", "januari", "februari",
                  "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"}


def _with_word_surname(entity: Entity, text: str, lists: Lists) -> Entity:
    """A first name found alone takes a capitalised Dutch word just after it as surname: mid-sentence
    the capital says name (deduce and the lists leave "Hoop" out, it is a word)."""
    key = fold(entity.text)
    if entity.label != "PERSON" or " " in entity.text or key not in lists.first_names:
        return entity
    m = WORD_SURNAME_AFTER.match(text, entity.end)
    word = m.group("surname").lower() if m else ""
    if not m or word not in lists.dutch_words or word in lists.allow or word in CALENDAR_WORDS or (
            word in ENGLISH_DATE_WORDS or re.fullmatch(ORG_KEYWORDS, m.group("surname"))):
        return entity
    return Entity(entity.start, m.end(), "PERSON", text[entity.start:m.end()], entity.strong, entity.source)


# A compass word that ends a name or a place: "Taalwerk Noord", "Wijkteam Zuid", "Amsterdam Oost".
COMPASS_AFTER = re.compile(r"[^\S\n](?:Noord|Zuid|Oost|West|Midden)(?![\w\-])(?![^\S\n]*[A-Z])")


def _with_compass_part(entity: Entity, text: str) -> Entity:
    """A capitalised compass word right after a name or place is its part (Dutch writes "het
    noorden" in lower case); not when more capitals follow ("Noord Nederland" is a region)."""
    m = COMPASS_AFTER.match(text, entity.end) if entity.label in NUMBERED else None
    if not m:
        return entity
    return Entity(entity.start, m.end(), entity.label, text[entity.start:m.end()], entity.strong, entity.source)


# The rest of a word that a scanned letter broke at a line's end: "mevrouw A. van Wa-\ngeningen".
LINE_BREAK_REST = re.compile(r"-\n[^\S\n]*(?P<rest>[a-zà-ÿ]+)(?![\w\-])")


def _with_broken_rest(entity: Entity, text: str, lists: Lists) -> Entity | None:
    """A name or place broken at a line's end goes on with the next line's lower-case rest ("B. de
    Wil-\nde" too); one word that makes a Dutch or allow-listed word so ("Partici-\npatiewet") is no name."""
    m = LINE_BREAK_REST.match(text, entity.end) if entity.label in NUMBERED else None
    if not m:
        return entity
    whole = (WORD.findall(entity.text) or [""])[-1] + m.group("rest")
    if " " not in entity.text.strip() and (whole.lower() in lists.dutch_words or fold(whole) in lists.allow):
        return None
    return Entity(entity.start, m.end(), entity.label, text[entity.start:m.end()], entity.strong, entity.source)


def _mail_header_word(entity: Entity, text: str) -> bool:
    """A forwarded e-mail's header: "Sent:" at a line's start, "6 June 2024" (the names Sent, June)."""
    word = fold(entity.text)
    if word in MAIL_HEADERS:
        return text[entity.end:entity.end + 1] == ":" and (entity.start == 0 or text[entity.start - 1] in "\n>")
    return word in ENGLISH_DATE_WORDS and any(c.isdigit() for c in text[max(0, entity.start - 4):entity.end + 4])


def _report_label(entity: Entity, text: str, lists: Lists) -> bool:
    """A label that opens a line of minutes or a report ("Bron: CBS 2022", "Besluit:"), which
    ingest does not take for a speaker either; not where the word is a first name too ("Kader:"
    may be somebody speaking)."""
    word = fold(entity.text)
    return (word in NOT_SPEAKERS and word not in lists.first_names and text[entity.end:entity.end + 1] == ":"
            and (entity.start == 0 or text[entity.start - 1] in "\n>"))


def _initials_of_people(text: str, entities: list[Entity], lists: Lists) -> list[Entity]:
    """Minutes name the people in their attendance list by initials further on ("Hessel Storm" ...
    "HS meldt dat ...", "Loes van den Heuvel" ... "LvdH: brief aan ..."): the initials of every
    person named in full in the text, where they stand alone in it."""
    forms = set()
    for entity in entities:
        if entity.label != "PERSON":
            continue
        words = [w for w in re.split(r"[\s\-]+", re.sub(r"\([^)]*\)|[.,]", " ", entity.text)) if w]
        names = [w for w in words if w.lower() not in TUSSENVOEGSELS]
        if len(names) < 2 or not all(w[0].isupper() for w in names):
            continue
        forms.add("".join(w[0] for w in names))                                       # "LH"
        forms.add("".join(w[0] if w in names else w[0].lower() for w in words))      # "LvdH"
        forms.add("".join(w[0].upper() for w in words))                                # "LVDH"
    forms = {f for f in forms if len(f) >= 2 and fold(f) not in lists.allow and f.lower() not in lists.dutch_words}
    if not forms:
        return []
    pattern = re.compile(r"(?<![\w.\-])(?:" + "|".join(map(re.escape, sorted(forms, key=len, reverse=True))) + r")(?![\w.\-])")
    return [Entity(m.start(), m.end(), "PERSON", m.group(), True, "initials") for m in pattern.finditer(text)]


GREETINGS = {"dag", "beste", "hoi", "hallo", "hey", "hee", "hi", "goedemorgen", "goedemiddag", "goedenavond", "lieve", "geachte"}


def _tidy(entity: Entity, text: str, lists: Lists) -> Entity | None:
    """Strip titles, roles and ordinary lower-case words from the edges of a name or place."""
    if entity.label not in NUMBERED or entity.source in ("force_remove", "places", "chat", "field"):
        return entity   # exact list matches need no trimming
    if (entity.source == "weak" and entity.text.islower()) or entity.source in ("propagated", "transcript", "lower_initials"):
        # the lower-case rules chose their words ("mevrouw kok", a transcript's "marieke de jong");
        # a propagated form was tidied once
        return entity
    words = list(WORD.finditer(text, entity.start, entity.end))
    capitalised = any(w.group()[0].isupper() for w in words)

    def droppable(word: str, leading: bool) -> bool:
        if entity.label == "ORGANISATION" and not leading and word.lower() in _SUFFIX_KINDS_FOLDED:
            return False   # "de Al-Fatih moskee": the kind after the name belongs to it
        if entity.label != "ORGANISATION" and (fold(word) in lists.allow or (leading and (
                TITLE_WORD.fullmatch(word) or word.lower() in GREETINGS))):
            return True   # "Dag Taras", "Beste Wim": the greeting goes
        if leading and capitalised and word[0].islower() and word.lower() not in TUSSENVOEGSELS \
                and _zipf(word.lower(), "nl") >= 3.5:
            return True   # "U bent Marco Veldkamp": a lower-case word before a capitalised name is no part of it
        return word[0].islower() and word.lower() in lists.dutch_words and (
            word.lower() not in TUSSENVOEGSELS or not leading)
    while words and entity.label != "ORGANISATION":
        if len(words) > 1 and words[0].group().lower() == "de" and words[1].group().lower() == "heer":
            words = words[2:]   # "De heer Van Leeuwen"
        elif (len(words) > 2 or (len(words) == 2 and text.startswith(":", words[1].end()))) and \
                "-" not in words[0].group() and _noun_before_first_name(words[0].group(), words[1].group(), lists):
            # "[Opmerking Miriam Kuipers: ...]", "Zorgverzekering Zilveren Kruis", a chat's speaker "Huismeester Kees:"
            words.pop(0)
        elif droppable(words[0].group(), True) or (len(words) > 1 and _verb_before_a_name(words[0], words[1], text, lists)):
            words.pop(0)
        else:
            break
    while words and droppable(words[-1].group(), False) and not LINE_BREAK_REST.match(text, words[-1].start() - 2):
        words.pop()   # the rest of a word broken at a line's end stays ("Zoel-\nen", _with_broken_rest)
    if entity.label == "PERSON":
        words = _before_a_recipient(_before_a_body(words, lists), lists)
    if not words:
        return None
    start = min(words[0].start(), entity.start) if text[entity.start].isdigit() else words[0].start()
    end = words[-1].end()
    if end < entity.end and text[end:entity.end].strip(" .,;:") == "":
        # the dot ends an organisation's "B.V." or an initial ("Nadia H.", "mw. K.A."), not a sentence
        initial = len(words[-1].group()) == 1 and words[-1].group().isupper()
        end = entity.end if re.match(r"\.", text[end:entity.end]) and (entity.label == "ORGANISATION" or initial) else end
    founded = CLUB_YEAR.match(text, end) if entity.label == "ORGANISATION" else None
    end = founded.end() if founded and founded.end() <= entity.end else end
    if text[end:end + 1] == ")" and end < entity.end and text.count("(", start, end) > text.count(")", start, end):
        end += 1    # a bracket the span opened: "Berg, van den, J. (Joost)"
    return Entity(start, end, entity.label, text[start:end], entity.strong, entity.source)


# The Dutch words a street's name begins with before its own name: adjectives and titles
# ("Oude Molenweg", "Eerste Helmersstraat", "Burgemeester Visserstraat", "Koningin Julianalaan").
STREET_NAME_WORDS = {
    "oude", "nieuwe", "korte", "lange", "hoge", "lage", "grote", "kleine", "brede", "smalle", "kromme", "verlengde",
    "achter", "voor", "binnen", "buiten", "boven", "beneden", "noord", "zuid", "oost", "west", "noorder", "zuider",
    "ooster", "wester", "eerste", "tweede", "derde", "vierde", "vijfde", "heilige", "sint", "onze", "lieve", "vrouwe",
    "koning", "koningin", "prins", "prinses", "graaf", "gravin", "hertog", "burgemeester", "dokter", "pastoor",
    "kapelaan", "dominee", "meester", "generaal", "kolonel", "kapitein", "luitenant", "admiraal", "professor",
    "president", "pater", "broeder", "zuster", "kardinaal", "paus", "bisschop", "baron", "jonkheer", "ridder"}


SPACES = re.compile(r"[^\S\n]+")


def _street_only(entity: Entity, lists: Lists | None) -> Entity:
    """An address without the Dutch noun before it: "Huisbezoek Lindenstraat 8b" (_noun_before_a_street)."""
    first = WORD.match(entity.text)
    if entity.label != "ADDRESS" or lists is None or not first or not _noun_before_a_street(first.group(), lists):
        return entity
    space = SPACES.match(entity.text, first.end())
    if not space:
        return entity
    return Entity(entity.start + space.end(), entity.end, entity.label, entity.text[space.end():], entity.strong, entity.source)


def _noun_before_a_street(word: str, lists: Lists) -> bool:
    """A Dutch noun before a street and its number, no part of the street's name: "Huisbezoek
    Lindenstraat 8b" (a street's name begins with an adjective, a title or a name, STREET_NAME_WORDS)."""
    lower = word.lower()
    return (len(word) >= 4 and word[0].isupper() and lower in lists.dutch_words and lower not in STREET_NAME_WORDS
            and not lower.endswith(("e", "se", "sche")) and fold(word) not in lists.surnames
            and fold(word) not in lists.first_names)


def _verb_before_a_name(word: re.Match, name: re.Match, text: str, lists: Lists) -> bool:
    """A frequent Dutch word that opens a sentence before a first name: an imperative in a note or
    memo ("Bel Piet morgen", "Vraag Anna om het PIP"), not part of the name."""
    lower = word.group().lower()
    return (len(lower) >= 3 and not text.startswith(".", word.end()) and _sentence_start(text, word.start())
            and lower in lists.dutch_words and lower not in TUSSENVOEGSELS
            and fold(word.group()) not in lists.first_names and fold(name.group()) in lists.first_names
            and _zipf(lower, "nl") >= 4.0)


def _before_a_body(words: list[re.Match], lists: Lists) -> list[re.Match]:
    """A name ends before "van" when what follows is a body, not a surname: "Anouk Bakker van
    Ambulante Dienst Cluster 4" (a common noun that is no surname after it), not "Jan van Dijk"."""
    for i, word in enumerate(words[1:-1], start=1):
        if word.group() == "van":
            after = [w.group() for w in words[i + 1:] if w.group()[0].isupper()]
            if len(after) >= 2 and any(len(w) > 3 and w.lower() in lists.dutch_words
                                       and fold(w) not in lists.surnames and fold(w) not in lists.first_names for w in after):
                return words[:i]     # a surname after "van" is one word ("P. van 't Zand"), a body's name more
    return words


# Surname particles that are also prepositions ("Aan de Stegge", "Op den Kamp"): deduce reads
# "Jansen aan de Minister" as one name.
PREPOSITION_PARTICLES = {"aan", "bij", "uit", "in", "op"}
ARTICLE_PARTICLES = {"de", "den", "het", "'t", "t"}


def _before_a_recipient(words: list[re.Match], lists: Lists) -> list[re.Match]:
    """A name ends before "aan de" (or "bij de", "uit de", "op de", ...) when a Dutch word follows:
    "Vragen van het lid Jansen aan de Minister", not "Wendy Op den Kamp". "aan", "bij" and "uit"
    begin few surnames, so any Dutch word ends the name there; after "in" and "op", which begin
    many ("In 't Veld"), only a word that is no listed surname does."""
    for i in range(1, len(words) - 2):
        particle, article, after = (w.group() for w in words[i:i + 3])
        if particle.lower() in PREPOSITION_PARTICLES and article.lower() in ARTICLE_PARTICLES \
                and after.lower() in lists.dutch_words and (
                particle.lower() not in TUSSENVOEGSELS or fold(after) not in lists.surnames):
            folded = tuple(fold(w.group()) for w in words)
            if any(folded[j:] in lists.places for j in range(len(folded) - 3)):
                return words    # "van Horst aan de Maas": the place, which merging may have joined to a name
            return words[:i]
    return words


def _noun_before_first_name(word: str, following: str, lists: Lists) -> bool:
    """A capitalised Dutch noun that is no name, before a first name (and a surname): a label, not
    part of the name. Not before a first name alone: "Advocatenkantoor Haan & Terpstra" is a firm's name."""
    noun = word.lower() in lists.dutch_words or (      # a compound too ("Klachtbehandelaar Petra Woudstra"),
        _common_noun(word, lists) and following.lower() not in TUSSENVOEGSELS)   # not "Onderzoekslab Van Rijn & Mulder"
    return (len(word) > 3 and word[0].isupper() and noun and fold(word) not in lists.first_names
            and fold(word) not in lists.surnames and fold(following) in lists.first_names)


def _cut_at(entity: Entity, starts: list[int], text: str) -> Entity:
    """deduce reads "Wouter de Groot van Schoonmaakbedrijf Glans" and "Marieke Koning van het
    Sociaal Wijkteam" as one name: end it where a firm or an allow-listed phrase starts."""
    if entity.label != "PERSON":
        return entity
    for start in starts:
        if entity.start < start < entity.end:
            words = list(WORD.finditer(text, entity.start, start))
            while words and words[-1].group().lower() in TUSSENVOEGSELS:
                words.pop()
            end = words[-1].end() if words else entity.start
            return Entity(entity.start, end, entity.label, text[entity.start:end], entity.strong, entity.source)
    return entity


# Dutch adverbs that open a sentence ("Pas daar durfde ze ...", "Toch ging het goed"); some are
# surnames too ("Pas"), which deduce then finds.
SENTENCE_ADVERBS = {"pas", "toch", "wel", "ook", "nog", "net", "zo", "dus", "dan", "nu", "eerst", "soms", "vaak",
                    "juist", "zelfs", "gewoon", "even", "meteen", "straks", "vroeger", "later", "daarna", "alleen",
                    # the adverbs that link a sentence to the one before, in reports and letters ("Immers, ...")
                    "immers", "echter", "bovendien", "daarnaast", "tevens", "verder", "daarom", "vervolgens",
                    "tenslotte", "uiteraard", "kortom", "enerzijds", "anderzijds", "evenwel", "derhalve", "inmiddels"}
ADVERB_COMMA = re.compile(r"(?P<word>),")


# The subject after a verb that opens a question or a request: "Ken je ...", "Leg jij ...".
SUBJECT_PRONOUNS = {"je", "jij", "u", "ik", "we", "wij", "ze", "zij", "hij", "jullie"}
# What a report says a person did, in the third person singular: "Bos geeft aan", "Koning zei".
REPORTING_VERBS = {"zegt", "zei", "geeft", "gaf", "vertelt", "vertelde", "meldt", "meldde", "vraagt", "vroeg", "licht",
                   "lichtte", "stelt", "stelde", "benadrukt", "benadrukte", "antwoordt", "antwoordde", "reageert",
                   "reageerde", "merkt", "merkte", "vult", "vulde", "belt", "belde", "mailt", "mailde", "schrijft",
                   "schreef", "noemt", "noemde", "denkt", "dacht", "vindt", "vond", "heeft", "had", "was", "wil",
                   "wilde", "kan", "kon", "moet", "moest", "werkt", "werkte", "woont", "woonde", "komt", "kwam"}
OPENING_QUOTE = re.compile(r"[\s(][\"'“‘„«]$")
NEXT_WORD = re.compile(r"[^\S\n]+(?P<word>[a-zà-ÿ]+)")
SENTENCE_END = re.compile(r"(?P<word>)[.!?](?:\s|$)")


def _capitalised_by_sentence(entity: Entity, text: str, lists: Lists) -> bool:
    """A one-word name or village found at a sentence's start, where Dutch capitalises any word,
    and followed by a lower-case word: a sentence adverb ("Pas na drie maanden"), a verb before
    its subject ("Ken je ...", "Leg jij ..."), or a frequent Dutch word ("Mooi doel", "Niks doen",
    "Jongens die") that the text never capitalises mid-sentence, where it would be a name
    ("Jan Koning", "mevrouw Koning"). Not before a verb that reports what a person did ("Koning
    zei"); a listed first name needs the verb's subject after it; a municipality stays a place."""
    word = entity.text
    if entity.label not in ("PERSON", "MUNICIPALITY_OR_TOWN") or not WORD.fullmatch(word) or not word[0].isupper():
        return False
    if _quoted_word(text, entity.start, entity.end) and entity.label == "MUNICIPALITY_OR_TOWN":
        return _word_quoted_as_word(word, lists)    # a surname stays a name: "we noemen hem 'Smit'"
    lower = word.lower()
    after = NEXT_WORD.match(text, entity.end) or SENTENCE_END.match(text, entity.end) or (   # "Mooi doel", "Mooi."
        ADVERB_COMMA.match(text, entity.end) if lower in SENTENCE_ADVERBS else None)               # "Immers, ..."
    if not after or not _opens_sentence(text, entity.start):
        return False
    if lower in SENTENCE_ADVERBS:
        return True
    if after.group("word") in SUBJECT_PRONOUNS and _dutch_anywhere(lower, lists):
        return True
    key = fold(word)
    if key in lists.first_names or key in _municipality_keys() or _zipf(lower, "nl") < 4.5 or (
            after.group("word") in REPORTING_VERBS):
        return False
    return all(_opens_sentence(text, m.start()) for m in re.finditer(rf"\b{re.escape(word)}\b", text))


QUOTES = {"'": "'", "‘": "’", "“": "”", '"': '"', "„": "”", "«": "»"}


def _quoted_word(text: str, start: int, end: int) -> bool:
    """Is the text from start to end alone between quotation marks?"""
    return start > 0 and end < len(text) and QUOTES.get(text[start - 1]) == text[end]


def _word_quoted_as_word(word: str, lists: Lists) -> bool:
    """A place's name alone in quotes that is a Dutch word: "zegt 'Kamp' voor het AZC" (by
    its frequency too: the word lists leave out words that are places); not a first name or a
    municipality."""
    lower = word.lower()
    return (_dutch_anywhere(lower, lists) or _zipf(lower, "nl") >= 4.5) and fold(word) not in lists.first_names and (
        fold(word) not in _municipality_keys())


def _opens_sentence(text: str, start: int) -> bool:
    """A sentence or line begins here, or a quotation: "zegt ze, 'Mooi werk, maar ...'"."""
    return _sentence_start(text, start) or OPENING_QUOTE.search(text, max(0, start - 2), start) is not None


@functools.lru_cache(maxsize=1)
def _municipality_keys() -> frozenset:
    return frozenset(fold(n) for n in _municipality_names())


def _starts_with_place(entity: Entity, places: set[tuple[int, int]], lists: Lists) -> bool:
    """deduce reads "(Volgens) Den Haag de Wet inburgering" as the name "Den Haag de Wet", and
    "Gemeente Hof van Twente" as a name too: a person's name does not open with a listed place that
    is no first name, after Dutch words at most. The place stays found by the list."""
    if entity.label != "PERSON":
        return False
    for start, end in places:
        if entity.start <= start and end <= entity.end and fold(entity.text[start - entity.start:end - entity.start]) not in lists.first_names:
            before = WORD.findall(entity.text[:start - entity.start])
            # A place that ends the name may be a surname after a first name: "Joost van Ommeren".
            surname = end == entity.end and any(fold(w) in lists.first_names or w.lower() in TUSSENVOEGSELS for w in before)
            if all(w.lower() in lists.dutch_words for w in before) and not surname:
                return True
    return False


def _policy_term(word: str, lists: Lists) -> bool:
    """An allow-listed word that is no province or region: "Inburgering", "COA"."""
    return fold(word) in lists.allow and fold(word) not in _allowed_regions()


def _allowed(entity: Entity, lists: Lists) -> bool:
    if entity.label not in ("PERSON", "MUNICIPALITY_OR_TOWN", "ORGANISATION"):
        return False
    key = fold(entity.text)
    if key in lists.allow:
        return True
    words = WORD.findall(entity.text)
    if entity.source == "deduce" and len(words) == 1 and words[0].lower() in lists.dutch_words and _is_plain_word(words[0], lists):
        return True
    if entity.source == "deduce" and entity.text.islower() and all(w in lists.dutch_words for w in words):
        return True   # "het noorden"
    if bool(words) and all(fold(w) in lists.allow or w.lower() in TUSSENVOEGSELS for w in words):
        return not _local_office(entity, words)
    if entity.label == "PERSON" and entity.source == "deduce" and any(
            w in TITLE_OPENERS and i + 1 < len(words) for i, w in enumerate(words)):
        return True   # deduce's name with a law's or a paper's title in it: "BUS-N Wet Taaleis", "Nota van Uitgangspunten"
    # "Stuurgroep Inburgering Zuidwest-Drenthe": deduce's name of Dutch words and allow-listed terms
    allowed = [fold(w) in lists.allow for w in words]
    return (entity.source == "deduce" and any(_policy_term(w, lists) for w in words)
            and not any(fold(w) in lists.first_names for w in words)
            and all(a or w.lower() in lists.dutch_words for a, w in zip(allowed, words)))


def _local_office(entity: Entity, words: list[str]) -> bool:
    """"Werkplein Twente", "Welzijn Achterhoek": a kind of organisation and the region it serves
    name one office, as a town would, though both words are kept alone. A national body's regional
    desk ("Werkgeversservicepunt Twente", "VluchtelingenWerk Drenthe") stays."""
    return (entity.source == "organisation" and len(words) > 1 and fold(words[-1]) in _allowed_regions()
            and fold(words[0]) not in _national_bodies())


@functools.lru_cache(maxsize=1)
def _national_bodies() -> frozenset:
    return frozenset(fold(w) for w in _allow_groups().get("national_bodies_and_programmes", []))


def _is_plain_word(word: str, lists: Lists) -> bool:
    key = fold(word)
    return key not in lists.first_names and key not in lists.surnames and (key,) not in lists.places


# Between two parts of one name: a space, or a particle written short ("Ria v. Dijk", "Jan v.d. Berg").
PERSON_GAP = re.compile(r" (?:v\.(?: ?d\.?)?|vd|v/d) | ")


def merge_entities(entities: list[Entity], text: str) -> list[Entity]:
    """Overlapping detections become one span; the label follows LABEL_PRIORITY; strong wins."""
    merged: list[Entity] = []
    for entity in sorted(entities, key=lambda e: (e.start, -e.end)):
        adjacent_person = (merged and entity.label == merged[-1].label == "PERSON"
                           and PERSON_GAP.fullmatch(text, merged[-1].end, entity.start) is not None)
        if merged and (entity.start < merged[-1].end or adjacent_person):
            last = merged[-1]
            end = max(last.end, entity.end)
            label = min(last.label, entity.label, key=LABEL_PRIORITY.index)
            source = last.source if last.label == label else entity.source
            merged[-1] = Entity(last.start, end, label, text[last.start:end], last.strong or entity.strong, source)
        else:
            merged.append(entity)
    return merged


# ---------------------------------------------------------------- pseudonyms and the key


class PseudonymKey:
    """Maps each identified person, place and organisation to a stable pseudonym.

    Lives outside db/ (see `key_path_for`), written owner-only. Variants of one person share a
    pseudonym: "Ahmad Al-Khatib", "meneer Al-Khatib" and "Ahmad" are one entry when the shorter forms
    are part of exactly one known longer name.
    """

    def __init__(self, data: dict | None = None):
        data = data or {}
        self.entries: dict[str, dict] = data.get("entries", {})   # pseudonym -> {label, forms}
        self.documents: dict[str, str] = data.get("documents", {})  # document id -> source path
        # corpus-relative file -> the id qcode gave it when the manifest does not list it
        self.document_ids: dict[str, str] = data.get("document_ids", {})
        self.counters: dict[str, int] = data.get("counters", {})
        self._index: dict[tuple[str, str], str] = {}
        # Both by pseudonym number, so that the newest match is a max() over ints.
        self._owners: dict[tuple[str, str], set[int]] = {}          # (label, name word) -> numbers
        self._forms_by_words: dict[tuple[str, frozenset], set[int]] = {}  # (label, words of a form) -> numbers
        for pseudonym, entry in self.entries.items():
            for form in entry["forms"]:
                self._remember(entry["label"], form, pseudonym)

    def _remember(self, label: str, form: str, pseudonym: str) -> None:
        self._index[(label, fold(form))] = pseudonym
        number, words = _pseudonym_number(pseudonym), _name_tokens_cached(form)
        for word in words:
            self._owners.setdefault((label, word), set()).add(number)
        self._forms_by_words.setdefault((label, words), set()).add(number)

    def pseudonym_for(self, label: str, text: str, canonical: str | None = None, weak: bool = False) -> str:
        """The pseudonym tag for an identifier, creating one when it is new. A form found on weak
        evidence only is listed under the entry's "weak" forms, so that the next build propagates it
        as weak (to review) rather than as confirmed."""
        if label not in NUMBERED:
            return f"[{TAGS[label]}]"
        key_text = canonical or text
        pseudonym = self._index.get((label, fold(key_text))) or self._variant_of(label, key_text)
        if pseudonym is None:
            self.counters[label] = self.counters.get(label, 0) + 1
            pseudonym = f"{TAGS[label]}-{self.counters[label]}"
            self.entries[pseudonym] = {"label": label, "forms": []}
        entry = self.entries[pseudonym]
        for form in {text, key_text}:
            if form not in entry["forms"]:
                entry["forms"].append(form)
                self._remember(label, form, pseudonym)
                if weak:
                    entry.setdefault("weak", []).append(form)
            elif not weak and form in entry.get("weak", []):
                entry["weak"].remove(form)      # confirmed by strong evidence since
        return f"[{pseudonym}]"

    def _variant_of(self, label: str, text: str) -> str | None:
        """The newest person one of whose forms contains this name's parts, or is contained in it.

        Looked up through indexes rather than by scanning everyone who shares a word: at a hundred
        times the demo corpus a common first name belongs to hundreds of people.
        """
        if label != "PERSON":
            return None
        words = _name_tokens_cached(text)
        if not words:
            return None
        containing = (n for n in self._sharing_every_word(label, words)
                      if any(words <= _name_tokens_cached(f) for f in self.entries[f"{TAGS[label]}-{n}"]["forms"]))
        matches = list(itertools.islice(containing, 1))
        for size in range(len(words)):  # forms made of some of these words only
            for subset in itertools.combinations(sorted(words), size + 1):
                matches.extend(self._forms_by_words.get((label, frozenset(subset)), ()))
        if self._forms_by_words.get((label, frozenset())):  # a form without name words, e.g. "Li"
            owners = set().union(*(self._owners.get((label, w), ()) for w in words))
            matches.extend(owners & self._forms_by_words[(label, frozenset())])
        if len(words) > 1:      # a full name is not a person known by another full name: the newest who is not
            newest = next((n for n in sorted(set(matches), reverse=True) if not self._other_full_name(label, n, words)), None)
            return f"{TAGS[label]}-{newest}" if newest is not None else None
        return f"{TAGS[label]}-{max(matches)}" if matches else None

    def _other_full_name(self, label: str, number: int, words: frozenset) -> bool:
        """Whether person `number` is known by a full name that is not this one's form: "Letekidan
        Tesfamariam" is not "Rahwa Tesfamariam" (her daughter), though both are "mevrouw Tesfamariam"."""
        for form in self.entries[f"{TAGS[label]}-{number}"]["forms"]:
            known = _name_tokens_cached(form)
            if len(known) > 1 and not (known <= words or words <= known):
                return True
        return False

    def _sharing_every_word(self, label: str, words: frozenset) -> list[int]:
        """Numbers of people whose forms together hold every word, newest first."""
        owner_sets = sorted((self._owners.get((label, w), set()) for w in words), key=len)
        return sorted(owner_sets[0].intersection(*owner_sets[1:]), reverse=True)

    def lookup(self, text: str) -> str | None:
        """The pseudonym tag of a known identifier, in any case or diacritic form, else None."""
        for label in NUMBERED:
            pseudonym = self._index.get((label, fold(text)))
            if pseudonym:
                return f"[{pseudonym}]"
        return None

    def original_of(self, pseudonym: str) -> dict | None:
        return self.entries.get(pseudonym.strip("[]"))

    def all_forms(self) -> list[str]:
        return [form for entry in self.entries.values() for form in entry["forms"]]

    def to_dict(self) -> dict:
        return {"entries": self.entries, "documents": self.documents, "document_ids": self.document_ids,
                "counters": self.counters}


@functools.lru_cache(maxsize=200_000)
def _name_tokens_cached(text: str) -> frozenset:
    return frozenset(_name_tokens(text))


def _name_tokens(text: str) -> list[str]:
    return [fold(t) for t in WORD.findall(text) if t.lower() not in TUSSENVOEGSELS and len(fold(t)) >= 3]


def _pseudonym_number(pseudonym: str) -> int:
    return int(pseudonym.rsplit("-", 1)[1])


def key_path_for(db_path: Path) -> Path:
    """keys/<db name>.key.json beside db/: never inside db/, never served by Datasette."""
    db_path = Path(db_path).resolve()
    root = db_path.parent.parent if db_path.parent.name == "db" else db_path.parent
    return root / "keys" / f"{db_path.stem}.key.json"


def load_key(path: Path) -> PseudonymKey:
    path = Path(path)
    if not path.exists():
        return PseudonymKey()
    return PseudonymKey(json.loads(path.read_text(encoding="utf-8")))


def save_key(key: PseudonymKey, path: Path) -> None:
    """Write the key with owner-only permissions (0600, folder 0700), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(key.to_dict(), handle, ensure_ascii=False, indent=1)
    os.replace(tmp, path)
    os.chmod(path, 0o600)


# ---------------------------------------------------------------- whole texts and corpora


def find_entities(text: str, lists: Lists, known_names: "NameIndex | None" = None, use_deduce: bool = True) -> list[Entity]:
    """Entities with offsets into `text` as given (any Unicode form, zero-width characters)."""
    canonical, index = canonical_text(text)
    entities = detect_entities(_spaced_underscores(_ocr_digits(canonical)), lists, use_deduce)
    if known_names is not None:
        entities = merge_entities(entities + known_names.find(canonical, entities), canonical)
    result = []
    for e in entities:
        start = index[e.start]
        end = index[e.end - 1] + 1
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1
        result.append(Entity(start, end, e.label, text[start:end], e.strong, e.source))
    return result


def apply_pseudonyms(text: str, entities: list[Entity], key: PseudonymKey) -> AnonymisedText:
    """Replace each entity by its pseudonym tag; keep the offset map of every replacement."""
    parts, replacements, cursor, out_len = [], [], 0, 0
    for e in sorted(entities, key=lambda e: e.start):
        tag = key.pseudonym_for(e.label, e.text, weak=not e.strong)
        parts.append(text[cursor:e.start])
        out_len += e.start - cursor
        replacements.append((e.start, e.end, out_len, out_len + len(tag), tag))
        parts.append(tag)
        out_len += len(tag)
        cursor = e.end
    parts.append(text[cursor:])
    return AnonymisedText("".join(parts), entities, replacements)


class NameIndex:
    """Names found anywhere in a corpus, searchable in any case or diacritic form.

    Indexed by first word, then by length, so that a common first name ("mohammed") shared by
    hundreds of people costs a few set look-ups per occurrence, not a scan of every name.
    """

    def __init__(self, dutch_words: frozenset = frozenset(), lemma_words: frozenset = frozenset(),
                 first_names: frozenset = frozenset()):
        self._by_first: dict[str, dict[int, dict[tuple, tuple[str, bool]]]] = {}   # -> (label, weak)
        self.dutch_words = dutch_words
        self.first_names = first_names
        # The Dutch word lists leave out words that are places too ("huizen", "hoorn"); the lemma
        # table has them: a place's lower-case form there is the word ("te weinig huizen").
        self.lemma_words = lemma_words
        # Names the corpus itself writes in lower case on strong evidence (a transcript's speaker
        # "jeroen"): their lower-case uses are the name too, though wordfreq lists frequent first
        # names among Dutch words.
        self._written_lower: set[tuple] = set()

    def add(self, name: str, label: str, lists: Lists, weak: bool = False) -> None:
        """Index a name and its parts; a weak name's occurrences are found as weak detections."""
        words = [fold(w) for w in WORD.findall(name)]
        words = [w for w in words if w]
        if not words:
            return
        self._add(tuple(words), label, weak)
        if label == "PERSON" and not weak and name.islower():
            self._written_lower.add(tuple(words))
        if label == "ORGANISATION" and len(words) > 1:   # "Stichting Wegwijs" -> "Wegwijs" elsewhere
            rest = tuple(w for w in words[1:] if w not in ("bv", "nv", "vof"))
            # A Dutch word as name ("Wegwijs") is only matched capitalised (see `find`).
            # Not the kind that ends a name: "Wonen" of "Wijdemeren Wonen" is no name elsewhere ("Beschermd Wonen").
            if rest and not (len(rest) == 1 and (rest[0] in lists.allow or rest[0] in TUSSENVOEGSELS or rest[0] in _SUFFIX_KINDS_FOLDED)):
                self._add(rest, label, weak)
        if label == "PERSON":
            while len(words) > 2 and len(words[-1]) == 1:    # "DE VRIES, J." -> "de vries" as well
                words = words[:-1]
                self._add(tuple(words), label, weak)
            for i, word in enumerate(words[1:-1], start=1):  # "Wouter de Groot" -> "de Groot"
                if word in TUSSENVOEGSELS:
                    self._add(tuple(words[i:]), label, weak)
                    break
            written = [w for w in WORD.findall(name) if fold(w)]
            mixed = any(w[0].isupper() for w in written) and any(w[0].islower() for w in written)
            for word, original in zip(words, written):
                if mixed and original[0].islower():
                    continue     # "bent" of "bent Marco Veldkamp" (read before tidying) is no name
                if len(word) >= 3 and word not in TUSSENVOEGSELS and word not in lists.dutch_words and (
                        word not in lists.allow and not _inflected_dutch(word, lists)):
                    self._add((word,), label, weak)     # not "ambulante" of a name run on ("... van Ambulante Dienst")

    def _dutch_in_lower_case(self, word: str, label: str) -> bool:
        """Whether a lower-case word of a known name can be the Dutch word. A first name that only
        wordfreq's frequencies list among Dutch words ("kevin", "joost") is the name: notes write
        names in lower case ("met joost van dijk"); one the lemma table knows, or very frequent in
        Dutch ("bent"), stays a word."""
        if label == "MUNICIPALITY_OR_TOWN":
            return word in self.dutch_words or word in self.lemma_words or _verb_stem(word, self.lemma_words)
        if label == "PERSON" and word in self.first_names and word not in self.lemma_words:
            return _zipf(word, "nl") >= 5.0
        return word in self.dutch_words

    def _add(self, words: tuple, label: str, weak: bool) -> None:
        names = self._by_first.setdefault(words[0], {}).setdefault(len(words), {})
        known_label, known_weak = names.get(words, (label, True))
        names[words] = (known_label, known_weak and weak)    # the first label; strong once strong

    def find(self, text: str, already: list[Entity]) -> list[Entity]:
        tokens = [(m.start(), m.end()) for m in WORD.finditer(text)]
        folded = [fold(text[s:e]) for s, e in tokens]
        common = CommonInText(text)
        found = []
        for i, word in enumerate(folded):
            by_length = self._by_first.get(word)
            if not by_length:
                continue
            for length in sorted(by_length, reverse=True):
                words = tuple(folded[i:i + length])
                if words not in by_length[length]:
                    continue
                label, weak = by_length[length][words]
                start, end = tokens[i][0], tokens[i + length - 1][1]
                surface = text[start:end]
                if surface.islower() and words not in self._written_lower and all(
                        self._dutch_in_lower_case(w.lower(), label) for w in WORD.findall(surface)):
                    continue  # "best goed" is not the town Best, "dat leg ik uit" not the village Leg
                place_only = label == "MUNICIPALITY_OR_TOWN" and not (
                    surface.lower() in self.dutch_words or surface.lower() in self.lemma_words)
                if weak and length == 1 and not place_only:
                    # A weak name's evidence was its capital ("Monitor Inburgering" elsewhere). A
                    # text that writes the word in lower case as a common word keeps it in either
                    # case; a lower-case form is replaced only where the text capitalises it too.
                    # Not a listed place that is no word at all: notes found "in almelo" but kept
                    # their heading "aantekeningen km almelo", which gave the pseudonym away.
                    if surface.lower() in common or (surface.islower() and not common.counts(surface)[1]):
                        continue
                    if surface.islower() and label == "PERSON" and len(surface) >= 8 and _dutch_compound_noun(
                            surface, self.dutch_words.__contains__):
                        # A compound of Dutch words capitalised in a title or heading ("Kadernotitie
                        # beleid WSW", "Impactanalyse") is the common noun where the text writes it in
                        # lower case. Not a place's name ("merenwijk"): those are labelled places.
                        continue
                found.append(Entity(start, end, label, surface, not weak, "propagated"))
                break
        return found

    def __len__(self) -> int:
        return sum(len(names) for by_length in self._by_first.values() for names in by_length.values())


def anonymise_text(text: str, lists: Lists, key: PseudonymKey | None = None) -> AnonymisedText:
    """Anonymise one text on its own: names found in it are propagated within it."""
    return anonymise_corpus({"text": text}, lists, key or PseudonymKey())["text"]


def redact(text: str, lists: Lists) -> tuple[str, int]:
    """A researcher's own note (a memo) with each identifier replaced by its kind, unnumbered
    ("[PERSOON]"): the pseudonym key stays apart from the server, so a memo cannot take the
    corpus's numbers. Returns the text and how many identifiers it lost."""
    kinds = [(m.start(), m.end()) for m in PSEUDONYM.finditer(text)]      # redacted before: stays as it is
    entities = sorted((e for e in anonymise_text(text, lists).entities if not any(s < e.end and e.start < t for s, t in kinds)),
                      key=lambda e: e.start)
    parts, cursor = [], 0
    for e in entities:
        parts += [text[cursor:e.start], f"[{TAGS.get(e.label, e.label)}]"]
        cursor = e.end
    return "".join(parts + [text[cursor:]]), len(entities)


def anonymise_corpus(texts: dict[str, str], lists: Lists, key: PseudonymKey, progress=None) -> dict[str, AnonymisedText]:
    """Two passes: detect in every text, then find every detected name in every text and replace."""
    first_pass: dict[str, list[Entity]] = {}
    names = NameIndex(lists.dutch_words, lists.lemma_words, lists.first_names)
    for doc_id, text in texts.items():
        entities = find_entities(text, lists)
        first_pass[doc_id] = entities
        for e in entities:
            # Weak detections too, as weak: the key keeps every replaced form and the next build
            # propagates them all, so propagating only strong ones here would make the first build
            # differ from every later one (and move the segments manual codings are anchored to).
            # They stay weak, so that they stay in the review queue, in this build and the next.
            if e.label in NUMBERED:
                names.add(e.text, e.label, lists, weak=not e.strong)
        if progress:
            progress(1)
    for entry in key.entries.values():  # names found in earlier runs stay propagated
        for form in entry["forms"]:
            if fold(form) in lists.allow:
                continue    # kept since (anonymise.yaml's force_keep): the key must not bring it back
            names.add(form, entry["label"], lists, weak=form in entry.get("weak", ()))
    results = {}
    for doc_id, text in texts.items():
        canonical, index = canonical_text(text)
        # A key's one-word form ("Mooi", found before this rule) at a sentence's start, as a first pass would judge it.
        extra = [e for e in _unprotected(names.find(canonical, []), canonical, lists)
                 if not _capitalised_by_sentence(e, canonical, lists)]
        extra = [Entity(index[e.start], index[e.end - 1] + 1, e.label, text[index[e.start]:index[e.end - 1] + 1], e.strong, e.source) for e in extra]
        entities = [_tidy(e, text, lists) for e in merge_entities(first_pass[doc_id] + extra, text)]
        results[doc_id] = apply_pseudonyms(text, [e for e in entities if e is not None], key)
    return results


def _unprotected(entities: list[Entity], text: str, lists: Lists) -> list[Entity]:
    """Entities not inside an allow-listed phrase ("Wet inburgering 2021"), as detect_entities
    filters its own."""
    if not entities:
        return entities
    protected = _protected_spans(text, lists)
    return [e for e in entities if not _covered(protected, e.start, e.end)]


def review_items(text: str, entities: list[Entity], width: int = 40) -> list[dict]:
    """Detections made on weak evidence only, with context, for a researcher to check."""
    items = []
    for e in entities:
        if e.strong:
            continue
        items.append({
            "text": e.text, "label": e.label, "start": e.start, "end": e.end,
            "context": text[max(0, e.start - width):e.start] + "«" + e.text + "»" + text[e.end:e.end + width],
        })
    return items
