"""Held calls (deferred completion): a handler holds a call and answers it
later; only the calling thread waits, signals reach it as in a blocking
syscall, and the supervisor serves everyone else meanwhile."""
import errno
import os
import queue
import random
import signal
import subprocess
import threading
import time

import pytest

from pyshim import HandlerError, Supervisor
from pyshim.faults import delay, hold


def run_capture(sup, argv, tmp_path, **kwargs):
    out = tmp_path / "stdout"
    with open(out, "wb") as f:
        status = sup.run(argv, stdout=f, **kwargs)
    return status, out.read_text()


def two_timings(out):
    """('A', when A's getppid returned), ('B', start, end of its 100 calls)."""
    fields = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in out.splitlines()}
    return fields["A"][0], fields["B"]


# -- one thread waits, the others run -------------------------------------------

def test_delay_holds_only_its_caller(pyshim_run, prog):
    # Thread A's getppid is held 1 s; thread B starts 100 getppid calls at 0.2 s.
    r = pyshim_run([prog("held"), "two"], [delay("getppid", 1.0, nth=1)], timeout=30)
    assert r.status == 0, r.stderr
    a_done, (b_start, b_end) = two_timings(r.stdout)
    assert a_done >= 1.0
    assert b_end < a_done  # B's calls were served while A's was delayed
    assert [c[3] for c in r.called("getppid")].count(None) == 0
    assert len(r.called("getppid")) == 101  # the after-hook saw every call, held or not


def test_sigterm_ends_a_held_read_at_once(tmp_path):
    # cat's read of stdin is held 20 s; SIGTERM at 0.5 s ends it at once
    # (long before the hold would have: the margin is wide on purpose).
    sup = Supervisor()
    delay("read", 20.0, fd=0).install(sup)
    sup.call_later(0.5, lambda: os.kill(sup.table.root, signal.SIGTERM))
    r, w = os.pipe()
    try:
        start = time.monotonic()
        with os.fdopen(r, "rb") as stdin:
            status, _ = run_capture(sup, ["cat"], tmp_path, stdin=stdin)
        elapsed = time.monotonic() - start
    finally:
        os.close(w)
    assert status == -signal.SIGTERM
    assert elapsed < 10


@pytest.mark.parametrize("mode", ["SA", "noSA"])
def test_interrupted_held_read_behaves_as_natively(prog, tmp_path, mode):
    # SIGALRM at 0.1 s during a read held 0.4 s: with SA_RESTART the read is
    # asked again (and held again) and returns the byte written at 0.3 s;
    # without, it fails with EINTR.  The native program prints the same.
    native = subprocess.run([prog("held"), "read", mode], capture_output=True, text=True,
                            timeout=30).stdout
    assert native == ("read=1 errno=- handler=1\n" if mode == "SA"
                      else "read=-1 errno=EINTR handler=1\n")
    sup = Supervisor()
    seen = []

    @sup.on("read")
    def slow(call):
        if call.int_arg(0) != 10:
            return None
        d = call.defer()
        seen.append((call.restarted, d))
        sup.call_later(0.4, d.native)
        return d

    status, out = run_capture(sup, [prog("held"), "read", mode], tmp_path)
    assert (status, out) == (0, native)
    first = seen[0][1]
    assert first.state == "interrupted" and first.interrupted
    assert first.native() is False  # too late: nothing is answered twice
    if mode == "SA":
        assert [restarted for restarted, _ in seen] == [False, True]
        assert seen[1][1].state == "answered"
    else:
        assert len(seen) == 1


