"""The corpus builder (examples/corpus): markup stripping, WordNet chats, chat format, split."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

from console.engine.chat_template import format_builtin_chat

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "corpus"


def _load(name: str):
    sys.path.insert(0, str(CORPUS))
    try:
        spec = importlib.util.spec_from_file_location(f"corpus_{name}", CORPUS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(CORPUS))


sources = _load("sources")
build = _load("build_corpus")


def test_clean_rest_strips_markup_and_keeps_code():
    rest = """\
.. _label:

Title
=====

.. index:: single: foo

Use :func:`len` or :meth:`~list.append`; see ``x`` and :ref:`the guide <guide>`.
Read `the site <https://example.org>`_ for *more*. Example::

   >>> len([1, 2])
   2

.. function:: spam(a, b=1)

   :noindex:

   Return **eggs**.
"""
    out = sources.clean_rest(rest)
    assert "Use len or append; see x and the guide." in out
    assert "Read the site for more. Example:" in out
    assert ">>> len([1, 2])" in out and "spam(a, b=1)" in out and "Return eggs." in out
    for junk in (".. ", ":func:", "====", "index", ":noindex:", "_label"):
        assert junk not in out


def test_wordnet_gloss_becomes_a_chat_in_the_builtin_format(tmp_path):
    wn = tmp_path / sources.WORDNET
    wn.mkdir(parents=True)
    line = ("00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 021 * 00005041 v 0000 "
            '02 + 02 00 | draw air into, and expel out of, the lungs; "I can breathe better now"  \n')
    (wn / "data.verb").write_text("  1 licence header line\n" + line)
    for other in ("data.noun", "data.adj", "data.adv"):
        (wn / other).write_text("")
    synsets = list(sources._wordnet_synsets(tmp_path))
    assert synsets == [("verb", ["breathe", "take a breath", "respire", "suspire"],
                        "draw air into, and expel out of, the lungs", ["I can breathe better now"])]
    (source, text), = sources.wordnet_chats(tmp_path, random.Random(1))
    assert source == "wordnet"
    assert "To breathe means to draw air into, and expel out of, the lungs." in text
    assert text.startswith(("<|user|>", "<|system|>")) and text.endswith("<|end|>")
    assert "<|assistant|>" in text and "<|endoftext|>" not in text


def test_chat_documents_are_the_template_without_bos():
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    text = sources.chat(msgs, random.Random(0), p_system=0.0)
    assert "<|endoftext|>" + text == format_builtin_chat(msgs, add_generation_prompt=False)


def test_validation_split_is_stable_and_about_the_fraction():
    docs = [f"document number {i}" for i in range(5000)]
    chosen = [d for d in docs if build.is_validation(d, 0.02)]
    assert chosen == [d for d in docs if build.is_validation(d, 0.02)]
    assert 50 < len(chosen) < 150
