"""`qcode build`: run every stage over a corpus and write the database atomically.

corpus -> ingest -> anonymise -> segment -> code -> store. The new database is written beside the
target (`<db>.tmp-<pid>`) and swapped in only when complete, so Datasette never sees a half-built
file and a failed or killed build leaves the previous database as it was. Researcher tables
(manual codings, memos, quote status, run history) are carried over from the previous database.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fcntl
import gc
import hashlib
import json
import os
import re
import time
from collections import Counter
from contextlib import contextmanager
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import __version__
from .anonymise import (TUSSENVOEGSELS, AnonymisedText, anonymise_corpus, key_path_for, load_corpus_settings,
                        load_key, load_lists, redact, review_items, save_key)
from .classify import load_model, model_path_for, save_model
from .codebook import Codebook, load_codebook
from .coding import (Prepared, assign_incremental, cached_class_scores, in_scope, model_training_hash,
                     prepare_incremental, rule_matrix, train_model, with_themes)
from .errors import BuildLockedError, IngestError, ModelError, QcodeError
from .ingest import (MAX_DOCUMENT_BYTES, SUPPORTED_SUFFIXES, Document, bare_label, content_hash, describe_left_out,
                     list_corpus_files, read_document, skipped_corpus_files, speaker_of)
from .manifest import (UNKNOWN, CodingRow, content_document_id, default_document_id, load_codings_file, load_manifest,
                       role_for, role_typos)
from .segment import Segment, segment_document
from . import cache, forget, store
from .forget import Forgetting


@dataclass
class BuildResult:
    run_id: int
    db_path: Path
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    skipped: list = field(default_factory=list)     # files of a type qcode cannot read, with what to do
    key_path: Path | None = None                    # the pseudonym key this build used
    orphaned: list = field(default_factory=list)
    review: dict = field(default_factory=dict)


@contextmanager
def build_lock(db_path: Path):
    """One build per database at a time (an flock on <db>.lock, released if the process dies)."""
    lock_path = Path(str(db_path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BuildLockedError(f"another qcode build is running on {db_path}; wait for it to finish")
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


class Progress:
    """tqdm bars when asked for, silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def bar(self, total: int, desc: str, unit: str | None = None):
        if not self.enabled:
            return _Silent()
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit or ("doc" if "doc" in desc else "seg"), leave=False)


class _Silent:
    def update(self, n=1):
        pass

    def close(self):
        pass


def build(corpus_dir: Path, db_path: Path, codebook_path: Path, *, progress: bool = False,
          key_path: Path | None = None, model_path: Path | None = None,
          max_document_bytes: int | None = None, use_cache: bool = True, new_key: bool = False,
          forgetting: Forgetting | None = None) -> BuildResult:
    """Build (or rebuild) the database at db_path from corpus_dir. Returns counts and timings.

    With use_cache, documents unchanged since the last build are not read or anonymised again
    (see cache.py); use_cache=False redoes every document. A database built before with a key
    that is no longer at key_path is refused unless new_key (a new key renumbers every pseudonym).
    With forgetting, the orphans it covers are dropped rather than kept (`qcode forget`, forget.py)."""
    corpus_dir, db_path = Path(corpus_dir), Path(db_path)
    key_path = Path(key_path) if key_path else key_path_for(db_path)
    model_path = Path(model_path) if model_path else model_path_for(db_path)
    with build_lock(db_path):
        for leftover in db_path.parent.glob(f"{db_path.name}.tmp-*"):   # of a build that was killed
            store.remove_quietly(leftover)
        try:
            return _build(corpus_dir, db_path, Path(codebook_path), Progress(progress), key_path, model_path,
                          max_document_bytes or MAX_DOCUMENT_BYTES, use_cache, new_key, forgetting)
        finally:
            gc.unfreeze()


def _check_key_is_there(db_path: Path, key_path: Path, runs: list, new_key: bool) -> None:
    """A database built before (it has runs) has pseudonyms from a key: without it, a build would
    make a new one in silence and renumber them all ([PERSOON-12] in a report would be someone else)."""
    if new_key or key_path.exists() or not runs:
        return
    raise QcodeError(f"{key_path}: no pseudonym key, but {db_path} was built with one; a new key would renumber "
                     f"every pseudonym, so nothing was built. If the key moved, pass --key PATH; to start a new "
                     f"key on purpose, pass --new-key")