@pytest.mark.parametrize("call", ["getppid", "read"])
def test_signals_racing_answers(prog, tmp_path, call):
    # 1000 held calls, each answered by another thread after 0-300 us, while
    # SIGUSR1 (whose handler makes a syscall) arrives every 100-300 us.
    # Exactly one of answer and withdrawal wins each time: every call gets
    # one answer or fails with EINTR (read, no SA_RESTART) or is asked again
    # (getppid: it cannot fail with EINTR natively); nothing hangs.
    k = 1000
    sup = Supervisor()
    todo = queue.Queue()
    deferred = []
    delivered = []

    @sup.on(call)
    def held(c):
        if call == "read" and c.int_arg(0) < 3:
            return None
        d = c.defer()
        deferred.append(d)
        todo.put(d)
        return d

    def answerer():
        rng = random.Random(0)
        while (d := todo.get()) is not None:
            time.sleep(rng.random() * 0.0003)
            if d.complete(1 if call == "read" else 42):
                delivered.append(d)

    thread = threading.Thread(target=answerer)
    thread.start()
    try:
        status, out = run_capture(sup, [prog("held"), "race", str(k), call], tmp_path)
    finally:
        todo.put(None)
        thread.join()
    assert status == 0
    counts = dict(field.split("=") for field in out.split())
    ok, eintr = int(counts["ok"]), int(counts["eintr"])
    assert counts["other"] == "0" and counts["signals"] == "1"
    states = [d.state for d in deferred]
    assert set(states) <= {"answered", "interrupted"}
    assert len(delivered) == states.count("answered") == ok
    assert ok + eintr == k
    if call == "getppid":
        assert ok == k and eintr == 0
    else:
        assert 0 < eintr <= states.count("interrupted")


# -- gates: deterministic interleavings ------------------------------------------

def test_gate_forces_b_before_a(pyshim_run, prog):
    gate = hold("getppid")  # A's getppid waits until someone has written to stdout
    r = pyshim_run([prog("held"), "order"], [gate, gate.opened_by("write", fd=1)], timeout=30)
    assert (r.status, r.stdout) == (0, "B\nA\n")


def test_gate_forces_a_before_b(pyshim_run, prog):
    gate = hold("getpid")  # B's getpid waits until someone has written to stdout
    r = pyshim_run([prog("held"), "order"], [gate, gate.opened_by("write", fd=1)], timeout=30)
    assert (r.status, r.stdout) == (0, "A\nB\n")


def test_gate_driven_from_the_test(pyshim_run, prog):
    gate = hold("getppid")
    running = pyshim_run.start([prog("held"), "order"], [gate], timeout=30)
    assert gate.wait_held(1, timeout=20)
    assert gate.held == 1 and not running.done
    (held,) = gate.calls
    assert held.call.name == "getppid" and held.state == "held"
    assert held.pid > 0 and held.tid != held.pid and held.since <= time.monotonic()
    assert gate.fail(errno.EPERM) == 1
    r = running.wait(20)
    assert r.status == 0 and sorted(r.stdout.split()) == ["A", "B"]
    assert [c[3] for c in r.called("getppid")] == [-errno.EPERM]


def test_gate_release_one_lets_one_through(pyshim_run, prog):
    gate = hold("getppid")
    running = pyshim_run.start([prog("held"), "many", "3"], [gate], timeout=30)
    assert gate.wait_held(3, timeout=20)
    assert gate.release(1) == 1
    assert gate.wait_held(2, timeout=5) and gate.held == 2
    assert gate.release() == 2  # the rest, and the gate stays open
    r = running.wait(20)
    assert r.status == 0 and gate.passed == 3


def test_gate_release_before_a_call_lets_it_through(pyshim_run, prog):
    gate = hold("getppid")
    assert gate.release(1) == 0  # nothing waits yet: the next call passes
    r = pyshim_run([prog("probe"), "ppid"], [gate], timeout=30)
    assert r.status == 0 and r.stdout == f"getppid {os.getpid()}\n"
    assert gate.passed == 1 and gate.held == 0


# -- the Deferred and Supervisor API ---------------------------------------------

def test_many_threads_held_at_once_each_get_their_own_answer(prog, tmp_path):
    n = 1000
    sup = Supervisor()
    snapshot = []

    @sup.on("getppid")
    def hold_all(call):
        d = call.defer()
        if len(sup.held) == n - 1:  # this one is the last: answer them all together
            sup.call_later(0, lambda: [h.complete(h.tid) for h in sup.held])
            snapshot.append(len(sup.held) + 1)
        return d

    status, out = run_capture(sup, [prog("held"), "many", str(n)], tmp_path)
    assert (status, out) == (0, f"threads={n} wrong=0\n")
    assert snapshot == [n]


