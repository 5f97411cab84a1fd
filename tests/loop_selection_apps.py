"""Servers for test_aio_loop_selection, each answering every request with the
class of the loop serving it and fastsel's implementation:
"fastsel.aio.EventLoop c".

    asgi_app                  an ASGI app (uvicorn, hypercorn)
    aiohttp_app               an aiohttp application (gunicorn); its answer
                              also names the module of the policy in place
    python loop_selection_apps.py hypercorn IDIOM PORT
                              hypercorn serving asgi_app, started the IDIOM way
"""
import asyncio
import sys

import fastsel


def served_by():
    loop = type(asyncio.get_running_loop())
    return f"{loop.__module__}.{loop.__qualname__} {fastsel.IMPLEMENTATION}"


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = served_by().encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def aiohttp_app():
    from aiohttp import web

    async def handle(request):
        # Also whether a fastsel policy was set (the worker must set none).
        policy = type(asyncio.events._event_loop_policy)
        return web.Response(text=served_by() + f" policy from {policy.__module__}")

    app = web.Application()
    app.router.add_get("/", handle)
    return app


def serve_with_hypercorn(idiom, port):
    import hypercorn.asyncio
    from hypercorn.config import Config

    import fastsel.aio

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    if idiom == "asyncio.run":
        asyncio.run(hypercorn.asyncio.serve(asgi_app, config),
                    loop_factory=fastsel.aio.new_event_loop)
    else:
        fastsel.aio.run(hypercorn.asyncio.serve(asgi_app, config))


if __name__ == "__main__":
    assert sys.argv[1] == "hypercorn", sys.argv
    serve_with_hypercorn(sys.argv[2], int(sys.argv[3]))
