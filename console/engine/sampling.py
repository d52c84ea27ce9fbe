"""Sampling: greedy, temperature, top-k, top-p, min-p, repetition penalty, seeds, stops.

Order, on purpose the same as vLLM's sampler (the dialect ``moe-console serve`` speaks, so one
request gives the same distribution there and here): repetition penalty on the raw logits, then
(unless greedy) temperature, top-k and min-p (they commute: each keeps a set of the most likely
tokens), then top-p over what is left, renormalised, then a draw from the result with the
request's own ``np.random.Generator`` -- the same seed gives the same tokens.

transformers applies top-p *before* min-p; the two orders differ when both are set. With
probabilities [.4, .35, .25], ``top_p=0.5`` and ``min_p=0.7``: min-p keeps [.4, .35], renormalised
[.53, .47], and top-p then keeps one token (vLLM and here); top-p first would keep two.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import EngineError


@dataclass(frozen=True)
class SamplingParams:
    """How to pick each token. ``temperature == 0`` means greedy (argmax).

    ``stop_token_ids`` end generation when produced (the stop token is not yielded);
    ``stop_strings`` end it when the generated text contains one of them (tokens that make up the
    stop string are not yielded). ``seed=None`` draws fresh entropy.
    """

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop_token_ids: tuple[int, ...] = field(default_factory=tuple)
    stop_strings: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        checks = [
            (self.temperature >= 0, f"temperature must be >= 0, got {self.temperature}"),
            (self.top_k >= 0, f"top_k must be >= 0, got {self.top_k}"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"),
            (0 <= self.min_p <= 1, f"min_p must be in [0, 1], got {self.min_p}"),
            (self.repetition_penalty > 0, f"repetition_penalty must be > 0, got {self.repetition_penalty}"),
        ]
        for ok, message in checks:
            if not ok:
                raise EngineError(message)
        object.__setattr__(self, "stop_token_ids", tuple(int(t) for t in self.stop_token_ids))
        object.__setattr__(self, "stop_strings", tuple(s for s in self.stop_strings if s))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


GREEDY = SamplingParams()


class Sampler:
    """Per-sequence sampling state: the RNG and the set of tokens seen (for the penalty)."""

    def __init__(self, params: SamplingParams | None, vocab_size: int, prompt: np.ndarray) -> None:
        self.params = params or GREEDY
        self.rng = np.random.default_rng(self.params.seed)
        self.penalise = self.params.repetition_penalty != 1.0
        if self.penalise:
            self.seen = np.zeros(vocab_size, bool)
            self.seen[prompt] = True

    def __call__(self, logits: np.ndarray) -> int:
        p = self.params
        if self.penalise:
            logits = logits.copy()
            seen = self.seen
            vals = logits[seen]
            logits[seen] = np.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
        if p.greedy:
            token = int(np.argmax(logits))
        else:
            token = self._draw(logits)
        if self.penalise:
            self.seen[token] = True
        return token

    def _draw(self, logits: np.ndarray) -> int:
        p = self.params
        scaled = logits.astype(np.float64) / p.temperature
        if 0 < p.top_k < scaled.size:
            candidates = np.argpartition(-scaled, p.top_k - 1)[:p.top_k]
            vals = scaled[candidates]
        else:
            candidates, vals = None, scaled
        probs = np.exp(vals - vals.max())
        probs /= probs.sum()
        if p.min_p > 0.0:
            probs = np.where(probs >= p.min_p * probs.max(), probs, 0.0)
        if p.top_p < 1.0:
            # keep the smallest set of most likely tokens whose mass reaches top_p (at least one)
            order = np.argsort(-probs, kind="stable")
            mass = np.cumsum(probs[order]) / probs.sum()
            keep = int(np.searchsorted(mass, p.top_p, side="left")) + 1
            dropped = order[keep:]
            probs[dropped] = 0.0
        probs /= probs.sum()
        choice = int(np.searchsorted(np.cumsum(probs), self.rng.random() , side="right"))
        choice = min(choice, probs.size - 1)
        while probs[choice] == 0.0:     # guard against landing on a zeroed entry by rounding
            choice -= 1
        return int(candidates[choice]) if candidates is not None else choice
