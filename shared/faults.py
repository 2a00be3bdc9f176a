"""Named crash points for fault-injection tests.

`HYEOPCHI_CRASH_AT=relay.after_produce` makes the process die (os._exit, no cleanup,
like kill -9) the first time it reaches that point. Unset in production: a no-op.
"""
import os

CRASH_EXIT_CODE = 86


def crash_point(name: str) -> None:
    if name in os.environ.get("HYEOPCHI_CRASH_AT", "").split(","):
        os._exit(CRASH_EXIT_CODE)
