"""Readers that turn each offline source into documents.

Every reader takes the folder the packages were extracted into (see
``build_corpus.py``) and yields ``(source, text)`` documents. Chat documents
are rendered with the built-in chat format
(:func:`console.engine.chat_template.format_builtin_chat`, without the
leading BOS: ``build_corpus`` separates documents with ``<|endoftext|>``).
"""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path
from typing import Iterator

from console.engine.chat_template import format_builtin_chat

Doc = tuple[str, str]

PY_DOCS = "usr/share/doc/python3.11/html/_sources"
WORDNET = "usr/share/wordnet"
DEVIL = "usr/share/dictd/devil.dict.dz"
JARGON = "usr/share/doc/jargon-text/jargon.txt.gz"
CHATTERBOT = "chatterbot/chatterbot_corpus/data/english"

SYSTEM_PROMPTS = (
    "You are a helpful assistant.",
    "You are a concise assistant. Answer in one or two sentences.",
    "You are a dictionary assistant. Define words plainly.",
    "You are a friendly assistant.",
    "You are a Python expert. Answer questions about Python.",
)


def chat(messages: list[dict[str, str]], rng: random.Random, p_system: float = 0.2) -> str:
    """One conversation in the built-in chat format, sometimes with a system turn."""
    if rng.random() < p_system:
        messages = [{"role": "system", "content": rng.choice(SYSTEM_PROMPTS)}, *messages]
    return format_builtin_chat(messages, add_generation_prompt=False, bos=False)


# --------------------------------------------------------------- Python docs
_HEADING_RULE = re.compile(r"^([=\-~^\"'`#*+.:_])\1{3,}\s*$")
_DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w:-]+)::\s*(.*)$")
_DROP_BLOCKS = {
    "index", "toctree", "contents", "raw", "testsetup", "testcleanup", "image", "figure",
    "only", "include", "literalinclude", "productionlist", "audit-event-table", "tabularcolumns",
    "highlight", "module", "moduleauthor", "sectionauthor", "currentmodule", "program",
    "c:function", "c:type", "c:macro", "c:member", "c:var", "opcode", "pdbcommand", "envvar",
}
_SIGNATURES = {"function", "method", "class", "attribute", "data", "exception",
               "decorator", "classmethod", "staticmethod", "coroutinefunction",
               "coroutinemethod", "abstractmethod", "describe", "option", "cmdoption"}
_ROLE = re.compile(r":[\w:+-]+:`(?:[^`<]*?<([^`>]*)>|(!?~?[^`]*))`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]+>`__?")
_LITERAL = re.compile(r"``(.+?)``")
_EMPH = re.compile(r"(?<![\w*])\*\*?([^*\s][^*]*?)\*\*?(?![\w*])")
_REF = re.compile(r"`([^`]+)`_")


def _inline(line: str) -> str:
    def role(m: re.Match[str]) -> str:
        text = m.group(1) if m.group(1) is not None else m.group(2)
        text = text.lstrip("!")
        if text.startswith("~"):  # Sphinx shows only the last component
            text = text.rsplit(".", 1)[-1]
        return text.lstrip("~.")

    line = _LINK.sub(r"\1", line)
    line = _ROLE.sub(lambda m: role(m) if m.group(1) is None else _ref_text(m), line)
    line = _LITERAL.sub(r"\1", line)
    line = _REF.sub(r"\1", line)
    line = _EMPH.sub(r"\1", line)
    return line


def _ref_text(m: re.Match[str]) -> str:
    # :ref:`text <label>` -> text
    whole = m.group(0)
    inner = whole[whole.index("`") + 1 : -1]
    return inner[: inner.rfind("<")].strip() or m.group(1)


