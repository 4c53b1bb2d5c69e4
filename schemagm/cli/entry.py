"""The console script and ``python -m schemagm``: a Ctrl-C during start-up is a quiet exit.

Before typer, rich or torch load, SIGINT is made a quiet exit with status 130: a
``KeyboardInterrupt`` raised in the middle of an import prints a traceback, and inside torch's C++
start-up it aborts the process.  Every file schemagm writes is written atomically, so stopping at
once loses nothing written.  Training installs its own handler (finish the step, save, stop) and
puts this one back afterwards.  Importing :mod:`schemagm.cli` as a library changes no signal handling.
"""

from __future__ import annotations

import os
import signal
import threading


def quiet_exit(signum: int, frame: object) -> None:
    os.write(2, b"interrupted\n")
    os._exit(130)


def main() -> None:
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, quiet_exit)  # an inherited "ignore" (a background job) is left alone
    from .app import main as run

    run()
