"""A supervised process that switches to another user stays supervised:
the run's segments are opened to that user (and only to it) before the
switch, so its new images and its children's new channels map as before.
Switching users needs root: these tests run where the suite runs as root
(CI containers do)."""
import os
import shutil
import subprocess

import pytest

from conftest import pyshim_cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")

DROP = {
    "su": ["su", "-s", "/bin/sh", "nobody", "-c", "id -un"],
    "runuser": ["runuser", "-u", "nobody", "--", "id", "-un"],
    "setpriv": ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "id", "-un"],
}


@pytest.mark.parametrize("command", [["run", "--trap", "all"], ["trace", "-o", os.devnull]],
                         ids=["run", "trace"])
@pytest.mark.parametrize("tool", DROP)
def test_switch_user_then_exec_stays_supervised(tool, command):
    argv = DROP[tool]
    if not shutil.which(argv[0]):
        pytest.skip(f"{argv[0]} is not installed")
    native = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    out = pyshim_cli(*command, "--", *argv)
    assert native.stdout == "nobody\n"
    assert (out.stdout, out.returncode) == ("nobody\n", 0), out.stderr


def test_switched_user_gets_channels_in_a_new_slab(prog, tmp_path):
    """80 threads alive at once after the switch: their channels need a
    second segment beside segment 0 (the control block and the first slab),
    created after the switch and opened to the new user too."""
    exe = tmp_path / "threads"
    shutil.copy(prog("threads"), exe)
    os.chmod(tmp_path, 0o755)
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(exe),
            "together", "80", "10"]
    out = pyshim_cli("run", "--trap", "all", "--", *argv)
    assert (out.stdout, out.returncode) == ("80 threads x 10 calls: 800\n", 0), out.stderr


def test_other_users_still_cannot_open_the_run(no_leaks):
    """Only the user a process of the run became is let in: while the run
    is alive, another user (outside the run) cannot open its segments."""
    import sys

    run = subprocess.Popen(
        [sys.executable, "-m", "pyshim", "run", "--", "sh", "-c",
         "runuser -u nobody -- true; echo switched; read line"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline() == "switched\n"
        segments = sorted(f for f in os.listdir("/dev/shm") if f.startswith(f"pyshim-{no_leaks}"))
        assert segments
        for name in segments:
            path = f"/dev/shm/{name}"
            for user, allowed in (("nobody", True), ("daemon", False)):
                tried = subprocess.run(["runuser", "-u", user, "--", "cat", path],
                                       capture_output=True, timeout=30)
                assert (tried.returncode == 0) == allowed, (user, path, tried.stderr)
    finally:
        run.communicate("\n", timeout=30)
    assert run.returncode == 0
