"""Short pauses of the garbage collector under traffic.

A full collection walks every tracked object of the process. Most of them are there for good: the
modules, the compiled graph and its agents, the settings and the prebuilt statements; walking
them is what made a full pass stop the event loop for 30 to 160 ms under load, so an
acknowledgement that met one waited that long (the tail of its latency). `settle` moves what the
process holds at that moment into the permanent generation (`gc.freeze`), which later passes skip;
what requests and turns allocate is collected as before.
"""

from __future__ import annotations

import gc


def settle(*, collect: bool = True) -> None:
    """Freeze what the process holds now. With `collect`, garbage is collected first (a pass of
    some tens of milliseconds: at startup, before traffic); without, what is garbage at that moment
    is kept for good (a few objects after an import, where a pass would stop the loop under load)."""
    if collect:
        gc.collect()
    gc.freeze()
