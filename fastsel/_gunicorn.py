"""fastsel.aio.GunicornWebWorker: aiohttp's gunicorn worker on fastsel.aio.

    gunicorn myapp:app --worker-class fastsel.aio.GunicornWebWorker

Needs aiohttp and gunicorn (imported on first use of the name).
"""
import asyncio

from aiohttp.worker import GunicornWebWorker as _AiohttpWorker

from .aio import new_event_loop


class GunicornWebWorker(_AiohttpWorker):
    """aiohttp's GunicornWebWorker serving on a fastsel.aio.EventLoop.

    The loop is made directly by new_event_loop(), after the fork, and set as
    the worker's current loop; no event loop policy is touched."""

    def init_process(self):
        # aiohttp's init_process closes asyncio.get_event_loop() (which, with
        # no loop set, asks the policy for one), sets a loop made by
        # asyncio.new_event_loop(), then calls gunicorn's, which runs the
        # worker: call gunicorn's directly.
        self.loop = new_event_loop()
        asyncio.set_event_loop(self.loop)
        super(_AiohttpWorker, self).init_process()
