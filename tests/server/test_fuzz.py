"""Hypothesis fuzzes the request parser through the running server: bodies, headers, paths.
Whatever arrives, the answer is never a 500, errors keep vLLM's shape, and /health stays 200."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIELDS = ["model", "messages", "prompt", "max_tokens", "max_completion_tokens", "temperature", "top_p",
          "top_k", "min_p", "seed", "stop", "n", "stream", "stream_options", "logprobs", "ignore_eos",
          "min_tokens", "stop_token_ids", "repetition_penalty", "echo", "response_format", "tokens"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=40), st.sampled_from(["builtin", "user", "assistant", "system", "<|end|>"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
message = st.fixed_dictionaries({"role": st.one_of(st.sampled_from(["user", "system", "assistant", "tool"]), values),
                                 "content": st.one_of(st.text(max_size=60), values)})
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8).flatmap(
    lambda base: st.fixed_dictionaries({
        "messages": st.one_of(st.lists(message, min_size=1, max_size=3), values),
        "prompt": st.one_of(st.text(max_size=60), st.lists(st.integers(-5, 9000), max_size=6), values),
        # keep generations short: valid token budgets are small, invalid ones anything
        "max_tokens": st.one_of(st.integers(-3, 4), values.filter(lambda v: not isinstance(v, int) or v < 5)),
    }).map(lambda extra: {**base, **extra, "max_completion_tokens": None}))
PATHS = ["/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize"]
headers = st.dictionaries(st.sampled_from(["content-type", "authorization", "accept", "x-request-id"]),
                          st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30), max_size=3)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.base, timeout=60) as client:
        yield client


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] == response.status_code and isinstance(error["message"], str)
        assert "Traceback" not in error["message"]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(PATHS), body=bodies, head=headers)
def test_generated_json_bodies_never_get_a_500(http, path, body, head):
    with http.stream("POST", path, content=json.dumps(body, allow_nan=True), headers=head) as response:
        response.read()
        _check(response)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.one_of(st.sampled_from(PATHS + ["/v1/models", "/health", "/metrics"]),
                      st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30).map(lambda p: "/" + p)),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), raw=st.binary(max_size=200))
def test_raw_bytes_odd_paths_and_methods_never_get_a_500(http, path, method, raw):
    response = http.request(method, path.replace("?", "%3F").replace("#", "%23"), content=raw)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        _check(response)


def test_the_server_still_serves_after_the_fuzzing(http):
    assert http.get("/health").status_code == 200
    reply = http.post("/v1/completions", json={"prompt": "Still here", "max_tokens": 2})
    assert reply.status_code == 200
