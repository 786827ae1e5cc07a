/*
 * In-process drivers of the shim's clone helpers (shim/clone.c), for tests:
 * create a thread or a process through shim_clone_thread /
 * shim_clone_process with a chosen register context, and report what the
 * child saw.  Part of pyshim._core; never used on the syscall path.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone_probe.h"
#include "clone.h"
#include "probe.h"

#define PROBE_CHECK(field, off) \
    _Static_assert(offsetof(struct probe_result, field) == (off), "probe_result." #field)
PROBE_CHECK(regs, PROBE_RAX);
PROBE_CHECK(regs[7], PROBE_RSP);
PROBE_CHECK(regs[15], PROBE_R15);
PROBE_CHECK(mxcsr, PROBE_MXCSR);
PROBE_CHECK(xmm0, PROBE_XMM0);
PROBE_CHECK(landed, PROBE_LANDED);

void pyshim_probe_landing(void) __attribute__((visibility("hidden")));

#define PROBE_STACK (64 * 1024)

/* Runs in the child before it resumes: reports its block and stack. */
static void record_start(struct shim_child_start *s)
{
    struct probe_result *out = (struct probe_result *)s->ctx.rsp;
    out->desc = s->desc;
    out->init_frame = (uint64_t)__builtin_frame_address(0);
    out->tid = (int32_t)RAW0(SYS_gettid);
    out->pid = (int32_t)RAW0(SYS_getpid);
}

/* A shared mapping: a stack, then the result right at its top. */
static char *map_area(void)
{
    void *p = mmap(0, PROBE_STACK + 4096, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? 0 : p;
}

/* Fills ctx with `regs` (rax..r15 in probe order), the current FPU state
 * with MXCSR and xmm0 replaced, resuming at the probe on `stack`. */
static void prepare(struct shim_context *ctx, const uint64_t regs[16], uint32_t mxcsr,
                    const uint8_t xmm0[16], uint64_t stack)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->rax = regs[0];
    ctx->rbx = regs[1];
    ctx->rcx = regs[2];
    ctx->rdx = regs[3];
    ctx->rsi = regs[4];
    ctx->rdi = regs[5];
    ctx->rbp = regs[6];
    ctx->r8 = regs[8];
    ctx->r9 = regs[9];
    ctx->r10 = regs[10];
    ctx->r11 = regs[11];
    ctx->r12 = regs[12];
    ctx->r13 = regs[13];
    ctx->r14 = regs[14];
    ctx->r15 = regs[15];
    ctx->rsp = stack;
    ctx->rip = (uint64_t)pyshim_probe_landing;
    __asm__ volatile("fxsave64 %0" : "=m"(ctx->fx));
    memcpy(ctx->fx + 24, &mxcsr, sizeof mxcsr); /* fxsave layout: MXCSR at 24 */
    memcpy(ctx->fx + 160, xmm0, 16);            /* xmm0 at 160 */
    ctx->fpu = CTX_FPU_FX;
    ctx->fpu_size = 512;
}

/* The start block of a probe child resuming on `area`'s stack; returns
 * that stack's top (where the probe writes its result). */
static uint64_t prepare_start(struct shim_child_start *start, char *area, const uint64_t regs[16],
                              uint32_t mxcsr, const uint8_t xmm0[16],
                              const struct pyshim_block_desc *desc)
{
    uint64_t stack = (uint64_t)(area + PROBE_STACK);
    memset(start, 0, sizeof *start);
    prepare(&start->ctx, regs, mxcsr, xmm0, stack);
    start->desc = *desc;
    start->init = record_start;
    return stack;
}

long pyshim_probe_clone_thread(const uint64_t regs[16], uint32_t mxcsr, const uint8_t xmm0[16],
                               const struct pyshim_block_desc *desc, struct probe_result *out)
{
    char *area = map_area();
    if (!area)
        return -ENOMEM;
    struct shim_child_start start;
    uint64_t stack = prepare_start(&start, area, regs, mxcsr, xmm0, desc);

    /* The kernel sets `tid` before clone returns and clears it, waking the
     * futex, when the thread is gone: then its stack may be unmapped. */
    volatile int32_t tid = 0;
    uint64_t flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                     CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    long r = shim_clone_thread(&start, flags, stack, (uint64_t)&tid, (uint64_t)&tid, 0);
    if (r > 0) {
        int32_t seen;
        while ((seen = tid) != 0)
            syscall(SYS_futex, &tid, FUTEX_WAIT, seen, 0, 0, 0);
        memcpy(out, (void *)stack, sizeof *out);
    }
    munmap(area, PROBE_STACK + 4096);
    return r;
}

long pyshim_probe_clone_process(const uint64_t regs[16], uint32_t mxcsr, const uint8_t xmm0[16],
                                const struct pyshim_block_desc *desc, int switch_stack,
                                struct probe_result *out, int *status)
{
    char *area = map_area();
    if (!area)
        return -ENOMEM;
    struct shim_child_start start;
    uint64_t stack = prepare_start(&start, area, regs, mxcsr, xmm0, desc);

    long r = shim_clone_process(SIGCHLD, 0, 0, 0);
    if (r == 0) {
        /* The child: no libc from here on (it may have been forked from a
         * multithreaded process).  Report its return value, then resume
         * like do_clone_process does when a stack is given. */
        struct probe_result *res = (struct probe_result *)stack;
        res->clone_rax = 0;
        if (!switch_stack) {
            res->desc = start.desc;
            res->pid = (int32_t)RAW0(SYS_getpid);
            res->landed = 2;
            RAW1(SYS_exit_group, 0);
        }
        start.ctx.rax = 0;
        start.init(&start);
        pyshim_set_context(&start.ctx);
    }
    if (r > 0) {
        if (waitpid((pid_t)r, status, 0) != r)
            r = -errno;
        memcpy(out, (void *)stack, sizeof *out);
    }
    munmap(area, PROBE_STACK + 4096);
    return r;
}
