"""The `qcode` command line: thin glue over the library functions. Expected failures become one
clear message and exit code 1 (no traceback)."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import click

from .errors import QcodeError
from .export import FORMATS as EXPORT_FORMATS

DEFAULT_DB = Path("db/demo.db")
DEFAULT_CORPUS = Path("corpus/demo")
DEFAULT_CODEBOOK = Path("codebook.yaml")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def friendly_errors(func):
    """Turn the library's domain exceptions into click errors (exit code 1, no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except QcodeError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


db_option = click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
                         show_default=True, help="The SQLite database.")
codebook_option = click.option("--codebook", "codebook_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                               default=DEFAULT_CODEBOOK, show_default=True, help="The codebook YAML file.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
# build and forget: a corpus's own codebook (or the project's), and the key beside the database
corpus_option = click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                             default=DEFAULT_CORPUS, show_default=True,
                             help="Folder of documents (.docx .pdf .txt .md .odt .vtt .srt).")
corpus_codebook_option = click.option(
    "--codebook", "codebook_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="The codebook YAML file (default: <corpus>/codebook.yaml if there is one, else codebook.yaml).")
key_option = click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                          help="Pseudonym key file (default: keys/<db name>.key.json, outside db/).")


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="qcode")
def cli():
    """qcode: anonymise, segment and code Dutch interviews and minutes into SQLite for Datasette.

    Example: qcode build --corpus corpus/demo --db db/demo.db && qcode serve --db db/demo.db
    """


@cli.command(context_settings=CONTEXT)
@corpus_option
@db_option
@corpus_codebook_option
@key_option
@click.option("--max-document-mb", type=float, default=20, show_default=True, help="Refuse larger documents.")
@click.option("--full", is_flag=True,
              help="Re-read and re-anonymise every document (default: reuse unchanged ones from the last build).")
