"""Stage 4a: the codebook's rules as spaCy matchers over lemmatised Dutch tokens.

Phrases go to two `PhraseMatcher`s, one on LOWER (exact word forms) and one on LEMMA (so that
"taallessen" matches the phrase "taalles" and "gemeenten" matches "gemeente"). Token patterns go to
a `Matcher`. A rule with `unless_near` drops a match when one of those lemmas occurs within
`window` tokens before it ("geen", "niet": negation, or an excluding context).
"""

from __future__ import annotations

import functools
import json
import re
from typing import NamedTuple

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from .codebook import Codebook


class RuleHit(NamedTuple):
    # A named tuple rather than a dataclass: the coding cache holds one per hit (275,000 at 100x
    # the demo corpus), and tuples pickle and unpickle several times faster.
    code_id: str
    rule_id: str
    start: int      # character offsets in the segment text
    end: int
    text: str


class RuleSet:
    """Compiled rules of one codebook (or of some of its codes)."""

    def __init__(self, codebook: Codebook, nlp: Language, rules: list | None = None):
        self.codebook = codebook
        self.rules = {rule.id: rule for rule in (codebook.rules if rules is None else rules)}
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.tokens = Matcher(nlp.vocab)
        self.nlp = nlp
        for rule in self.rules.values():
            if rule.phrases:
                phrase_docs = list(nlp.pipe(rule.phrases))
                self.lower.add(rule.id, [nlp.make_doc(p) for p in rule.phrases])
                self.lemma.add(rule.id, phrase_docs)
            if rule.patterns:
                self.tokens.add(rule.id, [json.loads(p) for p in rule.patterns])

    def match(self, doc: Doc) -> list[RuleHit]:
        """Every rule hit in one processed segment, one per (rule, span)."""
        spans = {}
        for matcher in (m for m in (self.lower, self.lemma, self.tokens) if len(m)):
            for match_id, start, end in matcher(doc):
                rule_id = doc.vocab.strings[match_id]
                if self._cancelled(doc, start, self.rules[rule_id]):
                    continue
                spans[(rule_id, start, end)] = doc[start:end]
        hits = [RuleHit(self.rules[r].code_id, r, span.start_char, span.end_char, span.text)
                for (r, _, _), span in spans.items()]
        return sorted(hits, key=lambda h: (h.start, h.rule_id))

    @functools.cached_property
    def anchors(self) -> set[str] | None:
        """Words one of which a segment must contain for some rule of this set to match (None:
        cannot tell, e.g. a token pattern without a literal first token)."""
        return _anchor_words(self.rules.values(), self.nlp)

    def may_match(self, text: str, lemma_text: str) -> bool:
        """False only when no rule of this set can match the segment (none of its anchor words
        occurs in the text or among its lemmas): such segments need not be processed again."""
        if self.anchors is None:
            return True
        lower, lemmas_lower = text.lower(), lemma_text.lower()
        if not any(anchor in lower or anchor in lemmas_lower for anchor in self.anchors):
            return False     # quick: not even a substring
        # Every way spaCy could have cut the words: at each non-word character, or only at spaces.
        words = (set(re.findall(r"\w+", lower)) | set(re.findall(r"[\w'’-]+", lower)) | set(lower.split())
                 | {w.strip(".,;:!?()[]{}\"'’“”«»") for w in lower.split()} | set(lemmas_lower.split()))
        return not self.anchors.isdisjoint(words)

    @staticmethod
    def _cancelled(doc: Doc, start: int, rule) -> bool:
        if not rule.unless_near:
            return False
        before = doc[max(0, start - rule.window):start]
        near = set(rule.unless_near)
        return any(t.lemma_ in near or t.lower_ in near for t in before)


def _anchor_words(rules, nlp: Language) -> set[str] | None:
    anchors: set[str] = set()
    for rule in rules:
        for doc in nlp.pipe(rule.phrases):
            if len(doc):
                anchors.update({doc[0].lower_, doc[0].lemma_.lower()})
        for pattern in rule.patterns:
            first = (json.loads(pattern) or [{}])[0]
            literal = [first[k] for k in ("LOWER", "LEMMA", "ORTH", "TEXT", "NORM") if k in first]
            words = [w for value in literal for w in (value.get("IN", []) if isinstance(value, dict) else [value])]
            if not words or first.get("OP") in ("?", "*"):
                return None
            anchors.update(str(w).lower() for w in words)
    return anchors


def rule_hits_by_code(hits: list[RuleHit]) -> dict[str, list[RuleHit]]:
    out: dict[str, list[RuleHit]] = {}
    for hit in hits:
        out.setdefault(hit.code_id, []).append(hit)
    return out
