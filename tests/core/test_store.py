"""Store: a real SQLite file, migrations from v1, restart, crash recovery, export."""

from __future__ import annotations

import json
import sqlite3

import pytest

from console import migrations
from console.api import Cost, Sampling, Timing, Usage
from console import export
from console.store import DEFAULT_TITLE, Store, StoreError

TIMING = Timing(ttft_s=0.25, e2e_s=0.5, inter_token_s=(0.125, 0.125), queue_s=0.05, prefill_s=0.2,
                decode_s=0.25, clock="modeled", label="modeled (calibrated to run-A, eta=0.5)")
COST = Cost(input_usd=1e-5, output_usd=4e-6, usd_per_m_input=0.5, usd_per_m_output=2.0,
            price_usd_per_chip_hour=2.0, price_date="2025-06-01", label="test price list")


def ticking(start: float = 1_700_000_000.0):
    t = [start]

    def now() -> float:
        t[0] += 1.0
        return t[0]
    return now


def fill(store: Store) -> int:
    conv = store.new_conversation("Routing", "You are terse.", sampling=Sampling(temperature=0.0, seed=1))
    store.add_message(conv.id, "user", "What is top-k routing?")
    reply = store.add_message(conv.id, "assistant", "", backend="h100", model="ds-v3", status="streaming")
    store.update_message(reply.id, content="Each token picks k experts.", status="complete",
                         usage=Usage(20, 6), timing=TIMING, cost=COST)
    return conv.id


def test_wal_and_latest_schema(store):
    assert store.journal_mode == "wal"
    assert store.schema_version == migrations.LATEST == 4


def test_messages_keep_backend_model_usage_timing_cost_across_restart(db_path):
    with Store(db_path) as first:
        conv_id = fill(first)
        before = first.load(conv_id)
    with Store(db_path) as second:  # a new process opening the same file
        after = second.load(conv_id)
    assert after == before
    user, reply = after.messages
    assert (user.role, user.content, user.status) == ("user", "What is top-k routing?", "complete")
    assert reply.backend == "h100" and reply.model == "ds-v3"
    assert reply.usage == Usage(20, 6)
    assert reply.timing == TIMING and isinstance(reply.timing.inter_token_s, tuple)
    assert reply.cost == COST
    assert after.sampling == Sampling(temperature=0.0, seed=1)
    assert after.system_prompt == "You are terse."
    assert after.cost_usd == pytest.approx(1.4e-5)


def test_streaming_row_left_by_a_crash_becomes_cancelled_with_text(db_path):
    with Store(db_path) as s:
        conv = s.new_conversation()
        s.add_message(conv.id, "user", "hello")
        msg = s.add_message(conv.id, "assistant", "", status="streaming")
        s.update_message(msg.id, content="partial rep")
    with Store(db_path) as s:
        m = s.message(msg.id)
        assert (m.status, m.content) == ("cancelled", "partial rep")