def _build(corpus_dir, db_path, codebook_path, progress, key_path, model_path, max_bytes, use_cache,
           new_key, forgetting) -> BuildResult:
    timings, started = {}, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    codebook = load_codebook(codebook_path)            # an invalid codebook stops us here
    manifest = load_manifest(corpus_dir)
    findings = load_findings(corpus_dir)
    settings = load_corpus_settings(corpus_dir)
    codings_rows = load_codings_file(corpus_dir / "codings.csv")
    previous = store.copy_researcher_tables(db_path)
    _check_key_is_there(db_path, key_path, previous.get("runs"), new_key)
    result = BuildResult(run_id=store.next_run_id(previous.get("runs", [])), db_path=db_path, key_path=key_path)
    result.warnings += [f"{corpus_dir / w}" for w in role_typos(manifest)] + list(codebook.teaching_left_out)
    if _inside(key_path, db_path.parent):
        result.warnings.append(
            f"{key_path}: the pseudonym key is in the database's folder, so whoever gets the folder can reveal "
            f"every pseudonym; keep the database in a folder named db/ (the key goes to keys/ beside it) "
            f"or pass --key outside that folder")

    key = load_key(key_path)
    fingerprint = cache.anonymiser_fingerprint(settings)
    cached = cache.load_cache(cache.cache_path_for(key_path), fingerprint, key) if use_cache else {}
    documents, infos, files = _ingest(corpus_dir, manifest, result, progress, max_bytes, cached, key)
    if not documents:
        # A mistyped --corpus (or a folder of unreadable files) must not replace a database with an
        # empty one, orphaning every manual coding.
        problems = "".join(f"\n  {e}" for e in result.errors + [f"skipped: {s}" for s in result.skipped])
        raise QcodeError(f"{corpus_dir}: no document could be read, so nothing was built and {db_path} is "
                         f"unchanged (documents: {', '.join(SUPPORTED_SUFFIXES)}){problems}")
    timings["ingest"] = _lap(clock); clock = time.perf_counter()

    anonymised, titles = _anonymise(documents, infos, files, cached, settings, key, progress, result)
    for doc_id in _identifying_ids(infos, key, manifest, corpus_dir, result):
        for table in (documents, infos, files, anonymised, titles):
            table.pop(doc_id, None)
    if not documents:
        raise QcodeError(f"{corpus_dir}: no document could be built, so {db_path} is unchanged"
                         + "".join(f"\n  {e}" for e in result.errors))
    municipality_ids = {i: key.pseudonym_for("MUNICIPALITY_OR_TOWN", infos[i].municipality).strip("[]")
                        for i in documents if infos[i].municipality}
    for doc_id, document in documents.items():
        key.documents[doc_id] = str(document.path)
    save_key(key, key_path)
    _redact_researcher_text(previous, settings)
    _follow_renames(previous, codebook, result)
    result.review = {i: review_items(documents[i].text, a.entities) for i, a in anonymised.items()}
    timings["anonymise"] = _lap(clock); clock = time.perf_counter()

    segments = [s for i in documents for s in segment_document(i, anonymised[i].text, documents[i].paragraph_attrs)]
    participants, by_label, unmatched = _participants(infos, anonymised, key)
    result.warnings += [f"{corpus_dir / 'manifest.yaml'}: {infos[doc_id].file}: participant {original!r} speaks nowhere in the "
                        "text; write its speaker label as the text does before the colon, without a bracket after it "
                        "('Aanbieder 1' for 'Aanbieder 1 (Kees, directeur):')"
                        for doc_id, original in unmatched]
    speakers = [role_for(s.speaker, infos[s.document_id], by_label[s.document_id]) for s in segments]
    # The codebook's uncoded_roles, headings (a title, an agenda item) and a table's register rows are context, not evidence.
    coded = [role not in codebook.uncoded_roles and not s.attrs.get("heading") and not s.attrs.get("register")
             for (role, _, _), s in zip(speakers, segments)]
    timings["segment"] = _lap(clock); clock = time.perf_counter()

    coding_cache_path = cache.coding_cache_path_for(model_path)
    previous_coding = cache.load_coding_cache(coding_cache_path) if use_cache else cache.CodingCache()
    # The caches are millions of long-lived objects: leave them out of every later garbage collection
    # (otherwise each collection walks them all; at 100x that doubled the time to code).
    gc.freeze()
    bar = progress.bar(len(segments), "code segments")
    segment_keys = [s.key for s in segments]
    prepared, coding_cache, redone = prepare_incremental([s.text for s in segments], codebook, previous_coding,
                                                         progress=bar.update, keys=segment_keys)
    bar.close()
    result.counts.update(redone)
    manual = _anchor_manual_codings(codings_rows, previous.get("manual_codings", []), documents, anonymised,
                                    segments, infos, codebook, corpus_dir, result)
    _follow_segments(previous, db_path, segments, result)
    _warn_of_merges(codebook, previous.get("runs", []), manual, findings, corpus_dir / "findings.yaml", result)
    if forgetting:
        forgetting.files = forget.files_of(forgetting.documents, manifest, key, corpus_dir)
        manual = forget.drop_orphans(forgetting, manual, previous, set(segment_keys),
                                     {f"file:codings.csv:{row.line}": row.document for row in codings_rows}, corpus_dir)
        result.counts["forgotten"] = dict(forgetting.counts)
    redactor = StudyTextRedactor(settings, cache.load_redactions(cache.cache_path_for(key_path), fingerprint)
                                 if use_cache else {})
    model = _model_for(_redacted_descriptions(codebook, redactor), prepared, segments, coded, manual, model_path, result)
    scores = cached_class_scores(model, prepared.lemma_texts, coding_cache, keys=segment_keys)
    assignments = assign_incremental(codebook, prepared, model, scores, segment_keys, previous_coding, coding_cache)
    assignments = [codes if ok else [] for codes, ok in zip(assignments, coded)]
    assignments = _outside_scope(codebook, prepared, segments, coded, assignments, result)
    timings["code"] = _lap(clock); clock = time.perf_counter()

    tmp_path = db_path.with_name(f"{db_path.name}.tmp-{os.getpid()}")
    store.remove_quietly(tmp_path)
    try:
        db = store.open_build_db(tmp_path)
        store.ensure_db_shape(db, full_text=False, triggers=False)
        _save(db, participants, speakers, codebook, documents, infos, anonymised, titles, municipality_ids, manifest,
              segments, prepared, assignments, manual, previous, model, result)
        store.carry_run_history(db, db_path)
        _save_findings(db, findings, corpus_dir / "findings.yaml", codebook, result)
        redactions = _redact_study_texts(db, redactor, codebook.path, corpus_dir / "findings.yaml", result)
        store.ensure_full_text(db)
        store.refresh_segment_codes(db)
        store.ensure_triggers(db)
        counts = _counts(db, segments, anonymised, documents, codebook)
        result.counts = {**result.counts, **counts}
        timings["store"] = _lap(clock)
        result.timings = timings
        db["runs"].upsert({
            "id": result.run_id, "started": started, "status": "complete",
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "codebook_hash": codebook.hash, "model_version": model.version if model else "rules-only",
            "corpus_hash": _corpus_hash(documents), "counts": store.to_json(result.counts),
            "timings": store.to_json(timings), "qcode_version": __version__,
            "codes": store.to_json({c.id: {"rules": c.content_hash(), "description": c.description_hash(),
                                           **({"replaces": list(c.replaces)} if c.replaces else {})}
                                    for c in codebook.codes}),
        }, pk="id", alter=True)
        store.record_run_changes(db, result.run_id)
        db.conn.commit()
        _catch_up(db, db_path, previous.get("manual_codings", []), segments, codebook, result,
                  forgetting.forgotten_ids if forgetting else set())
        db.close()
        store.replace_database(tmp_path, db_path)
    finally:
        store.remove_quietly(tmp_path)
    if forgetting:
        _forget_in_key(forgetting, key, key_path, db_path, set(documents), result)
    cache.save_cache(cache.cache_path_for(key_path), fingerprint, key, {
        files[doc_id]: cache.CachedDocument(documents[doc_id], anonymised[doc_id],
                                            infos[doc_id].title or "", titles.get(doc_id, ""))
        for doc_id in documents}, redactions)
    cache.save_coding_cache(coding_cache_path, coding_cache)
    return result


