"""The spaCy pipeline every stage shares: `spacy.blank("nl")` + lookup lemmas + a lemma fallback.

The Dutch lookup table misses many inflected forms ("gemeenten", "statushouders", "werkte"). The
`qcode_lemma_fallback` component fills those gaps with Dutch suffix rules, accepting a candidate
only when it (or the last part of a compound) is a known word, preferring a lemma of the lookup
table to a mere word form and, among those, the candidate of which most is known. So rules and
search match inflected forms without a statistical model. Nothing is downloaded.
"""

from __future__ import annotations

import functools

import spacy
from spacy.language import Language
from spacy.tokens import Doc

PSEUDONYM_LEMMAS = {"PERSOON": "persoon", "GEMEENTE": "gemeente", "ORGANISATIE": "organisatie"}


@Language.factory("qcode_lemma_fallback", default_config={"min_length": 4})
def make_lemma_fallback(nlp: Language, name: str, *, min_length: int) -> "LemmaFallback":
    return LemmaFallback(min_length=min_length)


class LemmaFallback:
    """Give a lemma to Dutch plurals and past tenses the lookup table does not know."""

    def __init__(self, *, min_length: int = 4):
        self.min_length = min_length
        self.known: set[str] = set()
        self.lemmas: set[str] = set()

    def initialize(self, get_examples=None, *, nlp: Language | None = None, **kwargs) -> None:
        self.known = set(_lookup_words())
        self.lemmas = set(_lookup_lemmas())

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            lower = token.lower_
            if token.lemma_ and token.lemma_ != token.text and token.lemma_.lower() != lower:
                token.lemma_ = token.lemma_.lower()
                continue
            token.lemma_ = self.lemma_of(lower)
        return doc

    @functools.lru_cache(maxsize=200_000)
    def lemma_of(self, word: str) -> str:
        if len(word) < self.min_length or not word.isalpha() or word in self.lemmas:
            return word
        # The best candidate: a whole lemma, then a whole known word form, then one of which a
        # compound's end is a lemma, then a known form; within each, the one that most of is known,
        # then the most specific. So a whole word beats a compound guess ("jongeren" is "jongere",
        # not "jon" + "geer"), a lemma beats a mere form ("maanden" is "maand", not "maande", a
        # form of "manen"), and "toeslagen" is "toeslag", not "toeslaag" (only "slaag" known).
        ranked = [(*self._rank(candidate), -n, candidate) for n, candidate in enumerate(_candidates(word))]
        best = max(ranked, default=None)
        return best[-1] if best and best[1] else word

    def _rank(self, candidate: str) -> tuple[int, int]:
        """(kind of match, letters known): 3 whole lemma, 2 whole word form, 1 compound ending in a
        lemma, 0 compound ending in a word form (or nothing known: 0 letters)."""
        if candidate in self.lemmas or candidate in self.known:
            return (3 if candidate in self.lemmas else 2), len(candidate)
        in_lemmas = _known_part(candidate, self.lemmas)
        return (1, in_lemmas) if in_lemmas else (0, _known_part(candidate, self.known))


def _known_part(word: str, words: set[str]) -> int:
    """How many letters of the word are a known word: all, or a compound's last part of at least
    four letters ("statushouder": "houder"), else 0."""
    if word in words:
        return len(word)
    return max((len(word) - cut for cut in range(3, len(word) - 3) if word[cut:] in words and len(word) - cut >= 4),
               default=0)


def _candidates(word: str) -> list[str]:
    """Lemma candidates for a Dutch word form, most specific first."""
    out = []
    if word.endswith("'s"):
        out.append(word[:-2])
    if word.endswith("en") and len(word) > 5:
        stem = word[:-2]
        out.append(word[:-1])                                   # gemeenten -> gemeente
        if len(stem) > 3 and stem[-2] in "aeiou" and stem[-3] not in "aeiou" and stem[-1] not in "aeiouy":
            out.append(stem[:-1] + stem[-2] + stem[-1])         # taalscholen -> taalschool
        if len(stem) > 2 and stem[-1] == stem[-2]:
            out.append(stem[:-1])                               # taallessen -> taalles
        out.append(stem)                                        # regels -> ..., werken stays
        if len(stem) > 2 and stem[-1] in "zv":
            out.append(stem[:-1] + {"z": "s", "v": "f"}[stem[-1]])  # huizen -> huis
        if len(stem) > 2 and stem[-2] not in "aeiou" and stem[-1] not in "aeiou":
            out.append(stem[:-1] + stem[-2] + stem[-1])
    if word.endswith("s") and len(word) > 4:
        out.append(word[:-1])                                   # statushouders -> statushouder
    for suffix in ("ten", "den", "te", "de"):                   # werkte -> werken
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            out += [stem + "en", stem[:-1] + "en" if len(stem) > 2 and stem[-1] == stem[-2] else stem + "en"]
            if stem[-1] in "fs" and len(stem) > 2:
                out.append(stem[:-1] + {"f": "v", "s": "z"}[stem[-1]] + "en")
    if word.startswith("ge") and word.endswith(("d", "t")) and len(word) > 6:
        out.append(word[2:-1] + "en")                           # gewerkt -> werken
    return out


@functools.lru_cache(maxsize=1)
def _lookup_words() -> frozenset:
    from .anonymise import load_dutch_words  # lexicon shared with the anonymiser; no later stage

    return load_dutch_words()


@functools.lru_cache(maxsize=1)
def load_lemma_lookup() -> dict[str, str]:
    """spaCy's Dutch lemma lookup table (form -> lemma), read once per process."""
    import gzip
    import json
    from pathlib import Path

    import spacy_lookups_data

    table = Path(spacy_lookups_data.__file__).parent / "data" / "nl_lemma_lookup.json.gz"
    with gzip.open(table, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@functools.lru_cache(maxsize=1)
def _lookup_lemmas() -> frozenset:
    return frozenset(v.lower() for v in load_lemma_lookup().values())


@functools.lru_cache(maxsize=1)
def load_nlp() -> Language:
    """The shared pipeline (cached per process: loading the lookup tables takes about a second)."""
    nlp = spacy.blank("nl")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.add_pipe("qcode_lemma_fallback")
    nlp.initialize()
    return nlp


def lemma_text(doc: Doc) -> str:
    """Lower-case lemmas of the words of a doc, for full-text search and the classifier."""
    words = []
    for token in doc:
        if token.is_punct or token.is_space:
            continue
        words.append(PSEUDONYM_LEMMAS.get(token.text.strip("[]").split("-")[0], token.lemma_ or token.lower_))
    return " ".join(words)