def clean_rest(text: str) -> str:
    """reST source -> readable text: markup removed, code blocks kept."""
    out: list[str] = []
    skip_indent: int | None = None
    after_directive: int | None = None
    for raw in text.splitlines():
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                continue
            skip_indent = None
        if after_directive is not None:
            if not stripped:
                out.append("")
                continue
            if stripped.startswith(":") and indent > after_directive and re.match(r":[\w-]+:", stripped):
                continue  # directive options
            after_directive = None
        if _HEADING_RULE.match(raw):
            continue
        m = _DIRECTIVE.match(raw)
        if m:
            name = m.group(2)
            if name in _DROP_BLOCKS:
                skip_indent = len(m.group(1))
                continue
            after_directive = len(m.group(1))
            if name in _SIGNATURES and m.group(3):
                out.append(m.group(1) + m.group(3))
            continue
        if re.match(r"^\s*\.\. _[^:]+:", raw) or re.match(r"^\s*\.\. \|", raw):
            continue
        if re.match(r"^\s*\.\.\s*$", raw):
            skip_indent = indent
            continue
        if stripped == "::":
            continue
        line = _inline(raw.rstrip())
        if line.endswith("::"):
            line = line[:-2].rstrip() + ":" if not line.endswith(" ::") else line[:-3]
        out.append(line)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _sections(text: str) -> list[tuple[str, str]]:
    """Split reST into (heading, body) pairs on underlined headings."""
    lines = text.splitlines()
    sections: list[tuple[str, list[str]]] = [("", [])]
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and _HEADING_RULE.match(nxt) and len(nxt.strip()) >= len(line.strip()) - 1 \
                and not _HEADING_RULE.match(line):
            sections.append((line.strip(), []))
            i += 2
            continue
        sections[-1][1].append(line)
        i += 1
    return [(h, "\n".join(b)) for h, b in sections]


def python_docs(root: Path, min_chars: int = 1500) -> Iterator[Doc]:
    """Prose and examples of the Python 3.11 docs (no C API, whatsnew, distutils, FAQ)."""
    base = root / PY_DOCS
    skip = {"c-api", "whatsnew", "distutils", "faq", "includes"}
    for path in sorted(base.rglob("*.rst.txt")):
        rel = path.relative_to(base)
        if rel.parts[0] in skip or rel.name in {"license.rst.txt", "copyright.rst.txt"}:
            continue
        chunk: list[str] = []
        for heading, body in _sections(path.read_text(encoding="utf-8")):
            cleaned = clean_rest(body)
            if heading:
                chunk.append(_inline(heading))
            if cleaned:
                chunk.append(cleaned)
            if sum(map(len, chunk)) >= min_chars:
                yield "python-docs", "\n\n".join(chunk)
                chunk = []
        if chunk and sum(map(len, chunk)) > 200:
            yield "python-docs", "\n\n".join(chunk)


def python_faq(root: Path, rng: random.Random) -> Iterator[Doc]:
    """Python FAQ sections whose heading is a question, as one-turn chats."""
    for path in sorted((root / PY_DOCS / "faq").glob("*.rst.txt")):
        for heading, body in _sections(path.read_text(encoding="utf-8")):
            answer = clean_rest(body)
            if heading.endswith("?") and len(answer) > 20:
                question = _inline(heading)
                yield "python-faq", chat(
                    [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], rng
                )


# ------------------------------------------------------------------- WordNet
_POS_FILES = (("noun", "data.noun"), ("verb", "data.verb"), ("adj", "data.adj"), ("adv", "data.adv"))


