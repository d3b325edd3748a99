"""qcode's Datasette plugin: the evidence workbench under /-/qcode.

Each hook is a short dispatcher over the tested functions in `workbench.py`. Corpus text is escaped
by Jinja's autoescape or by `workbench.highlight`. Writes (review, memos, quote status) need a
logged-in researcher and Datasette's CSRF token.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import html
import itertools
import logging
import os
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import sqlite_utils
from datasette import hookimpl
from datasette.database import Database, connections
from datasette.utils import baseconv
from datasette.utils.asgi import Forbidden, NotFound, Response

from . import workbench
from .metadata import CANNED_QUERIES

PAGES = [("search", "Zoeken"), ("codebook", "Codeboek"), ("findings", "Bevindingen"),
         ("matrix/role", "Matrices"), ("diff", "Laatste run"), ("documents", "Documenten")]


def _config(datasette) -> dict:
    return datasette.plugin_config("qcode") or {}


def _users(datasette) -> dict:
    """The researchers' logins {name: hash}, read from the users file `qcode serve --users` named
    (again when it changes, so `qcode hash-password` needs no restart)."""
    from pipeline.serve import load_users

    path = _config(datasette).get("users_file")
    if not path:
        return {}
    stamp = os.stat(path).st_mtime_ns if os.path.exists(path) else None
    cached = getattr(datasette, "_qcode_users", None)
    if cached is None or cached[0] != (path, stamp):
        datasette._qcode_users = ((path, stamp), load_users(Path(path)) if stamp is not None else {})
    return datasette._qcode_users[1]


def _database(datasette):
    """The qcode database: the configured one, else the first with a segments table."""
    name = _config(datasette).get("database")
    if name and name in datasette.databases:
        return datasette.get_database(name)
    for db in datasette.databases.values():
        if db.name != "_internal" and db.path and Path(db.path).exists():
            return db
    raise NotFound("geen qcode-database geopend")


async def _read(datasette, fn, *args):
    db = _database(datasette)
    return await db.execute_fn(lambda conn: fn(conn, *args))


async def _render(datasette, request, template, **context):
    researcher = _current_researcher(datasette, request.actor, request.cookies.get("ds_actor", ""))
    # not `actor`: Datasette sets that from the cookie alone, whoever the users file still knows
    context.update(pages=PAGES, researcher=researcher, db_name=_database(datasette).name,
                   login_enabled=bool(_users(datasette)), dutch=workbench.DUTCH)
    return Response.html(await datasette.render_template(template, context, request=request))


# ---------------------------------------------------------------- pages


async def index(datasette, request):
    overview = await _read(datasette, lambda conn: {
        "documents": workbench.rows(conn, "select count(*) as n from documents")[0]["n"],
        "segments": workbench.rows(conn, "select count(*) as n from segments")[0]["n"],
        "codes": workbench.codebook_tree(conn),
    })
    return await _render(datasette, request, "qcode_index.html", **overview)


async def search_page(datasette, request):
    query = request.args.get("q", "")
    filters = {k: request.args.get(k, "") for k in ("code", "with_code", "role", "municipality_type", "source", "status")}
    lemmas = _lemmas(query)
    searched = bool(query.strip()) or any(filters.values())     # a code's badge links here with no words
    result = await _read(datasette, workbench.search, query, lemmas, filters) if searched else {"results": [], "facets": {}, "total": 0}
    def search_link(changes: dict) -> str:
        """The query string of this search with some filters changed (a facet keeps the others)."""
        return urlencode({k: v for k, v in {"q": query, **filters, **changes}.items() if v or k == "q"})

    asked = [filters[k] for k in ("code", "with_code") if filters[k]]
    known = await _read(datasette, lambda conn: {r["id"] for r in workbench.rows(conn, "select id from codes")}) if asked else set()
    unknown_code = next((code for code in asked if code not in known), None)
    return await _render(datasette, request, "qcode_search.html", q=query, filters=filters, searched=searched,
                         search_link=search_link, unknown_code=unknown_code, **result)


def _lemmas(query: str) -> list[str]:
    """The lemma of each searched word of the query (store.query_words), with the same spaCy
    pipeline as the index ("taallessen" -> "taalles"); a word spaCy splits keeps its parts' lemmas."""
    from pipeline.nlp import load_nlp
    from pipeline.store import query_words

    words = [w.lower() for w in query_words(query)]
    return ["".join(t.lemma_ + t.whitespace_ for t in doc) for doc in load_nlp().pipe(words)] if words else []


