"""Store v4: branches (edit/regenerate as siblings, the branch on screen),
pinning, search across titles and text, prompt history, preferences, and
the v3 -> v4 migration turning old conversations into one branch."""

from __future__ import annotations

import sqlite3

from console import migrations
from console.api import Cost, Usage
from console.store import Store

COST = Cost(input_usd=1e-5, output_usd=4e-6, usd_per_m_input=0.5, usd_per_m_output=2.0,
            price_usd_per_chip_hour=2.0)


def test_siblings_keep_the_original_branch_and_alternatives_walk_between_them(tmp_path):
    with Store(tmp_path / "c.db") as s:
        conv = s.new_conversation("t")
        q1 = s.add_message(conv.id, "user", "q1")
        a1 = s.add_message(conv.id, "assistant", "a1", cost=COST)
        s.add_message(conv.id, "user", "q2")
        s.add_message(conv.id, "assistant", "a2")
        edited = s.add_message(conv.id, "user", "q1 edited", parent_id=q1.parent_id)  # a fork at q1
        s.add_message(conv.id, "assistant", "b1", cost=COST)
        loaded = s.load(conv.id)
        assert [m.content for m in loaded.messages] == ["q1 edited", "b1"]
        assert loaded.alternatives == {edited.id: (2, 2)}
        assert loaded.cost_usd == 2 * COST.total_usd  # every branch's replies were paid for
        back = s.alternative(conv.id, edited.id, -1)
        assert [m.content for m in back.messages] == ["q1", "a1", "q2", "a2"]  # whole, down to its leaf
        assert back.alternatives == {q1.id: (1, 2)}
        again = s.alternative(conv.id, q1.id, 1)  # wraps around the siblings
        assert [m.content for m in again.messages] == ["q1 edited", "b1"]
        regen = s.add_message(conv.id, "assistant", "b2", parent_id=edited.id)
        assert s.load(conv.id).alternatives[regen.id] == (2, 2)
        s.delete_message(regen.id)  # the branch on screen ends at its parent again
        assert [m.content for m in s.load(conv.id).messages] == ["q1 edited"]
        assert a1.parent_id == q1.id


def test_pin_search_prompt_history_and_preferences(tmp_path):
    with Store(tmp_path / "c.db") as s:
        a = s.new_conversation("Routing notes")
        s.add_message(a.id, "user", "how do 100% of_the experts share work?")
        b = s.new_conversation("Bananas")
        s.add_message(b.id, "assistant", "Yellow fruit.")
        assert [c.title for c in s.list_conversations()] == ["Bananas", "Routing notes"]
        s.set_pinned(a.id, True)
        assert [c.title for c in s.list_conversations()] == ["Routing notes", "Bananas"]
        assert [c.title for c, _ in s.search("yellow")] == ["Bananas"]  # message text, any case
        assert [c.title for c, _ in s.search("routing")] == ["Routing notes"]  # titles
        found, snippet = s.search("100% of_the")[0]  # LIKE wildcards taken literally
        assert found.id == a.id and "100% of_the" in snippet
        assert s.search("100%_of") == []
        for conv_id, text in ((a.id, "one"), (a.id, "two"), (a.id, "two"), (b.id, "three"), (None, "four")):
            s.add_prompt(conv_id, text)
        assert s.prompts(a.id) == ["one", "two"]  # the same prompt twice in a row: kept once
        assert s.prompts() == ["one", "two", "three", "four"]
        assert s.prompts(contains="t") == ["two", "three"]
        assert s.preference("theme") is None
        s.set_preference("theme", "nord")
        s.set_preference("theme", "gruvbox")
        assert s.preference("theme") == "gruvbox"


def test_v3_conversations_migrate_to_one_branch(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(db, target=3)
    db.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'old', 0, 0)")
    for i, (role, text) in enumerate([("user", "q"), ("assistant", "a"), ("user", "q2")], start=1):
        db.execute("INSERT INTO messages (id, conversation_id, role, content, created_at) VALUES (?, 1, ?, ?, 0)",
                   (i, role, text))
    db.close()
    with Store(path) as s:
        assert s.schema_version == 4
        conv = s.load(1)
        assert [m.content for m in conv.messages] == ["q", "a", "q2"]
        assert [m.parent_id for m in conv.messages] == [None, 1, 2] and conv.head_id == 3
        assert not conv.alternatives and not conv.pinned
        s.add_message(1, "assistant", "a2", usage=Usage(1, 1))
        assert [m.content for m in s.load(1).messages] == ["q", "a", "q2", "a2"]
