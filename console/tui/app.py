"""The Textual application: wiring, bindings and the screens it opens.

:class:`ConsoleApp` takes its dependencies through the constructor so tests
can inject them: the plugin ``host``, the ``store_path`` (or a ``Store``),
the ``settings`` (and the problems found reading them) and a ``clock`` used by
the metrics and the session. Left out, each is built the way ``moe-console``
builds it (plugins from package metadata, the database in the data
directory, ``settings.toml`` in the config directory, ``time.monotonic``).

Every binding has an id (see :func:`default_keys`); the ``[keymap]`` table of
the settings rebinds any of them (``App.set_keymap``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from console.tui import gcpause
from console.tui.providers import BackendProvider, ConversationProvider
from console.tui.widgets.prompt import PromptInput

#: Actions that act on the chat; disabled while another screen is on top.
CHAT_ACTIONS = frozenset({
    "cancel_reply", "new_conversation", "regenerate", "toggle_sidebar", "toggle_panels",
})


class ConsoleApp(App[int]):
    """moe-console's terminal UI."""

    TITLE = "moe-console"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {BackendProvider, ConversationProvider}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("escape", "cancel_reply", "Stop", id="cancel"),
        Binding("ctrl+n", "new_conversation", "New chat", id="new_conversation"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding("ctrl+b", "backends", "Backend", id="backends"),
        Binding("ctrl+o", "sampling", "Sampling", id="sampling"),
        Binding("ctrl+t", "compare", "Compare", id="compare"),
        Binding("f5", "plugins", "Plugins", id="plugins"),
        Binding("f2", "toggle_sidebar", "Chats", id="toggle_sidebar", show=False),
        Binding("f3", "toggle_panels", "Panels", id="toggle_panels", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, show=False),
    ]

    def __init__(
        self,
        *,
        host: Any | None = None,
        store: Any | None = None,
        store_path: str | Path | None = None,
        settings: Any | None = None,
        settings_problems: Iterable[str] = (),
        clock: Callable[[], float] | None = None,
        session: Any | None = None,
    ) -> None:
        super().__init__()
        from console.metrics import Metrics

        if settings is None:
            from console.settings import load_settings

            settings, found = load_settings(binding_ids=binding_ids())
            settings_problems = [*settings_problems, *found]
        self.settings = settings
        self.problems: list[str] = list(settings_problems)
        self.clock = clock or time.monotonic
        if host is None:
            from console.plugins import PluginHost

            host = PluginHost.discover(config=getattr(settings, "plugin_tables", None))
        self.host = host
        if session is None:
            if store is None:
                from console.store_open import open_store

                opened = open_store(store_path)
                store = opened.store
                if opened.notice:
                    self.problems.append(f"conversations: {opened.notice}")
                if not opened.saving:  # a banner in the header for the whole session
                    self.title = f"{self.title} · NOT SAVING conversations"
            from console.conversation import ChatSession

            self.metrics = Metrics(clock=self.clock)
            session = ChatSession(host, store, settings, self.metrics, clock=self.clock)
        else:
            self.metrics = session.metrics
        self.session = session
        self.store = store

    # -------------------------------------------------------------- lifecycle
    def on_mount(self) -> None:
        from console.tui.screens.chat import ChatScreen

        gcpause.freeze_heap(collect=True)  # keep GC pauses out of the UI (see console.tui.gcpause)
        keymap = dict(getattr(self.settings, "keymap", {}) or {})
        unknown = sorted(set(keymap) - set(binding_ids()))
        if unknown:
            self.problems.append(
                f"settings: [keymap] has unknown binding id(s) {', '.join(unknown)}; "
                f"known: {', '.join(binding_ids())}"
            )
        self.set_keymap({k: v for k, v in keymap.items() if k not in unknown})
        theme = getattr(self.settings, "theme", "") or ""
        if theme and theme in self.available_themes:
            self.theme = theme
        elif theme:
            self.problems.append(f"settings: unknown theme {theme!r}; using {self.theme!r}")
        self.problems.extend(getattr(self.session, "problems", []) or [])
        self.push_screen(ChatScreen())
        for problem in self.problems:
            self.notify(problem, title="Settings", severity="warning", timeout=10)

    async def on_unmount(self) -> None:
        await self.session.aclose()
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    @property
    def chat(self):
        """The chat screen (the base of the screen stack)."""
        from console.tui.screens.chat import ChatScreen

        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        raise LookupError("chat screen not mounted")

    # ---------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CHAT_ACTIONS:
            from console.tui.screens.chat import ChatScreen

            return isinstance(self.screen, ChatScreen)
        return True

    def action_cancel_reply(self) -> None:
        self.chat.cancel_reply()

    async def action_new_conversation(self) -> None:
        await self.chat.new_conversation()

    async def action_regenerate(self) -> None:
        await self.chat.regenerate()

    def action_toggle_sidebar(self) -> None:
        self.chat.toggle_sidebar()

    def action_toggle_panels(self) -> None:
        self.chat.toggle_panels()

    def action_backends(self) -> None:
        from console.tui.screens.backends import BackendPicker

        if not isinstance(self.screen, BackendPicker):
            self.push_screen(BackendPicker(self.host, self.session.backend_name), self._picked)

    async def _picked(self, name: str | None) -> None:
        if name:
            await self.switch_backend(name)

    async def switch_backend(self, name: str) -> None:
        """Switch the session's backend (a reply in flight is cancelled and kept)."""
        await self.chat.switch_backend(name)

    def action_sampling(self) -> None:
        from console.tui.screens.sampling import SamplingForm

        if isinstance(self.screen, SamplingForm):
            return
        conv = self.session.conversation
        system = conv.system_prompt if conv is not None else self.settings.system_prompt
        self.push_screen(SamplingForm(self.session.sampling, system), self._sampled)

    async def _sampled(self, result) -> None:
        if result is None:
            return
        sampling, system_prompt = result
        self.session.sampling = sampling
        self.session.set_system_prompt(system_prompt)
        if self.session.conversation is not None:
            await self.chat.show_system_prompt(system_prompt)
        self.chat.refresh_header()
        self.notify("Sampling settings saved for this conversation", timeout=3)

    def action_compare(self) -> None:
        from console.tui.screens.compare import CompareScreen

        if not isinstance(self.screen, CompareScreen):
            self.push_screen(CompareScreen(self.session, self.host))

    def action_plugins(self) -> None:
        from console.tui.screens.plugins import PluginsScreen

        if not isinstance(self.screen, PluginsScreen):
            self.push_screen(PluginsScreen(self.host))

    def action_server(self) -> None:
        from console.tui.screens.server import ServerScreen

        endpoint = getattr(type(self.session.backend), "endpoint", None) if self.session.backend_name else None
        if not isinstance(self.screen, ServerScreen):
            self.push_screen(ServerScreen(getattr(endpoint, "url", "")))

    async def action_open_conversation(self, conversation_id: int) -> None:
        await self.chat.open_conversation(conversation_id)

    def action_export_markdown(self) -> None:
        self.chat.export(self.store, "md")

    def action_export_json(self) -> None:
        self.chat.export(self.store, "json")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New conversation", "Start an empty conversation", self.action_new_conversation)
        yield SystemCommand("Regenerate reply", "Replace the last reply with a new one", self.action_regenerate)
        yield SystemCommand("Switch backend…", "Pick the backend of the next turn", self.action_backends)
        yield SystemCommand("Sampling & system prompt…", "Temperature, top-p, top-k, max tokens, seed",
                            self.action_sampling)
        yield SystemCommand("Compare backends…", "The last turn on several backends side by side",
                            self.action_compare)
        yield SystemCommand("Plugins", "Every plugin, its status and its error", self.action_plugins)
        yield SystemCommand("Watch a server…", "Live /metrics of an endpoint (running, queue, TTFT, ITL)",
                            self.action_server)
        yield SystemCommand("Export conversation as Markdown", "Write it to the data directory",
                            self.action_export_markdown)
        yield SystemCommand("Export conversation as JSON", "Write it, with usage, timing and cost, to the data directory",
                            self.action_export_json)
        yield SystemCommand("Toggle conversation list", "Show or hide the sidebar", self.action_toggle_sidebar)
        yield SystemCommand("Toggle metric panels", "Show or hide the live panels", self.action_toggle_panels)


def _all_bindings() -> list[Binding]:
    from console.tui.screens.backends import BackendPicker
    from console.tui.screens.compare import CompareScreen
    from console.tui.screens.plugins import PluginsScreen
    from console.tui.screens.sampling import SamplingForm

    owners = (ConsoleApp, PromptInput, BackendPicker, SamplingForm, CompareScreen, PluginsScreen)
    return [b for owner in owners for b in owner.BINDINGS if isinstance(b, Binding) and b.id]


def binding_ids() -> list[str]:
    """Every rebindable binding id of the console (app, prompt and screens)."""
    return [b.id for b in _all_bindings()]


def default_keys() -> dict[str, str]:
    """Binding id -> default key, for the settings' ``[keymap]`` table."""
    return {b.id: b.key for b in _all_bindings()}


#: Binding id -> default key (see :func:`default_keys`).
DEFAULT_KEYS: dict[str, str] = default_keys()