def _forget_in_key(forgetting: Forgetting, key, key_path: Path, db_path: Path, documents: set[str],
                   result: BuildResult) -> None:
    if result.errors:
        # a document that failed this time is not in the database, but its names are still needed
        result.warnings.append(f"{key_path}: not cleared of names the database no longer shows, as a document "
                               f"failed; fix it and run qcode forget again")
        return
    forget.forget_in_key(forgetting, key, db_path, documents)
    save_key(key, key_path)


def _catch_up(db, db_path: Path, at_start: list[dict], segments: list[Segment], codebook: Codebook,
              result: BuildResult, forgotten: set[str]) -> None:
    """Decisions a researcher saved in the workbench while this build ran went to the old file:
    copy them into the new one just before the swap, so none is lost. That is a new decision, a
    changed one (a confirm turned reject keeps its id; its time says it changed) and a withdrawn
    one (a "none" taken back is gone from the old file). What this build forgot stays forgotten."""
    latest = store.copy_researcher_tables(db_path)
    for table in ("manual_codings", "memos"):
        latest[table] = [row for row in latest.get(table, []) if row["id"] not in forgotten]
    def state(row: dict) -> tuple:
        return row.get("decision"), row.get("created"), row.get("note")
    known = {row["id"]: state(row) for row in db["manual_codings"].rows}
    workbench = [row for row in latest.get("manual_codings", []) if not str(row.get("origin", "")).startswith("file:")]
    late = [row for row in workbench if known.get(row["id"]) != state(row)]
    withdrawn = ({row["id"] for row in at_start if not str(row.get("origin", "")).startswith("file:")}
                 - {row["id"] for row in workbench})
    for row_id in withdrawn:
        db["manual_codings"].delete_where("id = ?", [row_id])
    if late:
        by_document: dict[str, list[Segment]] = {}
        for segment in segments:
            by_document.setdefault(segment.document_id, []).append(segment)
        store.save_rows(db, "manual_codings", _reanchor_previous(late, by_document, codebook, result))
        # A late coding may be orphaned too: the run's count is of the database as swapped in.
        result.counts["orphaned"] = _count_orphaned(db)
        db["runs"].update(result.run_id, {"counts": store.to_json(result.counts)})
    # Memos are only ever added (the workbench redacts them as they are written); the ones this
    # build carried over were redacted again and stay so.
    known_memos = {row["id"] for row in db["memos"].rows}
    store.save_rows(db, "memos", [row for row in latest.get("memos", []) if row["id"] not in known_memos])
    # A status set while this build ran, on a segment this build has (one whose segment moved was
    # re-anchored from the file as it was when the build started).
    current = {row["segment_id"]: row["updated"] or "" for row in db["quote_status"].rows}
    segments_now = {row[0] for row in db.execute("select id from segments")}
    late_statuses = [row for row in latest.get("quote_status", []) if row["segment_id"] in segments_now
                     and (row["updated"] or "") > current.get(row["segment_id"], "")]
    store.save_rows(db, "quote_status", late_statuses)
    db.conn.commit()


def _lap(clock: float) -> float:
    return round(time.perf_counter() - clock, 3)


def _ingest(corpus_dir, manifest, result, progress, max_bytes, cached: dict[str, cache.CachedDocument], key):
    """Documents and manifest info by document id, and each document's corpus-relative file name.
    A file whose bytes are unchanged since the last build is taken from the cache, not parsed."""
    read: dict[str, Document] = {}
    paths = list_corpus_files(corpus_dir)
    bar = progress.bar(len(paths), "ingest docs")
    for path in paths:
        relative = path.relative_to(corpus_dir).as_posix()
        try:
            entry = cached.get(relative)
            if entry is not None and path.stat().st_size <= max_bytes:
                # Read once: the bytes are hashed, and parsed only when they changed.
                data = path.read_bytes()
                if content_hash(data) == entry.document.content_hash:
                    document = entry.document
                    document.path = path
                else:
                    document = read_document(path, max_bytes, data=data)
            else:
                document = read_document(path, max_bytes)
        except IngestError as exc:
            result.errors.append(str(exc))
        except OSError as exc:
            result.errors.append(str(IngestError(path, f"cannot read file ({exc.strerror})")))
        else:
            read[relative] = document
            if document.left_out:
                result.warnings.append(f"{path}: left out: {describe_left_out(document.left_out)}")
        bar.update(1)
    bar.close()
    documents, infos, files = {}, {}, {}
    unlisted = _unlisted_document_ids({r: d for r, d in read.items() if r not in manifest.documents}, key)
    for relative, document in read.items():
        info = manifest.info_for(relative, unlisted.get(relative))
        documents[info.id], infos[info.id], files[info.id] = document, info, relative
    result.counts["documents_failed"] = len(result.errors)   # so far, every error is a document that failed
    result.skipped = skipped_corpus_files(corpus_dir)
    result.counts["documents_skipped"] = len(result.skipped)     # in the run's record, not on the terminal only
    listed = set(manifest.documents) - {p.relative_to(corpus_dir).as_posix() for p in paths}
    for missing in sorted(listed):
        result.warnings.append(f"{corpus_dir / 'manifest.yaml'}: lists {missing!r}, which is not in the corpus")
    return documents, infos, files


