# Types of fastsel's public API: the selectors module's, class for class.
# Compiled classes are not subclasses of the stdlib's (only virtual ones of
# BaseSelector), so each is typed from BaseSelector here.
import sys
from _typeshed import FileDescriptorLike
from collections.abc import Mapping
from selectors import EVENT_READ as EVENT_READ
from selectors import EVENT_WRITE as EVENT_WRITE
from selectors import BaseSelector as BaseSelector
from selectors import SelectorKey as SelectorKey
from typing import Any, Final, Literal

__all__: list[str]
__version__: Final[str]
IMPLEMENTATION: Final[Literal["c", "python"]]

# Not a runtime class: the methods every fastsel selector has.
class _Selector(BaseSelector):
    def register(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> SelectorKey: ...
    def unregister(self, fileobj: FileDescriptorLike) -> SelectorKey: ...
    def modify(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> SelectorKey: ...
    def select(self, timeout: float | None = None) -> list[tuple[SelectorKey, int]]: ...
    def get_map(self) -> Mapping[FileDescriptorLike, SelectorKey]: ...  # typeshed: never None

class SelectSelector(_Selector): ...

if sys.platform != "win32":
    class PollSelector(_Selector): ...

if sys.platform == "linux":
    class EpollSelector(_Selector):
        def fileno(self) -> int: ...

if sys.platform != "linux" and sys.platform != "darwin" and sys.platform != "win32":
    class DevpollSelector(_Selector):  # Solaris
        def fileno(self) -> int: ...

if sys.platform != "win32" and sys.platform != "linux":
    class KqueueSelector(_Selector):
        def fileno(self) -> int: ...

# At run time an alias of the best class above that this kernel supports.
class DefaultSelector(_Selector):
    if sys.platform != "win32":
        def fileno(self) -> int: ...
