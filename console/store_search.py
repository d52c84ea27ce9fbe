"""The parts of :class:`console.store.Store` that are not conversations and
messages proper: search across conversations, the prompt history and the
console's remembered preferences. A mixin: it uses the store's connection,
lock, clock and ``_write`` (which counts writes for caches)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.store import ConversationRecord


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SearchAndPreferences:
    """Mixed into ``Store``; see the module doc."""

    CONVERSATION_COLUMNS = ""  # the store's conversation columns (set by Store)

    def search(self, text: str, limit: int = 50) -> list[tuple[ConversationRecord, str]]:
        """Conversations whose title or any message contains ``text`` (case
        insensitive for ASCII), each with the first matching text as a
        snippet; pinned and recent first."""
        text = " ".join(text.split())
        if not text:
            return [(c, "") for c in self.list_conversations()[:limit]]
        pattern = _like(text)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self.CONVERSATION_COLUMNS}, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) "
                "AS n, (SELECT m.content FROM messages m WHERE m.conversation_id = c.id AND m.content LIKE ? "
                "ESCAPE '\\' ORDER BY m.id LIMIT 1) AS hit FROM conversations c "
                "WHERE c.title LIKE ? ESCAPE '\\' OR hit IS NOT NULL "
                "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?", (pattern, pattern, limit)
            ).fetchall()
        return [(self._conversation(row, (), row["n"]), _snippet(row["hit"] or row["title"], text)) for row in rows]

    def add_prompt(self, conversation_id: int | None, text: str) -> None:
        """Remember a sent prompt (the same text twice in a row is kept once)."""
        with self._lock:
            last = self._db.execute("SELECT text, conversation_id FROM prompt_history ORDER BY id DESC LIMIT 1"
                                    ).fetchone()
            if last is not None and last["text"] == text and last["conversation_id"] == conversation_id:
                return
        self._write("INSERT INTO prompt_history (conversation_id, text, created_at) VALUES (?, ?, ?)",
                    (conversation_id, text, self._now()))

    def prompts(self, conversation_id: int | None = None, *, contains: str = "", limit: int = 500) -> list[str]:
        """Sent prompts, oldest first (the newest ``limit``): of one
        conversation, or of all when ``conversation_id`` is None; ``contains``
        filters them."""
        where, params = [], []
        if conversation_id is not None:
            where.append("conversation_id = ?")
            params.append(conversation_id)
        if contains.strip():
            where.append("text LIKE ? ESCAPE '\\'")
            params.append(_like(contains.strip()))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(f"SELECT text FROM prompt_history {clause} ORDER BY id DESC LIMIT ?",
                                    (*params, limit)).fetchall()
        return [r["text"] for r in reversed(rows)]

    def preference(self, key: str, default: str | None = None) -> str | None:
        """A value the console remembers between runs (e.g. the theme)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM preferences WHERE key = ?", (key,)).fetchone()
        return row["value"] if row is not None else default

    def set_preference(self, key: str, value: str) -> None:
        self._write("INSERT INTO preferences (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def _snippet(text: str, query: str, width: int = 60) -> str:
    """One line of ``text`` around the first match of ``query``."""
    flat = " ".join(text.split())
    at = flat.lower().find(query.lower())
    if at < 0 or len(flat) <= width:
        return flat[:width]
    start = max(0, at - width // 3)
    return ("…" if start else "") + flat[start:start + width] + ("…" if start + width < len(flat) else "")
