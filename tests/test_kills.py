"""Processes of a run SIGKILLed at any moment: every run ends, with a
status, and leaves no segment and no process behind.

First at random moments in a busy tree under `trace` (every call handled
in Python), then at each step of the protocol, from the handlers
themselves: between an event and its reply, while a call is held, during
AddThread, during an exec.  PYSHIM_KILL_ROUNDS raises the number of random
rounds (the figures in the issue note come from a long run).
"""
import os
import random
import signal

import pytest

from conftest import tagged_processes, tagged_segments, trace_with_random_kills
from pyshim import NATIVE, Supervisor

ROUNDS = int(os.environ.get("PYSHIM_KILL_ROUNDS", "12"))

# bash spawning subshells that exec programs, in parallel and in sequence.
TREE = ("for i in $(seq 12); do ( /bin/true; cat /dev/null; sh -c 'echo x >/dev/null' ) & "
        "done; wait; for i in $(seq 12); do /bin/echo $i >/dev/null; done")


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_random_kills_in_a_busy_tree(no_leaks, seed):
    out = trace_with_random_kills(["bash", "-c", TREE], no_leaks, random.Random(seed), 4, 0.05,
                                  timeout=60)
    err = out.stderr
    assert out.returncode >= 0, f"pyshim died of signal {-out.returncode}"
    assert "Traceback" not in err, err
    assert all(line.startswith("pyshim: ") or not line.startswith("pyshim")
               for line in err.splitlines())
    assert tagged_segments(no_leaks) == []
    assert tagged_processes(no_leaks) == []


def kill(pid):
    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def quiet():
    """Where the threads program's per-thread counts go."""
    with open(os.devnull, "w") as f:
        yield f


def test_killed_between_event_and_reply(prog, quiet):
    sup = Supervisor()

    @sup.on("getppid")
    def die(call):
        kill(call.pid)
        return NATIVE  # the reply lands on a dead process's channel

    assert sup.run([prog("threads"), "4", "100"], stderr=quiet) == -9


def test_killed_while_a_call_is_held(prog, quiet):
    sup = Supervisor()
    held = []

    @sup.on("getppid")
    def hold(call):
        d = call.defer()
        held.append(d)
        if len(held) == 3:  # three threads wait; the process dies
            kill(call.pid)
        return d

    assert sup.run([prog("threads"), "3", "10"], stderr=quiet) == -9
    assert [d.state for d in held] == ["gone"] * 3


def test_killed_during_add_thread(prog, quiet):
    """The clone's AddThread is answered and the process dies before the
    AddThreadResult: the child's channel is freed with the process."""
    sup = Supervisor()

    @sup.on("clone")
    def die(call):
        kill(call.pid)
        return NATIVE

    assert sup.run([prog("threads"), "4", "10"], stderr=quiet) == -9


def test_new_process_killed_before_its_start(prog):
    """A fork's child killed as soon as its parent learns its pid (it may
    not have said Start yet): the tree goes on, its channel is freed."""
    sup = Supervisor()
    children = []

    @sup.after("fork", "clone")
    def die(call, result):
        if result > 0 and not call.args[0] & 0x10000:  # a process, not a thread
            children.append(result)
            kill(result)

    status = sup.run([prog("forktree"), "2"])
    assert children and status != 0  # the tree counted the killed subtrees out


def test_killed_during_exec(prog):
    sup = Supervisor()

    @sup.on("execve")
    def die(call):
        kill(call.pid)
        return NATIVE

    assert sup.run(["sh", "-c", "exec /bin/true"]) == -9


def test_killed_at_the_new_image_start(prog):
    """The after-hook of execve runs when the new image says Start: the
    process dies while it waits for the Start reply."""
    sup = Supervisor()

    @sup.after("execve")
    def die(call, result):
        kill(call.pid)

    assert sup.run(["sh", "-c", "exec /bin/true"]) == -9
