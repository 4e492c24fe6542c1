"""The parts of ``python -m mjx_walker.evaluate``: conditions, per-episode draws, measures, plots, video.

:mod:`mjx_walker.evaluate` runs episodes and writes the report; these modules hold what it is
made of, as small functions that are tested on their own.
"""
