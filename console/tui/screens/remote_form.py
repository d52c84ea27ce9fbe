"""The remote endpoint form: add an OpenAI-compatible server as a backend.

Fields are those of a ``[remote.NAME]`` table (``moe_console_remote.config``):
name, URL, model, the *name* of the environment variable holding the API key
(never the key: the form has no field for it), declared hardware, chips and
price per chip-hour. Every check is the remote plugin's own:
``parse_endpoint`` validates the table, and **Check** (ctrl+g) runs the probe
of ``moe-console remote check`` (``moe_console_remote.detect.probe``:
reachability, models, server kind and version) in an async worker, so the
screen keeps answering while a server hangs (the endpoint's timeouts apply).
**Save** (ctrl+s, or Enter in a field) hands ``(name, table)`` to the
``save`` callback (``ConsoleApp.add_remote``: writes the table, discovers the
plugins again) and closes with the name once it succeeded; a problem (a
settings file that is not valid TOML, say) is one line under the fields and
nothing typed is lost.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from console.tui import keys
from console.tui.screens.forms import FormScreen

#: table key -> (label, placeholder); the order of the form
FIELDS: dict[str, tuple[str, str]] = {
    "name": ("Name", "the backend's name, e.g. h100-vllm"),
    "url": ("URL", "http://10.0.0.5:8000/v1"),
    "model": ("Model", "empty: the server's first model"),
    "api_key_env": ("API key env var", "e.g. H100_KEY: the variable's name, never the key"),
    "hardware": ("Hardware", "declared, e.g. h100 or ascend950"),
    "chips": ("Chips", "chips serving it, for the cost per chip"),
    "price_usd_per_chip_hour": ("USD / chip-hour", "e.g. 2.35"),
}
NUMBERS = {"chips": int, "price_usd_per_chip_hour": float}


def endpoint_table(values: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``(name, table)`` from the form's texts: blanks left out, numbers converted.
    ``ValueError`` with one line for a number that is not one."""
    name = values.get("name", "").strip()
    table: dict[str, Any] = {}
    for key, raw in values.items():
        text = raw.strip()
        if key == "name" or not text:
            continue
        if key in NUMBERS:
            try:
                table[key] = NUMBERS[key](text)
            except ValueError:
                noun = "a whole number" if NUMBERS[key] is int else "a number"
                raise ValueError(f"{FIELDS[key][0]} must be {noun}, got {text!r}") from None
        else:
            table[key] = text
    return name, table


def checked_endpoint(values: dict[str, str]) -> Any:
    """The remote plugin's ``Endpoint`` for the form's texts; ``ValueError`` with
    the first problem ``parse_endpoint`` finds (one line)."""
    from moe_console_remote.config import parse_endpoint

    name, table = endpoint_table(values)
    if not name:
        raise ValueError("Name is empty: it becomes the backend's name")
    endpoint, problems = parse_endpoint(name, table)
    if endpoint is None or problems:
        raise ValueError(problems[0].replace(f"[remote.{name}]: ", "") if problems else "invalid endpoint")
    return endpoint


def check_line(endpoint: Any, info: Any) -> tuple[bool, str]:
    """``(ok, one line)`` for what the probe found."""
    if info.error:
        note = endpoint.key_note() if " 401 " in f" {info.error} " else ""
        where = "answers with an error" if info.reachable else "unreachable"
        return False, f"{where}: {info.error}{note}"
    models = ", ".join(m.id for m in info.models) or "none listed"
    version = info.version or "version not reported"
    watch = " · /metrics can be watched" if info.metrics else ""
    return True, f"reachable · {info.kind} {version} · models: {models}{watch}"


class RemoteEndpointForm(FormScreen):
    """Dismissed with the saved endpoint's name, or ``None``."""

    BINDINGS = keys.bindings("remote_form")

    def __init__(self, save: Callable[[str, dict[str, Any]], Awaitable[str | None]],
                 taken: dict[str, str] | None = None) -> None:
        """``save(name, table)`` returns None once saved, else the one-line reason;
        ``taken``: backend name -> plugin, for the names other plugins already use."""
        super().__init__(id="remote-form")
        self.save = save
        self.taken = dict(taken or {})
        self.checked: tuple[bool, str] | None = None  # the last Check's result

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="remote-box", classes="dialog"):
            yield Static("[b]Add a remote endpoint[/]  [dim]ctrl+g checks · ctrl+s saves to settings.toml · "
                         "Esc closes[/]", classes="dialog-title")
            with Grid(id="remote-grid"):
                for key, (label, placeholder) in FIELDS.items():
                    yield Label(label)
                    yield Input(id=f"remote-{key}", placeholder=placeholder, compact=True)
            yield Static("", id="form-status")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Check", id="check")
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#remote-name", Input).focus()

    def values(self) -> dict[str, str]:
        return {key: self.query_one(f"#remote-{key}", Input).value for key in FIELDS}

    def _endpoint(self) -> Any | None:
        try:
            endpoint = checked_endpoint(self.values())
        except ValueError as exc:
            self.say(str(exc), error=True)
            return None
        plugin = self.taken.get(endpoint.name)
        if plugin is not None:
            self.say(f"{endpoint.name!r} is already the name of a backend of plugin {plugin!r}; pick another",
                     error=True)
            return None
        return endpoint

    # ---------------------------------------------------------------- check
    def action_check(self) -> None:
        endpoint = self._endpoint()
        if endpoint is not None:
            self.say(f"checking {endpoint.url} …")
            self._check(endpoint)

    @work(exclusive=True, group="remote-check", exit_on_error=False, description="check endpoint")
    async def _check(self, endpoint: Any) -> None:
        try:
            from moe_console_remote.detect import check_endpoint

            info = await check_endpoint(endpoint)
        except Exception as exc:  # noqa: BLE001 - anything the probe did not turn into a line
            self.checked = (False, f"unreachable: {' '.join(str(exc).split()) or type(exc).__name__}")
        else:
            self.checked = check_line(endpoint, info)
        self.say(self.checked[1], error=not self.checked[0])

    # ----------------------------------------------------------------- save
    async def action_save(self) -> None:
        endpoint = self._endpoint()
        if endpoint is None:
            return
        self.say(f"saving [remote.{endpoint.name}] …")
        error = await self.save(endpoint.name, endpoint.as_table())
        if error:
            self.say(error, error=True)
        else:
            self.dismiss(endpoint.name)

    def on_unmount(self) -> None:
        self.workers.cancel_node(self)  # a check still waiting on a hung server ends with the form

    @on(Button.Pressed, "#check")
    def _check_pressed(self) -> None:
        self.action_check()

