"""fastsel: a compiled, drop-in replacement for the selectors module.

    import fastsel as selectors

IMPLEMENTATION says which implementation is live: "c" (compiled) or
"python" (the pure fallback); see fastsel._impl for how it is chosen.
"""
from selectors import EVENT_READ, EVENT_WRITE, BaseSelector, SelectorKey

from . import _impl
from ._install import install, uninstall

_chosen = _impl.choose()

IMPLEMENTATION = _chosen.IMPLEMENTATION
DefaultSelector = _chosen.DefaultSelector
SelectSelector = _chosen.SelectSelector
Loop = _chosen.Loop
Handle = _chosen.Handle
TimerHandle = _chosen.TimerHandle

__all__ = [
    "EVENT_READ",
    "EVENT_WRITE",
    "IMPLEMENTATION",
    "BaseSelector",
    "DefaultSelector",
    "Handle",
    "Loop",
    "SelectSelector",
    "SelectorKey",
    "TimerHandle",
    "install",
    "uninstall",
]

for _name in ("PollSelector", "EpollSelector", "DevpollSelector", "KqueueSelector"):
    if hasattr(_chosen, _name):
        globals()[_name] = getattr(_chosen, _name)
        __all__.append(_name)
del _name, _chosen

__version__ = "0.1.0"
