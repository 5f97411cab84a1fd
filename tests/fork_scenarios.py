"""Run by tests/test_fork.py in a fresh interpreter (a fork from inside the
test runner, with its threads, would be fragile): one fork scenario, whose
findings are printed as JSON.

Usage: python fork_scenarios.py IMPL SELECTOR_NAME {selector|loop}"""
import json
import os
import socket
import sys

from fastsel import _impl

READ, WRITE = 1, 2


def in_child(actions):
    """Fork; the child runs actions() and reports what each step did
    (the result or the exception's type and message)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            report = actions()
        except BaseException as exc:  # everything goes back to the parent
            report = {"unexpected": f"{type(exc).__name__}: {exc}"}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        report = json.loads(f.read() or b"{}")
    os.waitpid(pid, 0)
    return report


def outcome(call, *args):
    try:
        result = call(*args)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok" if not isinstance(result, (int, list)) else f"ok {result!r}"[:60]


def selector_scenario(cls):
    sel = cls()
    watched, peer = socket.socketpair()
    other, _ = socket.socketpair()
    spare, _ = socket.socketpair()
    key = sel.register(watched, READ, "parent's")
    sel.register(spare, READ, "spare")

    def child():
        # The child runs the same steps a cleanup or a mistaken reuse would.
        return {
            "select": outcome(sel.select, 0),
            "register": outcome(sel.register, other, READ),
            "modify": outcome(sel.modify, spare, WRITE),
            "unregister": outcome(sel.unregister, watched),
            "map_after_unregister": len(sel.get_map()),
            "close": outcome(sel.close),
        }

    report = {"child": in_child(child)}
    peer.send(b"x")
    report["parent_select"] = [(k.data, ev) for k, ev in sel.select(5)]
    report["parent_key_unchanged"] = sel.get_key(watched) is key
    report["parent_map"] = sorted(k.data for k in sel.get_map().values())
    sel.close()
    return report


def loop_scenario(cls):
    loop = _impl.load(sys.argv[1]).Loop(cls())
    watched, peer = socket.socketpair()
    seen = []
    loop.add_reader(watched, lambda: (seen.append("read"), loop.stop()))

    def child():
        loop.call_soon(loop.stop)
        return {"run_forever": outcome(loop.run_forever),
                "remove_reader": outcome(loop.remove_reader, watched),
                "close": outcome(loop.close)}

    report = {"child": in_child(child)}
    peer.send(b"x")
    loop.run_forever()
    report["parent_callbacks"] = seen
    loop.close()
    return report


if __name__ == "__main__":
    impl_name, selector_name, scenario = sys.argv[1:4]
    selector_cls = getattr(_impl.load(impl_name), selector_name)
    run = selector_scenario if scenario == "selector" else loop_scenario
    print(json.dumps(run(selector_cls)))
