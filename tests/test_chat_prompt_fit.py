"""Trimming a conversation to a context window keeps what matters."""

from console.engine.chat_template import fit_chat_prompt, prompt_budget
from console.engine.tokenizer import builtin_tokenizer


def _turns(n):
    out = [{"role": "system", "content": "Answer briefly."}]
    for i in range(n):
        out += [{"role": "user", "content": f"question {i} " * 5}, {"role": "assistant", "content": f"answer {i} " * 5}]
    return out + [{"role": "user", "content": "the last question"}]


def test_fitting_conversation_is_untouched():
    tok = builtin_tokenizer()
    messages = _turns(2)
    ids, dropped = fit_chat_prompt(tok, messages, 10_000)
    assert dropped == 0 and ids == list(tok.apply_chat_template(messages, add_generation_prompt=True))


def test_oldest_turns_go_first_system_and_last_message_stay():
    tok = builtin_tokenizer()
    messages = _turns(20)
    ids, dropped = fit_chat_prompt(tok, messages, 120)
    assert len(ids) <= 120 and dropped > 0
    text = tok.decode(ids)
    assert "Answer briefly." in text and "the last question" in text
    assert "question 0 " not in text and "answer 19" in text
    kept = [m for m in messages if m["content"] in text]
    assert [m["role"] for m in kept][1] == "user"  # never starts with an orphaned assistant turn


def test_a_single_message_too_long_is_returned_for_the_caller_to_report():
    tok = builtin_tokenizer()
    ids, dropped = fit_chat_prompt(tok, [{"role": "user", "content": "word " * 500}], 50)
    assert len(ids) > 50 and dropped == 0


def test_budget_leaves_room_for_the_reply_but_at_least_half_the_window():
    assert prompt_budget(1024, 256) == 768
    assert prompt_budget(1024, 4000) == 512


def test_the_last_message_survives_even_when_it_is_an_assistant_turn():
    tok = builtin_tokenizer()
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "word " * 80},
                {"role": "assistant", "content": "the reply to continue"}]
    ids, dropped = fit_chat_prompt(tok, messages, 30)
    assert dropped == 1 and "the reply to continue" in tok.decode(ids)