def test_conversation_crud_and_order(tmp_path):
    with Store(tmp_path / "c.db", now=ticking()) as s:
        a = s.new_conversation()
        b = s.new_conversation("second")
        assert a.title == DEFAULT_TITLE
        assert [c.id for c in s.list_conversations()] == [b.id, a.id]
        s.add_message(a.id, "user", "bump")  # touching a conversation moves it to the top
        listed = s.list_conversations()
        assert [c.id for c in listed] == [a.id, b.id]
        assert listed[0].message_count == 1 and listed[0].messages == ()
        assert s.rename(b.id, "  Better   title ").title == "Better title"
        assert s.set_system_prompt(b.id, "sys").system_prompt == "sys"
        assert s.set_backend(b.id, "local").backend == "local"
        s.delete(a.id)
        assert [c.id for c in s.list_conversations()] == [b.id]
        with pytest.raises(StoreError, match=f"no conversation with id {a.id}"):
            s.load(a.id)
        with pytest.raises(StoreError, match="no conversation"):
            s.add_message(a.id, "user", "x")
        with pytest.raises(StoreError, match="unknown status 'done'"):
            s.add_message(b.id, "assistant", "x", status="done")  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="cannot be empty"):
            s.rename(b.id, "   ")
        left = s._db.execute("SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (a.id,)).fetchone()[0]
        assert left == 0  # cascade


def _v1_database(path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    assert migrations.migrate(db, target=1) == 1
    db.execute("INSERT INTO conversations (title, system_prompt, created_at, updated_at) "
               "VALUES ('old chat', 'sys', 100.0, 200.0)")
    db.execute("INSERT INTO messages (conversation_id, role, content, backend, model, status, created_at) "
               "VALUES (1, 'user', 'hi', NULL, NULL, 'complete', 150.0)")
    db.execute("INSERT INTO messages (conversation_id, role, content, backend, model, status, created_at) "
               "VALUES (1, 'assistant', 'hello!', 'local', 'tiny', 'complete', 160.0)")
    db.close()


def test_v1_database_migrates_to_latest_keeping_data(db_path):
    _v1_database(db_path)
    with Store(db_path) as s:
        assert s.schema_version == migrations.LATEST
        conv = s.load(1)
        assert (conv.title, conv.system_prompt, conv.sampling) == ("old chat", "sys", None)
        assert conv.backend == "local"  # filled by v3 from the last reply
        user, reply = conv.messages
        assert (user.content, reply.content, reply.backend, reply.model) == ("hi", "hello!", "local", "tiny")
        assert reply.usage is None and reply.timing is None and reply.cost is None
        assert reply.updated_at == reply.created_at == 160.0
        new = s.add_message(1, "assistant", "more", usage=Usage(1, 1))  # new columns work
        assert s.message(new.id).usage == Usage(1, 1)
        indexes = {r[0] for r in s._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"messages_by_conversation", "conversations_by_update"} <= indexes


def test_database_from_a_newer_console_is_refused_readably(db_path):
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match="schema version 99 is newer than this moe-console supports"):
        Store(db_path)


def test_not_a_database_is_a_readable_error(tmp_path):
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the conversation database"):
        Store(bad)


def test_default_path_is_in_the_data_dir(home):
    with Store() as s:
        assert s.path == str(home / "conversations.db")


EXPECTED_MD = """\
# Routing

*Created 2023-11-14T22:13:21+00:00 · updated 2023-11-14T22:13:26+00:00*

## System

You are terse.

## User

What is top-k routing?

## Assistant

Each token picks k experts.

*h100 · ds-v3 — 20 in / 6 out tokens — TTFT 250 ms, 8.0 tok/s (modeled (calibrated to run-A, eta=0.5)) — \
$0.000014 (test price list, price of 2025-06-01)*

## User

And shared experts?

## Assistant

Shared experts run for

*local — cancelled*
"""


def test_export_markdown(tmp_path):
    with Store(tmp_path / "e.db", now=ticking()) as s:
        conv_id = fill(s)
        s.add_message(conv_id, "user", "And shared experts?")
        s.add_message(conv_id, "assistant", "Shared experts run for", backend="local", status="cancelled")
        assert export.to_markdown(s.load(conv_id)) == EXPECTED_MD


def test_export_json(tmp_path):
    with Store(tmp_path / "e.db", now=ticking(0.0)) as s:
        conv_id = fill(s)
        data = json.loads(json.dumps(export.to_json(s.load(conv_id))))  # JSON-serialisable as is
    assert data["format"] == "moe-console.conversation" and data["version"] == 1
    assert data["title"] == "Routing" and data["system_prompt"] == "You are terse."
    assert data["created_at"] == "1970-01-01T00:00:01+00:00"
    assert data["sampling"]["temperature"] == 0.0 and data["sampling"]["stop"] == []
    user, reply = data["messages"]
    assert user == {
        "id": 1, "role": "user", "content": "What is top-k routing?", "status": "complete",
        "backend": None, "model": None, "usage": None, "timing": None, "cost": None, "error": None,
        "created_at": "1970-01-01T00:00:02+00:00", "updated_at": "1970-01-01T00:00:02+00:00",
    }
    assert reply["usage"] == {"prompt_tokens": 20, "completion_tokens": 6}
    assert reply["timing"]["inter_token_s"] == [0.125, 0.125]
    assert reply["timing"]["label"] == "modeled (calibrated to run-A, eta=0.5)"
    assert reply["cost"]["price_date"] == "2025-06-01" and reply["cost"]["usd_per_m_output"] == 2.0
    assert Timing(**{**reply["timing"], "inter_token_s": tuple(reply["timing"]["inter_token_s"])}) == TIMING