def _anonymise(documents, infos, files, cached, settings, key, progress, result) -> tuple[dict, dict]:
    """Anonymised text and title per document: new and changed documents through the anonymiser,
    unchanged ones from the cache unless a name learnt from the new ones occurs in them."""
    reusable = {i: cached[files[i]] for i in documents if files[i] in cached
                and cached[files[i]].document.content_hash == documents[i].content_hash
                and cached[files[i]].title == (infos[i].title or "")}
    known_forms = cache.key_forms(key)
    anonymised, titles = _anonymise_texts([i for i in documents if i not in reusable], documents, infos, settings,
                                          key, progress)
    new_forms = cache.names_to_recheck(known_forms, key)
    recheck = [i for i in reusable if cache.needs_recheck(documents[i].text + "\n" + reusable[i].title, new_forms)]
    if recheck:
        more, more_titles = _anonymise_texts(recheck, documents, infos, settings, key, progress)
        anonymised.update(more)
        titles.update(more_titles)
    for doc_id in set(reusable) - set(recheck):
        anonymised[doc_id], titles[doc_id] = reusable[doc_id].anonymised, reusable[doc_id].anonymised_title
    result.counts["documents_from_cache"] = len(reusable) - len(recheck)
    return anonymised, titles


def _follow_renames(previous: dict, codebook: Codebook, result: BuildResult) -> None:
    """A memo on a code that was renamed (`replaces`) stays on that code; one on a code the codebook
    no longer has is kept and reported, as an orphaned coding is."""
    for memo in previous.get("memos", []):
        if memo.get("target_type") == "code":
            memo["target_id"] = codebook.current_id(memo["target_id"])
            if memo["target_id"] not in codebook.by_id:
                result.orphaned.append(f"memo {memo['id']} on code {memo['target_id']!r}, which {codebook.path} no "
                                       f"longer has: kept, shown on no page (name it under 'replaces' to keep it)")


def _redact_researcher_text(previous: dict, settings) -> None:
    """Memos and coders' notes carried over have no identifiers: the workbench redacts each as it
    is written, and this catches what came in otherwise (an older database, an import)."""
    rows = [(row, "text") for row in previous.get("memos", [])] + [
        (row, "note") for row in previous.get("manual_codings", []) if row.get("note")] + [
        # a quote's text as its report status and an orphaned decision keep it: redacted again, so
        # that a name added to force_remove since goes there too (tester round 8)
        (row, "anchor_text") for row in previous.get("quote_status", []) if row.get("anchor_text")] + [
        (row, "anchor_text") for row in previous.get("manual_codings", []) if row.get("status") == "orphaned" and row.get("anchor_text")]
    forced = bool(settings.get("force_remove"))    # a forced name may be in lower case
    rows = [(row, column) for row, column in rows if forced or re.search(r"[A-Z\d@]", row.get(column) or "")]
    if rows:
        lists = load_lists(settings)
        for row, column in rows:
            row[column] = redact(row[column], lists)[0]


def _unlisted_document_ids(read: dict[str, Document], key) -> dict[str, str]:
    """Ids for the files the manifest does not list, remembered in the pseudonym key (file -> id).
    A new file's id comes from its bytes (`content_document_id`), so a file moved to another folder
    keeps its id, its segments' keys and every decision on them (a move orphaned them all, tester
    round 7). A file built before that keeps its old id, the hash of its name, while the key has it."""
    by_content = {relative: content_document_id(document.content_hash) for relative, document in read.items()}
    content_ids = Counter(by_content.values())
    ids, taken = {}, set()
    for relative in sorted(read):
        legacy, known = default_document_id(relative), key.document_ids.get(relative)
        moved_here = content_ids[known] > (by_content[relative] == known)     # another file has the bytes it was named by
        if legacy in key.documents and known is None:
            chosen = legacy
        elif known and known not in taken and not moved_here:
            chosen = known
        else:
            chosen, number = by_content[relative], 2
            while chosen in taken:                                     # two files with the same bytes
                chosen, number = f"{by_content[relative]}-{number}", number + 1
        ids[relative] = chosen
        taken.add(chosen)
        key.document_ids[relative] = chosen
    return ids


def _identifying_ids(infos, key, manifest, corpus_dir, result) -> list[str]:
    """Document ids (chosen in the manifest, shown on every page and in every report) that hold a
    word of a person's or a place's name the anonymiser replaces, or of a manifest municipality:
    "interview-rahimi-ede". Each such document fails with an error; the others are built."""
    def words(text: str) -> set[str]:
        return set(re.findall(r"[^\W\d_]{3,}", str(text).casefold()))

    names = {word for entry in key.entries.values() if entry["label"] in ("PERSON", "MUNICIPALITY_OR_TOWN")
             for form in entry["forms"] if form not in entry.get("weak", ()) for word in words(form)}
    names |= {word for place in manifest.municipalities for word in words(place)}
    # a document's own municipality enters the key only later in its first build
    names |= {word for info in infos.values() if info.municipality for word in words(info.municipality)}
    names -= TUSSENVOEGSELS
    failed = []
    for doc_id, info in infos.items():
        if info.file not in manifest.documents or doc_id == default_document_id(info.file):
            continue    # an id qcode made, a hash ("doc-3fede0a1": its "ede" is no town)
        found = sorted(words(doc_id) & names)
        if found:
            result.errors.append(f"{corpus_dir / 'manifest.yaml'}: document id {doc_id!r} ({info.file}) contains "
                                 f"{', '.join(map(repr, found))}, a name the anonymiser removes; ids are shown on every "
                                 f"page and in every report: choose an id without names (e.g. interview-07); "
                                 f"this document was not built")
            failed.append(doc_id)
    result.counts["documents_failed"] = result.counts.get("documents_failed", 0) + len(failed)
    return failed


