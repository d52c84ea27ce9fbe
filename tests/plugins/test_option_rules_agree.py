"""The host and the conformance kit accept and refuse the same option declarations
(both use console.api.options.declaration_problems)."""

from __future__ import annotations

import pytest

from console.testing import ConformanceError, check_options

PLUGIN = '''
from console.api import Backend, BackendInfo, Option, hookimpl

class Declares(Backend):
    info = BackendInfo(name="declares", display_name="D", kind="remote")
    options = {options}

    async def stream(self, request):
        yield None

@hookimpl
def register_backends(register):
    register(Declares)
'''

DECLARATIONS = {
    "fine": ('(Option("n", "int", 1, "how many", minimum=1),)', None),
    "fine path and secret": ('(Option("f", "path", "", "a file"), Option("k", "secret", "MY_KEY", "key variable"))',
                             None),
    "no help": ('(Option("n", "int", 1, ""),)', "needs a help text"),
    "default below minimum": ('(Option("n", "int", 0, "how many", minimum=1),)', "invalid default"),
    "wrong default type": ('(Option("n", "float", "0.5", "a number as text"),)', "not of type float"),
    "a list": ('[Option("n", "int", 1, "a list, not a tuple")]', "options must be a tuple"),
    "twice": ('(Option("n", "int", 1, "first"), Option("n", "int", 2, "second"))', "declared twice"),
    "bad name": ('(Option("Speed Up", "int", 1, "capitals and a space"),)', "not a plain lowercase key"),
    "unknown type": ('(Option("n", "decimal", 1, "no such type"),)', "unknown type 'decimal'"),
    "bounds on text": ('(Option("s", "str", "a", "text with a minimum", minimum=1),)', "minimum/maximum need"),
    "secret value": ('(Option("k", "secret", "sk-123 456", "a pasted key"),)', "not shown"),
    "choices miss the default": ('(Option("p", "str", "slow", "pace", choices=("fast",)),)', "invalid default"),
}


@pytest.mark.parametrize("case", list(DECLARATIONS))
def test_host_and_kit_agree(workshop, case):
    source, problem = DECLARATIONS[case]
    namespace: dict = {}
    exec("from console.api import Option\noptions = " + source, namespace)  # noqa: S102 - test data
    workshop.add("declares", PLUGIN.format(options=source))
    host = workshop.host()
    host.load_all()
    record = host.plugin("declares")
    if problem is None:
        check_options("declares", namespace["options"])
        assert record.status == "loaded", record.error
        return
    with pytest.raises(ConformanceError, match=problem) as kit:
        check_options("declares", namespace["options"])
    assert record.status == "failed" and problem in record.error
    assert str(kit.value).removeprefix("declares: ") in record.error  # the very same message
