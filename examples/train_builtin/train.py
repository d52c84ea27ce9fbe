"""Train the built-in DeepSeek-V3-architecture MoE model on CPU, within a wall-clock budget.

Usage (see README.md):
    nice -n 5 .venv-ref/bin/python examples/train_builtin/train.py \
        --train build/corpus/train.txt --val build/corpus/val.txt \
        --tokenizer build/builtin_tokenizer --state-dir build/train_state \
        --minutes 70 --export-dir console/engine/builtin [--resume]

Contract:
- The learning rate follows warmup + cosine over the *training time budget* (``--minutes``,
  counted across resumes), so a run always ends annealed when its time is up.
- ``--state-dir/state.pt`` (model, optimizer, data RNG, elapsed time) is written every
  ``--ckpt-minutes`` and at the end; ``--resume`` continues from it.
- Aux-loss-free balancing: after each step every MoE router's ``e_score_correction_bias`` moves
  by ``--bias-rate`` times sign(mean load - expert load) (DeepSeek-V3 §2.1.2), plus a small
  sequence-level balance loss (``--balance-alpha``).
- The first ``--early-export-minutes`` of training are exported to ``--export-dir`` once, and the
  final model overwrites it at the end.
- Threads: 1 by default; ``--threads auto`` probes 1 vs 2 threads periodically and keeps the faster
  (another process on the 2 cores makes 2 OpenMP threads several times slower).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import Batcher, cached_tokens, load_tokenizer  # noqa: E402
from hf_format import save_folder  # noqa: E402
from model import DeepseekV3LM, ModelShape  # noqa: E402

SHAPE_KEYS = ("hidden_size", "num_hidden_layers", "n_routed_experts", "moe_intermediate_size",
              "intermediate_size", "num_attention_heads", "kv_lora_rank", "q_lora_rank", "n_group",
              "topk_group", "num_experts_per_tok", "max_position_embeddings")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--val", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, required=True)
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--export-dir", type=Path, default=None)
    p.add_argument("--minutes", type=float, required=True, help="training time budget (all resumes together)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--threads", default="1", help="1, 2 or auto")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--long-seq", type=int, default=512, help="sequence length in the last part of training")
    p.add_argument("--long-frac", type=float, default=0.2, help="fraction of the budget trained at --long-seq")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--min-lr-frac", type=float, default=0.05)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--bias-rate", type=float, default=1e-3)
    p.add_argument("--balance-alpha", type=float, default=1e-3)
    p.add_argument("--eval-minutes", type=float, default=5.0)
    p.add_argument("--ckpt-minutes", type=float, default=4.0)
    p.add_argument("--early-export-minutes", type=float, default=15.0)
    p.add_argument("--export-dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--seed", type=int, default=1234)
    for key in SHAPE_KEYS:
        default = getattr(ModelShape, key)
        p.add_argument("--" + key.replace("_", "-"), type=lambda v: None if v == "none" else int(v), default=default)
    return p.parse_args(argv)


def lr_at(args, step: int, frac: float) -> float:
    warm = min(1.0, (step + 1) / args.warmup_steps)
    cos = 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
    return args.lr * warm * (args.min_lr_frac + (1 - args.min_lr_frac) * cos)


def make_optimizer(model: DeepseekV3LM, args) -> torch.optim.AdamW:
    decay = [p for n, p in model.named_parameters() if p.ndim == 2 and "embed_tokens" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim == 2 and "embed_tokens" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)


@torch.no_grad()
def update_router_bias(model: DeepseekV3LM, rate: float) -> list[float]:
    """Sign update of the correction bias; returns max/mean load per MoE layer (1.0 = balanced)."""
    imbalance = []
    for blk in model.moe_blocks():
        load = blk.last_load.float()
        blk.gate.e_score_correction_bias += rate * torch.sign(load.mean() - load)
        imbalance.append(float(load.max() / load.mean()))
    return imbalance


@torch.no_grad()
def evaluate(model: DeepseekV3LM, windows: np.ndarray) -> float:
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(windows), 8):
        w = torch.from_numpy(windows[i : i + 8])
        logits = model(w[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum").item()
        n += w[:, 1:].numel()
    model.train()
    return total / n


class ThreadChooser:
    """Keep the faster of 1 and 2 torch threads (mode "auto"), measured while training.

    Every ``period`` steps the other setting is tried for ``probe`` steps (the first one is not
    timed: thread-pool warm-up).  A losing probe doubles the period (up to 16x), a winning one
    switches and resets it.  While on 2 threads, a step rate below 80 % of the last 1-thread
    rate (or of the 2-thread rate the probe won with) falls back to 1 thread at once: 2 spinning
    OpenMP threads collapse when another process takes a core.
    """

    def __init__(self, mode: str, first_step: int, period: int = 100, probe: int = 3) -> None:
        self.mode, self.base, self.period, self.probe = mode, period, period, probe
        self.current = 2 if mode == "2" else 1
        self.speed: dict[int, list[float]] = {1: [], 2: []}
        self.next_probe = first_step + period
        self.probing = 0
        self.won_at = 0.0
        torch.set_num_threads(self.current)

    def before_step(self, step: int) -> None:
        if self.mode != "auto" or self.probing or step < self.next_probe:
            return
        self.home = self.current
        if len(self.speed[self.home]) < 3:  # nothing to compare against yet
            self.next_probe = step + self.period
            return
        self.probing = self.probe
        self.current = 3 - self.current
        self.speed[self.current] = []
        torch.set_num_threads(self.current)

    def _use(self, threads: int, step: int) -> None:
        self.current = threads
        torch.set_num_threads(threads)
        self.next_probe = step + self.period

    def after_step(self, step: int, tokens_per_s: float) -> None:
        hist = self.speed[self.current]
        hist.append(tokens_per_s)
        del hist[:-10]
        if not self.probing:
            recent = hist[-3:]
            ref = max(self.won_at, _mean(self.speed[1][-5:]))
            if self.mode == "auto" and self.current == 2 and len(recent) == 3 and _mean(recent) < 0.8 * ref:
                self._use(1, step)
            return
        self.probing -= 1
        if self.probing:
            return
        probe = _mean(hist[1:] or hist)
        if probe > _mean(self.speed[self.home][-5:]):
            self.period = self.base
            self.won_at = probe if self.current == 2 else 0.0
            self._use(self.current, step)
        else:
            self.period = min(self.period * 2, 16 * self.base)
            self._use(self.home, step)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def log(state_dir: Path, record: dict) -> None:
    print(json.dumps(record), flush=True)
    with open(state_dir / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def save_state(path: Path, model, opt, batcher, step, elapsed, tokens, shape) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "rng": batcher.state(), "step": step,
                "elapsed": elapsed, "tokens": tokens, "shape": shape.to_dict()}, tmp)
    tmp.replace(path)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    train_ids, _, sep = cached_tokens(args.train, args.tokenizer, args.state_dir / "cache")
    val_ids, _, _ = cached_tokens(args.val, args.tokenizer, args.state_dir / "cache")
    vocab = load_tokenizer(args.tokenizer).get_vocab_size(with_added_tokens=True)
    shape = ModelShape(vocab_size=vocab, **{k: getattr(args, k) for k in SHAPE_KEYS})
    if shape.q_lora_rank == 0:
        shape.q_lora_rank = None
    state_path = args.state_dir / "state.pt"
    model = DeepseekV3LM(shape)
    opt = make_optimizer(model, args)
    batcher = Batcher(train_ids, args.seed)
    step, elapsed, tokens = 0, 0.0, 0
    if args.resume and state_path.exists():
        st = torch.load(state_path, weights_only=False)
        shape = ModelShape(**st["shape"])
        model = DeepseekV3LM(shape)
        model.load_state_dict(st["model"])
        opt = make_optimizer(model, args)
        opt.load_state_dict(st["opt"])
        batcher.set_state(st["rng"])
        step, elapsed, tokens = st["step"], st["elapsed"], st["tokens"]
    total_p, active_p = model.param_counts()
    vrng = np.random.default_rng(99)
    vseq = args.long_seq
    starts = vrng.integers(0, len(val_ids) - vseq - 1, size=48)
    val_windows = np.stack([val_ids[s : s + vseq + 1] for s in starts]).astype(np.int64)
    log(args.state_dir, {"event": "start", "resume": bool(args.resume and step), "step": step, "elapsed_s": elapsed,
                         "train_tokens_available": int(len(train_ids)), "val_tokens": int(len(val_ids)),
                         "separator": sep, "params_total": total_p, "params_active": active_p,
                         "shape": shape.to_dict(), "args": {k: str(v) for k, v in vars(args).items()}})
    budget = args.minutes * 60
    threads = ThreadChooser(args.threads, step)
    last_eval = last_ckpt = elapsed
    early_done = elapsed >= args.early_export_minutes * 60
    model.train()
    ema = None
    prev = time.perf_counter()
    while elapsed < budget:
        frac = elapsed / budget
        long_phase = frac >= 1 - args.long_frac
        seq = args.long_seq if long_phase else args.seq
        batch = max(1, args.batch * args.seq // seq)
        lr = lr_at(args, step, frac)
        for g in opt.param_groups:
            g["lr"] = lr
        threads.before_step(step)
        t0 = time.perf_counter()
        ids = torch.from_numpy(batcher.sample(batch, seq))
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        bal = sum(b.last_balance_loss for b in model.moe_blocks())
        (loss + args.balance_alpha * bal).backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        imbalance = update_router_bias(model, args.bias_rate)
        dt = time.perf_counter() - t0
        threads.after_step(step, batch * seq / dt)
        now = time.perf_counter()
        elapsed += now - prev  # wall clock, evaluation and checkpoint time included
        prev = now
        step += 1
        tokens += batch * seq
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % 20 == 0:
            log(args.state_dir, {"step": step, "elapsed_min": round(elapsed / 60, 2), "tokens": tokens,
                                 "loss": round(loss.item(), 4), "loss_ema": round(ema, 4), "lr": round(lr, 6),
                                 "gnorm": round(float(gnorm), 3), "tok_s": round(batch * seq / dt),
                                 "threads": threads.current, "seq": seq, "max_load": [round(x, 2) for x in imbalance]})
        if elapsed - last_eval >= args.eval_minutes * 60 or elapsed >= budget:
            last_eval = elapsed
            log(args.state_dir, {"step": step, "elapsed_min": round(elapsed / 60, 2), "tokens": tokens,
                                 "val_loss": round(evaluate(model, val_windows), 4), "train_loss_ema": round(ema, 4)})
        if elapsed - last_ckpt >= args.ckpt_minutes * 60:
            last_ckpt = elapsed
            save_state(state_path, model, opt, batcher, step, elapsed, tokens, shape)
        if not early_done and args.export_dir and elapsed >= args.early_export_minutes * 60:
            early_done = True
            save_folder(model, args.export_dir, args.tokenizer, dtype=args.export_dtype,
                        metadata={"step": step, "tokens": tokens, "note": "early export"})
            log(args.state_dir, {"event": "early_export", "step": step, "dir": str(args.export_dir)})
    save_state(state_path, model, opt, batcher, step, elapsed, tokens, shape)
    if args.export_dir:
        save_folder(model, args.export_dir, args.tokenizer, dtype=args.export_dtype,
                    metadata={"step": step, "tokens": tokens, "train_loss_ema": round(ema or 0, 4)})
    log(args.state_dir, {"event": "done", "step": step, "tokens": tokens, "elapsed_min": round(elapsed / 60, 2)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
