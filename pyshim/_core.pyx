# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The supervisor's side of the channels.

Layouts come from ipc/pyshim_ipc.h (through includes/ipc.pxd); Python code
reads and writes shared memory only through the functions and classes here.
The dispatcher finds channels with events through the run's ready set and
waits without the GIL, spinning briefly and then sleeping on the run's
doorbell futex; it takes the GIL only to call a Python handler.  Subscribed
calls with no Python handler are answered without the GIL.  A handler may
hold a call (Deferred) and answer it later, from any thread or a timer.
"""
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t, uint64_t, uintptr_t
from libc.string cimport memset, memcpy, strlen
from cpython.exc cimport PyErr_CheckSignals
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc

from pyshim.includes.ipc cimport *
from pyshim.includes.linux cimport *
from pyshim.includes.probe cimport *
from pyshim.includes.guard cimport *
from pyshim.includes.placement cimport *

import errno as errno_mod
import itertools
import os
import sys
# The C modules behind collections, functools and heapq: importing those
# (and what they import) costs a run's start-up a millisecond or more.
from _collections import deque
from _collections_abc import Coroutine
from _functools import partial
from _heapq import heappop, heappush
from time import monotonic

from pyshim import pidns, syscalls as _syscalls
from pyshim.replies import NATIVE, Fail

include "core/layout.pxi"
include "core/channel.pxi"
include "core/mapping.pxi"
include "core/call.pxi"
include "core/deferred.pxi"
include "core/dispatcher.pxi"
include "core/signals.pxi"
include "core/placement.pxi"
include "core/clone_probe.pxi"
