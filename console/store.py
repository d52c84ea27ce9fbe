"""Conversations on disk: SQLite (stdlib ``sqlite3``) with versioned migrations.

One database file (default ``data_dir() / "conversations.db"``), WAL mode,
foreign keys on, every write committed before the method returns. The schema
version is ``PRAGMA user_version``; the steps to the latest version are in
:mod:`console.migrations`.

Each message records its backend, model, usage, timing and cost (JSON columns
holding :class:`console.api.Usage`, :class:`~console.api.Timing`,
:class:`~console.api.Cost`) and a status:

* ``"streaming"``: the reply is being written (partial text saved as it grows);
* ``"complete"``, ``"cancelled"`` (partial text kept), ``"failed"`` (partial
  text kept, ``error`` says why).

A ``"streaming"`` row found when a store opens belongs to a console that died
mid-reply: it is marked ``"cancelled"`` with its text kept.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from console import migrations, store_tree
from console.api import Cost, Sampling, Timing, Usage
from console.store_records import (  # noqa: F401 - the records are part of the store's API
    _CONVERSATION_COLUMNS, _MESSAGE_COLUMNS, HEAD, ROLES, STATUSES, ConversationRecord, MessageRecord, Role,
    Status, _dump, _load, _message,
)
from console.store_search import SearchAndPreferences

#: Title of a conversation nobody has named yet.
DEFAULT_TITLE = "New conversation"
#: File name of the database inside ``data_dir()``.
DB_FILE = "conversations.db"


class StoreError(Exception):
    """A readable, one-line problem with the database (unknown id, newer schema...).

    ``kind`` says what went wrong when a database could not be opened: ``"damaged"`` (not a
    database, a corrupt page, a failed integrity check), ``"read-only"`` (the file or its folder
    cannot be written), ``"unreachable"`` (the folder cannot be made, e.g. the home is a file),
    ``"too new"`` (a newer moe-console wrote it); ``None`` for every other problem.
    """

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


#: Databases up to this size are integrity-checked (``PRAGMA quick_check``) when opened.
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024


def _is_small(path: str) -> bool:
    try:
        return Path(path).stat().st_size <= QUICK_CHECK_MAX_BYTES
    except OSError:
        return True


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _failure_kind(exc: BaseException) -> str:
    """Classify why a database could not be opened (see :class:`StoreError`)."""
    text = str(exc).lower()
    if isinstance(exc, OSError):
        return "unreachable"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return "read-only"
    return "damaged"


class Store(SearchAndPreferences):
    """The conversation database. ``path`` may be ``":memory:"``; ``None``
    means :meth:`default_path` (its folder is created).

    ``now`` (default ``time.time``) stamps created/updated times; inject it in
    tests. Usable as a context manager (closes on exit). Safe to call from
    several threads (one lock around the connection).
    """

    CONVERSATION_COLUMNS = _CONVERSATION_COLUMNS

    def __init__(self, path: str | Path | None = None, *, now: Callable[[], float] = time.time,
                 check: bool = True) -> None:
        if path is None:
            path = self.default_path()
        self.path = str(path)
        self._now = now
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self.generation = 0  # bumped by every write: caches compare it (see ChatSession)
        try:
            if self.path != ":memory:":
                folder = Path(self.path).parent
                blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
                if blocker is not None and not blocker.is_dir():
                    raise NotADirectoryError(f"{blocker} is a file, not a folder")
                folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._open(check)
        except migrations.SchemaTooNew as exc:
            self._abandon()
            raise StoreError(f"{self.path}: {exc}", kind="too new") from None
        except (sqlite3.DatabaseError, OSError) as exc:
            self._abandon()
            kind = _failure_kind(exc)
            raise StoreError(f"{self.path}: cannot open the conversation database "
                             f"({_one_line(exc)})", kind=kind) from None

    def _open(self, check: bool) -> None:
        db = self._db
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        if check and self.path != ":memory:" and _is_small(self.path):
            problems = [row[0] for row in db.execute("PRAGMA quick_check(1)")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("integrity check failed: " + "; ".join(problems))
        if self.path != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA busy_timeout = 5000")
        if self.path != ":memory:" and 0 < migrations.version(db) < migrations.LATEST:
            self._backup(f"{self.path}.v{migrations.version(db)}.bak")
        migrations.migrate(db)
        db.execute("UPDATE messages SET status = 'cancelled' WHERE status = 'streaming'")

    def _abandon(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _backup(self, target: str) -> None:
        """Copy the whole database to ``target`` (SQLite's online backup), e.g. before a migration."""
        with sqlite3.connect(target) as copy:
            self._db.backup(copy)
        copy.close()

    @staticmethod
    def default_path() -> Path:
        """``console.settings.data_dir() / DB_FILE``."""
        from console.settings import data_dir

        return data_dir() / DB_FILE

    @property
    def schema_version(self) -> int:
        """The database's ``PRAGMA user_version``."""
        with self._lock:
            return migrations.version(self._db)

    @property
    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            self.generation += 1
            try:
                return self._db.execute(sql, params)
            except sqlite3.OperationalError as exc:  # disk full, file made read-only meanwhile...
                raise StoreError(f"{self.path}: could not save ({_one_line(exc)})") from None

    # ------------------------------------------------------------ conversations

    def new_conversation(
        self, title: str = DEFAULT_TITLE, system_prompt: str = "", *,
        sampling: Sampling | None = None, backend: str | None = None,
    ) -> ConversationRecord:
        now = self._now()
        cur = self._write(
            "INSERT INTO conversations (title, system_prompt, sampling, backend, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (title or DEFAULT_TITLE, system_prompt or "", _dump(sampling), backend, now, now),
        )
        return self.load(int(cur.lastrowid))

    def list_conversations(self) -> list[ConversationRecord]:
        """All conversations, pinned ones first, then most recently updated
        first, without messages."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CONVERSATION_COLUMNS}, (SELECT COUNT(*) FROM messages m "
                "WHERE m.conversation_id = c.id) AS n FROM conversations c "
                "ORDER BY pinned DESC, updated_at DESC, id DESC"
            ).fetchall()
        return [self._conversation(row, (), row["n"]) for row in rows]

    def _conversation(self, row: sqlite3.Row, messages: tuple[MessageRecord, ...], count: int) -> ConversationRecord:
        return ConversationRecord(
            id=row["id"], title=row["title"], system_prompt=row["system_prompt"],
            sampling=_load(Sampling, row["sampling"]), backend=row["backend"],
            created_at=row["created_at"], updated_at=row["updated_at"],
            messages=messages, message_count=count, pinned=bool(row["pinned"]), head_id=row["head_id"],
        )

    #: How many times :meth:`load` ran (tests count reloads with it).
    loads = 0

    def load(self, conversation_id: int) -> ConversationRecord:
        """The conversation with the messages of its current branch. Unknown
        id -> :class:`StoreError`."""
        with self._lock:
            self.loads += 1
            row = self._db.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no conversation with id {conversation_id}")
            rows = self._db.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        everything = [_message(r) for r in rows]
        path = tuple(store_tree.active_path(everything, row["head_id"]))
        spent = sum(m.cost.total_usd for m in everything if m.cost is not None)
        return dataclasses.replace(self._conversation(row, path, len(path)),
                                   alternatives=store_tree.alternatives(everything, path), spent_usd=spent)

    def _row(self, conversation_id: int) -> ConversationRecord:
        """The conversation without its messages (cheap)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_CONVERSATION_COLUMNS}, (SELECT COUNT(*) FROM messages m "
                "WHERE m.conversation_id = c.id) AS n FROM conversations c WHERE id = ?", (conversation_id,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no conversation with id {conversation_id}")
        return self._conversation(row, (), row["n"])

    def _update_conversation(self, conversation_id: int, column: str, value: Any, *,
                             touch: bool = True) -> ConversationRecord:
        """Set one column; returns the conversation without its messages."""
        stamp = ", updated_at = ?" if touch else ""
        params = (value, self._now(), conversation_id) if touch else (value, conversation_id)
        cur = self._write(f"UPDATE conversations SET {column} = ?{stamp} WHERE id = ?", params)
        if cur.rowcount == 0:
            raise StoreError(f"no conversation with id {conversation_id}")
        return self._row(conversation_id)

    def set_pinned(self, conversation_id: int, pinned: bool) -> ConversationRecord:
        """Pinned conversations are listed first."""
        return self._update_conversation(conversation_id, "pinned", 1 if pinned else 0, touch=False)

    def set_head(self, conversation_id: int, message_id: int) -> ConversationRecord:
        """Show the branch through ``message_id`` (down to its newest leaf)."""
        with self._lock:
            rows = self._db.execute("SELECT id, parent_id FROM messages WHERE conversation_id = ?",
                                    (conversation_id,)).fetchall()
        nodes = [_Node(r["id"], r["parent_id"]) for r in rows]
        if not any(n.id == message_id for n in nodes):
            raise StoreError(f"no message {message_id} in conversation {conversation_id}")
        return self._update_conversation(conversation_id, "head_id", store_tree.newest_leaf(nodes, message_id),
                                         touch=False)

    def alternative(self, conversation_id: int, message_id: int, step: int) -> ConversationRecord:
        """Show the branch of the sibling ``step`` places from ``message_id``
        (wrapping around); the conversation with its new branch."""
        with self._lock:
            rows = self._db.execute("SELECT id, parent_id FROM messages WHERE conversation_id = ?",
                                    (conversation_id,)).fetchall()
        nodes = [_Node(r["id"], r["parent_id"]) for r in rows]
        ids = store_tree.siblings(nodes, message_id)
        if message_id not in ids:
            raise StoreError(f"no message {message_id} in conversation {conversation_id}")
        target = ids[(ids.index(message_id) + step) % len(ids)]
        self.set_head(conversation_id, target)
        return self.load(conversation_id)

    def rename(self, conversation_id: int, title: str) -> ConversationRecord:
        title = " ".join(title.split())
        if not title:
            raise StoreError("a conversation title cannot be empty")
        return self._update_conversation(conversation_id, "title", title)

    def set_system_prompt(self, conversation_id: int, system_prompt: str) -> ConversationRecord:
        return self._update_conversation(conversation_id, "system_prompt", system_prompt or "")

    def set_sampling(self, conversation_id: int, sampling: Sampling | None) -> ConversationRecord:
        return self._update_conversation(conversation_id, "sampling", _dump(sampling))

    def set_backend(self, conversation_id: int, backend: str | None) -> ConversationRecord:
        """Remember the backend the conversation last used."""
        return self._update_conversation(conversation_id, "backend", backend)

    def delete(self, conversation_id: int) -> None:
        """Delete the conversation and its messages."""
        cur = self._write("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        if cur.rowcount == 0:
            raise StoreError(f"no conversation with id {conversation_id}")

    # ------------------------------------------------------------ messages

    def add_message(
        self, conversation_id: int, role: Role, content: str, *,
        backend: str | None = None, model: str | None = None,
        usage: Usage | None = None, timing: Timing | None = None, cost: Cost | None = None,
        status: Status = "complete", error: str | None = None, parent_id: Any = HEAD,
    ) -> MessageRecord:
        """Add a turn (committed before returning: it survives a crash) under
        ``parent_id`` (default: the end of the branch on screen; ``None``: a
        new first turn) and make it the end of the branch on screen."""
        if role not in ROLES:
            raise StoreError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        if status not in STATUSES:
            raise StoreError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
        now = self._now()
        with self._lock:
            self.generation += 1
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if parent_id is HEAD:
                    head = self._db.execute("SELECT head_id FROM conversations WHERE id = ?",
                                            (conversation_id,)).fetchone()
                    parent_id = head["head_id"] if head is not None else None
                cur = self._db.execute(
                    f"INSERT INTO messages ({_MESSAGE_COLUMNS.replace('id, ', '', 1)}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (conversation_id, role, content, status, backend, model, _dump(usage),
                     _dump(timing), _dump(cost), error, now, now, parent_id, None),
                )
                self._db.execute("UPDATE conversations SET updated_at = ?, head_id = ? WHERE id = ?",
                                 (now, cur.lastrowid, conversation_id))
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                raise StoreError(f"no conversation with id {conversation_id}") from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.message(int(cur.lastrowid))

    _JSON_FIELDS = {"usage", "timing", "cost"}
    _FIELDS = {"content", "status", "backend", "model", "usage", "timing", "cost", "error", "finish_reason"}

    def update_message(self, message_id: int, **changes: Any) -> MessageRecord:
        """Change fields of a message: ``content``, ``status``, ``backend``,
        ``model``, ``usage``, ``timing``, ``cost``, ``error``, ``finish_reason``.
        Committed at once."""
        unknown = set(changes) - self._FIELDS
        if unknown:
            raise StoreError(f"cannot update message field(s) {', '.join(sorted(unknown))}")
        if "status" in changes and changes["status"] not in STATUSES:
            raise StoreError(f"unknown status {changes['status']!r} (known: {', '.join(STATUSES)})")
        if not changes:
            return self.message(message_id)
        columns = ", ".join(f"{k} = ?" for k in changes)
        values = tuple(_dump(v) if k in self._JSON_FIELDS else v for k, v in changes.items())
        cur = self._write(f"UPDATE messages SET {columns}, updated_at = ? WHERE id = ?",
                          values + (self._now(), message_id))
        if cur.rowcount == 0:
            raise StoreError(f"no message with id {message_id}")
        return self.message(message_id)

    def delete_message(self, message_id: int) -> None:
        """Delete a message and the turns after it on its branches; a branch
        on screen that ended there now ends at its parent."""
        target = self.message(message_id)
        with self._lock:
            self.generation += 1
            self._db.execute("BEGIN IMMEDIATE")
            try:
                head = self._db.execute("SELECT head_id FROM conversations WHERE id = ?",
                                        (target.conversation_id,)).fetchone()["head_id"]
                on_screen = {m.id for m in store_tree.active_path(
                    [_Node(r["id"], r["parent_id"]) for r in self._db.execute(
                        "SELECT id, parent_id FROM messages WHERE conversation_id = ?",
                        (target.conversation_id,)).fetchall()], head)}
                self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
                if message_id in on_screen:
                    self._db.execute("UPDATE conversations SET head_id = ? WHERE id = ?",
                                     (target.parent_id, target.conversation_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def message(self, message_id: int) -> MessageRecord:
        with self._lock:
            row = self._db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?",
                                   (message_id,)).fetchone()
        if row is None:
            raise StoreError(f"no message with id {message_id}")
        return _message(row)


@dataclass(frozen=True)
class _Node:
    id: int
    parent_id: int | None