def _anonymise_texts(doc_ids, documents, infos, settings, key, progress) -> tuple[dict, dict]:
    # Titles go through the same corpus pass as the texts (one name index, one key), not one by one.
    title_ids = {f"title\x1f{i}": i for i in doc_ids if infos[i].title}
    texts = {i: documents[i].text for i in doc_ids} | {t: infos[i].title for t, i in title_ids.items()}
    if not texts:
        return {}, {}
    bar = progress.bar(len(texts), "anonymise texts", unit="text")   # documents and their titles
    anonymised = anonymise_corpus(texts, load_lists(settings), key, progress=bar.update)
    bar.close()
    return anonymised, {i: anonymised.pop(t).text for t, i in title_ids.items()}


def _corpus_hash(documents: dict[str, Document]) -> str:
    digest = hashlib.sha256()
    for doc_id in sorted(documents):
        digest.update(f"{doc_id}:{documents[doc_id].content_hash}\n".encode())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- manual codings


def _input_to_output_offset(anonymised: AnonymisedText, offset: int) -> int:
    shift = 0
    for in_start, in_end, out_start, out_end, _ in anonymised.replacements:
        if in_end <= offset:
            shift = out_end - in_end
        elif in_start <= offset < in_end:
            return out_start
        else:
            break
    return offset + shift


def _segment_at(segments: list[Segment], offset: int) -> Segment | None:
    for segment in segments:
        if segment.start <= offset < segment.end:
            return segment
    following = [s for s in segments if s.start >= offset]
    return following[0] if following else None


def _anchor_manual_codings(rows: list[CodingRow], previous: list[dict], documents, anonymised, segments,
                           infos, codebook: Codebook, corpus_dir: Path, result: BuildResult) -> list[dict]:
    """Manual codings anchored to this build's segments; what cannot be anchored is kept as orphaned."""
    by_document: dict[str, list[Segment]] = {}
    for segment in segments:
        by_document.setdefault(segment.document_id, []).append(segment)
    by_file = {info.file: doc_id for doc_id, info in infos.items()}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    # A row of the codings file keeps the time it was first read (each build reads the file again).
    first_read = {row["id"]: row.get("created") for row in previous}
    anchored: list[dict] = []
    source_name = "codings.csv"
    for row in rows:
        doc_id = by_file.get(row.document)
        segment = None
        if doc_id is not None:
            offset = " ".join(documents[doc_id].text.split()).find(row.quote)
            raw_offset = documents[doc_id].text.find(row.quote) if offset >= 0 else -1
            if raw_offset >= 0:
                segment = _segment_at(by_document.get(doc_id, []), _input_to_output_offset(anonymised[doc_id], raw_offset))
        for code in row.codes:
            if codebook.current_id(code) not in codebook.by_id:
                result.warnings.append(f"{corpus_dir / source_name}:{row.line}: unknown code {code!r}; kept as orphaned")
        codes = row.codes or [""]
        for code in codes:
            current = codebook.current_id(code)       # a renamed code's old id names the code now
            status = "anchored" if segment is not None and (code == "" or current in codebook.by_id) else "orphaned"
            row_id = hashlib.sha1(f"file\x1f{row.document}\x1f{row.quote}\x1f{code}\x1f{row.coder}".encode()).hexdigest()[:16]
            anchored.append({
                "id": row_id,
                "segment_id": segment.key if segment else None, "document_id": doc_id, "code_id": current,
                "coder": row.coder, "decision": row.decision if code else "none", "created": first_read.get(row_id) or now,
                "origin": f"file:{source_name}:{row.line}", "anchor_text": segment.text[:200] if segment else "",
                "status": status, "note": None,
            })
        if segment is None:
            problem = (f"no such document {row.document!r} in {corpus_dir}"
                       if doc_id is None and not (corpus_dir / row.document).is_file()
                       else f"quote not found in {row.document!r}")
            result.orphaned.append(f"{corpus_dir / source_name}:{row.line}: {problem}")
    anchored += _reanchor_previous(previous, by_document, codebook, result)
    return anchored


def _reanchor_previous(previous: list[dict], by_document: dict[str, list[Segment]], codebook: Codebook,
                       result: BuildResult) -> list[dict]:
    """Workbench codings from the previous database: same segment key, else the most similar segment
    of the same document (re-anchored), else kept as orphaned and reported. Never dropped."""
    keys = {s.key: s for segments in by_document.values() for s in segments}
    out = []
    for row in previous:
        if str(row.get("origin", "")).startswith("file:"):
            continue   # re-read from the codings file on every build
        row = dict(row)
        if row.get("code_id"):
            row["code_id"] = codebook.current_id(row["code_id"])     # `replaces`: a rename keeps its codings
        segment = keys.get(row.get("segment_id"))
        if segment is None and row.get("anchor_text"):
            segment = _most_similar(row["anchor_text"], by_document.get(row.get("document_id"), []))
        decided = row.get("code_id") in codebook.by_id or (row.get("decision") == "none" and not row.get("code_id"))
        if segment is not None and decided:     # "none" has no code: read, and no (other) code applies
            row.update(segment_id=segment.key, anchor_text=segment.text[:200], status="anchored")
        else:
            row["status"] = "orphaned"
            result.orphaned.append(f"manual coding {row['id']} ({row.get('code_id')} by {row.get('coder')}): "
                                   f"its segment or code is gone; kept as orphaned")
        out.append(row)
    return out


