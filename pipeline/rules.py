"""Stage 4a: the codebook's rules as spaCy matchers over lemmatised Dutch tokens.

Phrases go to two `PhraseMatcher`s, one on LOWER (exact word forms) and one on LEMMA (so that
"taallessen" matches the phrase "taalles" and "gemeenten" matches "gemeente"). Token patterns go to
a `Matcher`. A rule with `unless_near` drops a match when one of those lemmas occurs within
`window` tokens before it ("geen", "niet": negation, or an excluding context).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from .codebook import Codebook


@dataclass(frozen=True)
class RuleHit:
    code_id: str
    rule_id: str
    start: int      # character offsets in the segment text
    end: int
    text: str


class RuleSet:
    """Compiled rules of one codebook (or of some of its codes)."""

    def __init__(self, codebook: Codebook, nlp: Language, codes: set[str] | None = None):
        self.codebook = codebook
        self.rules = {rule.id: rule for rule in codebook.rules if codes is None or rule.code_id in codes}
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.lemma = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.tokens = Matcher(nlp.vocab)
        self.anchors: set[str] | None = set()
        for rule in self.rules.values():
            self._add_anchors(rule, nlp)
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

    def _add_anchors(self, rule, nlp: Language) -> None:
        """Words one of which a segment must contain for this rule to match (None: cannot tell)."""
        if self.anchors is None:
            return
        for doc in nlp.pipe(rule.phrases):
            if len(doc):
                self.anchors.update({doc[0].lower_, doc[0].lemma_.lower()})
        for pattern in rule.patterns:
            first = (json.loads(pattern) or [{}])[0]
            literal = [first[k] for k in ("LOWER", "LEMMA", "ORTH", "TEXT", "NORM") if k in first]
            words = [w for value in literal for w in (value.get("IN", []) if isinstance(value, dict) else [value])]
            if not words or first.get("OP") in ("?", "*"):
                self.anchors = None
                return
            self.anchors.update(str(w).lower() for w in words)

    def may_match(self, text: str, lemma_text: str) -> bool:
        """False only when no rule of this set can match the segment (none of its anchor words
        occurs in the text or among its lemmas): such segments need not be processed again."""
        if self.anchors is None:
            return True
        lower = text.lower()
        # Every way spaCy could have cut the words: at each non-word character, or only at spaces.
        words = (set(re.findall(r"\w+", lower)) | set(re.findall(r"[\w'’-]+", lower)) | set(lower.split())
                 | {w.strip(".,;:!?()[]{}\"'’“”«»") for w in lower.split()} | set(lemma_text.lower().split()))
        return not self.anchors.isdisjoint(words)

    @staticmethod
    def _cancelled(doc: Doc, start: int, rule) -> bool:
        if not rule.unless_near:
            return False
        before = doc[max(0, start - rule.window):start]
        near = set(rule.unless_near)
        return any(t.lemma_ in near or t.lower_ in near for t in before)


def rule_hits_by_code(hits: list[RuleHit]) -> dict[str, list[RuleHit]]:
    out: dict[str, list[RuleHit]] = {}
    for hit in hits:
        out.setdefault(hit.code_id, []).append(hit)
    return out
