"""Run ``python -m MODULE ARGS`` with an audit hook that logs every write under a directory.

    python tests/_audit_writes.py WATCHED LOG -m MODULE ARGS...

Used to show that a training process other than process 0 writes nothing into the run directory:
each file opened for writing, directory made, file renamed or removed under WATCHED is appended
to LOG (one line each), and the module then runs as ``python -m`` would run it.
"""

from __future__ import annotations

import os
import runpy
import sys

WRITE_EVENTS = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "shutil.rmtree", "os.truncate"}


def main() -> None:
    """Install the hook, then run the module with the remaining arguments."""
    watched, log, flag, module, *args = sys.argv[1:]
    assert flag == "-m", "usage: _audit_writes.py WATCHED LOG -m MODULE ARGS..."
    watched = os.path.realpath(watched)

    def under(path: object) -> bool:
        """Whether ``path`` lies in the watched directory."""
        if isinstance(path, int):
            return False
        try:
            return os.path.realpath(os.fsdecode(path)).startswith(watched)
        except (TypeError, ValueError):
            return False

    def hook(event: str, args: tuple) -> None:
        """Log writes under the watched directory."""
        if event == "open" and args and under(args[0]):
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
            if writes:
                with open(log, "a") as f:  # log is outside the watched directory
                    f.write(f"{event} {args[0]}\n")
        elif event in WRITE_EVENTS and args and any(under(a) for a in args[:2]):
            with open(log, "a") as f:
                f.write(f"{event} {args[:2]}\n")

    sys.addaudithook(hook)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
