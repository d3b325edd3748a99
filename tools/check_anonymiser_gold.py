"""Check a hand-written anonymiser gold file before it is used (`qcode evaluate-anonymiser`).

    python tools/check_anonymiser_gold.py tests/data/anonymiser_gold_eleventh.yaml [--prefix k]

A gold file is written blind by someone who has not seen the anonymiser's rules (see
docs/blind-testing.md). This checks what such a writer gets wrong: passage ids in order, known
labels, every `remove` and `keep` string copied exactly from the text and listed once; and warns
of passages outside 60-150 words or with fewer than six `keep` strings, of a `keep` string that
overlaps a `remove` one, and of a `remove` string found only inside a longer word. It prints one
line per passage, the counts per label, and OK or the errors.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

LABELS = {"PERSON", "MUNICIPALITY_OR_TOWN", "ORGANISATION", "PHONE", "EMAIL", "ADDRESS", "POSTCODE", "URL",
          "ID_NUMBER", "BSN", "DATE_OF_BIRTH"}


def occurrences(needle: str, text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(re.escape(needle), text)]


def check_passage(passage: dict, labels: Counter) -> tuple[list[str], list[str]]:
    """(errors, warnings) of one passage; counts its remove strings per label."""
    errors, warnings, pid, text = [], [], passage["id"], passage["text"]
    words = len(text.split())
    if not 60 <= words <= 150:
        warnings.append(f"{pid}: {words} words (the briefs ask for 60-150)")
    removes = [item["text"] for item in passage.get("remove") or []]
    if len(removes) != len(set(removes)):
        errors.append(f"{pid}: a remove string is listed twice")
    removed_spans = []
    for item in passage.get("remove") or []:
        if item["label"] not in LABELS:
            errors.append(f"{pid}: unknown label {item['label']!r}")
        spans = occurrences(item["text"], text)
        if not spans:
            errors.append(f"{pid}: remove string not in the text: {item['text']!r}")
        for start, end in spans:
            inside_word = (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())
            covered = any(s <= start and end <= e and e - s > end - start for other in removes for s, e in occurrences(other, text))
            if inside_word and not covered:
                warnings.append(f"{pid}: {item['text']!r} inside a longer word: …{text[max(0, start - 10):end + 10]}…")
        removed_spans += spans
        labels[item["label"]] += 1
    keeps = passage.get("keep") or []
    if len(keeps) != len(set(keeps)):
        errors.append(f"{pid}: a keep string is listed twice")
    if len(keeps) < 6:
        warnings.append(f"{pid}: {len(keeps)} keep strings (the briefs ask for at least 6)")
    for keep in keeps:
        spans = occurrences(keep, text)
        if not spans:
            errors.append(f"{pid}: keep string not in the text: {keep!r}")
        for start, end in spans:
            if any(start < e and s < end for s, e in removed_spans):     # the evaluation skips it there
                warnings.append(f"{pid}: keep string {keep!r} overlaps a remove string")
    print(f"{pid}: {words} words, {len(removes)} to remove, {len(keeps)} to keep")
    return errors, warnings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gold", type=Path)
    parser.add_argument("--prefix", default=None, help="the passage ids' letter (k for k01, k02, ...)")
    args = parser.parse_args()
    passages = (yaml.safe_load(args.gold.read_text(encoding="utf-8")) or {}).get("passages") or []
    ids = [p["id"] for p in passages]
    errors, warnings, labels = [], [], Counter()
    prefix = args.prefix or (ids[0].rstrip("0123456789") if ids else "")
    if ids != [f"{prefix}{i:02d}" for i in range(1, len(ids) + 1)]:
        errors.append(f"passage ids are not {prefix}01, {prefix}02, ... in order: {ids}")
    for passage in passages:
        passage_errors, passage_warnings = check_passage(passage, labels)
        errors += passage_errors
        warnings += passage_warnings
    print(f"{len(passages)} passages, {sum(labels.values())} strings to remove: "
          + ", ".join(f"{label} {n}" for label, n in sorted(labels.items())))
    for line in warnings:
        print("WARN", line)
    print("\n".join(["ERRORS:"] + errors) if errors else "OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
