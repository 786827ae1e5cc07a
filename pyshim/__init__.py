"""pyshim: run unmodified Linux programs under a syscall supervisor written
in Python.

    from pyshim import Supervisor, Fail
    sup = Supervisor()

    @sup.on("openat")
    def no_secrets(call):
        if call.string(call.args[1]).startswith("/secret"):
            return Fail(errno.EACCES)

    status = sup.run(["cat", "/secret/key"])
"""
from pyshim._core import ArmError, Call, ChannelError, HandlerError
from pyshim.errors import CannotSupervise, ProgramNotFound, PyshimError, UnsupportedKernel
from pyshim.replies import NATIVE, Fail
from pyshim.supervisor import Supervisor

__version__ = "0.1.0"

__all__ = [
    "ArmError", "Call", "CannotSupervise", "ChannelError", "Fail", "HandlerError",
    "NATIVE", "ProgramNotFound", "PyshimError", "Supervisor", "UnsupportedKernel",
    "__version__",
]
