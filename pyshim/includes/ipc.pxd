# Cython view of ipc/pyshim_ipc.h, pyshim_sync.h, pyshim_wait.h and pyshim_ready.h.  Field names only:
# every size and offset comes from the header at compile time.
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t, uint64_t

cdef extern from "pyshim_ipc.h" nogil:
    cdef enum:
        PYSHIM_PROTOCOL_VERSION
        PYSHIM_CHANNEL_MAGIC
        PYSHIM_CONTROL_MAGIC
        PYSHIM_NR_MAX
        PYSHIM_SUBSCRIBED_BYTES
        PYSHIM_SEGMENT_NAME_MAX
        PYSHIM_BLOCK_SIZE
        PYSHIM_SLAB_BLOCKS
        PYSHIM_FIRST_SLAB_OFFSET
        PYSHIM_RF_REPORT
        PYSHIM_EF_RESTARTED
        PYSHIM_EF_OTHER_PIDNS
        PYSHIM_EF_PIDNS_MOVED
        PYSHIM_READY_WORDS
        PYSHIM_READY_CAPACITY
        PYSHIM_FILTER_MAX
        PYSHIM_LIVENESS_BYTE
        PYSHIM_LEAVE_TRACED
        PYSHIM_LEAVE_PTRACE

    const char *PYSHIM_ENV_CHANNEL

    cdef enum pyshim_channel_state:
        PYSHIM_CH_IDLE
        PYSHIM_CH_EVENT
        PYSHIM_CH_REPLY
        PYSHIM_CH_HELD
        PYSHIM_CH_COMPLETING
        PYSHIM_CH_CANCELLED

    cdef enum pyshim_event_tag:
        PYSHIM_EV_START
        PYSHIM_EV_SYSCALL
        PYSHIM_EV_SYSCALL_DONE
        PYSHIM_EV_ADD_THREAD_RESULT
        PYSHIM_EV_EXIT

    cdef enum pyshim_reply_tag:
        PYSHIM_RE_START
        PYSHIM_RE_NATIVE
        PYSHIM_RE_COMPLETE
        PYSHIM_RE_ADD_THREAD
        PYSHIM_RE_KILL

    struct pyshim_block_desc:
        char segment[PYSHIM_SEGMENT_NAME_MAX]
        uint64_t offset
        uint64_t size

    struct pyshim_control:
        uint32_t magic
        uint32_t version
        int32_t supervisor_pid
        uint64_t supervisor_start
        uint64_t program_pidns
        uint32_t doorbell_seq
        uint32_t sleepers
        uint64_t ready_top
        uint64_t supervisor_pidns
        uint64_t ready_mid[64]
        uint64_t ready_low[PYSHIM_READY_WORDS]
        uint32_t filter_len
        uint64_t filter[PYSHIM_FILTER_MAX]

    struct pyshim_event:
        uint32_t tag
        uint32_t version
        int32_t pid
        int32_t tid
        int64_t nr
        uint64_t args[6]
        int64_t result
        uint64_t ip
        uint32_t flags
        uint32_t seq

    struct pyshim_reply:
        uint32_t tag
        uint32_t flags
        int64_t retval
        uint8_t subscribed[PYSHIM_SUBSCRIBED_BYTES]
        pyshim_block_desc child_block
        uint64_t clone_flags
        uint64_t child_stack
        uint64_t ptid
        uint64_t ctid
        uint64_t newtls
        uint32_t seq

    struct pyshim_channel:
        uint32_t state
        uint32_t shim_sleeping
        uint32_t magic
        uint32_t version
        uint32_t index
        uint32_t leave
        pyshim_block_desc control
        pyshim_event event
        pyshim_reply reply

cdef extern from "pyshim_sync.h" nogil:
    uint32_t pyshim_load_acquire(const uint32_t *p)
    uint32_t pyshim_load_seq(const uint32_t *p)
    void pyshim_store_seq(uint32_t *p, uint32_t v)
    void pyshim_store_relaxed(uint32_t *p, uint32_t v)
    void pyshim_store64(uint64_t *p, uint64_t v)
    uint32_t pyshim_fetch_add_seq(uint32_t *p, uint32_t v)
    uint32_t pyshim_cas(uint32_t *p, uint32_t expected, uint32_t desired)
    void pyshim_cpu_relax()

cdef extern from "pyshim_wait.h" nogil:
    cdef enum:
        PYSHIM_DISPATCHER_POLL_TICKS
        PYSHIM_DISPATCHER_START_POLL_TICKS
    ctypedef uint32_t pyshim_waiter
    uint64_t pyshim_ticks()
    unsigned pyshim_wait_stride(const pyshim_waiter *w)
    void pyshim_wait_yielded(pyshim_waiter *w, uint64_t before, uint64_t after)
    int pyshim_wait_should_sleep(uint64_t start, uint64_t now, uint64_t budget)
    void pyshim_wait_ended(pyshim_waiter *w)

cdef extern from "pyshim_ready.h" nogil:
    void pyshim_ready_mark(pyshim_control *c, uint32_t index)
    uint32_t pyshim_ready_take(pyshim_control *c, uint32_t *out, uint32_t limit, uint32_t *empty)
    int pyshim_ready_any(pyshim_control *c)
    void pyshim_ready_trim(pyshim_control *c)