async def quote_page(datasette, request):
    data = await _read(datasette, workbench.quote, request.url_vars["segment_id"])
    if data is None:
        raise NotFound("geen citaat met dit nummer")
    codes = await _read(datasette, workbench.codebook_tree)
    return await _render(datasette, request, "qcode_quote.html", all_codes=codes,
                         statuses=workbench.QUOTE_STATUSES, **data)


async def document_page(datasette, request):
    data = await _read(datasette, workbench.document, request.url_vars["document_id"], request.args.get("code"))
    if data is None:
        raise NotFound("geen document met dit nummer")
    return await _render(datasette, request, "qcode_document.html", **data)


async def documents_page(datasette, request):
    docs = await _read(datasette, workbench.rows, "select id, title, kind, date, municipality, municipality_type, words from documents order by date, id")
    return await _render(datasette, request, "qcode_documents.html", documents=docs)


async def codebook_page(datasette, request):
    codes = await _read(datasette, workbench.codebook_tree)
    memos = await _read(datasette, workbench.memos_by_target, "code")
    return await _render(datasette, request, "qcode_codebook.html", codes=codes, memos=memos)


async def findings_page(datasette, request):
    return await _render(datasette, request, "qcode_findings.html", findings=await _read(datasette, workbench.findings_overview))


async def finding_page(datasette, request):
    data = await _read(datasette, workbench.finding, request.url_vars["finding_id"])
    if data is None:
        raise NotFound("geen bevinding met dit nummer")
    return await _render(datasette, request, "qcode_finding.html", **data)


async def matrix_page(datasette, request):
    dimension = request.url_vars["dimension"]
    if dimension not in workbench.MATRIX_DIMENSIONS and dimension != "cooccurrence":
        raise NotFound("geen matrix met deze naam")
    data = await _read(datasette, workbench.matrix, dimension)
    return await _render(datasette, request, "qcode_matrix.html", dimensions=workbench.MATRIX_DIMENSIONS,
                         heat=workbench.heat, **data)


async def diff_page(datasette, request):
    """/-/qcode/diff?a=3&b=7: what the codings changed between two runs (default: the last two)."""
    chosen = [request.args.get(name, "") for name in ("a", "b")]
    run_a, run_b = (int(value) if value.isdigit() else None for value in chosen)
    return await _render(datasette, request, "qcode_diff.html",
                         **await _read(datasette, workbench.last_run_diff, run_a, run_b))


async def export_download(datasette, request):
    """/-/qcode/export?format=…&code=…&q=…: the page's current selection as a download.
    Read-only (Datasette's read connection), anonymised database contents only."""
    from pipeline.errors import QcodeError
    from pipeline.export import MEDIA_TYPES, download_name, filters_from_params, render

    fmt = request.args.get("format", "md")
    try:
        filters = filters_from_params(request.args, _lemmas(request.args.get("q", "")))
        body = await _read(datasette, lambda conn: render(sqlite_utils.Database(conn), fmt, filters))
    except QcodeError as exc:
        return Response.text(str(exc), status=400)
    return Response(body.encode("utf-8") if isinstance(body, str) else body, content_type=MEDIA_TYPES[fmt][0],
                    headers={"Content-Disposition": f'attachment; filename="{download_name(fmt, filters)}"'})


# ---------------------------------------------------------------- login and writes


async def login(datasette, request):
    users = _users(datasette)
    error = None
    if request.method == "POST":
        form = await request.post_vars()
        name, password = form.get("username", ""), form.get("password", "")
        # An unknown name is checked against a dummy hash too: the answer's time must not say which names exist.
        if workbench.check_password(password, users.get(name) or _dummy_hash()) and name in users:
            response = Response.redirect(_local_path(form.get("next")))
            actor = {"id": name, "qcode": True, "login": _login_stamp(users[name])}
            expires = baseconv.base62.encode(int(time.time()) + SESSION_SECONDS)
            response.set_cookie("ds_actor", datasette.sign({"a": actor, "e": expires}, "actor"),
                                httponly=True, samesite="lax")
            return response
        error = "Onbekende gebruiker of verkeerd wachtwoord."
        return await _render(datasette, request, "qcode_login.html", error=error, next=_local_path(form.get("next")))
    return await _render(datasette, request, "qcode_login.html", error=error, next=request.args.get("next", "/-/qcode"))


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return workbench.hash_password("", salt="0" * 16)

