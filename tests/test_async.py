"""Async handlers, and supervising from inside an asyncio program."""
import asyncio
import os
import time

import pytest

from pyshim import HandlerError, Supervisor


def parse_two(out):
    fields = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in out.splitlines()}
    return fields["A"][0], fields["B"]


def test_async_handler_holds_only_its_thread(prog, tmp_path):
    """Thread A's call waits in an async handler until thread B's 100 calls
    have all been served: were A's wait holding anyone else, B's calls
    would never come (and the handler would give up after 30 s)."""
    sup = Supervisor()
    state = {"b": 0}

    @sup.on("getppid")
    async def wait_for_b(call):
        if call.tid == call.pid:  # thread A, the main thread
            state["go"] = go = state.get("go") or asyncio.Event()
            state["a held"] = True
            try:
                await asyncio.wait_for(go.wait(), 30)
            except asyncio.TimeoutError:
                state["gave up"] = True
            state["a held"] = False
            return 7
        state["b"] += 1
        if state.get("a held"):
            state["b while a held"] = state.get("b while a held", 0) + 1
        if state["b"] == 100:
            state["go"] = go = state.get("go") or asyncio.Event()
            go.set()
        return None

    out = tmp_path / "out"
    with open(out, "wb") as f:
        assert sup.run([prog("held"), "two"], stdout=f) == 0
    a_done, (b_start, b_end) = parse_two(out.read_text())
    assert "gave up" not in state and state["b"] == 100
    # Every one of B's calls was served while A's was held.  (Their end
    # times race: A is let go during B's last call, before B sees it return.)
    assert state["b while a held"] == 100
    assert b_start < a_done


def test_async_handler_answer_and_exception(prog, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    async def answer(call):
        await asyncio.sleep(0)
        return 4242

    out = tmp_path / "out"
    with open(out, "wb") as f:
        assert sup.run([prog("probe"), "ppid"], stdout=f) == 0
    assert out.read_text() == "getppid 4242\n"

    broken = Supervisor()

    @broken.on("getppid")
    async def fails(call):
        await asyncio.sleep(0)
        raise RuntimeError("async boom")

    with pytest.raises(HandlerError, match="handler for getppid raised RuntimeError: async boom"):
        broken.run([prog("probe"), "ppid"], stdout=open(os.devnull, "wb"))


def test_run_async_inside_a_running_loop(prog, tmp_path):
    # The caller's loop keeps running (a ticker counts) while the run goes on,
    # and async handlers run on that very loop.
    async def main():
        loop = asyncio.get_running_loop()
        sup = Supervisor()
        on_loop = []

        @sup.on("getppid")
        async def handler(call):
            on_loop.append(asyncio.get_running_loop() is loop)
            await asyncio.sleep(0.3)
            return 99

        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        with open(tmp_path / "out", "wb") as f:
            status = await sup.run_async([prog("probe"), "ppid"], stdout=f)
        tick_task.cancel()
        return status, ticks, on_loop

    status, ticks, on_loop = asyncio.run(main())
    assert status == 0 and (tmp_path / "out").read_text() == "getppid 99\n"
    assert on_loop == [True]
    assert ticks >= 10  # the loop ran on while the call was held 0.3 s


@pytest.mark.parametrize("after", [0.3, 0.0])
def test_cancelling_run_async_kills_the_program(tmp_path, after):
    # Cancelled while the program runs, or before it has even started.
    async def main():
        sup = Supervisor()
        task = asyncio.create_task(sup.run_async(["sleep", "30"]))
        await asyncio.sleep(after)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sup, time.monotonic() - start

    sup, took = asyncio.run(main())
    assert took < 5
    if sup.table is not None:
        assert not sup.table.live()
        assert not os.path.exists(f"/proc/{sup.table.root}")


def test_an_async_handler_cancelled_elsewhere_stops_the_run(prog):
    sup = Supervisor()

    @sup.on("getppid")
    async def cancelled(call):
        await asyncio.sleep(0)
        raise asyncio.CancelledError()

    with pytest.raises(HandlerError, match="async handler for getppid was cancelled"):
        sup.run([prog("probe"), "ppid"], stdout=open(os.devnull, "wb"))


def test_a_signal_cancels_the_async_handler_of_its_call(prog, tmp_path):
    # read held by an async handler; SIGALRM (no SA_RESTART) interrupts it:
    # the program sees EINTR at once and the handler's task is cancelled.
    sup = Supervisor()
    outcome = []

    @sup.on("read")
    async def slow(call):
        if call.int_arg(0) != 10:
            return None
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    start = time.monotonic()
    with open(tmp_path / "out", "wb") as f:
        assert sup.run([prog("held"), "read", "noSA"], stdout=f) == 0
    assert (tmp_path / "out").read_text() == "read=-1 errno=EINTR handler=1\n"
    assert outcome == ["cancelled"] and time.monotonic() - start < 5
