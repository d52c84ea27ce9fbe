"""Schema migrations of the conversation database.

The schema version is SQLite's ``PRAGMA user_version``. ``MIGRATIONS[i]``
takes a database from version ``i`` to ``i + 1``; :func:`migrate` applies the
missing steps in order, each in its own transaction with the version bump, so
a crash leaves the database at a whole version. Never edit a released step:
append a new one.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

Step = Callable[[sqlite3.Connection], None]


def _v1(db: sqlite3.Connection) -> None:
    """Conversations and plain messages."""
    db.execute(
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            system_prompt TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            backend TEXT,
            model TEXT,
            status TEXT NOT NULL DEFAULT 'complete',
            created_at REAL NOT NULL)"""
    )


def _v2(db: sqlite3.Connection) -> None:
    """Per-message usage, timing, cost (JSON), error and update time;
    per-conversation sampling settings (JSON)."""
    for column in ("usage TEXT", "timing TEXT", "cost TEXT", "error TEXT", "updated_at REAL"):
        db.execute(f"ALTER TABLE messages ADD COLUMN {column}")
    db.execute("UPDATE messages SET updated_at = created_at")
    db.execute("ALTER TABLE conversations ADD COLUMN sampling TEXT")


def _v3(db: sqlite3.Connection) -> None:
    """The backend a conversation last used; indexes for listing and loading."""
    db.execute("ALTER TABLE conversations ADD COLUMN backend TEXT")
    db.execute("UPDATE conversations SET backend = (SELECT m.backend FROM messages m "
               "WHERE m.conversation_id = conversations.id AND m.backend IS NOT NULL "
               "ORDER BY m.id DESC LIMIT 1)")
    db.execute("CREATE INDEX messages_by_conversation ON messages(conversation_id, id)")
    db.execute("CREATE INDEX conversations_by_update ON conversations(updated_at)")


def _v4(db: sqlite3.Connection) -> None:
    """Branches (each message's parent, each conversation's current leaf),
    pinned conversations, why a reply ended, the prompt history and the
    console's remembered preferences (theme). Existing conversations become
    one straight branch."""
    db.execute("ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE")
    db.execute("ALTER TABLE messages ADD COLUMN finish_reason TEXT")
    db.execute("UPDATE messages SET parent_id = (SELECT MAX(p.id) FROM messages p "
               "WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)")
    db.execute("ALTER TABLE conversations ADD COLUMN head_id INTEGER")
    db.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE conversations SET head_id = (SELECT MAX(m.id) FROM messages m "
               "WHERE m.conversation_id = conversations.id)")
    db.execute("CREATE INDEX messages_by_parent ON messages(parent_id)")
    db.execute(
        """CREATE TABLE prompt_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
            text TEXT NOT NULL,
            created_at REAL NOT NULL)"""
    )
    db.execute("CREATE TABLE preferences (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


#: ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Step, ...] = (_v1, _v2, _v3, _v4)
LATEST = len(MIGRATIONS)


class SchemaTooNew(Exception):
    """The database was written by a newer moe-console."""


def version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, target: int = LATEST) -> int:
    """Bring ``db`` to ``target``; returns the version reached.

    Raises :class:`SchemaTooNew` when the database is newer than ``LATEST``.
    ``db`` must be in autocommit mode (``isolation_level=None``).
    """
    current = version(db)
    if current > LATEST:
        raise SchemaTooNew(
            f"database schema version {current} is newer than this moe-console supports ({LATEST}); "
            "upgrade moe-console"
        )
    for step in range(current, min(target, LATEST)):
        db.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[step](db)
            db.execute(f"PRAGMA user_version = {step + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return version(db)
