"""Turn a Hugging Face ``pre_tokenizer`` into one tiktoken ``pat_str``.

tiktoken splits text with ONE regex and keeps only what it matches; Hugging
Face applies each ``Split`` of a ``Sequence`` to the pieces of the previous
one and keeps the unmatched gaps as pieces too (``behavior: Isolated``).
This module builds one regex that yields exactly the same pieces:

* a single ``Split`` R becomes ``R|(?:(?!R)[\\s\\S])+``: the last branch is a
  gap (a run of positions where R does not match), which HF keeps as a piece;
* a ``Sequence`` of splits S1..Sk whose first k-1 patterns each isolate runs of
  one character class (``\\p{N}{1,3}``, ``[一-龥぀-ゟ゠-ヿ]+``: DeepSeek-V3's
  digits and CJK splits) becomes ``S1|S2'|...|Sk'|gap``, where in Si' every
  atom A (class, escape, literal) becomes ``(?:(?!C)A)`` with C the union of
  the earlier classes. Tempering also the atoms inside lookaheads makes
  ``\\s+(?!\\S)`` stop where HF's piece would end (before a digit or CJK
  character). This holds when the later splits leave the earlier pieces whole,
  as DeepSeek-V3's do (checked against ``tokenizers`` by the fixture tests);
* ``ByteLevel`` with ``use_regex: true`` contributes GPT-2's regex as a split.

Anything else (Metaspace, Whitespace, Digits, inverted or non-isolated splits,
add_prefix_space) raises :class:`EngineError`: wrong pieces mean wrong ids.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import EngineError

#: GPT-2's pattern, what ``ByteLevel(use_regex=True)`` splits with.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

_QUANTIFIER = re.compile(r"(?:[*+?]|\{\d+(?:,\d*)?\})[?+]?")


def pattern_from_pre_tokenizer(pre: dict[str, Any] | None, source: str) -> tuple[str, bool]:
    """Return ``(pat_str, byte_level)`` for a tokenizer.json ``pre_tokenizer``.

    ``byte_level`` tells whether a ByteLevel step was seen (the caller also
    accepts a ByteLevel decoder as proof of a byte-level BPE).
    """
    steps = _flatten(pre)
    splits: list[str] = []
    byte_level = False
    for step in steps:
        kind = step.get("type")
        if kind == "Split":
            if step.get("behavior") != "Isolated" or step.get("invert"):
                raise EngineError(f"{source}: pre-tokenizer Split with behavior "
                                  f"{step.get('behavior')} / invert {step.get('invert')} is not supported")
            pattern = step.get("pattern") or {}
            if "Regex" in pattern:
                splits.append(pattern["Regex"])
            elif "String" in pattern:
                splits.append(re.escape(pattern["String"]))
            else:
                raise EngineError(f"{source}: pre-tokenizer Split without a pattern")
        elif kind == "ByteLevel":
            byte_level = True
            if step.get("add_prefix_space"):
                raise EngineError(f"{source}: ByteLevel add_prefix_space=true is not supported")
            if step.get("use_regex", True):
                splits.append(GPT2_PATTERN)
        else:
            raise EngineError(f"{source}: pre-tokenizer {kind} is not supported")
    if not splits:
        raise EngineError(f"{source}: the pre-tokenizer has no Split regex")
    return compose(splits, source), byte_level


def _flatten(pre: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not pre:
        return []
    if pre.get("type") == "Sequence":
        out: list[dict[str, Any]] = []
        for sub in pre.get("pretokenizers", []):
            out += _flatten(sub)
        return out
    return [pre]


def compose(splits: list[str], source: str = "pre-tokenizer") -> str:
    """One regex giving the pieces of the successive isolated ``splits``."""
    if len(splits) == 1:
        return f"{splits[0]}|{gap(splits[0])}"
    classes = []
    for pattern in splits[:-1]:
        atom = run_class(pattern)
        if atom is None:
            raise EngineError(f"{source}: a pre-tokenizer Sequence whose split {pattern!r} "
                              "is not a run of one character class is not supported")
        classes.append(atom)
    parts = [splits[0]]
    for i, pattern in enumerate(splits[1:], start=1):
        exclude = "|".join(classes[:i])
        parts.append(temper(pattern, exclude))
    last = parts[-1]
    all_classes = "|".join(classes)
    return "|".join(parts) + f"|(?:(?!{all_classes})(?!{last})[\\s\\S])+"


def gap(pattern: str) -> str:
    """A branch matching a run of characters where ``pattern`` cannot start."""
    return f"(?:(?!{pattern})[\\s\\S])+"


def run_class(pattern: str) -> str | None:
    """``X`` if ``pattern`` is one class-like atom X with a quantifier, else None."""
    atoms = list(_lex(pattern))
    if len(atoms) == 2 and atoms[0][0] == "atom" and atoms[1][0] == "quant":
        return atoms[0][1]
    return None


def temper(pattern: str, exclude: str) -> str:
    """``pattern`` with every atom A replaced by ``(?:(?!exclude)A)``."""
    out = []
    for kind, text in _lex(pattern):
        out.append(f"(?:(?!{exclude}){text})" if kind == "atom" else text)
    return "".join(out)


def _lex(pattern: str):
    """Yield (kind, text): kind is atom | quant | group | alt | anchor | close."""
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            j = _escape_end(pattern, i)
            text = pattern[i:j]
            kind = "anchor" if text in (r"\b", r"\B", r"\A", r"\z", r"\Z", r"\G") else "atom"
            yield kind, text
            i = j
        elif c == "[":
            j = _class_end(pattern, i)
            yield "atom", pattern[i:j]
            i = j
        elif c == "(":
            m = re.match(r"\((\?(?:[:=!>]|<[=!]|P?<\w+>|[a-zA-Z]*(?:-[a-zA-Z]+)?:))?", pattern[i:])
            yield "group", m.group(0)
            i += len(m.group(0))
        elif c == ")":
            yield "close", c
            i += 1
        elif c == "|":
            yield "alt", c
            i += 1
        elif c in "^$":
            yield "anchor", c
            i += 1
        elif c in "*+?{":
            m = _QUANTIFIER.match(pattern, i)
            if m:
                yield "quant", m.group(0)
                i = m.end()
            else:
                yield "atom", c
                i += 1
        else:
            yield "atom", c
            i += 1


def _escape_end(pattern: str, i: int) -> int:
    if i + 1 >= len(pattern):
        raise EngineError(f"pre-tokenizer regex ends with a backslash: {pattern!r}")
    c = pattern[i + 1]
    if c in "pPx" and i + 2 < len(pattern) and pattern[i + 2] == "{":
        return pattern.index("}", i) + 1
    if c in "pP":
        return i + 3
    if c == "x":
        return i + 4
    if c == "u":
        return i + 6
    return i + 2


def _class_end(pattern: str, i: int) -> int:
    """Index after the ``]`` closing the class opened at ``i`` (nested classes too)."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    depth = 1
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j = _escape_end(pattern, j)
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise EngineError(f"pre-tokenizer regex has an unclosed character class: {pattern!r}")
