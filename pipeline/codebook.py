"""The codebook: load `codebook.yaml`, validate it completely, and describe it.

`load_codebook` reports every problem at once, each with file, line and code id: YAML syntax,
unknown keys, missing fields, duplicate ids, unknown parents, sub-code ids that do not start with
their parent's, parent cycles, an old id in `replaces` that is still a code, invalid regexes and
spaCy token patterns with unknown attributes. Nothing downstream runs on an invalid codebook.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import CodebookError

CODE_ID = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
CODE_KEYS = {"id", "label", "parent", "colour", "color", "definition", "include", "exclude", "examples", "rules",
             "replaces"}
RULE_KEYS = {"id", "phrases", "patterns", "unless_near", "window", "attr"}
TOP_KEYS = {"version", "language", "codes", "uncoded_roles", "teaching_examples", "scope"}
SCOPE_KEYS = {"subject", "other_subjects", "window", "rate"}
# The code ids the hits of the scope's rules carry: no code can have them (CODE_ID has no '@').
SCOPE = "@scope"
OTHER_SUBJECT = "@other"


@dataclass(frozen=True)
class Rule:
    id: str
    code_id: str
    phrases: tuple = ()
    patterns: tuple = ()          # spaCy Matcher patterns (lists of token dicts), as JSON strings
    unless_near: tuple = ()       # lemmas that cancel a match when they occur just before it
    window: int = 3


@dataclass(frozen=True)
class Code:
    id: str
    label: str
    parent: str | None
    colour: str
    definition: str
    include: str = ""
    exclude: str = ""
    examples: tuple = ()
    rules: tuple = ()
    line: int = 0
    replaces: tuple = ()          # ids this code had before (a rename or a move): their codings are its

    def content_hash(self) -> str:
        """Hash of everything that decides how this code is assigned (for incremental re-coding)."""
        payload = json.dumps([self.id, self.parent, [r.__dict__ for r in self.rules]], sort_keys=True, default=list)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def description_hash(self) -> str:
        """Hash of what a reader (and the classifier, as training text) sees of the code."""
        payload = json.dumps([self.label, self.colour, self.definition, self.include, self.exclude, list(self.examples)])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class Codebook:
    codes: list[Code]
    path: Path
    hash: str

    @property
    def tree_hash(self) -> str:
        """Hash of the code ids and their parents: the labels a trained classifier predicts, so a
        saved model is refused for another tree. Rules can change without retraining; an edited
        definition, inclusion note or example retrains (it is training text); see classify.py."""
        tree = [[c.id, c.parent] for c in self.codes]
        return hashlib.sha256(json.dumps(tree).encode()).hexdigest()[:16]
    by_id: dict = field(default_factory=dict)
    # Speaker roles whose turns get no machine codings and do not train the classifier (context,
    # not evidence: an interviewer's questions). A researcher can still code them by hand.
    uncoded_roles: tuple = ()
    # Coded passages of other genres that the classifier learns from in every build and every
    # evaluation, as it learns from the codes' descriptions, and that are never scored: (text,
    # codes) pairs from the codebook's `teaching_examples` (see classify.py, "Training data").
    teaching: tuple = ()
    teaching_left_out: tuple = ()     # why a teaching example was left out (a code it names is gone)
    # The codebook's `scope` (coding.in_scope): rules naming its subject and, optionally, rules
    # naming neighbouring subjects; scope_window words and scope_rate mentions per 1,000 words say
    # how near, or how often in a document, they count. No scope rules: every segment is in scope.
    scope_rules: tuple = ()
    other_subject_rules: tuple = ()
    scope_window: int = 0
    scope_rate: float = 0.0

    def __post_init__(self):
        self.by_id = {code.id: code for code in self.codes}

    @property
    def renamed(self) -> dict[str, str]:
        """Old code id -> the code that `replaces` it: manual codings, findings and memos that name
        the old id follow the code instead of being orphaned."""
        return {old: code.id for code in self.codes for old in code.replaces}

    def current_id(self, code_id: str) -> str:
        return self.renamed.get(code_id, code_id)

    def theme_of(self, code_id: str) -> str:
        code = self.by_id[code_id]
        while code.parent:
            code = self.by_id[code.parent]
        return code.id

    def ancestors(self, code_id: str) -> list[str]:
        out, code = [], self.by_id[code_id]
        while code.parent:
            out.append(code.parent)
            code = self.by_id[code.parent]
        return out

    def descendants(self, code_id: str) -> list[str]:
        out = [code_id]
        for code in self.codes:
            if code.parent and code_id in [code.parent] + self.ancestors(code.parent):
                out.append(code.id)
        return out

    @property
    def themes(self) -> list[str]:
        return [c.id for c in self.codes if c.parent is None]

    def path_of(self, code_id: str) -> str:
        return " > ".join(reversed([code_id] + self.ancestors(code_id)))

    @property
    def rules(self) -> list[Rule]:
        """Every rule: the codes' and the scope's (whose hits carry the code ids SCOPE and OTHER_SUBJECT)."""
        return [rule for code in self.codes for rule in code.rules] + list(self.scope_rules) + list(self.other_subject_rules)


# What a researcher writes that YAML reads otherwise, in words a researcher uses.
YAML_HINTS = {
    "mapping values are not allowed here": " (a text with ': ' in it, common in a Dutch definition, must be in quotes: "
                                           "definition: \"Keuzevrijheid: pgb of zorg in natura\")",
    "found character '\\t' that cannot start any token": " (indent with spaces, not tabs)",
}


def load_codebook(path: Path) -> Codebook:
    """Load and validate a codebook file; raise CodebookError listing every problem."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CodebookError([f"{path}: cannot read the codebook ({exc})"]) from exc
    try:
        root = yaml.compose(raw)
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise CodebookError([f"{where}: YAML syntax error: {problem}{YAML_HINTS.get(problem, '')}"]) from exc
    problems: list[str] = []
    codes = _parse_codes(path, root, data, problems)
    _check_tree(path, codes, problems)
    uncoded_roles = _parse_uncoded_roles(path, root, data, problems)
    teaching, left_out = _parse_teaching(path, root, data, codes, problems)
    scope_rules, other_rules, scope_window, scope_rate = _parse_scope(path, root, data, codes, problems)
    if problems:
        raise CodebookError(problems)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Codebook(codes=codes, path=path, hash=digest, uncoded_roles=uncoded_roles, teaching=teaching,
                    teaching_left_out=left_out, scope_rules=scope_rules, other_subject_rules=other_rules,
                    scope_window=scope_window, scope_rate=scope_rate)


