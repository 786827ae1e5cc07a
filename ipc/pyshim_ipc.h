/*
 * pyshim wire protocol: every layout shared between the preloaded shim and
 * the supervisor, and nothing else.  This header is the one source of truth:
 * the shim (pyshim/shim/) and the Cython core (pyshim/includes/ipc.pxd)
 * include it; Python reads layouts only through pyshim._core.
 * ipc/PROTOCOL.md says the same in prose and a test keeps the two in step.
 *
 * Plain C11, no libc beyond <stdint.h>/<stddef.h>, usable from asm-adjacent
 * code.  Every size and offset that assembly or Python relies on is checked
 * below with _Static_assert.
 */
#ifndef PYSHIM_IPC_H
#define PYSHIM_IPC_H

#include <stddef.h>
#include <stdint.h>

#define PYSHIM_PROTOCOL_VERSION 6u

/* Liveness without pids (which mean nothing in another pid namespace):
 * the supervisor holds an open-file-description write lock (F_OFD_SETLK)
 * on byte PYSHIM_LIVENESS_BYTE of the control segment for the whole run;
 * the kernel drops it when the supervisor dies.  A shim asks with
 * F_OFD_GETLK.  Kernel state, not shared memory: a program cannot forge
 * the supervisor's death or make the supervisor trip over it. */
#define PYSHIM_LIVENESS_BYTE 0
#define PYSHIM_CHANNEL_MAGIC 0x4e484350u /* "PCHN" little-endian */
#define PYSHIM_CONTROL_MAGIC 0x4c544350u /* "PCTL" little-endian */

/* Environment variable holding the text form of the first thread's channel
 * descriptor: "<segment>:<offset>:<size>", e.g. "/pyshim-ab12-0:45056:512". */
#define PYSHIM_ENV_CHANNEL "PYSHIM_CHANNEL"
/* Segments a process kept open when it left its mount namespace:
 * "name=fd,name=fd" (a new image maps them when /dev/shm hides them). */
#define PYSHIM_ENV_FDS "PYSHIM_FDS"
/* Set to "1" in a new image whose predecessor read SIGSYS through a
 * signalfd (the shim's SIGSYS signalfd mode; it may inherit the fd). */
#define PYSHIM_ENV_SIGSYSFD "PYSHIM_SIGSYSFD"

/* Syscall numbers below this bound can be subscribed (x86-64 uses < 470). */
#define PYSHIM_NR_MAX 512u
#define PYSHIM_SUBSCRIBED_BYTES (PYSHIM_NR_MAX / 8u) /* bitmap of subscribed calls */
#define PYSHIM_SEGMENT_NAME_MAX 48u

/* ---- serialized block descriptor --------------------------------------
 * Names one block in one segment.  Plain data: it can be copied anywhere,
 * including onto a new thread's stack. */
struct pyshim_block_desc {
    char segment[PYSHIM_SEGMENT_NAME_MAX]; /* NUL-terminated POSIX shm name */
    uint64_t offset;                       /* of the block in the segment   */
    uint64_t size;                         /* of the block                  */
};

/* ---- ready set ----------------------------------------------------------
 * Which channels have something for the supervisor, so that it never scans
 * every channel: a three-level bitmap over channel indices (the `index`
 * field of each channel).  A shim that posts sets its bit in `ready_low`,
 * then the word's bit in `ready_mid`, then that word's bit in `ready_top`
 * (see pyshim_ready.h); the supervisor takes bits with atomic exchanges,
 * top first.  A bit is only a hint: the channel's state word is the truth. */
#define PYSHIM_READY_WORDS 4096u                        /* words of ready_low */
#define PYSHIM_READY_CAPACITY (PYSHIM_READY_WORDS * 64u) /* channels per run   */

/* Instructions the run's seccomp filter may have (pyshim/ptrace/filter.py
 * builds at most 2 per subscribed syscall number, plus 7). */
#define PYSHIM_FILTER_MAX 1024u

