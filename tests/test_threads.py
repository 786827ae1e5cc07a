"""Threads and processes under `--trap all`: same output and status as
natively, every thread on its own channel, the table right, nothing leaked."""
import collections
import os
import select
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import pyshim_cli, strace_pyshim_run, tagged_segments
from pyshim import NATIVE, Supervisor, _core


def same_as_native(argv, **kwargs):
    native = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)
    supervised = pyshim_cli("run", "--trap", "all", "--", *argv, **kwargs)
    assert supervised.returncode == native.returncode, supervised.stderr
    assert supervised.stdout == native.stdout
    return supervised


def run_capture(sup, argv, tmp_path):
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        status = sup.run(argv, stdout=fo, stderr=fe)
    return status, out.read_text(), err.read_text()


def test_pthreads_64_by_1000_counts_match(prog, tmp_path):
    counts = collections.Counter()
    sup = Supervisor(trap="all")

    @sup.on("getppid")
    def count(call):
        counts[call.tid] += 1

    status, out, err = run_capture(sup, [prog("threads"), "64", "1000"], tmp_path)
    assert (status, out) == (0, "64 threads x 1000 calls: 64000\n")
    program_counts = {int(tid): int(n) for tid, n in (line.split() for line in err.splitlines())}
    assert len(program_counts) == 64
    assert dict(counts) == program_counts
    table = sup.threads
    assert len({row["tid"] for row in table}) == 65  # main + 64 workers
    assert {row["pid"] for row in table} == {table[0]["pid"]}
    assert all(row["state"] == "exited" for row in table)


def test_fork_tree_of_depth_5(prog):
    out = same_as_native([prog("forktree"), "5"])
    assert out.stdout == "processes: 63\n"


def test_fork_tree_table(prog, tmp_path):
    sup = Supervisor(trap="all")
    status, out, _ = run_capture(sup, [prog("forktree"), "2"], tmp_path)
    assert (status, out) == (0, "processes: 7\n")
    rows = sup.threads
    pids = {row["pid"] for row in rows}
    assert len(pids) == 7
    root = min(rows, key=lambda r: r["pid"] if r["parent"] is None else float("inf"))
    assert root["parent"] is None
    assert sum(1 for r in rows if r["parent"] is None) == 1
    assert all(len(r["channel"].split(":")) == 3 for r in rows)


PYTHON_THREADS = textwrap.dedent("""
    import os, threading
    out = [0] * 40
    def work(i):
        for _ in range(50):
            os.getppid(); os.stat("/")
        out[i] = i * i
    ts = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("threads", sum(out))
""")

PYTHON_FORK = textwrap.dedent("""
    import os
    r, w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.write(w, b"child sees its parent: %d" % (os.getppid() == parent))
        os._exit(4)
    _, status = os.waitpid(pid, 0)
    print(os.read(r, 100).decode(), "status", os.waitstatus_to_exitcode(status))
""")

PYTHON_POOL = textwrap.dedent("""
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(4) as pool:
        print("pool", sum(pool.map(abs, range(-1000, 1000))))
""")


@pytest.mark.parametrize("code,expected", [
    (PYTHON_THREADS, "threads 20540\n"),
    (PYTHON_FORK, "child sees its parent: 1 status 4\n"),
    (PYTHON_POOL, "pool 1000000\n"),
], ids=["threading-40", "os.fork", "multiprocessing.Pool"])
def test_python_workloads(code, expected):
    out = same_as_native([sys.executable, "-c", code])
    assert out.stdout == expected


@pytest.mark.parametrize("trap", [(), ("--trap", "all")], ids=["nothing", "all"])
@pytest.mark.parametrize("mode,expected", [
    ("exit-after-fork", "child ran\n"),
    ("killed", "killed and reaped 200 children\n"),
])
def test_fork_results_the_parent_does_not_wait_for(prog, mode, expected, trap):
    # Without an after-hook on clone the parent does not wait for the
    # supervisor to read its fork's result: the process may end right
    # after the fork (the run still learns of the child, and waits for it),
    # or kill and reap the child before the result is read.
    native = subprocess.run([prog("clones"), mode], capture_output=True, text=True, timeout=60)
    assert (native.returncode, native.stdout) == (0, expected)
    out = pyshim_cli("run", *trap, "--", prog("clones"), mode)
    assert (out.returncode, out.stdout) == (0, expected), out.stderr


def test_clone3_answers_enosys_so_libc_falls_back(prog):
    out = pyshim_cli("run", "--", prog("clones"), "clone3")
    assert out.stdout == "clone3: -1 Function not implemented\n"


def test_failed_clone_returns_kernel_errno_and_leaks_nothing(prog, tmp_path):
    in_use = []
    sup = Supervisor()
    sup.on("exit_group")(lambda call: in_use.append(sup.blocks_in_use))
    status, out, _ = run_capture(sup, [prog("clones"), "badflags"], tmp_path)
    assert out == "clone(CLONE_THREAD): -1 Invalid argument\n"
    assert in_use == [1]  # the failed child's block was given back
    assert len(sup.threads) == 1


