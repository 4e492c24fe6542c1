"""Command-line plumbing shared by the CLIs: a user's mistake is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one line (no usage block) and exits with code 2."""

    def error(self, message: str) -> NoReturn:
        """``prog: error: message (see --help)`` on stderr, exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def user_error(prog: str, err: BaseException) -> int:
    """Print ``prog: error: <first line of err>`` to stderr and return exit code 2."""
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    print(f"{prog}: error: {text}", file=sys.stderr)
    return 2


def float_list(text: str) -> list[float]:
    """'0,10,20' -> [0.0, 10.0, 20.0] (an argparse type: a clear message when it is not)."""
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
