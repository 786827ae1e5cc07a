"""The README's promises: the test command is what CI runs, the examples
run as printed and print what the README says."""
import inspect
import re
import subprocess
import sys

from conftest import ROOT, pyshim_cli

README = (ROOT / "README.md").read_text()


def code_blocks(lang=""):
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_ci_runs_exactly_the_readme_test_command():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    install_run, install_test = [b.strip() for b in re.findall(r"```sh\n(.*?)```", quick_start, re.S)]
    assert install_run.startswith("pip install") and "pyshim trace --" in install_run
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == install_test


def test_quick_start_trace_ends_as_shown():
    shown = README.split("its last lines are:", 1)[1].split("```\n", 2)[1].strip().splitlines()
    out = pyshim_cli("trace", "--", "echo", "hello")
    assert out.stdout == "hello\n"
    assert out.stderr.splitlines()[-len(shown):] == shown


def run_example(heading, tmp_path):
    """(what the section's first Python block prints, what the README says
    it prints, its stderr)."""
    example = README.split(heading, 1)[1]
    code = re.search(r"```python\n(.*?)```", example, re.S).group(1)
    expected = re.search(r"prints,?\s.*?```\n(.*?)```", example, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    return out.stdout, expected, out.stderr


def test_handler_example_runs_as_printed(tmp_path):
    stdout, expected, stderr = run_example("## Handlers in Python", tmp_path)
    assert stdout == expected
    assert stderr == "cat: /etc/shadow: Permission denied\n"


def test_held_calls_example_runs_as_printed(tmp_path):
    stdout, expected, stderr = run_example("### Held calls", tmp_path)
    assert (stdout, stderr) == (expected, "")


def test_readme_gate_and_chaos_examples_are_tests():
    import test_chaos
    import test_held

    section = README.split("### Testing with pytest", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    for test in (test_held.test_gate_forces_b_before_a,
                 test_chaos.test_chaos_finds_the_race_native_runs_never_show):
        assert inspect.getsource(test) in blocks
    assert "CHAOS = dict(chaos_rate=0.3, chaos_max_delay=0.01)" in inspect.getsource(test_chaos)
    assert "`CHAOS = dict(chaos_rate=0.3, chaos_max_delay=0.01)`" in section


def test_readme_layout_names_real_paths():
    """Every path in the README's layout exists (the picture stays true).
    A bare file name after a pyshim/ path (\"pyshim/trace.py, cli.py\") is
    in pyshim/."""
    block = README.split("## Layout", 1)[1].split("```\n")[1]
    for line in block.splitlines():
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0].split(", ")
        base = "pyshim/" if names[0].startswith("pyshim/") else ""
        for i, name in enumerate(names):
            path = ROOT / (name if i == 0 or "/" in name else base + name)
            assert path.exists(), f"README layout names a missing path: {name}"