DEFAULT_SCOPE_WINDOW = 300
DEFAULT_SCOPE_RATE = 2.0


def _parse_scope(path: Path, root, data, codes: list[Code], problems: list[str]) -> tuple[tuple, tuple, int, float]:
    """The codebook's `scope`: {subject: [rules], other_subjects: [rules], window: words, rate:
    mentions per 1,000 words}. Its rules are written as a code's rules are; their ids must differ
    from every other rule's."""
    scope = data.get("scope") if isinstance(data, dict) else None
    if scope is None:
        return (), (), 0, 0.0
    node = _mapping_value(root, "scope")
    if not isinstance(scope, dict):
        problems.append(f"{path}:{_node_line(node)}: 'scope' must be a mapping with 'subject' (and 'other_subjects', "
                        "'window', 'rate')")
        return (), (), 0, 0.0
    for key in sorted(set(scope) - SCOPE_KEYS):
        problems.append(f"{path}:{_node_line(_mapping_value(node, key))}: scope: unknown key {key!r}")
    window = scope.get("window", DEFAULT_SCOPE_WINDOW)
    if not isinstance(window, int) or isinstance(window, bool) or window < 0:
        problems.append(f"{path}:{_node_line(_mapping_value(node, 'window'))}: scope: 'window' must be a whole "
                        f"number of words, not {window!r}")
        window = DEFAULT_SCOPE_WINDOW
    rate = scope.get("rate", DEFAULT_SCOPE_RATE)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
        problems.append(f"{path}:{_node_line(_mapping_value(node, 'rate'))}: scope: 'rate' must be a number of "
                        f"mentions per 1,000 words above 0, not {rate!r}")
        rate = DEFAULT_SCOPE_RATE
    subject = _parse_rules(path, SCOPE, scope.get("subject") or [], _mapping_value(node, "subject"), problems)
    others = _parse_rules(path, OTHER_SUBJECT, scope.get("other_subjects") or [], _mapping_value(node, "other_subjects"),
                          problems)
    if not subject:
        problems.append(f"{path}:{_node_line(node)}: scope: 'subject' needs at least one rule (or leave 'scope' out)")
    known = {rule.id: code.id for code in codes for rule in code.rules}
    for rule in subject + others:
        if rule.id in known:
            problems.append(f"{path}:{_node_line(node)}: scope: duplicate rule id {rule.id!r} (also in {known[rule.id]!r})")
        known[rule.id] = "scope"
    return tuple(subject), tuple(others), window, float(rate)


