"""What `pip install` produces: the extension, and a preload library that
can load into any program."""
import subprocess
from pathlib import Path

import pyshim
from pyshim import _core
from pyshim.supervisor import preload_path


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


def test_core_extension_is_compiled():
    assert Path(_core.__file__).suffix == ".so"
    assert _core.PROTOCOL_VERSION >= 1
