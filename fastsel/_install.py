"""install() / uninstall(): make the stdlib use fastsel's selectors.

The selectors module's class names are replaced by fastsel's. That alone
covers callers that look the class up on each use (asyncio's default
selector, multiprocessing's forkserver, socket.sendfile) and modules imported
later that bind a class at import time. Modules already imported when
install() runs have their bound name replaced too.
"""
import selectors
import sys
import threading

# Module -> the name it binds to a selectors class when it is imported.
BOUND_AT_IMPORT = {
    "subprocess": "_PopenSelector",
    "socketserver": "_ServerSelector",
    "multiprocessing.connection": "_WaitSelector",
    "telnetlib": "_TelnetSelector",  # removed in 3.13
}

SELECTOR_NAMES = ("DefaultSelector", "SelectSelector", "PollSelector",
                  "EpollSelector", "DevpollSelector", "KqueueSelector")

_lock = threading.Lock()
# name -> (the selectors module's class, fastsel's), while installed.
_swapped = None


def installed():
    """Whether install() is in effect."""
    return _swapped is not None


def _replace_bound(replacements):
    """In the modules of BOUND_AT_IMPORT that are imported, swap each bound
    class for its counterpart; a class someone else put there is left."""
    for module_name, attr in BOUND_AT_IMPORT.items():
        module = sys.modules.get(module_name)
        current = getattr(module, attr, None)
        if current in replacements:
            setattr(module, attr, replacements[current])


def install():
    """Make the stdlib's selector users use fastsel. Calling it again while
    installed does nothing."""
    global _swapped
    import fastsel

    with _lock:
        if _swapped is not None:
            return
        swapped = {
            name: (getattr(selectors, name), getattr(fastsel, name))
            for name in SELECTOR_NAMES
            if hasattr(selectors, name) and hasattr(fastsel, name)
        }
        for name, (_, ours) in swapped.items():
            setattr(selectors, name, ours)
        # DefaultSelector is never bound at import time; fastsel's is also
        # one of its named classes, which would make the mapping ambiguous.
        _replace_bound({stdlib: ours for name, (stdlib, ours) in swapped.items()
                        if name != "DefaultSelector"})
        _swapped = swapped


def uninstall():
    """Put back what install() replaced: in the selectors module, and in the
    modules that bound a class, including those imported after install().
    A name that was replaced again since (not by fastsel) is left alone.
    Does nothing when not installed."""
    global _swapped
    with _lock:
        if _swapped is None:
            return
        _replace_bound({ours: stdlib for name, (stdlib, ours) in _swapped.items()
                        if name != "DefaultSelector"})
        for name, (stdlib, ours) in _swapped.items():
            if getattr(selectors, name) is ours:
                setattr(selectors, name, stdlib)
        _swapped = None
