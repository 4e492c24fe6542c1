"""``python -m mjx_walker.train``: the training command line (its code is :func:`mjx_walker.training.main`).

This file only runs; it is never imported. Imported as ``mjx_walker.train`` it would replace the
package's ``train`` function with this module, and ``from mjx_walker import train`` would return a
module. So an import fails with directions, and the package attribute stays the function.
"""

if __name__ != "__main__":
    raise ImportError(
        "mjx_walker.train is the command line (python -m mjx_walker.train), not a module to import: "
        "for the function use `from mjx_walker import train`; for the CLI in code, mjx_walker.training.main"
    )

from mjx_walker.stop_watch import install

watch = install()  # before JAX starts a thread: Ctrl-C and SIGTERM stop within a second

from mjx_walker.training import main  # noqa: E402

main(watch=watch)