def test_held_clone_and_exec_wait(pyshim_run, prog):
    # Thread creation waits for the held clone; the exec for the held execve.
    r = pyshim_run([prog("held"), "two"], [delay("clone", 0.3)], timeout=30)
    assert r.status == 0
    a_done, (b_start, _) = two_timings(r.stdout)
    assert a_done >= 0.3 and b_start >= 0.5
    start = time.monotonic()
    r = pyshim_run(["sh", "-c", "/bin/echo exec; true"], [delay("execve", 0.2)], timeout=30)
    assert (r.status, r.stdout, r.faults_hit) == (0, "exec\n", 1)
    assert time.monotonic() - start >= 0.2


def test_exit_cannot_be_deferred(prog, tmp_path):
    sup = Supervisor()
    sup.on("exit_group")(lambda call: call.defer())
    with pytest.raises(HandlerError, match="exit_group cannot be deferred: it is one-way"):
        run_capture(sup, [prog("hello"), "3"], tmp_path)


def test_defer_means_returning_the_deferred(prog, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    def forgetful(call):
        call.defer()
        return None

    with pytest.raises(HandlerError, match="deferred the call but returned None"):
        run_capture(sup, [prog("probe"), "ppid"], tmp_path)


def test_answer_in_the_handler_before_returning(prog, tmp_path):
    sup = Supervisor()
    results = []

    @sup.on("getppid")
    def eager(call):
        d = call.defer()
        assert d.complete(7) is True
        with pytest.raises(RuntimeError, match="answered already"):
            d.complete(8)
        return d

    sup.after("getppid")(lambda call, result: results.append(result))
    assert run_capture(sup, [prog("probe"), "ppid"], tmp_path) == (0, "getppid 7\n")
    assert results == [7]


def test_answering_twice_raises_and_a_gone_thread_returns_false(prog, tmp_path):
    sup = Supervisor()
    kept = []

    @sup.on("getppid")
    def keep(call):
        d = call.defer()
        kept.append(d)
        sup.call_later(0.05, lambda: os.kill(call.pid, signal.SIGKILL))
        return d

    status, _ = run_capture(sup, [prog("probe"), "ppid"], tmp_path)
    assert status == -signal.SIGKILL
    (d,) = kept
    assert d.state == "gone" and d.complete(1) is False
    with pytest.raises(TypeError):
        d.complete("yes")


def test_after_hook_sees_the_deferred_answer(prog, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    def later(call):
        d = call.defer()
        sup.call_later(0.01, lambda: d.complete(5))
        return d

    sup.after("getppid")(lambda call, result: result * 10)
    assert run_capture(sup, [prog("probe"), "ppid"], tmp_path) == (0, "getppid 50\n")


def test_answer_from_another_python_thread(prog, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    def elsewhere(call):
        d = call.defer()
        threading.Thread(target=lambda: d.fail(errno.EIO)).start()
        return d

    # getppid cannot fail in glibc: the program prints the raw -EIO
    assert run_capture(sup, [prog("probe"), "ppid"], tmp_path) == (0, f"getppid {-errno.EIO}\n")


# -- timers ----------------------------------------------------------------------

def test_timers_fire_in_order_and_cancel(prog, tmp_path):
    sup = Supervisor()
    fired = []
    sup.call_later(-1, lambda: fired.append("past"))   # set before the run: fires at once
    cancelled = sup.call_later(0.01, lambda: fired.append("cancelled"))
    cancelled.cancel()

    @sup.on("getppid")
    def later(call):
        d = call.defer()
        sup.call_later(0.05, lambda: fired.append("second"))
        sup.call_later(0.02, lambda: fired.append("first"))
        sup.call_later(0.1, d.native)
        return d

    status, _ = run_capture(sup, [prog("probe"), "ppid"], tmp_path)
    assert status == 0
    assert fired == ["past", "first", "second"] and cancelled.cancelled


def test_a_timer_that_raises_stops_the_run(prog, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    def later(call):
        sup.call_later(0.01, lambda: 1 / 0)
        return call.defer()

    with pytest.raises(HandlerError, match="timer callback .* raised ZeroDivisionError"):
        run_capture(sup, [prog("probe"), "ppid"], tmp_path)


# -- signal handlers during a hold: what the reviews found -----------------------

def hold_then(sup, name, *steps):
    """A handler that holds the first `name` call and runs steps (delay,
    fn(call, deferred)) on it; later calls run natively."""
    held = []

    @sup.on(name)
    def holder(call):
        if held:
            return None
        d = call.defer()
        held.append(d)
        for after, fn in steps:
            sup.call_later(after, lambda fn=fn: fn(call, d))
        return d

    return held


def test_longjmp_out_of_a_held_wait_leaves_the_program_intact(prog, tmp_path):
    # SIGUSR1's handler siglongjmps out of the held getppid with no syscall;
    # an SA_ONSTACK SIGUSR2 handler then runs where the waiting frame was.
    # The shim never writes into that frame, and the next getppid works.
    sup = Supervisor()
    held = hold_then(sup, "getppid",
                     (0.2, lambda call, d: os.kill(call.pid, signal.SIGUSR1)),
                     (0.4, lambda call, d: os.kill(call.pid, signal.SIGUSR2)),
                     (0.6, lambda call, d: d.native()))
    status, out = run_capture(sup, [prog("held"), "longjmp"], tmp_path)
    assert (status, out) == (0, "jumped out; buffer intact: yes\ngetppid again: ok\n")
    assert held[0].state == "interrupted"


def test_held_sigsuspend_waits_with_its_own_mask(prog, tmp_path):
    # SIGUSR1 is blocked outside sigsuspend and open inside it: held, the
    # call still lets it in at once.
    sup = Supervisor()
    held = hold_then(sup, "rt_sigsuspend",
                     (0.3, lambda call, d: os.kill(call.pid, signal.SIGUSR1)),
                     (10.0, lambda call, d: d.native()))
    status, out = run_capture(sup, [prog("held"), "sigsuspend"], tmp_path)
    assert (status, out) == (0, "sigsuspend=-1 errno=EINTR handler=1 after 0.3 s\n")
    assert held[0].state == "interrupted"


def test_interrupted_held_nanosleep_reports_the_time_left(prog, tmp_path):
    native = subprocess.run([prog("held"), "nanosleep"], capture_output=True, text=True,
                            timeout=30).stdout
    assert native == "nanosleep=-1 errno=EINTR rem=0.8\n"
    sup = Supervisor()
    hold_then(sup, "nanosleep", (0.5, lambda call, d: d.native()))
    assert run_capture(sup, [prog("held"), "nanosleep"], tmp_path) == (0, native)


def test_fork_in_a_handler_during_a_hold(prog, tmp_path):
    # The handler's child makes its own (held, then answered) call; the
    # parent's interrupted getppid is asked again and answered.
    sup = Supervisor()
    sup.call_later(0.3, lambda: os.kill(sup.table.root, signal.SIGUSR1))

    @sup.on("getppid")
    def later(call):
        d = call.defer()
        sup.call_later(0.6 if call.pid == sup.table.root else 0.05, d.native)
        return d

    status, out = run_capture(sup, [prog("held"), "forking"], tmp_path)
    assert (status, out) == (0, "getppid=ok child=ok\n")


@pytest.mark.parametrize("reported", [False, True], ids=["one-way", "after-hook"])
def test_fork_answer_no_frame_claims_is_closed(prog, tmp_path, reported):
    # The held fork is answered while SIGUSR1's handler spins without a
    # syscall; the handler then jumps out, so no frame takes the answer.
    # The parent's result (-EINTR: nothing was cloned) closes it, one-way
    # without an after-hook on clone, answered with one, which sees it;
    # the program's next fork works.
    sup = Supervisor()
    seen = []
    if reported:
        sup.after("clone")(lambda call, result: seen.append(result))
    held = hold_then(sup, "clone",
                     (0.2, lambda call, d: os.kill(call.pid, signal.SIGUSR1)),
                     (0.35, lambda call, d: d.native()))
    status, out = run_capture(sup, [prog("held"), "forkjump"], tmp_path)
    assert (status, out) == (0, "jumped out of a held fork; fork again: ok\n")
    assert held[0].state == "answered"
    if reported:
        assert len(seen) == 2 and seen[0] == -errno.EINTR and seen[1] > 0


def test_delay_restarted_by_sa_restart_keeps_its_deadline(prog, tmp_path):
    # read held 0.4 s, SIGALRM (SA_RESTART) at 0.1 s: the call asked again
    # waits out the rest of the 0.4 s, and counts once for nth.
    r = subprocess.run([prog("held"), "read", "SA"], capture_output=True, text=True, timeout=30)
    sup = Supervisor()
    rule = delay("read", 0.4, fd=10, nth=1)
    rule.install(sup)
    start = time.monotonic()
    assert run_capture(sup, [prog("held"), "read", "SA"], tmp_path) == (0, r.stdout)
    assert 0.35 <= time.monotonic() - start < 0.9


def test_handler_errors_leave_nothing_pending(prog, tmp_path):
    sup = Supervisor()
    kept = []

    @sup.on("getppid")
    def broken(call):
        kept.append(call.defer())
        raise RuntimeError("after deferring")

    with pytest.raises(HandlerError, match="raised RuntimeError: after deferring"):
        run_capture(sup, [prog("probe"), "ppid"], tmp_path)
    assert kept[0].state == "gone" and kept[0].native() is False


def test_answers_are_checked_when_given(prog, tmp_path):
    sup = Supervisor()
    seen = []

    @sup.on("getppid")
    def check(call):
        d = call.defer()
        for bad in (2**70, "yes", True):
            with pytest.raises((TypeError, ValueError)):
                d.complete(bad)
        with pytest.raises(ValueError):
            d.answer(-2**64)
        def answer_twice():
            seen.append((d.complete(3), d.state))
            with pytest.raises(RuntimeError, match="answered already"):
                d.native()  # once held and answered, a second answer raises
            seen.append("second refused")
        sup.call_later(0.01, answer_twice)
        return d

    assert run_capture(sup, [prog("probe"), "ppid"], tmp_path) == (0, "getppid 3\n")
    assert seen == [(True, "answering"), "second refused"]


def test_done_callbacks_run_and_their_errors_stop_the_run(prog, tmp_path):
    sup = Supervisor()
    ended = []

    @sup.on("getppid")
    def later(call):
        d = call.defer()
        d.add_done_callback(lambda d: ended.append(d.state))
        threading.Thread(target=lambda: sup.call_later(0.01, d.native)).start()
        return d

    assert run_capture(sup, [prog("probe"), "ppid"], tmp_path)[0] == 0
    assert ended == ["answered"]

    broken = Supervisor()

    @broken.on("getppid")
    def raising(call):
        d = call.defer()
        d.add_done_callback(lambda d: 1 / 0)
        broken.call_later(0.01, d.native)
        return d

    with pytest.raises(HandlerError, match="callback .* raised ZeroDivisionError"):
        run_capture(broken, [prog("probe"), "ppid"], tmp_path)


def test_timer_cancelled_from_another_thread(prog, tmp_path):
    sup = Supervisor()
    fired = []

    @sup.on("getppid")
    def later(call):
        d = call.defer()
        doomed = sup.call_later(0.2, lambda: fired.append("doomed"))
        canceller = threading.Thread(target=doomed.cancel)
        canceller.start()
        canceller.join()
        sup.call_later(0.3, d.native)
        return d

    assert run_capture(sup, [prog("probe"), "ppid"], tmp_path)[0] == 0
    assert fired == []


def test_gate_fail_n_and_a_signal_at_the_gate(pyshim_run, prog):
    gate = hold("getppid")
    running = pyshim_run.start([prog("held"), "many", "3"], [gate], timeout=30)
    assert gate.wait_held(3, timeout=20)
    first = gate.calls[0]
    assert gate.fail(errno.EPERM, 2) == 2
    assert gate.held == 1 and first.state in ("answering", "answered")
    os.kill(gate.calls[0].pid, signal.SIGKILL)  # the last waiting call's process dies
    r = running.wait(20)
    assert r.status == -signal.SIGKILL and gate.held == 0


def test_a_started_run_can_be_stopped(pyshim_run, prog):
    gate = hold("getppid")
    running = pyshim_run.start([prog("held"), "two"], [gate])
    assert gate.wait_held(1, timeout=20)
    start = time.monotonic()
    running.stop()
    assert running.done and time.monotonic() - start < 5
    with pytest.raises(Exception, match="the run was stopped"):
        running.wait(1)
