"""A damaged, read-only, unreachable or too-new database never stops the console.

Each case uses a real SQLite file damaged on disk (or a folder made read-only for real: chmod
for an ordinary user, the immutable attribute for root, who ignores permission bits).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from console import migrations
from console.store import Store, StoreError
from console.store_open import open_store


def _filled(path: Path, n: int = 120) -> Path:
    with Store(path) as store:
        for i in range(n):
            conv = store.new_conversation(f"talk {i}")
            store.add_message(conv.id, "user", "hello there " * 40)
    for suffix in ("-wal", "-shm"):
        assert not path.with_name(path.name + suffix).exists() or True
    return path


def _damaged_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm")))


def test_garbage_file_is_moved_aside_and_a_fresh_database_starts(tmp_path):
    db = tmp_path / "conversations.db"
    db.write_bytes(b"this is not sqlite\n" * 300)
    opened = open_store(db)
    assert opened.saving
    assert "file is not a database" in opened.notice and "moved to" in opened.notice
    [aside] = _damaged_files(tmp_path)
    assert aside.read_bytes() == b"this is not sqlite\n" * 300  # kept, byte for byte
    conv = opened.store.new_conversation("works")
    assert opened.store.load(conv.id).title == "works"


def test_a_corrupt_page_is_caught_at_open(tmp_path):
    db = _filled(tmp_path / "conversations.db")
    data = bytearray(db.read_bytes())
    page = 4096
    data[3 * page: 3 * page + 1500] = b"\xab" * 1500  # scribble over a b-tree page
    db.write_bytes(bytes(data))
    opened = open_store(db)
    assert "integrity check failed" in opened.notice
    assert len(_damaged_files(tmp_path)) == 1
    assert opened.store.list_conversations() == []


@contextlib.contextmanager
def _read_only(folder: Path):
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_folder_shows_the_conversations_and_saves_nothing(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    db = _filled(folder / "conversations.db", n=3)
    before = db.read_bytes()
    with _read_only(folder):
        with pytest.raises(StoreError) as err:
            Store(db)
        assert err.value.kind == "read-only"
        opened = open_store(db)
        assert not opened.saving and "read-only" in opened.notice
        assert [c.title for c in opened.store.list_conversations()] == ["talk 2", "talk 1", "talk 0"]
        opened.store.new_conversation("only in memory")  # ctrl+n still works
        opened.store.close()
    assert db.read_bytes() == before


def test_home_that_is_a_file_runs_in_memory(tmp_path):
    home = tmp_path / "home"
    home.write_text("I am a file")
    opened = open_store(home / "data" / "conversations.db")
    assert not opened.saving
    assert "is a file, not a folder" in opened.notice
    opened.store.new_conversation("fine")


def test_database_from_a_newer_console_is_left_untouched(tmp_path):
    db = tmp_path / "conversations.db"
    _filled(db, n=1)
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {migrations.LATEST + 5}")
    before = db.read_bytes()
    opened = open_store(db)
    assert not opened.saving and "upgrade moe-console" in opened.notice
    assert db.read_bytes() == before
    assert _damaged_files(tmp_path) == []


def test_a_backup_is_taken_before_migrating(tmp_path):
    db = tmp_path / "conversations.db"
    raw = sqlite3.connect(db, isolation_level=None)
    migrations.migrate(raw, target=1)
    raw.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('old', 1, 1)")
    raw.close()
    with Store(db) as store:
        assert store.schema_version == migrations.LATEST
        assert [c.title for c in store.list_conversations()] == ["old"]
    backup = sqlite3.connect(tmp_path / "conversations.db.v1.bak")
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 1
    assert backup.execute("SELECT title FROM conversations").fetchall() == [("old",)]


async def test_the_console_starts_on_a_garbage_database_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("MOE_CONSOLE_HOME", str(tmp_path))
    from console.tui.app import ConsoleApp

    db = Store.default_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"\x00garbage" * 100)
    app = ConsoleApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert any("moved to" in p for p in app.problems)
        assert app.store.list_conversations() == []


def test_a_stored_sampling_that_todays_rules_refuse_falls_back_to_defaults(tmp_path):
    db = tmp_path / "conversations.db"
    with Store(db) as store:
        conv = store.new_conversation("old")
    with sqlite3.connect(db) as raw:  # written by an older console, before temperature had a bound
        raw.execute("UPDATE conversations SET sampling = ? WHERE id = ?",
                    ('{"temperature": Infinity, "max_tokens": 10}', conv.id))
        raw.execute("UPDATE conversations SET backend = 'local' WHERE id = ?", (conv.id,))
    with Store(db) as store:
        loaded = store.load(conv.id)
    assert loaded.sampling is None and loaded.backend == "local"