def _wordnet_synsets(root: Path) -> Iterator[tuple[str, list[str], str, list[str]]]:
    for pos, name in _POS_FILES:
        with open(root / WORDNET / name, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                head, gloss = line.split("|", 1)
                fields = head.split()
                n_words = int(fields[3], 16)
                words = [re.sub(r"\([a-z]+\)$", "", w).replace("_", " ")
                         for w in fields[4 : 4 + 2 * n_words : 2]]
                parts = [p.strip() for p in gloss.strip().split(";")]
                definition = parts[0]
                examples = [p.strip('"') for p in parts[1:] if p.startswith('"') and p.endswith('"')]
                if definition:
                    yield pos, words, definition, examples


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _qa(pos: str, words: list[str], definition: str, examples: list[str], rng: random.Random) -> list[dict]:
    word = words[0]
    if pos == "noun":
        q = rng.choice([f"What is {_article(word)} {word}?", f"What does \"{word}\" mean?",
                        f"Define {word}.", f"What is meant by {word}?"])
        if re.match(r"(a|an|the|any|one|someone|something) ", definition):
            a = f"{_article(word).capitalize()} {word} is {definition}."
        else:
            a = f"\"{word.capitalize()}\" means {definition}."
    elif pos == "verb":
        q = rng.choice([f"What does it mean to {word}?", f"What does the verb \"{word}\" mean?",
                        f"Define the verb {word}."])
        a = f"To {word} means to {definition}."
    else:
        kind = "adjective" if pos == "adj" else "adverb"
        q = rng.choice([f"What does \"{word}\" mean?", f"What does the {kind} \"{word}\" mean?"])
        a = f"\"{word.capitalize()}\" means {definition}."
    if examples:
        a += f" For example: \"{examples[0]}\"."
    turns = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    others = [w for w in words[1:] if w.lower() != word.lower()]
    if others and rng.random() < 0.3:
        if len(others) == 1:
            answer = f"Another word for {word} is {others[0]}."
        else:
            answer = f"Other words for {word} are {', '.join(others[:-1])} and {others[-1]}."
        turns += [{"role": "user", "content": f"What is another word for {word}?"},
                  {"role": "assistant", "content": answer}]
    return turns


def wordnet_chats(root: Path, rng: random.Random, limit: int | None = None) -> Iterator[Doc]:
    """WordNet 3.0 glosses as chats of 1-3 questions and answers each."""
    synsets = list(_wordnet_synsets(root))
    rng.shuffle(synsets)
    if limit is not None:
        synsets = synsets[:limit]
    i = 0
    while i < len(synsets):
        n = rng.choice((1, 1, 2, 3))
        turns: list[dict] = []
        for pos, words, definition, examples in synsets[i : i + n]:
            turns += _qa(pos, words, definition, examples, rng)
        i += n
        yield "wordnet", chat(turns, rng)


# --------------------------------------------------------------- chatterbot
def chatterbot_chats(root: Path, rng: random.Random) -> Iterator[Doc]:
    """chatterbot-corpus English dialogues: turns alternate user/assistant."""
    import yaml  # PyYAML; only this build script needs it

    for path in sorted((root / CHATTERBOT).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for conv in data.get("conversations", []):
            lines = [str(x).strip() for x in conv if str(x).strip()]
            if len(lines) < 2:
                continue
            turns = [{"role": "user" if k % 2 == 0 else "assistant", "content": t}
                     for k, t in enumerate(lines)]
            if turns[-1]["role"] == "user":
                turns = turns[:-1]
            yield "chatterbot", chat(turns, rng)


# ------------------------------------------------- Devil's Dictionary, Jargon
_DEVIL_ENTRY = re.compile(r"^[A-Z][A-Z'\- ]+(, [a-z. ]+\.|\.)\s", re.M)


def _grouped(entries: list[str], source: str, per_doc: int) -> Iterator[Doc]:
    for k in range(0, len(entries), per_doc):
        yield source, "\n\n".join(entries[k : k + per_doc])


def devils_dictionary(root: Path, per_doc: int = 8) -> Iterator[Doc]:
    """Ambrose Bierce, The Devil's Dictionary (public domain), entries grouped."""
    text = gzip.open(root / DEVIL, "rt", encoding="utf-8", errors="replace").read()
    starts = [m.start() for m in _DEVIL_ENTRY.finditer(text)]
    entries = [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)])]
    entries = [re.sub(r"[ \t]+\n", "\n", e) for e in entries if len(e) > 20]
    yield from _grouped(entries, "devil", per_doc)


def jargon_file(root: Path, per_doc: int = 6) -> Iterator[Doc]:
    """Jargon File 4.4.7 (public domain) glossary entries, grouped."""
    text = gzip.open(root / JARGON, "rt", encoding="utf-8", errors="replace").read()
    lines = text.splitlines()
    first = next(i for i, l in enumerate(lines) if l.startswith("   :(TM):"))
    entries: list[list[str]] = []
    for line in lines[first:]:
        if re.match(r"^\S", line):  # appendices and back matter start at column 0
            break
        if line.startswith("   :"):
            entries.append([])
        if entries and not re.search(r"[│─┌┐└┘├┤┼]", line):
            entries[-1].append(line[3:] if line.startswith("   ") else line.strip())
    cleaned = []
    for entry in entries:
        body = "\n".join(entry).strip()
        body = re.sub(r"^:([^:]+):", r"\1:", body)
        body = re.sub(r"\{([^}]+)\}", r"\1", body)
        if len(body) > 40:
            cleaned.append(re.sub(r"\n{3,}", "\n\n", body))
    yield from _grouped(cleaned, "jargon", per_doc)
