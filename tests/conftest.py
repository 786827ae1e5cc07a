"""Fixtures shared by every test.

Every test gets its own run tag (PYSHIM_RUN_TAG), so the segments and
processes it creates carry a name no other test or xdist worker uses; after
the test, any /dev/shm/pyshim-<tag>* segment or live process carrying the tag
fails it (and is cleaned up so one leak does not cascade).
"""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import posix_ipc
import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGS = Path(__file__).resolve().parent / "progs"
_counter = itertools.count()


def tagged_processes(tag: str) -> list[tuple[int, str]]:
    """Live processes (not zombies) whose environment carries `tag`."""
    needles = (f"PYSHIM_RUN_TAG={tag}\0".encode(), f"pyshim-{tag}".encode())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in environ for n in needles):
            found.append((int(entry), cmdline))
    return found


def tagged_segments(tag: str) -> list[str]:
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith(f"pyshim-{tag}"))


@pytest.fixture(autouse=True)
def no_leaks(monkeypatch):
    tag = f"t{os.getpid()}x{next(_counter)}y"
    monkeypatch.setenv("PYSHIM_RUN_TAG", tag)
    yield tag
    strays = tagged_processes(tag)
    for pid, _ in strays:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    leaks = tagged_segments(tag)
    for name in leaks:
        try:
            posix_ipc.unlink_shared_memory("/" + name)
        except posix_ipc.ExistentialError:
            pass
    assert not strays, f"stray processes left by the test: {strays}"
    assert not leaks, f"shared-memory segments leaked by the test: {leaks}"


@pytest.fixture(scope="session")
def prog(tmp_path_factory):
    """prog("name") -> path of tests/progs/name.c compiled (once per worker)."""
    out = tmp_path_factory.mktemp("progs")
    built: dict[str, str] = {}

    def build(name: str, static: bool = False, flags: tuple[str, ...] = ()) -> str:
        key = f"{name}{'-static' if static else ''}{''.join(flags)}"
        if key not in built:
            exe = out / key
            cmd = ["gcc", "-O1", "-Wall", "-Werror", "-pthread", *flags, f"-I{ROOT / 'ipc'}",
                   "-o", str(exe), str(PROGS / f"{name}.c")]
            if static:
                cmd.insert(1, "-static")
            subprocess.run(cmd, check=True)
            built[key] = str(exe)
        return built[key]

    return build


def pyshim_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Runs `python -m pyshim ARGS` and captures its output as text."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 60)
    return subprocess.run([sys.executable, "-m", "pyshim", *args], **kwargs)


def strace_pyshim_run(strace_args, argv, env=None) -> subprocess.CompletedProcess:
    """`pyshim run -- argv` under `strace -f -qq STRACE_ARGS`, strace's lines
    on stderr (this tree's pyshim unless `env` says otherwise); fails the
    test if the run fails."""
    out = subprocess.run(
        ["strace", "-f", "-qq", *strace_args, "-o", "/dev/stderr",
         sys.executable, "-m", "pyshim", "run", "--", *argv], capture_output=True, text=True,
        timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)) if env is None else env)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


class FakeMem:
    """Tracee memory as {address: bytes}; anything else raises EFAULT."""

    def __init__(self, regions: dict[int, bytes] | None = None):
        self.regions = dict(regions or {})

    def _find(self, addr: int) -> tuple[bytes, int]:
        for base, data in self.regions.items():
            if base <= addr < base + len(data):
                return data, addr - base
        raise OSError(14, "Bad address")

    def read(self, addr: int, n: int) -> bytes:
        data, off = self._find(addr)
        if off + n > len(data):
            raise OSError(14, "Bad address")
        return data[off:off + n]

    def string(self, addr: int, maxlen: int) -> bytes:
        data, off = self._find(addr)
        return data[off:].split(b"\0", 1)[0][:maxlen]


# strace on this machine, the reference for trace lines (tests that compare
# with it skip where it is missing or ptrace is not permitted).
STRACE = shutil.which("strace")


def _strace_works() -> bool:
    if not STRACE:
        return False
    try:
        return subprocess.run([STRACE, "-o", os.devnull, "true"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="session")
def strace() -> str:
    if not _strace_works():
        pytest.skip("strace missing or ptrace not permitted")
    return STRACE


def trace_with_random_kills(argv, tag: str, rng, kills: int, gap: float,
                            timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs `pyshim trace -- argv` and SIGKILLs up to `kills` processes of
    its tree (those carrying `tag`) at random moments, `gap` seconds apart
    at most (the moment is what varies: nothing waits for time).  Returns
    the pyshim process's status and stderr."""
    import time

    run = subprocess.Popen([sys.executable, "-m", "pyshim", "trace", "-o", os.devnull, "--",
                            *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = 0
    try:
        while run.poll() is None and done < kills:
            time.sleep(rng.uniform(0, gap))
            victims = [pid for pid, _ in tagged_processes(tag) if pid != run.pid]
            if victims:
                try:
                    os.kill(rng.choice(sorted(victims)), signal.SIGKILL)
                    done += 1
                except ProcessLookupError:
                    pass
        _, err = run.communicate(timeout=timeout)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    return subprocess.CompletedProcess(run.args, run.returncode, "", err)