# A login lasts a working day; removing a researcher from the users file, changing her password or
# logging out ends it at once (Datasette's signed cookie alone would stay valid for ever).
SESSION_SECONDS = 12 * 3600


def _login_stamp(password_hash: str) -> str:
    """A fingerprint of the stored hash the login was checked against: a new password voids it."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def _current_researcher(datasette, actor, cookie: str = "") -> str | None:
    """The researcher a signed actor names, if she still may act: in the users file with the same
    password as at login, and not logged out since."""
    if not (isinstance(actor, dict) and actor.get("qcode") and actor.get("id")):
        return None
    users = _users(datasette)
    name = actor["id"]
    if name not in users or actor.get("login") != _login_stamp(users[name]) or cookie in _logged_out(datasette):
        return None
    return name


def _logged_out(datasette) -> set:
    if not hasattr(datasette, "_qcode_logged_out"):
        datasette._qcode_logged_out = set()
    return datasette._qcode_logged_out


def _local_path(target: str | None) -> str:
    """Where to go after logging in: a path on this server only ("/-/qcode/quote/..."), never
    another site ("https://evil.example", "//evil.example", "/\\evil.example")."""
    target = (target or "").strip()
    if not target.startswith("/") or target.startswith(("//", "/\\")) or any(c in target for c in "\r\n"):
        return "/-/qcode"
    return target


async def logout(datasette, request):
    if request.method != "POST":     # a link or an image elsewhere must not log a researcher out
        return Response.redirect("/-/qcode")
    if request.cookies.get("ds_actor"):
        _logged_out(datasette).add(request.cookies["ds_actor"])     # a copy of the cookie ends too
    response = Response.redirect("/-/qcode")
    response.set_cookie("ds_actor", "", expires=0)
    return response


def _researcher(datasette, request) -> str:
    name = _current_researcher(datasette, request.actor, request.cookies.get("ds_actor", ""))
    if name is None:
        raise Forbidden("Log eerst in als onderzoeker (/-/qcode/login) om coderingen te wijzigen.")
    return name


async def _write(datasette, fn, *args):
    db = _database(datasette)
    return await db.execute_write_fn(lambda conn: fn(conn, *args), block=True)


async def _redacted(text: str) -> str:
    """A researcher's typed text without identifiers (see pipeline.anonymise.redact): a memo is
    stored, shown and exported like corpus text. The anonymiser's lists load on the first memo
    (about 3 s, in a worker thread)."""
    if not text.strip():
        return text
    return (await asyncio.get_running_loop().run_in_executor(None, _redact, text))[0]


def _redact(text: str) -> tuple[str, int]:
    from pipeline.anonymise import redact

    return redact(text, _memo_lists())


_LISTS_LOCK = threading.Lock()


def _memo_lists():
    """The anonymiser's lists, loaded once: researchers saving their first memos at the same time
    had each loaded them (3.2 GB and 16 s instead of 1.5 GB and 3 s)."""
    from pipeline.anonymise import load_lists

    with _LISTS_LOCK:
        if not hasattr(_memo_lists, "lists"):
            _memo_lists.lists = load_lists()
    return _memo_lists.lists


async def review(datasette, request):
    coder = _researcher(datasette, request)
    form = await request.post_vars()
    try:
        await _write(datasette, workbench.record_decision, form.get("segment_id", ""), form.get("code_id", ""),
                     form.get("decision", ""), coder, await _redacted(form.get("note", "")))
    except ValueError as exc:
        return Response.text(str(exc), status=400)
    return Response.redirect(f"/-/qcode/quote/{form.get('segment_id')}")


async def memo(datasette, request):
    author = _researcher(datasette, request)
    form = await request.post_vars()
    back = _local_path(form.get("next"))
    if not form.get("text", "").strip():
        return Response.redirect(back)       # an empty memo: nothing to save, back to the page
    try:
        await _write(datasette, workbench.add_memo, form.get("target_type", ""), form.get("target_id", ""), author,
                     await _redacted(form.get("text", "")))
    except ValueError as exc:
        return Response.text(str(exc), status=400)
    return Response.redirect(back)


async def quote_status(datasette, request):
    author = _researcher(datasette, request)
    form = await request.post_vars()
    try:
        await _write(datasette, workbench.set_quote_status, form.get("segment_id", ""), form.get("status", ""), author,
                     form.get("seen"))
    except workbench.StaleStatus as exc:
        back = f"/-/qcode/quote/{form.get('segment_id', '')}"
        return Response.html(f'<p>{html.escape(str(exc))}</p><p><a href="{html.escape(back)}">terug naar het citaat</a></p>',
                             status=409)
    except ValueError as exc:
        return Response.text(str(exc), status=400)
    return Response.redirect(f"/-/qcode/quote/{form.get('segment_id')}")


# ---------------------------------------------------------------- hooks


@hookimpl
def register_routes():
    return [
        (r"^/-/qcode$", index),
        (r"^/-/qcode/search$", search_page),
        (r"^/-/qcode/quote/(?P<segment_id>[0-9a-f]+)$", quote_page),
        (r"^/-/qcode/document/(?P<document_id>[\w.-]+)$", document_page),
        (r"^/-/qcode/documents$", documents_page),
        (r"^/-/qcode/codebook$", codebook_page),
        (r"^/-/qcode/findings$", findings_page),
        (r"^/-/qcode/finding/(?P<finding_id>[\w-]+)$", finding_page),
        (r"^/-/qcode/matrix/(?P<dimension>[a-z_]+)$", matrix_page),
        (r"^/-/qcode/diff$", diff_page),
        (r"^/-/qcode/export$", export_download),
        (r"^/-/qcode/login$", login),
        (r"^/-/qcode/logout$", logout),
        (r"^/-/qcode/review$", review),
        (r"^/-/qcode/memo$", memo),
        (r"^/-/qcode/status$", quote_status),
    ]


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["ink"] = workbench.ink      # badge text colour: {{ code.colour|ink }}


@hookimpl
def menu_links(datasette, actor):
    return [{"href": datasette.urls.path("/-/qcode" + ("/" + page if page else "")), "label": f"qcode: {label}"}
            for page, label in [("", "werkbank")] + PAGES]


@hookimpl
def canned_queries(datasette, database):
    db = datasette.databases.get(database)
    if db is None or database == "_internal":
        return None
    return CANNED_QUERIES


class ReattachedDatabase(Database):
    """A database file attached again after `qcode build` replaced it.

    Datasette keeps each worker thread's read connection in a thread-local under the database's
    name (`datasette.database.connections`), so a new Database of the same name would read the
    replaced file through the old connections. This one keys them by name and generation."""

    generations = itertools.count(1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.generation = next(self.generations)

    async def execute_fn(self, fn):
        if self.ds.executor is None:
            return await super().execute_fn(fn)
        key = f"{self.name}\x00qcode-{self.generation}"

        def in_thread():
            conn = getattr(connections, key, None)
            if not conn:
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                setattr(connections, key, conn)
            return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self.ds.executor, in_thread)


def reattach_replaced_databases(datasette) -> None:
    """Follow `qcode build`'s atomic replace: when a database file was swapped for a new one,
    attach the new file, and close the connections to the old one (deleted) a minute later.
    Called for every request, from the ASGI wrapper."""
    for name, db in list(datasette.databases.items()):
        if name == "_internal" or not db.path:
            continue
        try:
            inode = os.stat(db.path).st_ino
        except FileNotFoundError:
            continue
        known = getattr(db, "_qcode_inode", None)
        if known != inode:
            _attach_afresh(datasette, name, db, inode)
        if known not in (None, inode):
            # Requests already running may still read the old file: close its connections later.
            asyncio.get_running_loop().call_later(60, db.close)


def _attach_afresh(datasette, name: str, db, inode: int) -> None:
    """Attach the file anew as a ReattachedDatabase that knows the file's inode. Also done at
    startup: Datasette's threads may have opened the file before anyone noted which file it was,
    and a build swapped in before the first request then went unseen (a tester saw runs 8 and 9
    alternate for a minute)."""
    fresh = ReattachedDatabase(datasette, path=db.path, is_mutable=db.is_mutable)
    fresh._qcode_inode = inode
    datasette.remove_database(name)
    datasette.add_database(fresh, name=name)


async def escape_invalid_table_search(datasette, scope: dict) -> dict:
    """Datasette's own search of the segments table runs in raw mode (metadata.py), so that FTS
    operators work (`taal*`, `regie OR sturing`). A query that FTS5 does not take as it stands,
    such as `B1-route`, runs in Datasette's escaped mode instead of answering 400."""
    query_string = scope.get("query_string", b"")
    if b"_search=" not in query_string or b"_searchmode=" in query_string:
        return scope
    if scope.get("path", "").rsplit("/", 1)[-1].split(".", 1)[0] != "segments":
        return scope
    query = dict(parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True)).get("_search", "")
    if not query.strip() or await _read(datasette, workbench.fts_query_is_valid, query):
        return scope
    return {**scope, "query_string": query_string + b"&_searchmode=escaped"}


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def checked(scope, receive, send):
            if scope.get("type") == "http":
                if _login_needed(datasette, scope):
                    next_path = scope.get("path", "/") + ("?" + scope["query_string"].decode("latin-1")
                                                          if scope.get("query_string") else "")
                    await Response.redirect("/-/qcode/login?" + urlencode({"next": next_path})).asgi_send(send)
                    return
                reattach_replaced_databases(datasette)
                scope = await escape_invalid_table_search(datasette, scope)
            await app(scope, receive, send)
        return checked
    return wrap


