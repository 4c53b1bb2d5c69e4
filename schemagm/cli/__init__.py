"""schemagm.cli

Importing the command line (before typer, rich or torch load) makes a Ctrl-C during start-up a quiet
exit with status 130 instead of a traceback from the middle of an import; :func:`schemagm.cli.app.main`
puts Python's own handler back before a command runs, so commands see ``KeyboardInterrupt`` as usual.
"""

from __future__ import annotations

import os
import signal
import threading


def _quiet_exit(signum: int, frame: object) -> None:
    os.write(2, b"interrupted\n")
    os._exit(130)


if (
    threading.current_thread() is threading.main_thread()
    and signal.getsignal(signal.SIGINT) is signal.default_int_handler
):
    signal.signal(signal.SIGINT, _quiet_exit)
