"""Errors shared by the host and plugins. Each carries a message fit for a user."""


class PluginError(Exception):
    """A plugin could not be loaded or misbehaved in a hook."""


class IncompatiblePluginError(PluginError):
    """A plugin was built for an API version this host does not support."""


class OptionError(ValueError):
    """A backend option was unknown, of the wrong type or out of range."""


class BackendError(Exception):
    """A backend could not serve a request (bad input, unreachable server, ...).

    Raised before streaming starts, or turned into a ``Failed`` event by the
    host when raised inside ``Backend.stream``.
    """