def _warn_of_merges(codebook: Codebook, runs: list[dict], manual: list[dict], findings: list[dict],
                    findings_path: Path, result: BuildResult) -> None:
    """A code that `replaces` another code of the last build (a merge, not a rename) takes over its
    codings: the findings that bear on it gain support, and one coder's decisions on a segment may
    now contradict each other (confirm of the old code, reject of the new one), of which only the
    latest counts. Neither may happen without a word (tester round 8)."""
    complete = [run for run in runs if run.get("status") == "complete" and run.get("codes")]
    last = set(json.loads(complete[-1]["codes"])) if complete else set()
    merges = {code.id: [old for old in code.replaces if old in last] for code in codebook.codes if code.id in last}
    merges = {code: olds for code, olds in merges.items() if olds}
    for code, olds in sorted(merges.items()):
        bearing = sorted(f["id"] for f in findings if code in {codebook.current_id(c) for c in f["codes"]})
        result.warnings.append(
            f"{codebook.path}: code {code!r} replaces {', '.join(map(repr, olds))}, a code of its own until this build: "
            f"its codings count as {code!r}'s now" + (f", also as support for finding {', '.join(bearing)} "
                                                      f"({findings_path})" if bearing else ""))
        decisions: dict[tuple, set] = {}
        for row in manual:
            if row["status"] == "anchored" and row["code_id"] == code:
                decisions.setdefault((row["segment_id"], row["coder"]), set()).add(row["decision"])
        for (segment, coder), made in sorted(decisions.items()):
            if "reject" in made and made & {"add", "confirm"}:
                result.warnings.append(f"{codebook.path}: after the merge into {code!r}, {coder}'s decisions on segment "
                                       f"{segment} disagree ({', '.join(sorted(made))}); only the latest counts: "
                                       f"decide again in the workbench")


def _most_similar(text: str, candidates: list[Segment], cutoff: float = 0.75) -> Segment | None:
    best, best_ratio = None, cutoff
    for segment in candidates:
        ratio = difflib.SequenceMatcher(None, text, segment.text[:len(text) + 50]).ratio()
        if ratio > best_ratio:
            best, best_ratio = segment, ratio
    return best


def _follow_segments(previous: dict, db_path: Path, segments: list[Segment], result: BuildResult) -> None:
    """A quote's report status and its memos follow it when its segment's text changed (a name
    added to force_remove, an edited document): to the most similar segment of the same document,
    as manual codings do. One whose segment is gone is kept and reported, never dropped."""
    keys = {s.key for s in segments}
    rows = [(row, "segment_id") for row in previous.get("quote_status", []) if row["segment_id"] not in keys]
    rows += [(row, "target_id") for row in previous.get("memos", [])
             if row.get("target_type") == "segment" and row["target_id"] not in keys]
    if not rows:
        return
    old = store.segments_by_id(db_path, [row[column] for row, column in rows])
    by_document: dict[str, list[Segment]] = {}
    for segment in segments:
        by_document.setdefault(segment.document_id, []).append(segment)
    taken = {row["segment_id"] for row in previous.get("quote_status", []) if row["segment_id"] in keys}
    for row, column in rows:
        before = old.get(row[column])
        found = _most_similar(before["text"][:200], by_document.get(before["document_id"], [])) if before else None
        kind = "report status" if column == "segment_id" else "memo"
        if found is not None and not (column == "segment_id" and found.key in taken):
            row[column] = found.key
            taken |= {found.key} if column == "segment_id" else set()
        else:
            # its document, remembered for `qcode forget` once the segment is gone from every database
            row["document_id"] = before["document_id"] if before else row.get("document_id")
            result.orphaned.append(f"{kind} on segment {row[column]}: its segment is gone; kept, shown on no page")


def manual_code_sets(manual: list[dict], codebook: Codebook, coder: str | None = None) -> dict[str, set[str]]:
    """Per segment the codes researchers gave it (segments they read but left uncoded: empty set)."""
    sets: dict[str, set[str]] = {}
    for row in manual:
        if row["status"] != "anchored" or not row["segment_id"] or (coder and row["coder"] != coder):
            continue
        codes = sets.setdefault(row["segment_id"], set())
        if row["decision"] in ("add", "confirm") and row["code_id"]:
            codes.update(with_themes(codebook, {row["code_id"]}))
    for row in manual:
        if row["status"] == "anchored" and row["decision"] == "reject" and row["segment_id"] in sets:
            sets[row["segment_id"]].discard(row["code_id"])
    return sets


def _model_for(codebook, prepared: Prepared, segments, coded: list[bool], manual, model_path, result):
    """Reuse the saved model when codebook and training data are unchanged; else retrain. The
    segments of the codebook's uncoded roles do not train it."""
    sets = manual_code_sets(manual, codebook)
    index = {s.key: i for i, s in enumerate(segments) if coded[i]}
    rows = [index[k] for k in sets if k in index]
    if len(rows) < 20:
        result.warnings.append("fewer than 20 manually coded segments: coding with rules only")
        return None
    training = prepared.subset(rows)
    code_sets = [sets[segments[i].key] for i in rows]
    wanted = model_training_hash(codebook, training, code_sets)
    try:
        model = load_model(model_path, codebook)
        if model.training_hash == wanted:
            # Same code tree, manual codings and code descriptions: no retraining. The rules may
            # have changed, so the thresholds are chosen again for the training segments' hits.
            model.classifier.choose_thresholds(rule_matrix(training, [c.id for c in codebook.codes]))
            result.counts["model"] = {"status": "reused", **model.meta}
            return model
    except ModelError:
        pass
    model = train_model(codebook, training, code_sets)
    save_model(model, model_path)
    result.counts["model"] = {"status": "trained", **model.meta}
    return model


# ---------------------------------------------------------------- saving


def _outside_scope(codebook, prepared, segments: list[Segment], coded: list[bool], assignments: list, result) -> list:
    """No machine codes for segments whose document is not about the codebook's subject where they
    stand (coding.in_scope); they are marked, so a reader can see why they have none."""
    scope = in_scope(codebook, prepared, [s.document_id for s in segments])
    outside = [i for i, ok in enumerate(scope) if not ok and coded[i]]
    for i in outside:
        segments[i].attrs["outside_scope"] = True
        assignments[i] = []
    result.counts["segments_outside_scope"] = len(outside)
    return assignments


