"""moe-console-echo: an example backend plugin for moe-console.

It registers one backend, ``echo`` (kind ``remote``):

* with no ``base_url`` it echoes the last user message word by word, paced by
  ``delay_s`` (handy to try the console and to test a plugin host);
* with ``base_url`` (e.g. ``http://127.0.0.1:8000/v1``) it streams chat
  completions from an OpenAI-compatible server: vLLM, SGLang, vllm-ascend, or
  ``moe-console serve``.

The module stays cheap to import: the backend class is imported inside the hook.
"""

from console.api import hookimpl

#: The plugin API this plugin was written against (checked by the host).
MOE_CONSOLE_API = "1.0"


@hookimpl
def register_backends(register):
    from moe_console_echo.backend import EchoBackend

    register(EchoBackend)
