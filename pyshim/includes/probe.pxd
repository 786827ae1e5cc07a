# Cython view of core/clone_probe.h: in-process drivers of the clone helpers.
from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t

from pyshim.includes.ipc cimport pyshim_block_desc

cdef extern from "clone_probe.h" nogil:
    struct probe_result:
        uint64_t regs[16]
        uint32_t mxcsr
        uint64_t clone_rax
        uint8_t xmm0[16]
        uint64_t landed
        pyshim_block_desc desc
        uint64_t init_frame
        int32_t tid
        int32_t pid

    long pyshim_probe_clone_thread(const uint64_t *regs, uint32_t mxcsr, const uint8_t *xmm0,
                                   const pyshim_block_desc *desc, probe_result *out)
    long pyshim_probe_clone_process(const uint64_t *regs, uint32_t mxcsr, const uint8_t *xmm0,
                                    const pyshim_block_desc *desc, int switch_stack,
                                    probe_result *out, int *status)