def _parse_teaching(path: Path, root, data, codes: list[Code], problems: list[str]) -> tuple[tuple, tuple]:
    """The codebook's `teaching_examples`: a list of coded passages, each {text: ..., codes: [...]}
    (an empty list for a passage that takes no code); and a warning when some were left out."""
    items = data.get("teaching_examples") if isinstance(data, dict) else None
    if items is None:
        return (), ()
    node = _mapping_value(root, "teaching_examples")
    if not isinstance(items, list) or not isinstance(node, yaml.SequenceNode):
        problems.append(f"{path}:{_node_line(node)}: 'teaching_examples' must be a list of passages with text and codes")
        return (), ()
    renamed = {old: code.id for code in codes for old in code.replaces}
    known = {code.id for code in codes} | set(renamed)
    teaching, skipped = [], []
    for item, item_node in zip(items, node.value):
        line = _node_line(item_node)
        if not (isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip()
                and isinstance(item.get("codes"), list)):
            problems.append(f"{path}:{line}: a teaching example needs a text and a list of codes (codes: [] for none)")
            continue
        unknown = [c for c in item["codes"] if c not in known]
        if unknown:
            # A code dropped from the codebook (or mistyped) must not block a build; without the
            # code the passage would teach the wrong thing, so it is left out, and said (build.py).
            skipped.append(line)
            continue
        teaching.append((item["text"], tuple(renamed.get(c, c) for c in item["codes"])))
    left_out = (f"{path}:{skipped[0]}: {len(skipped)} teaching example{'s' if len(skipped) > 1 else ''} left out, "
                f"as a code they name is not in the codebook (this is the first)",) if skipped else ()
    return tuple(teaching), left_out


def _parse_uncoded_roles(path: Path, root, data, problems: list[str]) -> tuple:
    roles = data.get("uncoded_roles", []) if isinstance(data, dict) else []
    if not isinstance(roles, list) or not all(isinstance(r, str) and r.strip() for r in roles):
        line = _node_line(_mapping_value(root, "uncoded_roles"))
        problems.append(f"{path}:{line}: 'uncoded_roles' must be a list of speaker roles (e.g. [interviewer])")
        return ()
    return tuple(r.strip() for r in roles)


def _node_line(node) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _mapping_value(node, key: str):
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node
    return None


def _parse_codes(path: Path, root, data, problems: list[str]) -> list[Code]:
    if not isinstance(data, dict):
        problems.append(f"{path}:1: the codebook must be a mapping with a 'codes' list")
        return []
    for key in sorted(set(data) - TOP_KEYS):
        problems.append(f"{path}:{_node_line(_mapping_value(root, key))}: unknown top-level key {key!r}")
    codes_node = _mapping_value(root, "codes")
    if not isinstance(data.get("codes"), list) or not isinstance(codes_node, yaml.SequenceNode):
        problems.append(f"{path}:{_node_line(codes_node) or 1}: 'codes' must be a list of codes")
        return []
    codes = []
    for item, node in zip(data["codes"], codes_node.value):
        code = _parse_code(path, item, node, problems)
        if code is not None:
            codes.append(code)
    return codes


