"""Built-in moe-console backend plugin ``local``: the numpy MoE engine on this machine.

Registering is cheap: the engine (numpy, weights) is imported and loaded only
when the backend streams its first reply.
"""

from console.api import hookimpl

MOE_CONSOLE_API = "1.0"


@hookimpl
def register_backends(register):
    from moe_console_local.backend import LocalBackend

    register(LocalBackend)