/* ---- control block (offset 0 of segment "-0" of a run) ----------------- */
struct pyshim_control {
    uint32_t magic;          /* PYSHIM_CONTROL_MAGIC once initialized     */
    uint32_t version;        /* PYSHIM_PROTOCOL_VERSION                   */
    int32_t supervisor_pid;  /* for garbage collection and liveness       */
    uint32_t reserved0;
    uint64_t supervisor_start; /* /proc/<pid>/stat field 22 (clock ticks) */
    /* Inode of the pid namespace the run's program was started in (the
     * spawning thread's pid_for_children), written just after the program is
     * spawned, 0 until then or if unknown: a shim that finds it
     * needs no /proc to learn whether it is the supervisor's, one that
     * finds 0 reads /proc. */
    uint64_t program_pidns;
    uint8_t reserved1[32];
    /* Doorbell and the top of the ready set, on their own cache line.  A
     * shim bumps `seq` after posting and wakes the futex on it when
     * `sleepers` is non-zero. */
    uint32_t doorbell_seq;   /* futex word */
    uint32_t sleepers;
    uint64_t ready_top;      /* bit m: ready_mid[m] may be non-zero */
    uint64_t supervisor_pidns; /* inode of the supervisor's pid namespace */
    uint8_t reserved2[40];
    uint64_t ready_mid[PYSHIM_READY_WORDS / 64u]; /* bit w%64 of [w/64]: ready_low[w] may be non-zero */
    uint64_t ready_low[PYSHIM_READY_WORDS];       /* bit i%64 of [i/64]: channel i posted */
    /* The run's seccomp filter (struct sock_filter, 8 bytes an instruction)
     * for a process that execs a statically linked program: its shim
     * installs it just before that exec (PYSHIM_LEAVE_PTRACE), and the
     * supervisor's tracer serves the new image.  Written once, before the
     * program starts. */
    uint32_t filter_len;     /* instructions in `filter`, <= PYSHIM_FILTER_MAX */
    uint32_t reserved3;
    uint64_t filter[PYSHIM_FILTER_MAX];
};

/* ---- channel states (the futex word `state`) ---------------------------
 * shim:        IDLE or CANCELLED --posts an event--> EVENT
 *              REPLY --takes the reply--> IDLE
 *              HELD --withdraws its call (a signal handler ran)--> CANCELLED
 * supervisor:  EVENT --replies--> REPLY          EVENT --holds the call--> HELD
 *              HELD --claims it to answer--> COMPLETING --replies--> REPLY
 *              CANCELLED --acknowledges--> IDLE  EVENT(Exit) --> IDLE
 *              EVENT(AddThreadResult not asked to report) --> IDLE
 * Moves out of HELD and CANCELLED are compare-and-swaps: a withdrawal and
 * an answer race there, and exactly one wins.  PROTOCOL.md says who may
 * move which state where, and why no late answer reaches the next call. */
enum pyshim_channel_state {
    PYSHIM_CH_IDLE = 0,
    PYSHIM_CH_EVENT = 1,
    PYSHIM_CH_REPLY = 2,
    PYSHIM_CH_HELD = 3,
    PYSHIM_CH_COMPLETING = 4,
    PYSHIM_CH_CANCELLED = 5,
};

/* ---- events, shim -> supervisor ---------------------------------------- */
enum pyshim_event_tag {
    PYSHIM_EV_START = 1,       /* a new image or thread is ready; result = arm status */
    PYSHIM_EV_SYSCALL = 2,     /* nr, args: a subscribed or always-handled call   */
    PYSHIM_EV_SYSCALL_DONE = 3,/* result of a call the supervisor asked to see    */
    PYSHIM_EV_ADD_THREAD_RESULT = 4, /* parent: result of the clone it was told to do;
                                      * one-way unless AddThread said REPORT */
    PYSHIM_EV_EXIT = 5,        /* one-way: nr = exit or exit_group, args[0] = status */
};

/* event flags */
#define PYSHIM_EF_RESTARTED 1u /* SYSCALL: asked again after a handler interrupted its hold */
#define PYSHIM_EF_OTHER_PIDNS 2u /* the process is in another pid namespace than the supervisor */
#define PYSHIM_EF_PIDNS_MOVED 4u /* its children start in another pid namespace than its own */

struct pyshim_event {
    uint32_t tag;      /* enum pyshim_event_tag */
    uint32_t version;  /* PYSHIM_PROTOCOL_VERSION (START only)  */
    int32_t pid;
    int32_t tid;
    int64_t nr;        /* syscall number                        */
    uint64_t args[6];  /* raw register values rdi rsi rdx r10 r8 r9 */
    int64_t result;    /* SYSCALL_DONE: native result; START: 0 or -errno of arming */
    uint64_t ip;       /* address after the trapped syscall instruction */
    uint32_t flags;    /* PYSHIM_EF_* */
    uint32_t seq;      /* the thread's conversation number; the reply echoes it */
};

