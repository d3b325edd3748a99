"""What an unchanged document needs from the previous build, so `qcode build` does not read,
parse or anonymise it again.

The cache holds original text (the parsed document and the anonymiser's entities), so it lives
beside the pseudonym key (keys/<db>.cache.pickle, owner-only), never under db/. An entry is reused
only when all of these still hold:

  * the file's bytes hash to the same value;
  * the anonymiser is the same: qcode's ingest and anonymise code, its data files and the corpus's
    anonymise.yaml hash to the same fingerprint;
  * the pseudonym key is the one the cached texts were made with (a deleted or replaced key
    invalidates everything, as pseudonyms would no longer agree);
  * no name first found in this build's new or changed documents occurs in the document's text
    (names propagate across documents: a bare surname in an old document is caught once a new
    document names that person in full). `names_to_recheck` and `needs_recheck` decide that.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from .anonymise import WORD, AnonymisedText, PseudonymKey, _name_tokens, fold
from .ingest import Document
from .memory import paused_gc

CACHE_FORMAT = 3
CODING_CACHE_FORMAT = 4


@dataclass
class CachedDocument:
    document: Document             # its content_hash is the sha256 of the file's bytes
    anonymised: AnonymisedText
    title: str                     # the manifest title (original) the cached anonymised title is for
    anonymised_title: str


def cache_path_for(key_path: Path) -> Path:
    key_path = Path(key_path)
    return key_path.with_name(key_path.name.replace(".key.json", "") + ".cache.pickle")


def anonymiser_fingerprint(corpus_settings: dict) -> str:
    """Changes when anything that decides ingest or anonymisation output changes."""
    package = Path(__file__).parent
    digest = hashlib.sha256(json.dumps(corpus_settings, sort_keys=True, default=str).encode())
    sources = [package / "ingest.py", package / "anonymise.py"] + sorted((package / "data").rglob("*"))
    for path in sources:
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def key_fingerprint(key: PseudonymKey) -> str:
    return hashlib.sha256(json.dumps(key.entries, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _read_pickle(path: Path) -> dict:
    """The cache file's contents, or {} when it is missing, truncated or not a qcode cache: a cache
    never stops a build."""
    try:
        with open(path, "rb") as handle, paused_gc():
            data = pickle.load(handle)
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


def _write_pickle(path: Path, data: dict, mode: int = 0o644) -> None:
    """Write atomically (a reader sees the old file or the new one), with these permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def load_cache(path: Path, fingerprint: str, key: PseudonymKey) -> dict[str, CachedDocument]:
    """Cached documents by corpus-relative file name; empty when the cache does not apply."""
    data = _read_pickle(path)
    if (data.get("format") != CACHE_FORMAT or data.get("fingerprint") != fingerprint
            or data.get("key") != key_fingerprint(key)):
        return {}
    return data["documents"]


def save_cache(path: Path, fingerprint: str, key: PseudonymKey, documents: dict[str, CachedDocument],
               redactions: dict[str, tuple[str, int]] | None = None) -> None:
    """Owner-only: it holds original text."""
    _write_pickle(path, {"format": CACHE_FORMAT, "fingerprint": fingerprint, "key": key_fingerprint(key),
                         "documents": documents, "redactions": redactions or {}}, mode=0o600)


def load_redactions(path: Path, fingerprint: str) -> dict[str, tuple[str, int]]:
    """The codebook's and findings' texts as the last build redacted them (text -> redacted text,
    identifiers replaced): unnumbered, so valid while the anonymiser is the same, whatever the key.
    Loading the anonymiser only to redact an unchanged codebook took seconds."""
    data = _read_pickle(path)
    return data.get("redactions") or {} if data.get("fingerprint") == fingerprint else {}


def key_forms(key: PseudonymKey) -> set[str]:
    return {form for entry in key.entries.values() for form in entry["forms"]}


def names_to_recheck(before: set[str], key: PseudonymKey) -> set[str]:
    """The words of the names the key learnt in this build (from new or changed documents), folded.
    Words, not whole names: the anonymiser also finds a known person by surname alone."""
    return {token for form in key_forms(key) - before for token in _name_tokens(form)}


def needs_recheck(text: str, new_words: set[str]) -> bool:
    """True when one of the newly learnt name words occurs in the text."""
    return bool(new_words) and not new_words.isdisjoint(fold(word) for word in WORD.findall(text))


# ---------------------------------------------------------------- coding


@dataclass
class CodingCache:
    """What coding an unchanged segment needs from the last build: its lemmas, its rule hits per
    rule (valid while that rule is unchanged), the classifier's scores (valid while the model is
    the same) and the codes it was given (valid while its hits, the code tree, the model and its
    thresholds are the same). It holds only anonymised text, so it lives beside the model in db/."""

    rules: dict = field(default_factory=dict)        # rule id -> the rule (as a dict) its hits were found with
    segments: dict = field(default_factory=dict)     # segment key (content hash) -> (lemma text, [RuleHit])
    model_version: str = ""
    scores: dict = field(default_factory=dict)       # segment key -> scores row (model_version's codes)
    fingerprint: str = ""                            # coding.nlp_fingerprint() when the lemmas were made
    assignments: dict = field(default_factory=dict)  # segment key -> its codes ([Assignment]) in the last build
    assignment_context: str = ""                     # what else those codes depended on (coding.assignment_context)


def coding_cache_path_for(model_path: Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name.replace(".model.pkl", "") + ".coding-cache.pickle")


def load_coding_cache(path: Path) -> CodingCache:
    data = _read_pickle(path)
    if data.get("format") != CODING_CACHE_FORMAT or not isinstance(data.get("cache"), CodingCache):
        return CodingCache()
    return data["cache"]


def save_coding_cache(path: Path, coding_cache: CodingCache) -> None:
    _write_pickle(path, {"format": CODING_CACHE_FORMAT, "cache": coding_cache})


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()
