"""The official openai client against the real server: chat and completions, streamed and not."""

from __future__ import annotations

import openai
import pytest

HELLO = [{"role": "user", "content": "Hello! What is a mixture of experts?"}]


@pytest.fixture(scope="module")
def client(server):
    with openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=60) as c:
        yield c


def test_models_lists_the_builtin_model(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["builtin"]


def test_chat_whole_reply_has_text_and_usage(client):
    reply = client.chat.completions.create(model="builtin", messages=HELLO, max_tokens=20, seed=3)
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and choice.message.role == "assistant"
    assert choice.message.content and choice.finish_reason in ("stop", "length")
    u = reply.usage
    assert u.prompt_tokens > 5 and 0 < u.completion_tokens <= 20 and u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_chat_stream_equals_the_whole_reply_with_the_same_seed(client):
    whole = client.chat.completions.create(model="builtin", messages=HELLO, max_tokens=24, seed=7,
                                           temperature=0.9)
    chunks = list(client.chat.completions.create(model="builtin", messages=HELLO, max_tokens=24, seed=7,
                                                 temperature=0.9, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_completions_whole_and_streamed(client):
    whole = client.completions.create(model="builtin", prompt="The router sends each token", max_tokens=12,
                                      temperature=0)
    assert whole.object == "text_completion" and whole.choices[0].finish_reason == "length"
    assert whole.usage.completion_tokens == 12
    streamed = list(client.completions.create(model="builtin", prompt="The router sends each token",
                                              max_tokens=12, temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in streamed) == whole.choices[0].text
    assert streamed[-1].choices[0].finish_reason == "length"


def test_vllm_extras_and_stop_strings(client):
    greedy = client.completions.create(model="builtin", prompt="Experts are", max_tokens=16, temperature=0,
                                       extra_body={"ignore_eos": True, "top_k": -1, "min_tokens": 16})
    text = greedy.choices[0].text
    assert greedy.usage.completion_tokens == 16
    word = next(w for w in text.split() if len(w) > 2)
    cut = client.completions.create(model="builtin", prompt="Experts are", max_tokens=16, temperature=0,
                                    stop=[word], extra_body={"ignore_eos": True})
    assert cut.choices[0].finish_reason == "stop" and word not in cut.choices[0].text
    assert text.startswith(cut.choices[0].text)


def test_errors_reach_the_client_as_its_exception_types(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-nope", messages=HELLO, max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="maximum context length is 1024"):
        client.chat.completions.create(model="builtin", messages=HELLO, max_tokens=5000)
    with pytest.raises(openai.BadRequestError, match="top_p"):
        client.chat.completions.create(model="builtin", messages=HELLO, max_tokens=2, top_p=1.5)
    with pytest.raises(openai.BadRequestError, match="logprobs"):
        client.chat.completions.create(model="builtin", messages=HELLO, max_tokens=2, logprobs=True)
    with pytest.raises(openai.BadRequestError, match="n = 1"):
        client.chat.completions.create(model="builtin", messages=HELLO, max_tokens=2, n=2)
