"""asyncio around the dispatcher: the event loop async handlers run on when
the supervisor runs synchronously, and the thread that serves a run for
``Supervisor.run_async`` while the caller's loop goes on.

asyncio and threading are imported here only, and only once a run needs
them (start-up counts)."""
from __future__ import annotations

from _thread import allocate_lock


class LoopThread:
    """An event loop in a daemon thread, started on first use (the first
    async handler of a synchronous run) and stopped with the run."""

    def __init__(self):
        self._loop = None
        self._thread = None
        self._lock = allocate_lock()

    def loop(self):
        with self._lock:
            if self._loop is None:
                import asyncio
                import threading

                self._loop = asyncio.new_event_loop()
                ready = threading.Event()
                self._thread = threading.Thread(target=_serve_loop, args=(self._loop, ready),
                                                name="pyshim-handlers", daemon=True)
                self._thread.start()
                ready.wait()
            return self._loop

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            # Bounded: a handler that swallows its cancellation must not
            # keep run() from returning (the thread is a daemon).
            thread.join(5.0)


def _serve_loop(loop, ready) -> None:
    import asyncio

    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()
    # Tasks left (their calls' threads are gone): cancel them quietly.
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()


async def serve_in_thread(run, stop):
    """Awaits run() -> result, called in a thread of its own, without blocking
    the running loop.  If the awaiting task is cancelled, stop() is called
    (from the loop's thread) and the run is awaited to its end before the
    cancellation goes on."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def settle(result, exc):
        if not done.done():
            if exc is not None:
                done.set_exception(exc)
            else:
                done.set_result(result)

    def main():
        try:
            result = run()
        except BaseException as exc:  # handed to the awaiting task
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    thread = threading.Thread(target=main, name="pyshim-dispatcher", daemon=True)
    thread.start()
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        stop()
        try:
            await done
        except BaseException:
            pass
        raise
