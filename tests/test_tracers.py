"""Debuggers and tracers under pyshim see their tracee as they would
natively: a traced process leaves the run (gdb's inferior at once, through
PTRACE_TRACEME; strace's tracee with its exec, after PTRACE_SEIZE), with
one warning line, instead of a tracer stopping at every trap of pyshim's
(or gdb hanging in vfork)."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import pyshim_cli

COMMANDS = {"run": ("run", "--trap", "all"), "trace": ("trace", "-o", os.devnull)}
WARNING = re.compile(r"^pyshim: warning: pid \d+ is traced by a debugger or tracer and leaves "
                     r"the run", re.M)


def normalized(text: str) -> str:
    """Addresses, pids (and other big numbers) and random bytes as
    placeholders; strace's alignment of results as one space."""
    text = re.sub(r'getrandom\("[^"]*"', 'getrandom("R"', text)
    text = re.sub(r"\b\d{3,}\b", "N", re.sub(r"0x[0-9a-f]+", "ADDR", text))
    return re.sub(r" +=", " =", text)


@pytest.mark.skipif(not shutil.which("gdb"), reason="gdb is not installed")
@pytest.mark.parametrize("command", COMMANDS)
def test_gdb_runs_its_inferior(command):
    argv = ["gdb", "-nx", "-batch", "-ex", "run", "--args", "/bin/echo", "hi"]
    native = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    out = pyshim_cli(*COMMANDS[command], "--", *argv, timeout=120)
    assert "hi\n" in native.stdout
    assert (normalized(out.stdout), out.returncode) == (normalized(native.stdout), 0), out.stderr
    assert len(WARNING.findall(out.stderr)) == 1, out.stderr


# Lines whose presence or result depends on when the child's SIGCHLD
# arrives (during the shell's wait4, or before it), natively too.
_TIMING = re.compile(r"^(--- SIG|rt_sigreturn\(|wait4\(|restart_syscall\()")


def per_process(prefix) -> list[str]:
    """strace -ff's files (one per process: no interleaving), normalized,
    without the lines that depend on timing."""
    files = sorted(prefix.parent.glob(prefix.name + ".*"))
    return sorted("\n".join(line for line in normalized(f.read_text()).splitlines()
                            if not _TIMING.match(line)) for f in files)


@pytest.mark.parametrize("command", COMMANDS)
def test_strace_sees_its_tracee_as_natively(tmp_path, command):
    script = "echo a; /bin/true"
    native_log, log = tmp_path / "native", tmp_path / "supervised"
    native = subprocess.run(["strace", "-ff", "-o", str(native_log), "sh", "-c", script],
                            capture_output=True, text=True, timeout=60)
    out = pyshim_cli(*COMMANDS[command], "--", "strace", "-ff", "-o", str(log), "sh", "-c",
                     script, timeout=120)
    assert (out.stdout, out.returncode) == (native.stdout, 0) == ("a\n", 0), out.stderr
    traced = per_process(log)
    assert len(traced) == 2 and traced == per_process(native_log)
    assert not any("SIGSYS" in text or "pyshim" in text for text in traced)
    assert len(WARNING.findall(out.stderr)) == 1, out.stderr


@pytest.mark.skipif(not shutil.which("ltrace"), reason="ltrace is not installed")
@pytest.mark.parametrize("command", COMMANDS)
def test_ltrace_sees_its_tracee_as_natively(tmp_path, command):
    native_log, log = tmp_path / "native", tmp_path / "supervised"
    native = subprocess.run(["ltrace", "-o", str(native_log), "/bin/echo", "hi"],
                            capture_output=True, text=True, timeout=60)
    out = pyshim_cli(*COMMANDS[command], "--", "ltrace", "-o", str(log), "/bin/echo", "hi",
                     timeout=120)
    assert (out.stdout, out.returncode) == (native.stdout, 0) == ("hi\n", 0), out.stderr
    assert normalized(log.read_text()) == normalized(native_log.read_text())
    assert len(WARNING.findall(out.stderr)) == 1, out.stderr
