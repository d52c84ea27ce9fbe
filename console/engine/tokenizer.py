"""The engine's tokenizer: a ``tiktoken.Encoding`` plus special tokens and a chat template.

* :func:`builtin_tokenizer` — the built-in model's encoding ``moe_console_8k``
  (registered with tiktoken by ``tiktoken_ext/moe_console_encodings.py``;
  byte-level BPE, 8,192 ids, trained on ``examples/corpus``).
* :func:`load_tokenizer` — a checkpoint folder's Hugging Face
  ``tokenizer.json`` (byte-level BPE, e.g. DeepSeek-V3's) and
  ``tokenizer_config.json`` (special tokens, Jinja chat template); ``None``
  when the folder has no tokenizer files; :class:`EngineError` for a tokenizer
  this engine cannot reproduce exactly.

Contracts: ``encode`` never adds BOS/EOS and, unless ``allow_special``, treats
special-token text as ordinary text (a user cannot inject ``<|end|>``);
``apply_chat_template`` renders the template and encodes only the template's
own markers as special ids (special-token text inside message content stays
text, unlike ``transformers``, so no message can forge a turn); ``decode`` maps unknown ids to
U+FFFD; a :meth:`Tokenizer.stream_decoder` emits only whole characters.
"""

from __future__ import annotations

import codecs
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import tiktoken

from .chat_template import (
    BUILTIN_CHAT_TEMPLATE, END_OF_TURN, ENDOFTEXT, format_builtin_chat, render_jinja_template,
)
from .errors import EngineError
from .hf_tokenizer import BPESpec, read_tokenizer_json

BUILTIN_ENCODING = "moe_console_8k"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