def test_clone_from_a_handler_while_a_clone_is_in_flight(prog, tmp_path):
    """SIGUSR1 arrives after the supervisor answered the outer fork's
    AddThread and before its AddThreadResult: the handler's own fork is a
    second clone of the same thread in flight, and both complete."""
    sup = Supervisor()
    sent = []

    @sup.on("clone", "fork")
    def interrupt(call):
        if not sent:
            sent.append(call.pid)
            os.kill(call.pid, signal.SIGUSR1)  # delivered when the shim unblocks
        return NATIVE

    status, out, _ = run_capture(sup, [prog("clones"), "nested"], tmp_path)
    assert (status, out) == (0, "handler's child exited 5\nouter child exited 4\n")


@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["unsubscribed", "trap-all"])
def test_new_thread_gets_the_whole_register_state(prog, trap):
    """The upper halves of the AVX registers reach a clone's child, as the
    kernel copies them natively (not only the fxsave part)."""
    native = subprocess.run([prog("clones"), "avx"], capture_output=True, text=True, timeout=30)
    out = pyshim_cli("run", *trap, "--", prog("clones"), "avx")
    assert native.stdout == out.stdout == "ymm1 in the child: same\n", out.stderr


@pytest.mark.skipif(not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK),
                    reason="choosing the next pid needs a writable ns_last_pid (root)")
@pytest.mark.parametrize("command", [["run", "--trap", "all"], ["trace", "-o", os.devnull]],
                         ids=["run", "trace"])
def test_pid_reused_within_a_run(prog, command):
    """A killed child's pid given to the next child: the new process is
    not taken for the dead one (whose death, noticed later, used to take
    the new one's channels with it and hang the run)."""
    native = subprocess.run([prog("pidreuse")], capture_output=True, text=True, timeout=30)
    out = pyshim_cli(*command, "--", prog("pidreuse"), timeout=30)
    expected = "pid reused; the new child exited 7\n"
    assert native.stdout == expected
    assert (out.stdout, out.returncode) == (expected, 0), out.stderr


def test_raw_clone_vm_without_new_tls(prog):
    out = same_as_native([prog("clones"), "rawvm"])
    assert out.stdout == "child says hi\nchild exited 3\n"


def test_clone_parent_is_honoured(prog):
    out = same_as_native([prog("clones"), "parent"])
    assert out.stdout == "sibling's parent is my parent\nwaitpid: No child processes\n"


def test_orphans_come_back_to_the_supervisor(prog, tmp_path):
    status, out, _ = run_capture(Supervisor(), [prog("clones"), "orphan"], tmp_path)
    assert status == 0
    assert out == f"orphan's parent: {os.getpid()}\n"


def test_exit_group_ends_every_thread(prog, tmp_path):
    sup = Supervisor(trap="all")
    status, out, _ = run_capture(sup, [prog("clones"), "exitgroup"], tmp_path)
    assert (status, out) == (5, "leaving 4 threads blocked\n")
    assert len(sup.threads) == 5 and all(r["state"] == "exited" for r in sup.threads)


def test_exited_threads_give_their_blocks_back(prog, tmp_path, no_leaks):
    """200 threads one after another fit in the first slab (64 blocks)."""
    seen = []
    sup = Supervisor()

    @sup.on("getppid")
    def look(call):
        seen.append(len(tagged_segments(no_leaks)))

    status, out, _ = run_capture(sup, [prog("clones"), "serial", "200"], tmp_path)
    assert (status, out) == (0, "200 threads, one at a time\n")
    assert set(seen) == {1}  # segment 0: the control block and the first slab
    assert len(sup.threads) == 201


def segment_of(channel: str) -> str:
    """The /dev/shm entry of a channel descriptor's segment."""
    return channel.rsplit(":", 2)[0].lstrip("/")


def test_a_single_threaded_run_has_one_segment(prog, tmp_path, no_leaks):
    """The run's one channel lives in segment 0, after the control block:
    while the program runs, /dev/shm holds that one segment of the run."""
    seen = []
    sup = Supervisor()

    @sup.on("write")
    def look(call):
        seen.append((tagged_segments(no_leaks), sup.threads[0]["channel"]))

    status, out, _ = run_capture(sup, [prog("hello")], tmp_path)
    assert (status, out) == (0, "hello\n")
    (segments, channel), = seen
    assert len(segments) == 1 and segments[0].endswith("-0")
    assert channel == f"/{segments[0]}:{_core.FIRST_SLAB_OFFSET}:{_core.BLOCK_SIZE}"
    assert tagged_segments(no_leaks) == []


