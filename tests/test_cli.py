"""`pyshim run`, `pyshim trace`, `pyshim gc` as a user meets them."""
import os
import re
import signal

import pytest

from conftest import pyshim_cli


def test_run_exits_with_program_status():
    assert pyshim_cli("run", "--", "sh", "-c", "exit 3").returncode == 3


def test_run_reports_death_by_signal_like_a_shell():
    out = pyshim_cli("run", "--", "sh", "-c", "kill -TERM $$")
    assert out.returncode == 128 + signal.SIGTERM


def test_run_without_double_dash(prog):
    out = pyshim_cli("run", prog("hello"), "4")
    assert (out.returncode, out.stdout) == (4, "hello\n")


def test_run_with_trap_list(prog):
    out = pyshim_cli("run", "--trap", "openat,write", "--", prog("probe"), "/etc/hostname")
    assert out.returncode == 0 and out.stdout.startswith("open /etc/hostname: fd ")


def test_run_with_unknown_trap_name_is_one_line(prog):
    out = pyshim_cli("run", "--trap", "nosuch", "--", prog("hello"))
    assert out.returncode == 2
    assert out.stderr == "pyshim: unknown syscall 'nosuch'\n"


def test_run_with_handlers_file(prog, tmp_path):
    handlers = tmp_path / "deny.py"
    handlers.write_text(
        "@sup.on('openat')\n"
        "def deny(call):\n"
        "    if call.string(call.args[1]) == '/etc/hostname':\n"
        "        return Fail(errno.EACCES)\n")
    out = pyshim_cli("run", "--handlers", str(handlers), "--", prog("probe"), "/etc/hostname")
    assert (out.returncode, out.stdout) == (0, "open /etc/hostname: Permission denied\n")


def test_trace_prints_strace_lines():
    out = pyshim_cli("trace", "--", "cat", "/etc/passwd", "/nonexistent")
    lines = out.stderr.splitlines()
    assert 'openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = 3' in lines
    assert ('openat(AT_FDCWD, "/nonexistent", O_RDONLY) = -1 ENOENT '
            "(No such file or directory)") in lines
    assert lines[-2] == "exit_group(1) = ?"
    assert lines[-1] == "+++ exited with 1 +++"
    assert out.returncode == 1


def test_trace_decodes_write_buffer_and_goes_to_file(tmp_path):
    trace = tmp_path / "trace.txt"
    out = pyshim_cli("trace", "-o", str(trace), "-e", "write", "--", "echo", "hi")
    assert (out.returncode, out.stdout, out.stderr) == (0, "hi\n", "")
    assert trace.read_text().splitlines() == ['write(1, "hi\\n", 3) = 3', "+++ exited with 0 +++"]


def test_trace_shows_exec_of_the_new_image():
    out = pyshim_cli("trace", "-e", "execve", "--", "sh", "-c", "exec true")
    # Failed execs along PATH come back with ENOENT and the shell goes on,
    # supervised; the successful one is reported once the new image starts.
    assert re.search(r'^execve\("/usr/bin/true", \["true"\], 0x[0-9a-f]+ /\* \d+ vars \*/\) = 0$',
                     out.stderr, re.M), out.stderr
    assert out.returncode == 0


def test_trace_reports_killing_signal():
    out = pyshim_cli("trace", "-e", "kill", "--", "sh", "-c", "kill -INT $$")
    assert out.stderr.splitlines()[-1] == "+++ killed by SIGINT +++"
    assert out.returncode == 128 + signal.SIGINT


@pytest.mark.parametrize("cmd", ["run", "trace", "inspect", "gc"])
def test_every_command_has_help_with_an_example(cmd):
    out = pyshim_cli(cmd, "--help")
    assert out.returncode == 0
    assert "example" in out.stdout and f"pyshim {cmd}" in out.stdout


def test_no_program_given():
    out = pyshim_cli("run", "--")
    assert out.returncode == 2 and "no program given" in out.stderr


def test_version():
    out = pyshim_cli("--version")
    assert re.fullmatch(r"pyshim \d+\.\d+\.\d+\n", out.stdout)


def test_gc_with_nothing_to_do():
    out = pyshim_cli("gc")
    assert out.returncode == 0
    assert out.stdout.splitlines()[-1] in ("nothing to remove",) or out.stdout.startswith("removed")


def test_path_search_skips_directories_and_files_that_cannot_run(tmp_path, prog):
    # As a shell does: the first executable regular file named so in PATH.
    first, second, third = (tmp_path / d for d in ("a", "b", "c"))
    for d in (first, second, third):
        d.mkdir()
    (first / "hello").mkdir()                 # a directory: skipped
    (second / "hello").write_text("#!/bin/sh\necho no\n")  # not executable: skipped
    (third / "hello").symlink_to(prog("hello"))
    env = dict(os.environ, PATH=f"{first}:{second}:{third}:{os.environ['PATH']}")
    out = pyshim_cli("run", "--", "hello", "5", env=env)
    assert (out.returncode, out.stdout) == (5, "hello\n")


def test_top_level_help_lists_every_command():
    out = pyshim_cli("--help")
    assert out.returncode == 0
    for cmd in ("run", "trace", "inspect", "gc"):
        assert re.search(rf"^\s+{cmd}\s+\S", out.stdout, re.M), cmd


def test_program_gets_the_environment_pyshim_was_given():
    """Python coerces a C locale by adding LC_CTYPE to its own environment
    (PEP 538): the program must not get it, or it opens other locale files
    than natively."""
    env = {"PATH": os.environ["PATH"], "LANG": "C"}
    out = pyshim_cli("run", "--", "env", env=env)
    assert out.returncode == 0, out.stderr
    names = {line.split("=", 1)[0] for line in out.stdout.splitlines()}
    assert names == {"PATH", "LANG", "LD_PRELOAD", "PYSHIM_CHANNEL"}


@pytest.mark.parametrize("argv", [
    ["run", "--", "prog", "-x"],
    ["run", "--trap", "all", "--", "prog"],
    ["run", "--trap=openat, read", "--", "prog", "--trap", "x"],
    ["run", "--trap=", "--", "prog"],
    ["run", "--", "--trap", "all"],
    ["run", "--trap", "all", "prog"],
    ["run", "--trap", "--", "prog"],
    ["run", "--trap", "a", "--trap", "b", "--", "prog"],
    ["run", "--handlers", "h.py", "--", "prog"],
    ["run", "--"],
])
def test_the_everyday_run_forms_read_as_argparse_reads_them(argv):
    """`pyshim run [--trap NAMES] -- PROGRAM` skips argparse (start-up):
    what it reads is what argparse would, and anything else goes to
    argparse."""
    from pyshim import cli

    fast = cli._everyday_run(argv)
    parser = cli.build_parser("run")
    try:
        args = parser.parse_args(argv)
        command = cli._command(args, parser)
    except SystemExit:
        assert fast is None  # argparse refuses it: so does the fast path
        return
    trap = cli._names(args.trap) if args.trap else []
    if fast is not None:  # else: left to argparse, which reads it as above
        assert fast == (trap, command)
