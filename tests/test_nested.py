"""pyshim inside pyshim: a run started by a supervised program supervises
its own program fully; the outer run sees that process exec and leave it
(its environment names the inner run's channel, and is passed as it is)."""
import os
import re
import sys
import textwrap

import pytest

from conftest import pyshim_cli


def lines(path) -> list[str]:
    """A trace's lines, addresses, pids and random bytes as placeholders."""
    text = re.sub(r'getrandom\("[^"]*"', 'getrandom("R"', path.read_text())
    text = re.sub(r"0x[0-9a-f]+", "ADDR", text)
    return re.sub(r"\b\d{3,}\b", "N", text).splitlines()


@pytest.mark.parametrize("outer", [["run", "--trap", "all"], ["trace", "-o", os.devnull]],
                         ids=["run", "trace"])
def test_trace_inside_a_run_sees_every_call(tmp_path, outer):
    alone, inner = tmp_path / "alone", tmp_path / "inner"
    ref = pyshim_cli("trace", "-o", str(alone), "--", "/bin/echo", "hi")
    out = pyshim_cli(*outer, "--", sys.executable, "-m", "pyshim", "trace", "-o", str(inner),
                     "--", "/bin/echo", "hi", timeout=120)
    assert (out.stdout, out.returncode) == (ref.stdout, 0) == ("hi\n", 0), out.stderr
    assert 'write(1, "hi\\n", 3) = 3' in inner.read_text()
    assert lines(inner) == lines(alone)


def test_pytest_with_the_plugin_inside_a_run(tmp_path):
    """The project's fixture, in a pytest that itself runs supervised."""
    (tmp_path / "test_inner.py").write_text(textwrap.dedent("""
        import errno
        from pyshim.faults import fail

        def test_disk_full(pyshim_run):
            r = pyshim_run(["sh", "-c", "echo a; echo b"],
                           [fail("write", errno.ENOSPC, fd=1, nth=2)])
            assert r.stdout == "a\\n" and r.faults_hit == 1
    """))
    out = pyshim_cli("run", "--trap", "all", "--", sys.executable, "-m", "pytest", "-q",
                     "-p", "no:cacheprovider", str(tmp_path / "test_inner.py"),
                     timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
