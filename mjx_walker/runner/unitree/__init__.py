"""Unitree's low-level protocol (``unitree_hg``, DDS): the G1 backend, its message types and CRC, and a simulated G1.

Needs the ``[unitree]`` extra (cyclonedds) and nothing of JAX: ``pip install -e ".[unitree]"``.
:mod:`.crc` alone is plain Python (struct), so it can be checked anywhere.
"""