def test_more_threads_than_a_slab_get_a_second_segment(prog, tmp_path, no_leaks):
    """80 threads alive at once (and the main thread): 64 channels in
    segment 0, the other 17 in a second segment, and every call of every
    thread reaches the handler, on the right thread."""
    counts = collections.Counter()
    segments = set()
    sup = Supervisor()

    @sup.on("getppid")
    def count(call):
        counts[call.tid] += 1
        segments.update(tagged_segments(no_leaks))

    status, out, err = run_capture(sup, [prog("threads"), "together", "80", "10"], tmp_path)
    assert (status, out) == (0, "80 threads x 10 calls: 800\n")
    program_counts = {int(tid): int(n) for tid, n in (line.split() for line in err.splitlines())}
    assert len(program_counts) == 80 and dict(counts) == program_counts
    first, second = sorted(segments)
    assert (first[-2:], second[-2:]) == ("-0", "-1") and first[:-2] == second[:-2]
    per_segment = collections.Counter(segment_of(row["channel"]) for row in sup.threads)
    assert per_segment == {first: 64, second: 17}
    assert tagged_segments(no_leaks) == []


@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["getppid", "trap-all"])
def test_threads_starting_while_others_end(prog, tmp_path, trap):
    """8 threads each create and join 150 threads in turn (the shim keeps
    ended threads' altstacks for new ones): every call of every thread
    reaches the handler, on the right thread, and nothing else is lost."""
    counts = collections.Counter()
    sup = Supervisor(trap="all") if trap else Supervisor()

    @sup.on("getppid")
    def count(call):
        counts[call.tid] += 1

    status, out, err = run_capture(sup, [prog("threads"), "churn", "8", "150", "20"], tmp_path)
    assert (status, out, err) == (0, "1200 threads x 20 calls: 24000\n", "")
    # (The kernel may give an ended thread's tid to a later one.)
    assert sum(counts.values()) == 24000 and all(n % 20 == 0 for n in counts.values())
    assert len(sup.threads) == 1 + 8 + 1200
    assert all(row["state"] == "exited" for row in sup.threads)


def test_a_new_thread_reuses_an_ended_threads_shim_stack(prog):
    """The shim maps a stack for its SIGSYS handler per thread (2 x 128 KiB,
    then trimmed); 200 threads one after another need two such mappings
    (the main thread's and the first thread's), not 201."""
    out = strace_pyshim_run(["-e", "trace=mmap"], [prog("clones"), "serial", "200"])
    assert (out.returncode, out.stdout) == (0, "200 threads, one at a time\n"), out.stderr[-2000:]
    shim_stacks = [line for line in out.stderr.splitlines()
                   if "mmap(NULL, 262144, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE," in line]
    assert len(shim_stacks) == 2, shim_stacks


def test_handlers_can_fail_thread_creation(prog, tmp_path):
    import errno
    from pyshim import Fail

    sup = Supervisor()
    sup.on("clone")(lambda call: Fail(errno.EAGAIN))
    status, out, err = run_capture(sup, [prog("threads"), "2", "1"], tmp_path)
    assert status == 2 and out == ""  # pthread_create failed, as the program reports


def test_trace_names_pid_once_there_are_several(prog):
    out = pyshim_cli("trace", "-e", "getppid,exit_group", "--", prog("threads"), "2", "1")
    lines = [l for l in out.stderr.splitlines() if "getppid" in l]
    assert len(lines) == 2
    assert all(l.startswith("[pid ") for l in lines)
    assert out.stderr.splitlines()[-1] == "+++ exited with 0 +++"


@pytest.mark.parametrize("trap", [[], ["--trap", "all"]], ids=["unsubscribed", "trap-all"])
@pytest.mark.parametrize("mode,expected", [
    ("fork", "fork: parent intact, child intact\n"),
    ("thread", "thread: parent intact, child intact\n"),
])
def test_clone_preserves_red_zone_callee_saved_registers_and_alignment(prog, trap, mode, expected):
    native = subprocess.run([prog("redzone"), mode], capture_output=True, text=True, timeout=30)
    assert native.stdout == expected
    out = pyshim_cli("run", *trap, "--", prog("redzone"), mode)
    assert (out.stdout, out.returncode) == (expected, 0), out.stderr


def test_a_recycled_pid_is_not_taken_for_a_new_process():
    # The supervisor learns a new process's pid from its parent's fork
    # result, which the parent does not wait to see read: by then the child
    # may be killed, reaped, and its pid another process's.  The table takes
    # the process behind a pid only if its parent is in the run (or is the
    # supervisor, as subreaper): a stranger is taken for the gone child, and
    # the run does not wait for it.
    from pyshim.table import Table

    stranger = int(subprocess.run(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"],
                                  capture_output=True, text=True, check=True).stdout)
    child = subprocess.Popen(["sleep", "30"])  # a genuine child of this process
    try:
        table = Table(root=-1)  # this process stands for a process of the run
        table.add_process(stranger, parent=os.getpid())
        table.add_process(child.pid, parent=os.getpid())
        assert [p.pid for p in table.poll()] == [stranger]
        assert table.processes[child.pid].alive and os.kill(stranger, 0) is None
        table.close()
    finally:
        child.kill()
        child.wait()
        gone = os.pidfd_open(stranger)  # not our child: its end is seen here
        os.kill(stranger, signal.SIGKILL)
        select.select([gone], [], [], 10)
        os.close(gone)
