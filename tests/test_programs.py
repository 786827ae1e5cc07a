"""Whole process trees: exec, vfork, posix_spawn, and real programs (bash,
make, gcc, git, Python subprocess), natively and under `--trap all`."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import pyshim_cli
from pyshim import Supervisor


def same_as_native(argv, cwd=None, env=None):
    native = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)
    supervised = pyshim_cli("run", "--trap", "all", "--", *argv, cwd=cwd, env=env, timeout=120)
    assert supervised.returncode == native.returncode, supervised.stderr
    assert supervised.stdout == native.stdout, supervised.stderr
    return supervised


def traced(*argv, calls="write"):
    out = pyshim_cli("trace", "-e", calls, "--", *argv)
    return out, out.stderr.splitlines()


# -- exec --

def test_failed_exec_continues_supervised_with_errno(prog):
    out, lines = traced(prog("execs"), "failed", calls="execve,write")
    assert out.stdout == "exec failed: No such file or directory; still here, pid ok\n"
    assert any(l.startswith('execve("/nonexistent/program"') and
               l.endswith("= -1 ENOENT (No such file or directory)") for l in lines)
    assert any(l.startswith('write(1, "exec failed') for l in lines)  # still traced


def test_exec_from_a_non_leader_thread(prog):
    out, lines = traced(prog("execs"), "thread", "/bin/echo", calls="execve,write")
    assert (out.returncode, out.stdout) == (0, "from a thread\n")
    # the new image is supervised: its write is traced
    assert any('write(1, "from a thread\\n", 14) = 14' in l for l in lines), out.stderr


def test_exec_with_a_minimal_environment_stays_supervised(prog):
    out, lines = traced(prog("execs"), "emptyenv")
    env_lines = out.stdout.splitlines()
    assert env_lines[0] == "ONLY=this"
    assert sorted(l.split("=", 1)[0] for l in env_lines[1:]) == ["LD_PRELOAD", "PYSHIM_CHANNEL"]
    assert any(l.startswith('write(1, "ONLY=this') for l in lines), out.stderr


@pytest.mark.parametrize("mode", ["bigenv", "edgeenv", "holeenv", "badenv"])
def test_exec_reads_the_environment_as_the_kernel_does(prog, mode):
    """3000 variables (more than the shim reads at once, and than it keeps
    on its stack); a short one that ends a page with nothing mapped after;
    strings close together with an unmapped page between them (the shim
    reads such a span in one piece, up to the hole), the program's own
    LD_PRELOAD ending the page before it; an unreadable one (EFAULT, as
    natively).  The new image sees the program's variables, and pyshim's
    two on top."""
    native = subprocess.run([prog("execs"), mode], capture_output=True, text=True, timeout=60)
    out = pyshim_cli("run", "--", prog("execs"), mode)
    assert out.returncode == native.returncode == 0, out.stderr
    # (pyshim's own two variables are left out of both: "natively" may be
    # inside an outer run of the test suite, whose shim adds its own.)
    ours = ("LD_PRELOAD=", "PYSHIM_CHANNEL=")
    seen = [line for line in out.stdout.splitlines() if not line.startswith(ours)]
    assert seen == [line for line in native.stdout.splitlines() if not line.startswith(ours)]
    if mode != "badenv":
        assert sum(line.startswith(ours) for line in out.stdout.splitlines()) == 2
    if mode == "holeenv":  # the program's own preload is kept, after the shim
        from pyshim.supervisor import preload_path

        assert f"LD_PRELOAD={preload_path()}:libc.so.6" in out.stdout.splitlines()


def test_env_i_keeps_the_shell_supervised():
    out, lines = traced("sh", "-c", "env -i /bin/sh -c 'echo clean'", calls="write")
    assert (out.returncode, out.stdout) == (0, "clean\n")
    assert any('write(1, "clean\\n", 6) = 6' in l for l in lines), out.stderr


def test_exec_of_a_script(tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho script says $1\n")
    script.chmod(0o755)
    out, lines = traced("sh", "-c", f"{script} hi", calls="write")
    assert out.stdout == "script says hi\n"
    assert any('write(1, "script says hi\\n", 15) = 15' in l for l in lines), out.stderr


# -- vfork and posix_spawn --

@pytest.mark.parametrize("mode,expected", [
    ("vfork", "vfork: parent sees 42, child exited 3\n"),
    ("spawn", "posix_spawn of a missing program: No such file or directory\n"
              "spawned\nposix_spawn: 0, child exited 0\n"),
])
def test_vfork_and_posix_spawn_semantics(prog, mode, expected):
    assert same_as_native([prog("execs"), mode]).stdout == expected


# -- processes that die without a word --

def test_sigkilled_process_is_noticed_and_its_channel_freed(prog, tmp_path):
    sup = Supervisor()

    @sup.on("getppid")
    def freed(call):
        return 1 if sup.blocks_in_use == 1 else None

    with open(tmp_path / "out", "wb") as f:
        status = sup.run([prog("killed")], stdout=f)
    assert (tmp_path / "out").read_text() == "child killed by signal 9\nits channel was freed\n"
    assert status == 0


# -- real programs --

def test_bash_loops_and_pipelines():
    script = "for i in $(seq 30); do echo $i; done | sort -rn | head -3; x=$(echo sub); echo $x"
    assert same_as_native(["bash", "-c", script]).stdout == "30\n29\n28\nsub\n"


def test_sh_with_env_i():
    out = same_as_native(["sh", "-c", "env -i sh -c 'echo $HOME-${PATH:-unset}'; echo done"])
    assert out.stdout.endswith("done\n")


def test_make_j2_builds_with_gcc(tmp_path):
    (tmp_path / "Makefile").write_text(textwrap.dedent("""\
        prog: a.o b.o
        \tgcc -o prog a.o b.o
        a.o: a.c
        \tgcc -c a.c
        b.o: b.c
        \tgcc -c b.c
        """))
    (tmp_path / "a.c").write_text("int f(void);\nint main(void){return f() - 42;}\n")
    (tmp_path / "b.c").write_text("int f(void){return 42;}\n")
    out = pyshim_cli("run", "--trap", "all", "--", "make", "-j2", "-s", cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert subprocess.run([tmp_path / "prog"]).returncode == 0


def test_gcc_compile(tmp_path):
    src = tmp_path / "hi.c"
    src.write_text('#include <stdio.h>\nint main(void){puts("compiled");return 0;}\n')
    out = pyshim_cli("run", "--trap", "all", "--", "gcc", "-O2", "-o", str(tmp_path / "hi"),
                     str(src), timeout=120)
    assert out.returncode == 0, out.stderr
    assert subprocess.run([tmp_path / "hi"], capture_output=True, text=True).stdout == "compiled\n"


def test_git_init_commit_log(tmp_path):
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b",
           "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}
    script = ("git init -q repo && cd repo && echo x > f && git add f && "
              "git commit -qm first && echo y >> f && git commit -qam second && "
              "git log --format=%s")
    for where in ("native", "supervised"):
        (tmp_path / "repo").exists() and shutil.rmtree(tmp_path / "repo")
        if where == "native":
            out = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                                 cwd=tmp_path, env=env, timeout=60)
        else:
            out = pyshim_cli("run", "--trap", "all", "--", "sh", "-c", script,
                             cwd=tmp_path, env=env, timeout=120)
        assert (out.returncode, out.stdout) == (0, "second\nfirst\n"), out.stderr


def test_python_subprocess_run_including_failed_exec():
    code = textwrap.dedent("""
        import subprocess
        print(subprocess.run(["echo", "child"], capture_output=True, text=True).stdout, end="")
        try:
            subprocess.run(["/nonexistent/program"])
        except FileNotFoundError as exc:
            print("failed exec:", exc.errno)
        print(subprocess.run("exit 7", shell=True).returncode)
    """)
    out = same_as_native([sys.executable, "-c", code])
    assert out.stdout == "child\nfailed exec: 2\n7\n"