def _participants(infos, anonymised, key) -> tuple[list[dict], dict[str, dict[str, dict]], list[tuple[str, str]]]:
    """Participant rows, per document its participants by anonymised speaker label, and the
    (document, label as written) of participants who speak nowhere in their text; not where an
    interpreter speaks (a participant may speak only through her)."""
    participants, by_label, unmatched = [], {}, []
    for doc_id, info in infos.items():
        by_label[doc_id] = {}
        used = {speaker_of(p)[0] for p in anonymised[doc_id].text.split("\n\n")} - {None} if info.participants else set()
        for number, p in enumerate(info.participants):
            if not p.get("speaker"):
                continue
            label = anonymised_label(p["speaker"], used, key)
            if label == UNKNOWN_SPEAKER and not info.interpreter:
                unmatched.append((doc_id, p["speaker"]))
            row = {"id": f"{doc_id}-p{number + 1}", "document_id": doc_id, "speaker": label,
                   "role": p.get("role") or UNKNOWN, "route": p.get("route") or "", "gender": p.get("gender") or "",
                   "age_band": str(p.get("age_band") or "")}
            participants.append(row)
            by_label[doc_id][label] = row
    return participants, by_label, unmatched


def _save(db, participants, speakers, codebook, documents, infos, anonymised, titles, municipality_ids, manifest,
          segments, prepared, assignments, manual, previous, model, result) -> None:
    store.save_rows(db, "codes", [{
        "id": c.id, "parent": c.parent, "theme": codebook.theme_of(c.id), "depth": len(codebook.ancestors(c.id)),
        "label": c.label, "colour": c.colour, "definition": c.definition, "include": c.include,
        "exclude": c.exclude, "examples": store.to_json(list(c.examples)),
        "rules": store.to_json([{"id": r.id, "phrases": list(r.phrases)} for r in c.rules]),
        "content_hash": c.content_hash(), "sort": n, "ancestors": store.to_json(codebook.ancestors(c.id)),
    } for n, c in enumerate(codebook.codes)])
    store.save_rows(db, "uncoded_roles", [{"role": role} for role in codebook.uncoded_roles])
    types = {}
    for doc_id, pseudonym in municipality_ids.items():
        attrs = manifest.municipalities.get(infos[doc_id].municipality) or {}
        types[pseudonym] = {"id": pseudonym, **{k: str(attrs.get(k) or UNKNOWN) for k in ("size_class", "region", "urbanisation", "type")}}
    store.save_rows(db, "municipalities", list(types.values()))
    store.save_rows(db, "documents", [{
        "id": doc_id, "title": titles.get(doc_id, ""), "kind": infos[doc_id].kind, "date": infos[doc_id].date,
        "format": documents[doc_id].format, "municipality": municipality_ids.get(doc_id),
        **_type_columns(types.get(municipality_ids.get(doc_id))),
        "language": infos[doc_id].language, "interpreter": int(infos[doc_id].interpreter),
        "words": len(documents[doc_id].text.split()), "content_hash": documents[doc_id].content_hash,
        "text": anonymised[doc_id].text,
    } for doc_id in documents])
    store.save_rows(db, "participants", participants)
    segment_rows = []
    for segment, lemmas, (role, participant, interpreted) in zip(segments, prepared.lemma_texts, speakers):
        segment_rows.append({
            "id": segment.key, "document_id": segment.document_id, "seq": segment.seq, "paragraph": segment.paragraph,
            "speaker": segment.speaker, "participant_id": participant["id"] if participant else None,
            "role": role, "interpreted": int(interpreted), "start": segment.start, "end": segment.end,
            "text": segment.text, "lemmas": lemmas, "agenda_item": segment.attrs.get("agenda_item"),
            "start_time": segment.attrs.get("start_time"), "end_time": segment.attrs.get("end_time"),
            "attrs": store.to_json(segment.attrs),
        })
    store.save_rows(db, "segments", segment_rows)
    version = model.version if model else "rules-only"
    store.save_rows(db, "codings", [{
        "id": hashlib.sha1(f"{s.key}\x1f{a.code_id}".encode()).hexdigest()[:16], "segment_id": s.key,
        "code_id": a.code_id, "theme": a.theme, "source": a.source, "rule_id": a.rule_id, "score": a.score,
        "model_version": version if a.source == "classifier" or model else None, "run_id": result.run_id,
        "spans": store.to_json(a.spans),
    } for s, codes in zip(segments, assignments) for a in codes])
    store.save_rows(db, "manual_codings", manual)
    for table in ("memos", "quote_status", "runs"):
        store.save_rows(db, table, previous.get(table, []))


UNKNOWN_SPEAKER = "[onbekende spreker]"


def anonymised_label(label: str, used: set[str], key) -> str:
    """The speaker label as it appears in the anonymised text: a named speaker becomes a pseudonym.

    A label the anonymised text uses as it is stays (a role the key once held for a name, kept
    since by force_keep, is the role again), matched also where the text adds a bracket to it
    ("Aanbieder 1" for "Aanbieder 1 ([PERSOON-2], directeur):"). A label that is neither used in
    the anonymised text nor a known pseudonym's original is not stored (it could be a name the
    manifest spells differently). `used`: the speaker labels of the anonymised text.
    """
    if label in used or label in {bare_label(u) for u in used}:
        return label
    return key.lookup(label) or _label_with_pseudonyms(label, used, key) or UNKNOWN_SPEAKER


def _label_with_pseudonyms(label: str, used: set[str], key) -> str | None:
    """The text's label that is the manifest's with its names replaced: "Moeder van Yara" is the
    speaker of "Moeder van [PERSOON-2]:" when the key gives Yara that pseudonym."""
    for candidate in sorted(used):
        parts = re.split(r"(\[[A-Z]+-\d+\])", bare_label(candidate))
        if len(parts) == 1:
            continue
        pattern = "".join("(.+?)" if i % 2 else re.escape(part) for i, part in enumerate(parts))
        m = re.fullmatch(pattern, label)
        if m and all(key.lookup(name) == tag for name, tag in zip(m.groups(), parts[1::2])):
            return bare_label(candidate)
    return None


def _type_columns(municipality: dict | None) -> dict:
    municipality = municipality or {}
    return {"size_class": municipality.get("size_class", UNKNOWN), "region": municipality.get("region", UNKNOWN),
            "urbanisation": municipality.get("urbanisation", UNKNOWN), "municipality_type": municipality.get("type", UNKNOWN)}