@click.option("--new-key", is_flag=True,
              help="Start a new pseudonym key for a database built before (every pseudonym is renumbered); "
                   "without it a missing key stops the build.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@friendly_errors
def build(corpus_dir, db_path, codebook_path, key_path, max_document_mb, full, new_key, quiet):
    """Run every stage over a corpus and (re)build the database atomically.

    Example: qcode build --corpus corpus/demo --db db/demo.db
    """
    from .build import build as run_build

    codebook_path = codebook_path or _codebook_for(corpus_dir)
    try:
        result = run_build(corpus_dir, db_path, codebook_path, progress=not quiet, key_path=key_path,
                           max_document_bytes=int(max_document_mb * 1024 * 1024), use_cache=not full,
                           new_key=new_key)
    except KeyboardInterrupt:
        raise click.ClickException(f"interrupted: {db_path} is as it was before this build "
                                   "(the next build clears what this one left)") from None
    _print_build(result, db_path, codebook_path, corpus_dir)


def _print_build(result, db_path: Path, codebook_path: Path, corpus_dir: Path) -> None:
    for error in result.errors:
        click.secho(f"error: {error}", fg="red", err=True)
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for skipped in result.skipped:
        click.secho(f"skipped: {skipped}", fg="yellow", err=True)
    counts, timings = result.counts, result.timings
    built, failed = counts["documents"], counts["documents_failed"]
    click.echo(f"Built {db_path} (run {result.run_id}) with the codebook {_shown(codebook_path)}")
    skipped = f", {counts['documents_skipped']} skipped" if counts.get("documents_skipped") else ""
    click.echo(f"  documents: {built + failed} ({built} built, {failed} failed{skipped})   words: {counts['words']}   "
               f"segments: {counts['segments']}   unchanged (from the last build): "
               f"{counts.get('documents_from_cache', 0)}")
    click.echo(f"  identifiers replaced: {counts['identifiers_replaced']}   "
               f"review queue: {sum(len(v) for v in result.review.values())} weak detections "
               f"(qcode anonymise-report --corpus {corpus_dir})")
    click.echo("  segments per theme: " + ", ".join(f"{t} {n}" for t, n in counts["segments_per_theme"].items()))
    if counts.get("segments_outside_scope"):
        click.echo(f"  outside the codebook's scope: {counts['segments_outside_scope']} segments, not coded by machine "
                   "(their document does not speak of the subject there; see 'scope' in the codebook)")
    click.echo(f"  codings: {counts['codings']}   manual codings: {counts['manual_codings']}   "
               f"orphaned: {counts['orphaned']}")
    for orphan in result.orphaned[:10]:
        click.echo(f"    orphaned: {orphan}")
    click.echo(f"  classifier: {_model_summary(counts.get('model'))}")
    click.echo(f"  pseudonym key: {_shown(result.key_path)} (keep it apart from the database; qcode reveal reads it)")
    click.echo("  seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


@cli.command(context_settings=CONTEXT)
@click.option("--document", "documents", multiple=True, metavar="ID",
              help="A document whose removed text is to be forgotten (repeat for more).")
@click.option("--all-orphans", is_flag=True,
              help="Forget every orphaned coding, report status and memo, of any document.")
@click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=DEFAULT_CORPUS, show_default=True, help="The corpus folder, without the removed text.")
@db_option
@corpus_codebook_option
@key_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@friendly_errors
def forget(documents, all_orphans, corpus_dir, db_path, codebook_path, key_path, yes, quiet):
    """Erase what the database and the key still keep of text you took out of the corpus.

    For a participant who withdraws: delete the document (or cut their turns and their manifest
    entry), then forget. This rebuilds the database without the orphaned manual codings, report
    statuses and memos of those documents (a build keeps them), and removes from the key the
    document's file name and every name the database no longer shows. It cannot be undone.

    Example: qcode forget --document interview-07 --corpus corpus/mystudy --db db/mystudy.db
    """
    from .anonymise import key_path_for, load_key
    from .build import build as run_build
    from .forget import Forgetting, check_documents

    if not documents and not all_orphans:
        raise click.UsageError("name what to forget: --document ID (repeatable) or --all-orphans")
    key_path = key_path or key_path_for(db_path)
    check_documents(db_path, load_key(key_path), list(documents))
    what = f"document{'s' if len(documents) > 1 else ''} {', '.join(documents)}" if documents else "every document"
    if not yes:
        click.confirm(f"Erase for good what {db_path} and {key_path} keep of the removed text of {what}?", abort=True)
    codebook_path = codebook_path or _codebook_for(corpus_dir)
    forgetting = Forgetting(documents=frozenset(documents), all_orphans=all_orphans)
    result = run_build(corpus_dir, db_path, codebook_path, progress=not quiet, key_path=key_path, forgetting=forgetting)
    _print_build(result, db_path, codebook_path, corpus_dir)
    counts = forgetting.counts
    click.echo(f"Forgotten: {counts.get('manual_codings', 0)} manual codings, {counts.get('quote_status', 0)} report "
               f"statuses and {counts.get('memos', 0)} memos of text no longer in the corpus; from the key "
               f"{counts.get('key_documents', 0)} document file names and {counts.get('key_names', 0)} names the "
               f"database no longer shows")
    with closing(sqlite3.connect(db_path)) as conn:
        built = {row[0] for row in conn.execute("select id from documents")}
    for doc_id in [d for d in documents if d in built]:
        click.echo(f"  {doc_id} is still in the corpus: only what it no longer says was forgotten")
    click.echo("  Backups of the database and of keys/ made before now still hold it: destroy them, or run "
               "qcode forget on a restored copy before using it")
    if forgetting.by_hand:
        for line in forgetting.by_hand:
            click.secho(f"still to do: {line}", fg="red", err=True)
        raise click.ClickException(f"{len(forgetting.by_hand)} line(s) in the corpus folder still quote removed "
                                   f"text; delete them and run qcode forget again")


def _codebook_for(corpus_dir: Path) -> Path:
    """A study keeps its codebook with its corpus; the project's codebook.yaml is the demo's. A
    corpus of its own coded with the demo's codebook is almost always a mistake, so say so."""
    own = Path(corpus_dir) / "codebook.yaml"
    if own.is_file():
        return own
    if Path(corpus_dir).resolve() != DEFAULT_CORPUS.resolve():
        click.secho(f"warning: {corpus_dir} has no codebook.yaml: coding with {DEFAULT_CODEBOOK} (the demo's "
                    f"Wi2021 codebook unless you edited it); put your codebook in {own} or pass --codebook FILE",
                    fg="yellow", err=True)
    return DEFAULT_CODEBOOK


def _shown(path: Path) -> str:
    """A path as a user typed it: relative to the working folder when it is inside it."""
    path = Path(path)
    return str(path.relative_to(Path.cwd())) if path.is_absolute() and path.is_relative_to(Path.cwd()) else str(path)


def _model_summary(model: dict | None) -> str:
    """The build's `model` count: what the classifier learnt from, and whether it was retrained."""
    if not model:
        return "none (rules only)"
    sources = [f"{model['segments']} coded segments", f"{model['descriptions']} code descriptions"]
    sources += [f"{model['teaching']} teaching examples"] if model.get("teaching") else []
    learnt_from = ", ".join(sources[:-1]) + " and " + sources[-1]
    if model["status"] == "reused":
        return f"reused (trained on {learnt_from}; neither changed)"
    return f"trained on {learnt_from}"


@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Any other than 127.0.0.1 needs --users, and every page then needs a login.")
@click.option("-p", "--port", default=8001, show_default=True, type=int, help="Port.")
@click.option("--users", "users_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML file of researcher logins (users: {name: hash}); needed for a non-local --host.")
@friendly_errors
def serve(db_path, host, port, users_path):
    """Serve the database with Datasette and the qcode workbench plugin (/-/qcode).

    Example: qcode serve --db db/demo.db --port 8001 --users keys/users.yaml
    """
    from .serve import serve_database

    serve_database(db_path, host=host, port=port, users_path=users_path)


@cli.command("hash-password", context_settings=CONTEXT)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def hash_password(password):
    """Print a password hash for the users file of qcode serve --users.

    Example: qcode hash-password   (then add "name: <hash>" under users: in keys/users.yaml)
    """
    from datasette_plugins.workbench import hash_password as make_hash

    click.echo(make_hash(password))


@cli.command(context_settings=CONTEXT)
@click.argument("file", required=False, type=click.File("r", encoding="utf-8"))
@click.option("--input", "jsonl", type=click.File("r", encoding="utf-8"), help='JSON lines {"id", "text"}.')
@click.option("--json", "as_json", is_flag=True, help="Print JSON with entity offsets.")
@click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Use this corpus's anonymise.yaml (force_keep / force_remove).")
@friendly_errors
def anonymise(file, jsonl, as_json, corpus_dir):
    """Anonymise one text (FILE or - for stdin), or every line of a JSON-lines file.

    Output for --input and --json: {"id", "text", "entities": [{"start", "end", "label"}]}, offsets into the input.

    Example: echo "Meneer Haddad woont in Tilburg." | qcode anonymise -
    """
    from .anonymise import anonymise_text, load_corpus_settings, load_lists

    lists = load_lists(load_corpus_settings(corpus_dir) if corpus_dir else {})
    if jsonl is not None:
        for number, line in enumerate(jsonl, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                text, item_id = item["text"], item.get("id")
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise QcodeError(f"{jsonl.name}:{number}: expected a JSON object with 'text' ({exc})") from exc
            click.echo(json.dumps(_anonymised_json(item_id, anonymise_text(text, lists)), ensure_ascii=False))
        return
    text = (file or click.get_text_stream("stdin")).read()
    result = anonymise_text(text, lists)
    click.echo(json.dumps(_anonymised_json(None, result), ensure_ascii=False) if as_json else result.text)


def _anonymised_json(item_id, result) -> dict:
    out = {"id": item_id} if item_id is not None else {}
    out.update(text=result.text, entities=[{"start": e.start, "end": e.end, "label": e.label} for e in result.entities])
    return out


@cli.command("anonymise-report", context_settings=CONTEXT)
@click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=DEFAULT_CORPUS, show_default=True)
@json_option
@friendly_errors
def anonymise_report(corpus_dir, as_json):
    """List detections made on weak evidence only, per document with context, for review.

    Confirm them by adding the word to force_remove, or keep it with force_keep, in <corpus>/anonymise.yaml.

    Example: qcode anonymise-report --corpus corpus/demo
    """
    from .report import weak_detections

    report = weak_detections(corpus_dir)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
        return
    total = sum(len(items) for items in report["documents"].values())
    click.echo(f"{total} weak detections in {len(report['documents'])} documents "
               f"(review them; they are replaced in the database either way)")
    click.echo("This report shows the original text: keep it out of the corpus folder and out of version control.")
    words = Counter((item["text"], item["label"]) for items in report["documents"].values() for item in items)
    documents = Counter(key for items in report["documents"].values() for key in {(i["text"], i["label"]) for i in items})
    click.echo(f"\nBy word ({len(words)} distinct; one force_keep or force_remove entry settles each everywhere):")
    for (text, label), n in sorted(words.items(), key=lambda item: (-item[1], item[0])):
        click.echo(f"  {label:<20} {text!r:<28} {n:>4}x in {documents[(text, label)]} document(s)")
    for document, items in report["documents"].items():
        click.echo(f"\n{document}")
        for item in items:
            click.echo(f"  {item['label']:<20} {item['text']!r:<28} …{item['context']}…")
    for error in report["errors"]:
        click.secho(f"error: {error}", fg="red", err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("pseudonym")
@db_option
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@friendly_errors
def reveal(pseudonym, db_path, key_path):
    """Show the original forms behind a pseudonym, from the key (never from the database).

    Needed to ask a speaker's approval for a quote. Prints to the terminal only.

    Example: qcode reveal PERSOON-7 --db db/demo.db
    """
    from .anonymise import key_path_for, load_key

    path = Path(key_path) if key_path else key_path_for(db_path)
    if not path.exists():
        raise QcodeError(f"{path}: no pseudonym key; was this database built on this machine?")
    pseudonym = pseudonym.strip("[] ").upper()       # "persoon-15" and "[PERSOON-15]" too
    entry = load_key(path).original_of(pseudonym)
    if entry is None:
        raise QcodeError(f"{pseudonym}: not in {path}")
    click.echo(f"{pseudonym} ({entry['label']}): " + "; ".join(entry["forms"]))


@cli.command(context_settings=CONTEXT)
@click.option("--input", "jsonl", required=True, type=click.File("r", encoding="utf-8"),
              help='JSON lines {"id", "text"}; lines with the same "document" (in reading order) are read as '
                   "one document for the codebook's scope.")
@codebook_option
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Model file (default: the one trained when db/demo.db was built).")
@click.option("--all", "show_all", is_flag=True, help="Every code with its score.")
@click.option("--explain", is_flag=True, help="Show the rule or the terms that drove each code.")
@friendly_errors
def suggest(jsonl, codebook_path, model_path, show_all, explain):
    """Suggest codes for texts: {"id", "codes": [{"code", "theme", "score", "source"}], "in_scope"}
    per line. A text outside the codebook's scope (nothing of its subject in it, nor in its
    "document" near it) gets no codes.

    Example: qcode suggest --input texts.jsonl --explain
    """
    from .suggest import suggest_codes

    items = _read_jsonl(jsonl, need=("text",))
    if model_path is not None and not model_path.is_file():
        raise QcodeError(f"{model_path}: no such model file (qcode build writes one beside its database)")
    for line in suggest_codes(items, codebook_path, model_path or _default_model(), show_all=show_all, explain=explain):
        click.echo(json.dumps(line, ensure_ascii=False))


def _default_model() -> Path:
    from .classify import model_path_for

    return model_path_for(DEFAULT_DB)


def _read_jsonl(handle, need=("text",)) -> list[dict]:
    items = []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QcodeError(f"{handle.name}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or any(k not in item for k in need):
            raise QcodeError(f"{handle.name}:{number}: expected a JSON object with {', '.join(need)}")
        items.append(item)
    return items


@cli.command(context_settings=CONTEXT)
@click.option("--gold", "gold", required=True, type=click.File("r", encoding="utf-8"),
              help='JSON lines {"id", "text", "codes": [...]}, optionally "role" and "document" (lines of '
                   "one document in reading order, for the codebook's scope).")
@click.option("--test-gold", "test_gold", type=click.File("r", encoding="utf-8"),
              help="Held-out test instead of cross-validation: train on all of --gold, score on these "
                   "gold segments (for example a later wave of interviews).")
@click.option("--folds", default=5, show_default=True, type=int)
@click.option("--repeats", default=1, show_default=True, type=click.IntRange(min=1),
              help="Repeat over this many splits of the folds (random_state 0, 1, ...) and report the mean "
                   "of every figure and the lowest and highest split.")
@click.option("--jobs", default=1, show_default=True, type=int,
              help="With --repeats: splits evaluated at once, in separate processes (-1: one per CPU).")
@codebook_option
@json_option
@click.option("--rules", "with_rules", is_flag=True,
              help="Also list every rule with the gold segments it matches and how often the gold has its code.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def evaluate(gold, test_gold, folds, repeats, jobs, codebook_path, as_json, with_rules, quiet):
    """K-fold cross-validation of the whole rule+classifier pipeline against gold codings, or with
    --test-gold a held-out test.

    Example: qcode evaluate --gold corpus/demo/gold_codings.jsonl --folds 5 --repeats 5

    Example (held-out): qcode evaluate --gold wave1.jsonl --test-gold wave2.jsonl
    """
    from .build import Progress
    from .evaluate import evaluate_holdout, evaluate_repeated, format_report, format_rule_precision

    if jobs == 0 or jobs < -1:
        raise click.BadParameter("a number of processes, or -1 for one per CPU", param_hint="--jobs")
    if test_gold and repeats > 1:
        raise click.BadParameter("a held-out test trains once; leave out --repeats", param_hint="--test-gold")
    items = _read_jsonl(gold, need=("text", "codes"))
    if test_gold:
        test_items = _read_jsonl(test_gold, need=("text", "codes"))
        report = evaluate_holdout(items, test_items, codebook_path, with_rules)
    else:
        bar = Progress(not quiet).bar(folds * repeats, "cross-validation", unit="fold")
        try:
            report = evaluate_repeated(items, codebook_path, folds, repeats, jobs, progress=bar.update,
                                       with_rules=with_rules)
        finally:
            bar.close()
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    click.echo(format_report(report))
    if with_rules:
        click.echo("\n" + format_rule_precision(report["rules"]))


@cli.command("evaluate-anonymiser", context_settings=CONTEXT)
@click.option("--gold", "gold_files", required=True, multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A gold YAML file; repeat it (or give a shell wildcard) for one summary line per file.")
@json_option
@friendly_errors
def evaluate_anonymiser_command(gold_files, as_json):
    """Recall per label, keep rate and every miss of the anonymiser on a gold YAML file; with
    several files, each file's recall and keep rate on one line, and the totals.

    Example: qcode evaluate-anonymiser --gold tests/data/anonymiser_gold.yaml

    Example (every gold file, after a rule change): qcode evaluate-anonymiser $(printf -- '--gold %s '
    tests/data/anonymiser_gold*.yaml)
    """
    from .anonymise import load_lists
    from .anonymiser_eval import evaluate_anonymiser, load_gold

    lists = load_lists()
    reports = {str(path): evaluate_anonymiser(load_gold(path), lists) for path in gold_files}
    only = next(iter(reports.values())) if len(reports) == 1 else None
    if as_json:
        click.echo(json.dumps(only or reports, ensure_ascii=False, indent=1))
    elif only:
        _echo_gold_report(only)
    else:
        _echo_gold_summary(reports)


def _echo_gold_report(report: dict) -> None:
    click.echo(f"{'label':<22}{'recall':>8}{'found':>8}{'total':>8}")
    for label, recall in report["recall"].items():
        found, total = report["counts"][label]
        click.echo(f"{label:<22}{recall:>8.3f}{found:>8}{total:>8}")
    click.echo(f"{'ALL':<22}{report['recall_all']:>8.3f}")
    kept, total = report["keep_counts"]
    click.echo(f"keep rate: {report['keep_rate']:.3f} ({kept}/{total} allow-list words kept)")
    for miss in report["misses"]:
        click.echo(f"MISSED  {miss['passage']} {miss['label']:<20} {miss['text']!r}  …{miss['context']}…")
    for wrong in report["wrongly_removed"]:
        click.echo(f"REMOVED {wrong['passage']} {wrong['text']!r}  …{wrong['context']}…")


def _echo_gold_summary(reports: dict[str, dict]) -> None:
    """One line per gold file, then the identifiers and keep words of all files together."""
    width = max(len(Path(name).name) for name in reports) + 2
    click.echo(f"{'gold file':<{width}}{'recall':>8}{'found':>12}{'keep':>8}{'kept':>12}")
    totals = [0, 0, 0, 0]
    for name, report in reports.items():
        found = sum(f for f, _ in report["counts"].values())
        total = sum(t for _, t in report["counts"].values())
        kept, keep_total = report["keep_counts"]
        totals = [a + b for a, b in zip(totals, (found, total, kept, keep_total))]
        click.echo(f"{Path(name).name:<{width}}{report['recall_all']:>8.3f}{f'{found}/{total}':>12}"
                   f"{report['keep_rate']:>8.3f}{f'{kept}/{keep_total}':>12}")
    found, total, kept, keep_total = totals
    click.echo(f"{'ALL':<{width}}{found / max(total, 1):>8.3f}{f'{found}/{total}':>12}"
               f"{kept / max(keep_total, 1):>8.3f}{f'{kept}/{keep_total}':>12}")


@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--coder", default=None, help="Only this coder's codings (default: all).")
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-")
@friendly_errors
def gold(db_path, coder, output):
    """Write the manual codings of a database as a gold JSON-lines file (anonymised text, codes
    and the segment's speaker role).

    Example: qcode gold --db db/demo.db --coder onderzoeker_a --output gold.jsonl
    """
    from .evaluate import gold_from_db

    for item in gold_from_db(db_path, coder):
        output.write(json.dumps(item, ensure_ascii=False) + "\n")


@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--coders", nargs=2, required=True, help="Two coder ids.")
@click.option("--reviewed", is_flag=True,
              help="The coders reviewed the machine's codes in the workbench: a machine code a coder neither "
                   "rejected nor cleared with 'geen andere code' counts as hers (default: only what she added or confirmed).")
@json_option
@friendly_errors
def agreement(db_path, coders, reviewed, as_json):
    """Agreement between two coders per segment and code: kappa, % agreement, Krippendorff's alpha.

    Example: qcode agreement --db db/demo.db --coders onderzoeker_a onderzoeker_b
    """
    from .evaluate import coder_agreement, format_agreement

    report = coder_agreement(db_path, *coders, reviewed=reviewed)
    click.echo(json.dumps(report, indent=1, ensure_ascii=False) if as_json else format_agreement(report))


@cli.command(context_settings=CONTEXT)
@click.argument("runs", nargs=-1, type=int)
@db_option
@json_option
@friendly_errors
def diff(runs, db_path, as_json):
    """Per code, the segments gained and lost between two runs (default: the last two).

    Example: qcode diff --db db/demo.db      (or: qcode diff 3 4 --db db/demo.db)
    """
    from .diff import diff_runs, format_diff

    if len(runs) not in (0, 2):
        raise QcodeError("give two run ids, or none for the last two runs")
    report = diff_runs(db_path, *(runs or ()))
    click.echo(json.dumps(report, indent=1, ensure_ascii=False) if as_json else format_diff(report))


@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--format", "fmt", type=click.Choice(list(EXPORT_FORMATS)), default="md", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File (default: stdout for md, csv and the matrices; needed for xlsx, docx, qdc, qdpx).")
@click.option("--code", "codes", multiple=True, help="Only this code and its sub-codes (repeatable).")
@click.option("--with-code", default=None,
              help="Only quotes whose segment also carries this code or one of its sub-codes (co-occurrence).")
@click.option("--finding", default=None, help="Only the codes linked to this finding (e.g. F07).")
@click.option("--role", default=None, help="Only quotes of this role category.")
@click.option("--municipality-type", default=None, help="Only quotes from documents of this municipality type.")
@click.option("--source", type=click.Choice(["manual", "rule", "classifier"]), default=None,
              help="Only codings that came from researchers, a rule or the classifier.")
@click.option("--min-score", type=float, default=None,
              help="Only codings with a score of at least this (0-1; manual codings have 1).")
@click.option("--confirmed-only", is_flag=True, help="Only codings a researcher confirmed.")
@click.option("--approved-only", is_flag=True, help="Only quotes their speaker approved.")
@click.option("--status", "quote_status", type=click.Choice(["selected", "sent", "approved", "withdrawn"]), default=None,
              help="Only quotes with this report status (set on the quote page of the workbench).")
@click.option("--limit", type=int, default=None)
@click.option("--no-memos", "no_memos", is_flag=True, help="Leave the team's memos out (a report for outside readers).")
@friendly_errors
def export(db_path, fmt, output, codes, with_code, finding, role, municipality_type, source, min_score, confirmed_only,
           approved_only, quote_status, limit, no_memos):
    """Export coded quotes (anonymised; md and docx attribute them by role and municipality type).

    Formats: md, docx (report), csv, xlsx (one row per coded quote, with every attribute in the
    database: for the team's analysis, not for publication), matrix (code x document, 0/1),
    participant-matrix (code x participant, 0/1), qdc (REFI-QDA codebook), qdpx (REFI-QDA project:
    documents, the filtered codings with their coders, participants as cases, memos as notes).

    Example: qcode export --db db/demo.db --format docx --code taal --role statushouder --output taal.docx
    """
    from .export import ExportFilters, export as run_export, select_quotes

    filters = ExportFilters(list(codes), finding, role, municipality_type, source, min_score, confirmed_only, approved_only,
                            limit, with_code=with_code, quote_status=quote_status, memos=not no_memos)
    # One row is enough to know (the export itself selects them all).
    if fmt != "qdc" and not select_quotes(db_path, dataclasses.replace(filters, limit=1))[0]:
        click.secho("warning: no quote matches these filters; the export has none", fg="yellow", err=True)
    text = run_export(db_path, fmt, filters, output)
    if text is not None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {output}", err=True)


@cli.command("import", context_settings=CONTEXT)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["qdc", "qdpx"]), default=None,
              help="REFI-QDA codebook or project (default: from the file's extension).")
@db_option
@click.option("--codebook", "codebook_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_CODEBOOK, show_default=True, help="qdc: the codebook to add the new codes to.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="qdc: write the merged codebook here instead of appending to --codebook.")
@friendly_errors
def import_command(file, fmt, db_path, codebook_path, output):
    """Import REFI-QDA: codes from a .qdc (or a .qdpx's codebook), codings from a .qdpx.

    qdc: codes the codebook lacks (matched by GUID, id or label) are appended to its codes: list,
    under their parent; existing codes are left as they are. The result is checked before writing.

    qdpx: every human coding becomes a manual coding (decision add, coder = the other tool's user,
    origin refi:<file>) on each segment its selection overlaps; the source is matched to a document
    by name, GUID or identical text. Where the selection also holds qcode's machine codings (a qcode
    export of a reviewed segment), the origin is refi-review:<file> and those codes keep counting.
    A code missing from the codebook, a dangling GUID or an offset outside the text stops the
    import with the line; nothing is imported then. Rebuilds keep them.

    Example: qcode import --format qdpx other-tool.qdpx --db db/demo.db
    """
    from . import refi

    fmt = fmt or file.suffix.lstrip(".").lower()
    if fmt == "qdc":
        report = refi.import_codebook(file, codebook_path, output)
        click.echo(f"{file}: {report['codes']} codes, {len(report['existing'])} already in {codebook_path}, "
                   f"{len(report['new'])} new" + (f" written to {report['output']}: {', '.join(report['new'])}" if report["new"] else ""))
    elif fmt == "qdpx":
        report = refi.import_project(file, db_path)
        click.echo(f"Imported {report['imported']} manual codings from {file} into {db_path} "
                   f"(coders: {', '.join(report['coders']) or 'none'}; {report['sources']} documents)")
        if report["reviewed"]:
            click.echo(f"  {report['reviewed']} of them beside the machine's codes in the file: a review, so the machine "
                       "codes there keep counting, as in the workbench")
        click.echo(f"  skipped: {report['present']} already present, {report['machine']} by qcode's rules or classifier "
                   f"(recomputed by every build), {report['whole_source']} of whole sources, "
                   f"{report['between_segments']} between segments")
    else:
        raise QcodeError(f"{file}: give --format qdc or --format qdpx")


@cli.command("check-codebook", context_settings=CONTEXT)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CODEBOOK)
@friendly_errors
def check_codebook(path):
    """Validate a codebook and report every problem with file, line and code id.

    Example: qcode check-codebook codebook.yaml
    """
    from .codebook import load_codebook

    codebook = load_codebook(path)
    uncoded = f", uncoded roles: {', '.join(codebook.uncoded_roles)}" if codebook.uncoded_roles else ""
    scope_rules = len(codebook.scope_rules) + len(codebook.other_subject_rules)
    scope = (f" and {scope_rules} for its scope (within {codebook.scope_window} words, or {codebook.scope_rate:g} "
             "per 1,000 words in a document)") if scope_rules else ""
    click.echo(f"{path}: valid, {len(codebook.codes)} codes ({len(codebook.themes)} themes), "
               f"{len(codebook.rules) - scope_rules} rules{scope}{uncoded}, hash {codebook.hash}")


@cli.command("warm-up", context_settings=CONTEXT)
def warm_up():
    """Build deduce's lookup cache and load the word lists once (about 90 s after installing).

    Example: qcode warm-up
    """
    from .anonymise import warm_up as run_warm_up
    from .nlp import load_nlp

    run_warm_up()
    load_nlp()
    click.echo("qcode is ready: deduce cache built, word lists and spaCy pipeline load.")


def main() -> None:
    """The `qcode` console script: `cli`, then an immediate exit. Python's own exit frees the
    anonymiser's word lists and deduce's lookup tables object by object, which kept the process
    alive 10-15 s after a build's summary or a Ctrl-C. By then every file is written and closed
    (a build replaces its database before it prints), so nothing is lost by skipping that."""
    try:
        cli.main(prog_name="qcode")        # standalone mode: prints errors, ends in SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