class StreamDecoder:
    """Turns token ids into text one id at a time, never splitting a character.

    ``push`` returns the text completed by this token (possibly ``""`` while a
    multi-byte character is still incomplete); ``flush`` returns what is left
    (an incomplete tail becomes U+FFFD).
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._bytes_of = tokenizer.token_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        return self._utf8.decode(self._bytes_of(token_id), final=False)

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True)


class Tokenizer:
    """A byte-level BPE tokenizer with special tokens and a chat template."""

    def __init__(
        self,
        encoding: tiktoken.Encoding,
        *,
        special_tokens: Mapping[str, int],
        bos_token: str | None = None,
        eos_token: str | None = None,
        stop_tokens: Iterable[str] = (),
        extra_stop_ids: Iterable[int] = (),
        chat_template: str | None = None,
        template_tokens: Mapping[str, str | None] | None = None,
        spec: BPESpec | None = None,
        source: str = BUILTIN_ENCODING,
    ) -> None:
        self.encoding = encoding
        self.source = source
        self.special_tokens = dict(special_tokens)
        self.bos_token, self.eos_token = bos_token, eos_token
        self.chat_template = chat_template
        self._template_tokens = dict(template_tokens or {"bos_token": bos_token, "eos_token": eos_token})
        self._spec = spec
        self._rank_to_id = spec.rank_to_id if spec else None
        self._normalize = spec.normalize if spec else None
        self._exact = spec if spec is not None and not spec.complete else None
        if spec is not None:
            self._id_to_bytes = dict(spec.id_to_bytes)
        else:
            self._id_to_bytes = {i: encoding.decode_single_token_bytes(i) for i in range(encoding.n_vocab)}
        names = sorted(self.special_tokens, key=len, reverse=True)
        self._special_re = re.compile("|".join(map(re.escape, names))) if names else None
        stops = [self.special_tokens[t] for t in (eos_token, *stop_tokens) if t in self.special_tokens]
        self.stop_token_ids: tuple[int, ...] = tuple(dict.fromkeys([*stops, *extra_stop_ids]))
        self.eos_token_id: int | None = self.special_tokens.get(eos_token) if eos_token else None
        self.bos_token_id: int | None = self.special_tokens.get(bos_token) if bos_token else None
        self.vocab_size = max(self._id_to_bytes) + 1

    # ------------------------------------------------------------ encoding
    def encode(self, text: str, *, allow_special: bool = False) -> list[int]:
        """Token ids of ``text`` (no BOS/EOS added).

        With ``allow_special`` the special-token strings in ``text`` become
        their ids (longest match first); otherwise they are ordinary text.
        """
        if not allow_special or self._special_re is None:
            return self._encode_ordinary(text)
        ids: list[int] = []
        start = 0
        for m in self._special_re.finditer(text):
            ids += self._encode_ordinary(text[start : m.start()])
            ids.append(self.special_tokens[m.group(0)])
            start = m.end()
        ids += self._encode_ordinary(text[start:])
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        if not text:
            return []
        if self._normalize is not None:
            text = self._normalize(text)
        if self._exact is not None:
            return _exact_encode(self._exact, self.encoding._pat_str, text)
        ranks = self.encoding.encode_ordinary(text)
        if self._rank_to_id is None:
            return ranks
        table = self._rank_to_id
        return [table[r] for r in ranks]

    # ------------------------------------------------------------ decoding
    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token; unknown ids give the bytes of U+FFFD."""
        return self._id_to_bytes.get(int(token_id), b"\xef\xbf\xbd")

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return b"".join(self.token_bytes(i) for i in ids)

    def decode(self, ids: Iterable[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def stream_decoder(self) -> StreamDecoder:
        return StreamDecoder(self)

    # ----------------------------------------------------------------- chat
    def render_chat(self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = True) -> str:
        """The prompt text of ``messages`` under this tokenizer's chat template."""
        if self.chat_template is None:
            raise EngineError(f"{self.source}: the tokenizer has no chat template (use a raw prompt)")
        if self.chat_template == BUILTIN_CHAT_TEMPLATE and self._template_tokens.get("bos_token") == ENDOFTEXT:
            return format_builtin_chat(messages, add_generation_prompt)
        return render_jinja_template(self.chat_template, list(messages),
                                     add_generation_prompt=add_generation_prompt,
                                     special_tokens=self._template_tokens, source=self.source)

    def apply_chat_template(self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = True) -> list[int]:
        """Token ids of the rendered chat.

        Only the template's own markers become special ids: special-token text inside a
        message's ``content`` (typed, pasted, or an earlier reply) is encoded as ordinary text,
        so no message can close its turn or forge another. Everything else is tokenized exactly
        as ``transformers`` would tokenize the rendered string.
        """
        if self._special_re is None:
            return self._encode_ordinary(self.render_chat(messages, add_generation_prompt))
        open_mark, close_mark = _unused_marks(messages)
        guarded = [self._guard_specials(m, open_mark, close_mark) for m in messages]
        text = self.render_chat(guarded, add_generation_prompt)
        ids: list[int] = []
        plain: list[str] = []  # ordinary text since the last template marker
        start = 0
        for m in self._special_re.finditer(text):
            inside = text[m.start() - 1 : m.start()] == open_mark and text[m.end() : m.end() + 1] == close_mark
            if inside:  # from a message's content: text, markers dropped
                plain.append(text[start : m.start() - 1] + m.group(0))
                start = m.end() + 1
                continue
            plain.append(text[start : m.start()])
            ids += self._encode_ordinary("".join(plain))
            ids.append(self.special_tokens[m.group(0)])
            plain, start = [], m.end()
        plain.append(text[start:])
        ids += self._encode_ordinary("".join(plain))
        return ids

    def _guard_specials(self, message: Mapping[str, Any], open_mark: str, close_mark: str) -> dict[str, Any]:
        """``message`` with each special-token string in its content wrapped in the marks."""
        content = message.get("content")
        if not isinstance(content, str) or self._special_re is None:
            return dict(message)
        wrapped = self._special_re.sub(lambda m: f"{open_mark}{m.group(0)}{close_mark}", content)
        return {**message, "content": wrapped}

    def __repr__(self) -> str:
        return f"Tokenizer({self.source!r}, vocab_size={self.vocab_size})"


def _unused_marks(messages: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """Two private-use characters that occur in no message content (so they can bracket
    special-token text that came from content while the template renders)."""
    used = "".join(str(m.get("content", "")) for m in messages)
    free = (chr(c) for c in range(0xE000, 0xF900) if chr(c) not in used)
    return next(free), next(free)


# ----------------------------------------------------------------- built-in
@lru_cache(maxsize=1)
def builtin_tokenizer() -> Tokenizer:
    """The built-in model's tokenizer (tiktoken encoding ``moe_console_8k``)."""
    try:
        encoding = tiktoken.get_encoding(BUILTIN_ENCODING)
    except ValueError as exc:
        raise EngineError(f"tiktoken encoding {BUILTIN_ENCODING} is not registered; reinstall "
                          f"moe-console (pip install -e .): {str(exc).splitlines()[0]}") from None
    specials = {t: encoding.encode_single_token(t) for t in encoding.special_tokens_set}
    return Tokenizer(encoding, special_tokens=specials, bos_token=ENDOFTEXT, eos_token=END_OF_TURN,
                     stop_tokens=(ENDOFTEXT,), chat_template=BUILTIN_CHAT_TEMPLATE)


# ---------------------------------------------------------- HF checkpoints
def load_tokenizer(folder: str | Path) -> Tokenizer | None:
    """The tokenizer of a Hugging Face folder, or ``None`` if it has no tokenizer files."""
    folder = Path(folder)
    path = folder / "tokenizer.json"
    if not path.is_file():
        if any((folder / name).is_file() for name in TOKENIZER_FILES):
            raise EngineError(f"{folder}: no tokenizer.json (only tokenizer.json files are supported)")
        return None
    data = _read_json(path)
    spec = read_tokenizer_json(path, data)
    config = _read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    generation = _read_json(folder / "generation_config.json") if (folder / "generation_config.json").is_file() else {}

    n_ranks = len(spec.ranks)
    special_ranks = {text: n_ranks + i for i, text in enumerate(spec.added_tokens)}
    encoding = tiktoken.Encoding(name=f"hf:{folder}", pat_str=spec.pat_str,
                                 mergeable_ranks=spec.ranks, special_tokens=special_ranks)
    tokens = {key: _token_text(config.get(key)) for key in
              ("bos_token", "eos_token", "unk_token", "pad_token")}
    eos_ids = generation.get("eos_token_id")
    extra = [eos_ids] if isinstance(eos_ids, int) else [i for i in (eos_ids or []) if isinstance(i, int)]
    return Tokenizer(encoding, special_tokens=spec.added_tokens, bos_token=tokens["bos_token"],
                     eos_token=tokens["eos_token"], extra_stop_ids=extra,
                     chat_template=_chat_template(folder, config), template_tokens=tokens,
                     spec=spec, source=str(folder))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise EngineError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise EngineError(f"{path}: expected a JSON object")
    return data


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def _chat_template(folder: Path, config: Mapping[str, Any]) -> str | None:
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: take "default"
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


# ------------------------------------------------ exact merge-list BPE path
def _exact_encode(spec: BPESpec, pat_str: str, text: str) -> list[int]:
    """Hugging Face merge-list BPE, for tokenizers where tiktoken's rank BPE differs."""
    pattern = _compiled(pat_str)
    ids: list[int] = []
    for piece in pattern.findall(text):
        ids += _merge_piece(spec, piece.encode("utf-8"))
    return ids


@lru_cache(maxsize=8)
def _compiled(pat_str: str):
    import regex  # tiktoken's own dependency; needed only on this path

    return regex.compile(pat_str)


def _merge_piece(spec: BPESpec, piece: bytes) -> list[int]:
    cache = spec.piece_cache
    hit = cache.get(piece)
    if hit is not None:
        return hit
    rank_to_id = spec.rank_to_id
    ranks = spec.ranks
    if spec.ignore_merges and piece in ranks:
        parts = [piece]
    else:
        priority = spec.merge_priority or {}
        parts = [piece[i : i + 1] for i in range(len(piece))]
        while len(parts) > 1:
            best, at = None, -1
            for i in range(len(parts) - 1):
                p = priority.get((parts[i], parts[i + 1]))
                if p is not None and (best is None or p < best):
                    best, at = p, i
            if best is None:
                break
            parts[at : at + 2] = [parts[at] + parts[at + 1]]
    out = [rank_to_id[ranks[p]] if rank_to_id else ranks[p] for p in parts]
    if len(cache) < 200_000:
        cache[piece] = out
    return out
