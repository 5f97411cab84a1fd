"""Uses every public name of fastsel; `mypy --strict` must accept it on each
platform (tests/test_typing.py). Never imported by the test suite."""
import socket
import sys

import fastsel
from fastsel import (
    EVENT_READ,
    EVENT_WRITE,
    IMPLEMENTATION,
    BaseSelector,
    DefaultSelector,
    Handle,
    Loop,
    SelectorKey,
    SelectSelector,
    TimerHandle,
    install,
    uninstall,
)


def echo_once(sel: BaseSelector, sock: socket.socket) -> list[int]:
    key: SelectorKey = sel.register(sock, EVENT_READ | EVENT_WRITE, data="echo")
    sel.modify(sock, EVENT_READ, key.data)
    ready: list[tuple[SelectorKey, int]] = sel.select(timeout=0.01)
    fds = [k.fd for k, events in ready if events & EVENT_READ]
    mapping = sel.get_map()
    assert sock in mapping
    sel.unregister(sock)
    return fds


def every_class() -> list[BaseSelector]:
    selectors: list[BaseSelector] = [DefaultSelector(), SelectSelector()]
    if sys.platform != "win32":
        selectors.append(fastsel.PollSelector())
    if sys.platform == "linux":
        epoll = fastsel.EpollSelector()
        assert epoll.fileno() >= 0
        selectors.append(epoll)
    if sys.platform != "win32" and sys.platform != "linux":
        kqueue = fastsel.KqueueSelector()
        assert kqueue.fileno() >= 0
        selectors.append(kqueue)
    if sys.platform != "linux" and sys.platform != "darwin" and sys.platform != "win32":
        selectors.append(fastsel.DevpollSelector())
    return selectors


def describe() -> str:
    impl: str = IMPLEMENTATION
    names: list[str] = fastsel.__all__
    version: str = fastsel.__version__
    return f"fastsel {version} ({impl}): {', '.join(names)}"


if __name__ == "__main__":
    a, b = socket.socketpair()
    for sel in every_class():
        with sel:
            echo_once(sel, a)
    print(describe())


def loop_once(sock: socket.socket) -> int:
    ran: list[int] = []
    with Loop(DefaultSelector()) as loop:
        loop.add_reader(sock, ran.append, 1)
        soon: Handle = loop.call_soon(ran.append, 2)
        timer: TimerHandle = loop.call_later(0.01, loop.stop)
        loop.call_at(loop.time() + 1, ran.append, 3).cancel()
        loop.call_soon_threadsafe(ran.append, 4)
        loop.set_exception_handler(lambda lp, context: None)
        loop.run_forever()
        assert timer.when() > 0 and not soon.cancelled()
        assert loop.remove_reader(sock) and not loop.remove_writer(sock)
        assert not loop.is_running() and loop.get_exception_handler() is not None
    return len(ran) if loop.is_closed() else 0


def dispatch_once(sel: fastsel.SelectSelector) -> int:
    return sel.dispatch(0)


def swap_stdlib() -> None:
    install()
    uninstall()