/* ---- replies, supervisor -> shim --------------------------------------- */
enum pyshim_reply_tag {
    PYSHIM_RE_START = 1,    /* subscribed set follows                      */
    PYSHIM_RE_NATIVE = 2,   /* run the call natively                       */
    PYSHIM_RE_COMPLETE = 3, /* the call returns `retval`                   */
    PYSHIM_RE_ADD_THREAD = 4, /* do the clone below, child on `child_block` */
    PYSHIM_RE_KILL = 5,     /* stop: the supervisor gives up on this process */
};

/* reply flags */
#define PYSHIM_RF_REPORT 1u /* NATIVE: send SYSCALL_DONE with the result and wait
                             * for COMPLETE; ADD_THREAD: wait for COMPLETE after
                             * ADD_THREAD_RESULT (else that event is one-way) */

struct pyshim_reply {
    uint32_t tag;   /* enum pyshim_reply_tag */
    uint32_t flags; /* PYSHIM_RF_* */
    int64_t retval; /* COMPLETE */
    uint8_t subscribed[PYSHIM_SUBSCRIBED_BYTES]; /* START: bit nr set = send to supervisor */
    /* ADD_THREAD: the clone to perform (seed: ShimEventAddThreadReq) */
    struct pyshim_block_desc child_block; /* the new thread's channel */
    uint64_t clone_flags;
    uint64_t child_stack;
    uint64_t ptid;
    uint64_t ctid;
    uint64_t newtls;
    uint32_t seq;   /* the `seq` of the event this answers */
    uint32_t reserved0;
};

/* ---- how a process's next exec leaves the run (channel `leave`) -------- */
enum pyshim_leave {
    PYSHIM_LEAVE_NOT = 0,    /* it stays: the new image gets the shim        */
    PYSHIM_LEAVE_TRACED = 1, /* a tracer took it: the new image runs without
                                pyshim                                        */
    PYSHIM_LEAVE_PTRACE = 2, /* it execs a static program, which the
                                supervisor's tracer has seized: the run's
                                seccomp filter (control `filter`) goes on
                                first, and the new image runs without the shim */
};

/* ---- channel: one per thread, one block each --------------------------- */
struct pyshim_channel {
    uint32_t state;        /* enum pyshim_channel_state; futex word        */
    uint32_t shim_sleeping;/* non-zero while the shim waits on `state`     */
    uint32_t magic;        /* PYSHIM_CHANNEL_MAGIC, written by supervisor  */
    uint32_t version;      /* PYSHIM_PROTOCOL_VERSION                      */
    uint32_t index;        /* the channel's bit in the run's ready set     */
    uint32_t leave;        /* enum pyshim_leave: how the next exec leaves
                              the run (set by the supervisor)             */
    uint8_t reserved0[40];
    struct pyshim_block_desc control; /* the run's control block           */
    struct pyshim_event event;        /* shim -> supervisor slot           */
    uint8_t reserved1[32];
    struct pyshim_reply reply;        /* supervisor -> shim slot           */
};

/* Blocks are this size; every channel fits in one. */
#define PYSHIM_BLOCK_SIZE 512u

/* ---- segments of a run ---------------------------------------------------
 * Segment n ("/pyshim-<run id>-<n>") holds slab n: PYSHIM_SLAB_BLOCKS
 * blocks, for the channels with ready-set indices n * PYSHIM_SLAB_BLOCKS
 * and up.  Segment 0 holds the control block at offset 0 and its slab at
 * PYSHIM_FIRST_SLAB_OFFSET, the first page boundary after the control
 * block: a run of up to PYSHIM_SLAB_BLOCKS threads has one segment to
 * create, map and unlink, and no page is both control block and channels.
 * The shim needs none of this (descriptors carry offsets); the supervisor
 * and inspection do. */
#define PYSHIM_SLAB_BLOCKS 64u
#define PYSHIM_PAGE_SIZE 4096u
#define PYSHIM_FIRST_SLAB_OFFSET \
    ((sizeof(struct pyshim_control) + PYSHIM_PAGE_SIZE - 1u) / PYSHIM_PAGE_SIZE * PYSHIM_PAGE_SIZE)