def _save_findings(db, findings: list[dict], path: Path, codebook: Codebook, result: BuildResult) -> None:
    """The study's findings and the codes that bear on each: a code's old id (`replaces`) names
    the code now; a code the codebook no longer has is warned about, as a finding would silently
    lose its support."""
    store.save_rows(db, "findings", [{k: str(f.get(k, "")) for k in FINDING_FIELDS} for f in findings])
    links = {(f["id"], codebook.current_id(c)) for f in findings for c in f["codes"]}
    for finding, code in sorted(links):
        if code not in codebook.by_id:
            result.warnings.append(f"{path}: finding {finding} names code {code!r}, which {codebook.path} does not "
                                   f"have: its support leaves that code out (a typo, or a code since renamed: "
                                   f"name the code that replaces it)")
    store.save_rows(db, "finding_codes", [{"finding_id": f, "code_id": c} for f, c in sorted(links) if c in codebook.by_id])


class StudyTextRedactor:
    """The researchers' own texts (codebook descriptions, findings) redacted as memos are
    (unnumbered: "[PERSOON]"): text -> (redacted, identifiers found). `known`: the last build's
    results, so that an unchanged codebook does not load the anonymiser's lists."""

    def __init__(self, settings: dict, known: dict[str, tuple[str, int]]):
        self.settings, self.known, self.done, self.lists = settings, known, {}, None

    def __call__(self, text: str) -> tuple[str, int]:
        if not re.search(r"[A-Z\d@]", text):
            return text, 0          # no capital, digit or @: nothing the anonymiser would take
        if text not in self.done:
            if text in self.known:
                self.done[text] = self.known[text]
            else:
                self.lists = self.lists or load_lists(self.settings)
                self.done[text] = redact(text, self.lists)
        return self.done[text]


def _redacted_descriptions(codebook: Codebook, redactor: StudyTextRedactor) -> Codebook:
    """The codebook with its definitions, inclusion notes and examples as the database keeps them:
    the classifier learns from these, so a name quoted in an example does not reach the model
    file in db/ (its vocabulary holds the words of its training texts)."""
    return dataclasses.replace(codebook, codes=[dataclasses.replace(
        code, definition=redactor(code.definition)[0], include=redactor(code.include)[0],
        examples=tuple(redactor(str(example))[0] for example in code.examples)) for code in codebook.codes],
        teaching=tuple((redactor(text)[0], codes) for text, codes in codebook.teaching))


def _redact_study_texts(db, redactor: StudyTextRedactor, codebook_path: Path, findings_path: Path,
                        result: BuildResult) -> dict[str, tuple[str, int]]:
    """The codebook's definitions and examples and the findings are the researchers' own text, served
    on every page: an example quoted with its speaker's name, or a finding naming a town beside
    [GEMEENTE-1], gives away what the corpus hides (tester round 8). Their copies in the database
    are redacted, and the files named so they can be mended. Returns what `redactor` redacted,
    for the next build."""
    for table, columns, path in (("codes", ("definition", "include", "exclude", "examples"), codebook_path),
                                 ("findings", FINDING_FIELDS[1:], findings_path)):
        for row in list(db[table].rows):
            changed = {}
            for column in columns:
                value = row[column] or ""
                if column == "examples":
                    parts = [redactor(example) for example in json.loads(value or "[]")]
                    text, found = store.to_json([p[0] for p in parts]), sum(p[1] for p in parts)
                else:
                    text, found = redactor(value)
                if found:
                    changed[column] = text
            if changed:
                db[table].update(row["id"], changed)
                result.warnings.append(f"{path}: {table[:-1]} {row['id']}: {', '.join(changed)}: an identifier was "
                                       f"replaced in the database's copy; write it without names")
    return redactor.done


FINDING_FIELDS = ("id", "chapter", "statement", "value", "unit", "population", "period", "source")


def load_findings(corpus_dir: Path) -> list[dict]:
    """`<corpus>/findings.yaml`: the study's quantitative findings (id, statement, value, unit,
    population, period, source) with the codes each speaks to; none when the corpus has no file.
    A problem stops the build before anything is written, naming file and line."""
    path = Path(corpus_dir) / "findings.yaml"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)       # the nodes, for line numbers
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise QcodeError(f"{path}:{mark.line + 1 if mark else '?'}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    items = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise QcodeError(f"{path}:1: expected 'findings:' with a list of findings (id, statement, codes, ...)")
    lines = [item.start_mark.line + 1 for key, value in root.value if key.value == "findings" for item in value.value]
    seen = set()
    for item, line in zip(items, lines):
        if not isinstance(item, dict) or not item.get("id") or not item.get("statement"):
            raise QcodeError(f"{path}:{line}: a finding needs an id and a statement")
        codes = item.get("codes") or []
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise QcodeError(f"{path}:{line}: finding {item['id']}: 'codes' must be a list of code ids")
        if item["id"] in seen:
            raise QcodeError(f"{path}:{line}: finding id {item['id']!r} is used twice")
        seen.add(item["id"])
        item["codes"] = codes
    return items


def _counts(db, segments, anonymised, documents, codebook) -> dict:
    per_theme = {row["theme"]: row["n"] for row in db.query(
        "select theme, count(distinct segment_id) as n from segment_codes where code_id = theme group by theme")}
    return {
        "documents": len(documents), "segments": len(segments),
        "words": sum(len(d.text.split()) for d in documents.values()),
        "identifiers_replaced": sum(len(a.entities) for a in anonymised.values()),
        "codings": db["codings"].count, "manual_codings": db["manual_codings"].count, "orphaned": _count_orphaned(db),
        "segments_per_theme": {t: per_theme.get(t, 0) for t in codebook.themes},
    }


def _inside(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def _count_orphaned(db) -> int:
    """Manual codings kept as orphaned, whatever the cause: quote, segment or code gone."""
    return db["manual_codings"].count_where("status = 'orphaned'")