def _parse_code(path: Path, item, node, problems: list[str]) -> Code | None:
    line = _node_line(node)
    if not isinstance(item, dict):
        problems.append(f"{path}:{line}: each code must be a mapping with at least id and label")
        return None
    code_id = item.get("id")
    where = f"{path}:{line}: code {code_id!r}"
    if not isinstance(code_id, str) or not CODE_ID.match(code_id):
        problems.append(f"{where}: id must be lower-case letters, digits and _ (sub-codes: theme.sub)")
        return None
    for key in sorted(set(item) - CODE_KEYS):
        problems.append(f"{path}:{_node_line(_mapping_value(node, key))}: code {code_id!r}: unknown key {key!r}")
    for required in ("label", "definition"):
        if not isinstance(item.get(required), str) or not item.get(required).strip():
            problems.append(f"{where}: missing {required!r}")
    colour = item.get("colour", item.get("color", "#888888"))
    if not isinstance(colour, str) or not COLOUR.match(colour):
        problems.append(f"{where}: colour {colour!r} must look like '#1f77b4'")
    parent = item.get("parent")
    if parent is not None and not isinstance(parent, str):
        problems.append(f"{where}: parent must be one code id, not {parent!r}")
        parent = None
    rules = _parse_rules(path, code_id, item.get("rules") or [], _mapping_value(node, "rules"), problems)
    replaces = item.get("replaces") or []
    replaces = [replaces] if isinstance(replaces, str) else replaces
    if not isinstance(replaces, list) or not all(isinstance(r, str) and CODE_ID.match(r) for r in replaces):
        problems.append(f"{where}: 'replaces' must be a list of the code ids this code had before")
        replaces = []
    return Code(
        id=code_id, label=str(item.get("label", "")), parent=parent, colour=str(colour),
        definition=" ".join(str(item.get("definition", "")).split()), include=str(item.get("include") or ""),
        exclude=str(item.get("exclude") or ""), examples=tuple(item.get("examples") or ()), rules=tuple(rules), line=line,
        replaces=tuple(replaces),
    )


def _parse_rules(path: Path, code_id: str, items, node, problems: list[str]) -> list[Rule]:
    if not isinstance(items, list):
        problems.append(f"{path}:{_node_line(node)}: {_owner(code_id)}: 'rules' must be a list")
        return []
    rules = []
    nodes = node.value if isinstance(node, yaml.SequenceNode) else [None] * len(items)
    for item, rule_node in zip(items, nodes):
        line = _node_line(rule_node)
        rule_id = item.get("id") if isinstance(item, dict) else None
        where = f"{path}:{line}: {_owner(code_id)} rule {rule_id!r}"
        if not isinstance(item, dict) or not isinstance(rule_id, str):
            problems.append(f"{where}: each rule needs an id")
            continue
        for key in sorted(set(item) - RULE_KEYS):
            problems.append(f"{where}: unknown key {key!r}")
        phrases = item.get("phrases") or []
        patterns = item.get("patterns") or []
        if not phrases and not patterns:
            problems.append(f"{where}: a rule needs 'phrases' or 'patterns'")
        if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
            problems.append(f"{where}: 'phrases' must be a list of non-empty strings")
            phrases = []
        for pattern_problem in _check_patterns(patterns):
            problems.append(f"{where}: {pattern_problem}")
        unless_near = item.get("unless_near") or []
        if not isinstance(unless_near, list) or not all(isinstance(w, str) for w in unless_near):
            problems.append(f"{where}: 'unless_near' must be a list of words")
            unless_near = []
        window = item.get("window", 3)
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            problems.append(f"{where}: 'window' must be a whole number of tokens, not {window!r}")
            window = 3
        rules.append(Rule(
            id=rule_id, code_id=code_id, phrases=tuple(phrases),
            patterns=tuple(json.dumps(p, sort_keys=True) for p in patterns if isinstance(p, list)),
            unless_near=tuple(unless_near), window=window,
        ))
    return rules


def _owner(code_id: str) -> str:
    return {SCOPE: "scope subject", OTHER_SUBJECT: "scope other_subjects"}.get(code_id, f"code {code_id!r}")