/* ---- compile-time layout checks (PROTOCOL.md lists the same numbers) --- */
#define PYSHIM_CHECK(type, field, off) \
    _Static_assert(offsetof(struct type, field) == (off), #type "." #field)

PYSHIM_CHECK(pyshim_block_desc, segment, 0);
PYSHIM_CHECK(pyshim_block_desc, offset, 48);
PYSHIM_CHECK(pyshim_block_desc, size, 56);
_Static_assert(sizeof(struct pyshim_block_desc) == 64, "block_desc size");

PYSHIM_CHECK(pyshim_control, magic, 0);
PYSHIM_CHECK(pyshim_control, version, 4);
PYSHIM_CHECK(pyshim_control, supervisor_pid, 8);
PYSHIM_CHECK(pyshim_control, supervisor_start, 16);
PYSHIM_CHECK(pyshim_control, program_pidns, 24);
PYSHIM_CHECK(pyshim_control, doorbell_seq, 64);
PYSHIM_CHECK(pyshim_control, sleepers, 68);
PYSHIM_CHECK(pyshim_control, ready_top, 72);
PYSHIM_CHECK(pyshim_control, supervisor_pidns, 80);
PYSHIM_CHECK(pyshim_control, ready_mid, 128);
PYSHIM_CHECK(pyshim_control, ready_low, 640);
PYSHIM_CHECK(pyshim_control, filter_len, 33408);
PYSHIM_CHECK(pyshim_control, filter, 33416);
_Static_assert(sizeof(struct pyshim_control) == 41608, "control size");
_Static_assert(PYSHIM_READY_WORDS / 64u <= 64u, "ready_top has a bit per ready_mid word");

PYSHIM_CHECK(pyshim_event, tag, 0);
PYSHIM_CHECK(pyshim_event, version, 4);
PYSHIM_CHECK(pyshim_event, pid, 8);
PYSHIM_CHECK(pyshim_event, tid, 12);
PYSHIM_CHECK(pyshim_event, nr, 16);
PYSHIM_CHECK(pyshim_event, args, 24);
PYSHIM_CHECK(pyshim_event, result, 72);
PYSHIM_CHECK(pyshim_event, ip, 80);
PYSHIM_CHECK(pyshim_event, flags, 88);
PYSHIM_CHECK(pyshim_event, seq, 92);
_Static_assert(sizeof(struct pyshim_event) == 96, "event size");

PYSHIM_CHECK(pyshim_reply, tag, 0);
PYSHIM_CHECK(pyshim_reply, flags, 4);
PYSHIM_CHECK(pyshim_reply, retval, 8);
PYSHIM_CHECK(pyshim_reply, subscribed, 16);
PYSHIM_CHECK(pyshim_reply, child_block, 80);
PYSHIM_CHECK(pyshim_reply, clone_flags, 144);
PYSHIM_CHECK(pyshim_reply, child_stack, 152);
PYSHIM_CHECK(pyshim_reply, ptid, 160);
PYSHIM_CHECK(pyshim_reply, ctid, 168);
PYSHIM_CHECK(pyshim_reply, newtls, 176);
PYSHIM_CHECK(pyshim_reply, seq, 184);
_Static_assert(sizeof(struct pyshim_reply) == 192, "reply size");

PYSHIM_CHECK(pyshim_channel, state, 0);
PYSHIM_CHECK(pyshim_channel, shim_sleeping, 4);
PYSHIM_CHECK(pyshim_channel, magic, 8);
PYSHIM_CHECK(pyshim_channel, version, 12);
PYSHIM_CHECK(pyshim_channel, index, 16);
PYSHIM_CHECK(pyshim_channel, leave, 20);
PYSHIM_CHECK(pyshim_channel, control, 64);
PYSHIM_CHECK(pyshim_channel, event, 128);
PYSHIM_CHECK(pyshim_channel, reply, 256);
_Static_assert(sizeof(struct pyshim_channel) == 448, "channel size");
_Static_assert(sizeof(struct pyshim_channel) <= PYSHIM_BLOCK_SIZE, "channel fits a block");
_Static_assert(PYSHIM_BLOCK_SIZE <= 4096, "budget: at most 4 KiB per thread");
_Static_assert(PYSHIM_FIRST_SLAB_OFFSET == 45056, "first slab offset");
_Static_assert(PYSHIM_FIRST_SLAB_OFFSET % PYSHIM_PAGE_SIZE == 0 &&
               PYSHIM_FIRST_SLAB_OFFSET >= sizeof(struct pyshim_control),
               "the first slab starts on a page of its own");

#undef PYSHIM_CHECK

#endif /* PYSHIM_IPC_H */
