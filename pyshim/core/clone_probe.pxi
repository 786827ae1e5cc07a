# do_clone_thread / do_clone_process for in-process tests (included by _core.pyx).

PROBE_REGISTERS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                   "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


cdef _probe_inputs(dict regs, desc, uint64_t *r, pyshim_block_desc *d):
    unknown = set(regs) - set(PROBE_REGISTERS) - {"rsp"}
    if unknown:
        raise ValueError(f"unknown registers: {sorted(unknown)}")
    for i, name in enumerate(PROBE_REGISTERS):
        r[i] = regs.get(name, 0)
    _fill_desc(d, desc)


cdef dict _probe_report(probe_result *out, long result):
    raw = out.desc.segment[:PYSHIM_SEGMENT_NAME_MAX].split(b"\0", 1)[0]
    return {
        "result": result,
        "landed": out.landed,
        "registers": {name: out.regs[i] for i, name in enumerate(PROBE_REGISTERS)},
        "mxcsr": out.mxcsr,
        "xmm0": bytes(out.xmm0[:16]),
        "clone_rax": out.clone_rax,
        "desc": (raw.decode(), out.desc.offset, out.desc.size),
        "init_frame": out.init_frame,
        "tid": out.tid,
        "pid": out.pid,
    }


def do_clone_thread(dict regs, desc, uint32_t mxcsr=0x1F80, bytes xmm0=bytes(16)):
    """Creates a thread in this process through the shim's do_clone_thread,
    resuming at a probe with these registers (rsp: the new stack), MXCSR and
    xmm0, and the block descriptor `desc` copied onto its stack; waits for it
    and returns what it saw: "registers" at the probe, "mxcsr", "xmm0",
    "desc", "init_frame" (frame of its first C function), "tid", "result"
    (the parent's clone result)."""
    cdef uint64_t r[16]
    cdef pyshim_block_desc d
    cdef probe_result out
    cdef const uint8_t *x = xmm0
    cdef long result
    if len(xmm0) != 16:
        raise ValueError("xmm0 is 16 bytes")
    _probe_inputs(regs, desc, r, &d)
    memset(&out, 0, sizeof(out))
    with nogil:
        result = pyshim_probe_clone_thread(r, mxcsr, x, &d, &out)
    if result < 0:
        raise OSError(-result, os.strerror(-result), "do_clone_thread")
    return _probe_report(&out, result)


def do_clone_process(dict regs, desc, bint switch_stack=True, uint32_t mxcsr=0x1F80,
                     bytes xmm0=bytes(16)):
    """Creates a process through the shim's do_clone_process.  With
    switch_stack it resumes at a probe on a new stack as the shim does when
    the program gives one; without, it reports what clone returned in it.
    Waits for it; returns what do_clone_thread returns plus "status" (its
    wait status) and "clone_rax"."""
    cdef uint64_t r[16]
    cdef pyshim_block_desc d
    cdef probe_result out
    cdef const uint8_t *x = xmm0
    cdef long result
    cdef int status = 0
    if len(xmm0) != 16:
        raise ValueError("xmm0 is 16 bytes")
    _probe_inputs(regs, desc, r, &d)
    memset(&out, 0, sizeof(out))
    with nogil:
        result = pyshim_probe_clone_process(r, mxcsr, x, &d, switch_stack, &out, &status)
    if result < 0:
        raise OSError(-result, os.strerror(-result), "do_clone_process")
    report = _probe_report(&out, result)
    report["status"] = status
    return report
