"""The Textual application: wiring, bindings and the screens it opens.

:class:`ConsoleApp` takes its dependencies through the constructor so tests
can inject them: the plugin ``host``, the ``store_path`` (or a ``Store``),
the ``settings`` (and the problems found reading them) and a ``clock`` used by
the metrics and the session. Left out, each is built the way ``moe-console``
builds it (plugins from package metadata, the database in the data
directory, ``settings.toml`` in the config directory, ``time.monotonic``).

Every binding has an id (the table is :mod:`console.tui.keys`); the
``[keymap]`` table of the settings rebinds any of them (``App.set_keymap``).
Screens are imported when first opened, never at start-up.

Input typed before the prompt exists (a fast typist or a paste at start-up)
is held and replayed, in order, once the prompt has focus: nothing typed is
lost. A line feed ending that input was an Enter typed while the terminal
was not yet in raw mode (the tty turns CR into LF then), so it sends.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.screen import Screen

from console.tui import gcpause, keys
from console.tui.backend_forms import BackendForms
from console.tui.providers import BackendProvider, ConversationProvider

#: Actions that act on the chat; disabled while another screen is on top.
CHAT_ACTIONS = frozenset({
    "cancel_reply", "new_conversation", "regenerate", "toggle_sidebar", "toggle_panels",
})

#: The palette's built-in "Keys" panel is replaced by the help screen.
REPLACED_SYSTEM_COMMANDS = frozenset({"Keys"})


class ConsoleApp(BackendForms, App[int]):
    """moe-console's terminal UI."""

    TITLE = "moe-console"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {BackendProvider, ConversationProvider}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = keys.bindings("app")

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
        discover: Callable[[Any], Any] | None = None,
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
        if discover is None:
            from console.configured import discover_configured

            discover = discover_configured
        self._discover = discover
        host = self.host = host if host is not None else discover(settings)
        self._stalls_named: set[str] = set()
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
            store = store if store is not None else session.store
        self.session = session
        self.store = store
        self._held_input: list[events.Event] | None = []  # None once the prompt takes input

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
        self._restore_theme()
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.problems.extend(getattr(self.session, "problems", []) or [])
        self.push_screen(ChatScreen())
        self.set_interval(0.25, self.name_stalled_plugins, name="stalls")
        for problem in self.problems:
            self.notify(problem, title="Settings", severity="warning", timeout=10)

    def _restore_theme(self) -> None:
        """The settings' theme, unless a theme was picked in the console since
        the settings last named that one (then the picked one)."""
        theme = getattr(self.settings, "theme", "") or ""
        remembered = self._preference("theme")
        if remembered and remembered.get("settings") == theme and remembered.get("picked") in self.available_themes:
            theme = remembered["picked"]
        if theme and theme in self.available_themes:
            self.theme = theme
        elif theme:
            self.problems.append(f"settings: unknown theme {theme!r}; using {self.theme!r}")

    def _remember_theme(self, theme) -> None:
        setter = getattr(self.store, "set_preference", None)
        if setter is not None:
            try:
                setter("theme", json.dumps({"picked": theme.name, "settings": getattr(self.settings, "theme", "")}))
            except Exception:  # noqa: BLE001 - a read-only store must not break theming
                pass

    def _preference(self, key: str) -> dict | None:
        getter = getattr(self.store, "preference", None)
        try:
            value = getter(key) if getter is not None else None
            return json.loads(value) if value else None
        except Exception:  # noqa: BLE001 - damaged value: ignore it
            return None

    async def on_event(self, event: events.Event) -> None:
        if (self._held_input is not None and isinstance(event, (events.Key, events.Paste))
                and not event.is_forwarded):
            self._held_input.append(event)  # replayed by input_ready(), in order
            return
        await super().on_event(event)

    async def input_ready(self) -> None:
        """The prompt has focus: replay the input held until now, in order.
        Runs on the app's message queue, so later keys come after these."""
        held, self._held_input = self._held_input or [], None
        if held and isinstance(held[-1], events.Key) and held[-1].key == "ctrl+j":
            # typed ahead while the terminal was still in cooked mode, whose
            # line discipline turns Enter (CR) into a line feed: it was Enter
            enter = events.Key("enter", "\r")
            enter.set_sender(self)
            held[-1] = enter
        for event in held:
            await super().on_event(event)

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

    def open_screen(self, kind: type, make: Callable[[], Screen], callback=None) -> None:
        """Show a screen of type ``kind``: the one already on the stack (the
        screens above it are closed), else a new one from ``make()``."""
        for screen in self.screen_stack:
            if isinstance(screen, kind):
                while self.screen is not screen:
                    self.pop_screen()
                return
        self.push_screen(make(), callback)

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

    def action_help(self) -> None:
        from console.tui.screens.help import HelpScreen

        self.open_screen(HelpScreen, HelpScreen)

    def action_show_help_panel(self) -> None:  # Textual's own "Keys" panel: our help instead
        self.action_help()

    def action_backends(self) -> None:
        from console.tui.screens.backends import BackendPicker

        self.open_screen(BackendPicker, lambda: BackendPicker(self.host, self.session.backend_name), self._picked)

    async def _picked(self, name: str | None) -> None:
        if name:
            await self.switch_backend(name)

    async def switch_backend(self, name: str) -> None:
        """Switch the session's backend (a reply in flight is cancelled and kept)."""
        await self.chat.switch_backend(name)

    def action_sampling(self) -> None:
        from console.tui.screens.sampling import SamplingForm

        conv = self.session.conversation
        system = conv.system_prompt if conv is not None else self.settings.system_prompt
        self.open_screen(SamplingForm, lambda: SamplingForm(self.session.sampling, system), self._sampled)

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

        self.open_screen(CompareScreen, lambda: CompareScreen(self.session, self.host))

    def action_plugins(self) -> None:
        from console.tui.screens.plugins import PluginsScreen

        self.open_screen(PluginsScreen, lambda: PluginsScreen(self.host))

    def action_search(self) -> None:
        self.chat.search_conversations()

    def action_prompt_history(self) -> None:
        self.chat.search_prompt_history()

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
        for command in super().get_system_commands(screen):
            if command.title not in REPLACED_SYSTEM_COMMANDS:
                yield command
        yield SystemCommand("Help: every key", "All bindings, the hidden ones too, and what the panels mean",
                            self.action_help)
        yield SystemCommand("New conversation", "Start an empty conversation", self.action_new_conversation)
        yield SystemCommand("Regenerate reply", "A new reply to the last turn (the old one stays an alternative)",
                            self.action_regenerate)
        yield SystemCommand("Search conversations…", "Titles and message text", self.action_search)
        yield SystemCommand("Search prompt history…", "Every prompt you sent", self.action_prompt_history)
        yield SystemCommand("Rename conversation…", "Give the current conversation a title",
                            lambda: self.chat.manage_current("rename"))
        yield SystemCommand("Pin or unpin conversation", "Pinned conversations are listed first",
                            lambda: self.chat.manage_current("pin"))
        yield SystemCommand("Delete conversation…", "Asks first", lambda: self.chat.manage_current("delete"))
        yield SystemCommand("Switch backend…", "Pick the backend of the next turn", self.action_backends)
        yield SystemCommand("Backend options…", "The current backend's options (o in the picker for another)",
                            self.open_backend_options)
        yield SystemCommand("Add a remote endpoint…", "An OpenAI-compatible server (vLLM, SGLang, serve…) as a backend",
                            self.open_remote_form)
        yield SystemCommand("Sampling & system prompt…", "Temperature, top-p, top-k, max tokens, seed",
                            self.action_sampling)
        yield SystemCommand("Side by side…", "One prompt streaming on 2-4 backends at once", self.action_compare)
        yield SystemCommand("Plugins", "Every plugin, its status and its error", self.action_plugins)
        yield SystemCommand("Watch a server…", "Live /metrics of an endpoint (running, queue, TTFT, ITL)",
                            self.action_server)
        yield SystemCommand("Export conversation as Markdown", "Write it to the data directory",
                            self.action_export_markdown)
        yield SystemCommand("Export conversation as JSON", "Write it, with usage, timing and cost, to the data directory",
                            self.action_export_json)
        yield SystemCommand("Toggle conversation list", "Show or hide the sidebar", self.action_toggle_sidebar)
        yield SystemCommand("Toggle metric panels", "Show or hide the live panels", self.action_toggle_panels)


def binding_ids() -> list[str]:
    """Every rebindable binding id of the console (app, prompt and screens)."""
    return keys.binding_ids()


def default_keys() -> dict[str, str]:
    """Binding id -> default key, for the settings' ``[keymap]`` table."""
    return keys.default_keys()


#: Binding id -> default key (see :func:`default_keys`); no screen is imported to build it.
DEFAULT_KEYS: dict[str, str] = default_keys()
