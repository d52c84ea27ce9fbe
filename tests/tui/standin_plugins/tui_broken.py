"""TEST STAND-IN: a plugin that fails while registering (the plugins screen shows it)."""

from console.api import hookimpl

MOE_CONSOLE_API = "1.0"


@hookimpl
def register_backends(register):
    raise RuntimeError("the vendor SDK is not installed (libfoo.so missing)")