def _check_patterns(patterns) -> list[str]:
    """Validate spaCy token patterns with spaCy's own validator, plus every REGEX value."""
    if not isinstance(patterns, list):
        return ["'patterns' must be a list of token patterns"]
    from spacy.matcher import Matcher

    from .nlp import load_nlp

    problems = []
    matcher = Matcher(load_nlp().vocab, validate=True)
    for number, pattern in enumerate(patterns, start=1):
        if not isinstance(pattern, list) or not all(isinstance(t, dict) for t in pattern):
            problems.append(f"pattern {number} must be a list of token dicts")
            continue
        bad_regex = False
        for regex in _regexes(pattern):
            try:
                re.compile(regex)
            except re.error as exc:
                problems.append(f"pattern {number}: invalid regex {regex!r} ({exc})")
                bad_regex = True
        if bad_regex:
            continue
        try:
            matcher.add(f"check{number}", [pattern])
        except (ValueError, TypeError, KeyError) as exc:  # spaCy's MatcherError is a ValueError
            message = " ".join(str(exc).split()) + _attribute_hint(pattern)
            problems.append(f"pattern {number}: invalid spaCy pattern: {message}")
    return problems


TOKEN_ATTRIBUTES = ("ORTH", "TEXT", "NORM", "LOWER", "LEMMA", "POS", "TAG", "MORPH", "DEP", "ENT_TYPE", "SHAPE",
                    "LENGTH", "IS_ALPHA", "IS_ASCII", "IS_DIGIT", "IS_LOWER", "IS_UPPER", "IS_TITLE", "IS_PUNCT",
                    "IS_SPACE", "IS_STOP", "LIKE_NUM", "LIKE_URL", "LIKE_EMAIL", "OP", "REGEX", "IN", "NOT_IN")


def _attribute_hint(pattern: list) -> str:
    """spaCy's "Extra inputs are not permitted" does not say what was meant: "LEMA" -> "LEMMA"."""
    hints = []
    for token in pattern:
        for key in token if isinstance(token, dict) else ():
            close = difflib.get_close_matches(str(key).upper(), TOKEN_ATTRIBUTES, n=1, cutoff=0.7)
            if str(key) not in TOKEN_ATTRIBUTES and close:
                hints.append(f"{key!r}: did you mean {close[0]!r}?")
    return f" ({'; '.join(hints)})" if hints else ""


def _regexes(value) -> list[str]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "REGEX" and isinstance(v, str)] + [
            r for v in value.values() for r in _regexes(v)]
    if isinstance(value, list):
        return [r for v in value for r in _regexes(v)]
    return []


def _check_tree(path: Path, codes: list[Code], problems: list[str]) -> None:
    seen: dict[str, Code] = {}
    rule_ids: dict[str, str] = {}
    for code in codes:
        if code.id in seen:
            problems.append(f"{path}:{code.line}: code {code.id!r}: duplicate id (first defined on line {seen[code.id].line})")
        else:
            seen[code.id] = code
        for rule in code.rules:
            if rule.id in rule_ids:
                problems.append(f"{path}:{code.line}: code {code.id!r}: duplicate rule id {rule.id!r} (also in {rule_ids[rule.id]!r})")
            rule_ids[rule.id] = code.id
    for code in codes:
        if code.parent is not None and code.parent not in seen:
            problems.append(f"{path}:{code.line}: code {code.id!r}: unknown parent {code.parent!r}")
    replaced: dict[str, str] = {}
    for code in codes:
        for old in code.replaces:
            if old in seen:
                problems.append(f"{path}:{code.line}: code {code.id!r}: replaces {old!r}, which is still a code "
                                f"(line {seen[old].line}); remove it there, or drop it from 'replaces'")
            elif old in replaced:
                problems.append(f"{path}:{code.line}: code {code.id!r}: replaces {old!r}, which {replaced[old]!r} "
                                "replaces already")
            replaced.setdefault(old, code.id)
    in_cycle = set()
    for code in codes:
        chain, current = [code.id], code
        while current.parent in seen:
            current = seen[current.parent]
            if current.id in chain:
                if current.id == code.id:
                    problems.append(f"{path}:{code.line}: code {code.id!r}: parent cycle {' -> '.join(chain + [current.id])}")
                    in_cycle.add(code.id)
                break
            chain.append(current.id)
    for code in codes:
        # The id says where a code sits ("taal.niveau"): exports, diffs and the workbench show ids.
        if code.parent in seen and code.id not in in_cycle and not code.id.startswith(code.parent + "."):
            problems.append(f"{path}:{code.line}: code {code.id!r}: a sub-code's id starts with its parent's "
                            f"({code.parent + '.'!r}), e.g. {code.parent + '.' + code.id.rsplit('.', 1)[-1]!r}")