# Reachable without a login when every page needs one: the login form and Datasette's CSS and JS.
OPEN_PATHS = ("/-/qcode/login", "/-/static/", "/-/static-plugins/", "/favicon.ico")


def _login_needed(datasette, scope) -> bool:
    """Whether this request must log in first: on a server started with login_to_read (a non-local
    --host), every page but the login form, unless the signed ds_actor cookie names a researcher."""
    if not _config(datasette).get("login_to_read") or scope.get("path", "").startswith(OPEN_PATHS):
        return False
    cookies = dict(pair.split("=", 1) for pair in _header(scope, b"cookie").split("; ") if "=" in pair)
    try:
        signed = datasette.unsign(cookies.get("ds_actor", ""), "actor")
        actor = signed["a"]
    except Exception:       # missing or tampered with: not logged in
        return True
    if "e" in signed and baseconv.base62.decode(signed["e"]) < time.time():
        return True         # expired
    return _current_researcher(datasette, actor, cookies.get("ds_actor", "")) is None


def _header(scope, name: bytes) -> str:
    return b"; ".join(value for key, value in scope.get("headers", []) if key.lower() == name).decode("latin-1")


def _delete_serve_metadata() -> None:
    """`qcode serve` writes Datasette's metadata (with the login hashes) to a temporary file, which
    Datasette has read by now: delete it, so that no stopped server leaves one behind."""
    from pipeline.serve import METADATA_ENV

    path = Path(os.environ.pop(METADATA_ENV, "") or "")
    if path.name.startswith("qcode-serve-") and path.suffix == ".json":
        path.unlink(missing_ok=True)


