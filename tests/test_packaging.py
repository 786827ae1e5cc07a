"""What `pip install` produces: the extension, and a preload library that
can load into any program."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pyshim
from pyshim import _core
from pyshim.supervisor import preload_path

from conftest import ROOT


def readelf(*args):
    return subprocess.run(["readelf", *args], capture_output=True, text=True, check=True).stdout


def test_preload_library_is_found_in_the_installed_package():
    path = Path(preload_path())
    assert path.parent == Path(pyshim.__file__).parent
    assert path.name == "libpyshim_preload.so"


def test_preload_library_needs_libc_only():
    needed = [line.split("[", 1)[1].rstrip("]")
              for line in readelf("-d", preload_path()).splitlines() if "(NEEDED)" in line]
    assert needed == ["libc.so.6"]


def test_preload_library_has_a_non_executable_stack():
    stack = [line for line in readelf("-lW", preload_path()).splitlines() if "GNU_STACK" in line]
    assert len(stack) == 1 and stack[0].split()[-2] == "RW"


def test_preload_library_exports_nothing_of_its_own():
    """Its symbols are hidden: it must not interpose on the program's."""
    symbols = readelf("--dyn-syms", "-W", preload_path()).splitlines()
    rows = [s.split() for s in symbols if len(s.split()) >= 8 and s.split()[0].endswith(":")]
    defined = [r[7] for r in rows if r[6] != "UND" and r[4] == "GLOBAL" and r[5] == "DEFAULT"]
    assert defined == []


def test_preload_library_uses_no_vector_or_x87_register():
    """The direct entry (asm/direct.S) runs the shim's code between a
    program's registers and its return and saves only the general ones:
    the library is built -mgeneral-regs-only, so nothing else can change."""
    code = subprocess.run(["objdump", "-d", "--no-show-raw-insn", preload_path()],
                          capture_output=True, text=True, check=True).stdout
    used = [line for line in code.splitlines()
            if any(r in line for r in ("%xmm", "%ymm", "%zmm", "%st", "%mm", "%k"))]
    assert used == []


def test_core_extension_is_compiled():
    assert Path(_core.__file__).suffix == ".so"
    assert _core.PROTOCOL_VERSION >= 1


def test_pyshim_command_is_installed_beside_python():
    """The plain `pyshim` script pip installs (scripts/pyshim) runs the CLI."""
    command = Path(sys.executable).parent / "pyshim"
    assert command.is_file() and os.access(command, os.X_OK)
    out = subprocess.run([str(command), "run", "--", "/bin/echo", "hi"], capture_output=True,
                         text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "hi\n", "")


@pytest.mark.parametrize("options", [[], ["--trap", "all"], ["--trap=openat,read"]])
def test_run_imports_no_parser_and_no_regex(options):
    """`pyshim run -- PROGRAM` (and with --trap) starts without argparse,
    re, enum or collections (their imports were most of its start-up)."""
    # -S: site's .pth files (an editable install's finder among them) may
    # import collections first, and the test would see nothing.  The
    # site-packages directories are added by hand, without their .pth files.
    code = ("import sys, site; sys.path.extend(site.getsitepackages()); "
            "before = set(sys.modules); print('collections' in before); "
            "from pyshim.cli import main; "
            f"status = main(['run', *{options!r}, '--', '/bin/true']); "
            "print(sorted({'argparse', 're', 'enum', 'collections'} & (set(sys.modules) - before)), "
            "status)")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert (out.stdout, out.stderr) == ("False\n[] 0\n", "")


COMMANDS = [pytest.param([str(Path(sys.executable).parent / "pyshim")], id="script"),
            pytest.param([sys.executable, "-m", "pyshim"], id="python-m")]


@pytest.mark.parametrize("command", COMMANDS)
def test_command_exits_with_the_programs_status(command):
    """The command skips the interpreter's teardown (cli.leave); the status
    is still the program's, as a shell gives it."""
    for script, status in (("exit 3", 3), ("kill -TERM $$", 128 + 15)):
        out = subprocess.run([*command, "run", "--", "sh", "-c", script], capture_output=True,
                             timeout=60)
        assert out.returncode == status, out.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_command_output_to_a_pipe_is_complete(command, tmp_path):
    """stdout to a pipe is block-buffered: what `pyshim inspect` prints
    reaches the reader although the command ends without the teardown
    that would flush it."""
    record = tmp_path / "true.rec"
    subprocess.run([*command, "trace", "-qq", "--record", str(record), "--", "/bin/true"],
                   check=True, capture_output=True, timeout=60)
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    out = subprocess.run([*command, "inspect", str(record)], capture_output=True, text=True,
                         timeout=60, env=buffered)
    assert out.returncode == 0, out.stderr
    assert "slowest calls" in out.stdout and "exit_group() = ?" in out.stdout.splitlines()[-1]


@pytest.mark.parametrize("command", COMMANDS)
def test_command_output_to_a_closed_pipe_is_one_line_and_status_1(command, tmp_path):
    """A reader gone before the command writes: one line naming the
    problem and status 1, as before the command skipped the teardown (no
    traceback from a second flush at the end)."""
    record = tmp_path / "true.rec"
    subprocess.run([*command, "trace", "-qq", "--record", str(record), "--", "/bin/true"],
                   check=True, capture_output=True, timeout=60)
    r, w = os.pipe()
    os.close(r)
    try:
        out = subprocess.run([*command, "inspect", str(record)], stdout=w, stderr=subprocess.PIPE,
                             text=True, timeout=60)
    finally:
        os.close(w)
    assert (out.returncode, out.stderr) == (1, "pyshim: Broken pipe\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_command_runs_the_sites_atexit_hooks(command, tmp_path):
    """A hook a sitecustomize registered (as coverage does for
    subprocesses) still runs when the command skips the teardown."""
    site = tmp_path / "site"
    site.mkdir()
    mark = tmp_path / "hook-ran"
    (site / "sitecustomize.py").write_text(
        f"import atexit\natexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    out = subprocess.run([*command, "run", "--", "/bin/true"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert mark.read_text() == "ran"


def test_command_under_a_profiler_writes_its_profile(tmp_path):
    """`python -m cProfile -o F -m pyshim ...` gets its F: the profiler
    writes it after the ordinary exit, which the command then takes."""
    prof = tmp_path / "run.prof"
    out = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pyshim",
                          "run", "--", "/bin/true"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert prof.stat().st_size > 0