class _QueryFreeAccessLog(logging.Filter):
    """uvicorn logs each request with its query string: a search for a name to check for a leak
    (`/-/qcode/search?q=Verhoeven`) would write that name to the server's log. Keep the path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and "?" in str(record.args[2]):
            record.args = (*record.args[:2], str(record.args[2]).split("?", 1)[0] + "?…", *record.args[3:])
        return True


@hookimpl
def startup(datasette):
    # Datasette 0.65's default error page prints the exception with rich when rich is installed
    # (spaCy brings it); for a URL that matches no route it does so outside an `except` block,
    # which rich refuses with a ValueError, so every unknown URL answered 500 instead of 404. The
    # page does not need rich: switch that console print off (imported here, not at plugin load,
    # where importing Datasette's modules changes the order its plugins register in).
    import datasette.handle_exception as default_error_page

    default_error_page.rich = None
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _QueryFreeAccessLog) for f in access_log.filters):
        access_log.addFilter(_QueryFreeAccessLog())
    _delete_serve_metadata()
    reattach_replaced_databases(datasette)      # note each file's inode before any request

    async def warm():
        # Load the spaCy pipeline now, not on the first search.
        from pipeline.nlp import load_nlp

        await asyncio.get_running_loop().run_in_executor(None, load_nlp)

    return warm
