/* The direct entry: calls at rewritten sites that the shim must see
 * (emulate, or send to the supervisor) without the SIGSYS delivery.
 *
 * A trap costs the kernel a signal frame: ~1.8 us here for a call that
 * natively takes 0.1.  Two kinds of libc sites are rewritten (rewrite.c)
 * to a stub that jumps to asm/direct.S: those of calls someone subscribed
 * (every call under `pyshim trace` or `--trap all`) that the shim would
 * otherwise run natively, and those of the calls it emulates that need
 * nothing of a trapped context but its mask (rt_sigprocmask, rt_sigaction:
 * about twenty in each iteration of a shell loop, a thousand in Python's
 * start).  The entry saves the program's registers, moves to the thread's
 * shim altstack and calls shim_direct: the same shim_syscall the SIGSYS
 * handler calls, with the same signal mask in force (the program's), on
 * the same stack, so that what happens there (a conversation, a hold, a
 * native call a program handler interrupts, EINTR or a restart) happens
 * as after a trap.
 *
 * What the handler gets that this entry does not is a context made by the
 * kernel.  So the entry is taken only where nothing would use one:
 * execute() reads none for the calls rewrite.c may rewrite, and the two
 * emulations above write only uc_sigmask (which equals the mask then in
 * force) and, when SIGSYS is unblocked, deliver a pending SIGSYS: to a
 * handler of the program's, that one is queued again for the kernel to
 * deliver with a frame of its own (SHIM_UC_DIRECT, sigsys.c).  Anything
 * unusual in the thread (a held call or a signalfd wait going on, a vfork
 * child, the SIGSYS signalfd mode) or the process (a traced thread, a
 * seccomp filter: shim_direct_off) sends the call back to the site's
 * syscall, which traps. */
#include "direct.h"
#include "shim.h"

int32_t pyshim_direct_off;

struct shim_direct_frame {
    uint64_t rbx, r9, r8, r10, rdx, rsi, rdi, rax, rflags, ret;
};
_Static_assert(offsetof(struct shim_direct_frame, rbx) == DIRECT_RBX, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, r9) == DIRECT_R9, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, r8) == DIRECT_R8, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, r10) == DIRECT_R10, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, rdx) == DIRECT_RDX, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, rsi) == DIRECT_RSI, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, rdi) == DIRECT_RDI, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, rax) == DIRECT_RAX, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, rflags) == DIRECT_RFLAGS, "direct.h");
_Static_assert(offsetof(struct shim_direct_frame, ret) == DIRECT_RET, "direct.h");
_Static_assert(sizeof(struct shim_direct_frame) == DIRECT_SIZE, "direct.h");
_Static_assert(DIRECT_RET == DIRECT_SIZE - 8 && DIRECT_RFLAGS == DIRECT_RET - 8,
               "direct.S pushes the flags first, below the return address");
/* What asm/direct.S knows of the shim's altstack and of sigaltstack. */
_Static_assert(DIRECT_STACK_START == SHIM_STACK_START, "direct.h");
_Static_assert(DIRECT_ALTSTACK_SIZE == SHIM_ALTSTACK_SIZE, "direct.h");
_Static_assert(DIRECT_SS_DISABLE == SS_DISABLE, "direct.h");
_Static_assert(offsetof(stack_t, ss_sp) == DIRECT_SS_SP, "direct.h");
_Static_assert(offsetof(stack_t, ss_flags) == DIRECT_SS_FLAGS, "direct.h");
_Static_assert(offsetof(stack_t, ss_size) == DIRECT_SS_SIZE, "direct.h");
_Static_assert(sizeof(stack_t) <= DIRECT_SS_ROOM && DIRECT_SS_ROOM % 16 == 0, "direct.h");

/* Whether this thread may take the direct entry now.  Contract: `t` is the
 * calling thread's state (its altstack holds the caller's frame). */
static int direct_ok(const struct shim_thread *t)
{
    if (t->magic != SHIM_THREAD_MAGIC || t->vfork_child || t->held_seq || t->nsettled ||
        t->sfd_depth)
        return 0;
    /* The SIGSYS signalfd mode (sigsysfd.c: wrap_handlers is set before
     * sigsys_fd).  pyshim_direct_off: asm/direct.S looked. */
    return !__atomic_load_n(&shim_proc.wrap_handlers, __ATOMIC_ACQUIRE);
}

/* Runs the call in the frame, or leaves the frame alone to send it back to
 * the site's syscall, which traps.  Contract: called only by
 * asm/direct.S, on the calling thread's shim altstack, with `f` the
 * program's registers it saved (f->rax the stub's number, f->ret the
 * site's syscall instruction). */
void shim_direct(struct shim_direct_frame *f)
{
    struct shim_thread *t = shim_thread_self();
    long nr = (long)(uint32_t)f->rax;
    /* (A stub of the direct kind was written only for a call rewrite.c
     * judged so; nothing it judged by changes but pyshim_direct_off.) */
    if (!direct_ok(t))
        return;
    uint64_t after = f->ret + 2; /* past the site's 2-byte syscall */
    /* What an emulation may read of the context: the program's registers
     * at the call (rsp and rip as after the trap), no fpregs; it writes
     * uc_sigmask, and nothing reads what lies past it (__fpregs_mem). */
    ucontext_t uc;
    shim_memset(&uc, 0, offsetof(ucontext_t, uc_sigmask));
    uc.uc_flags = SHIM_UC_DIRECT;
    greg_t *g = uc.uc_mcontext.gregs;
    g[REG_RDI] = (greg_t)f->rdi;
    g[REG_RSI] = (greg_t)f->rsi;
    g[REG_RDX] = (greg_t)f->rdx;
    g[REG_R10] = (greg_t)f->r10;
    g[REG_R8] = (greg_t)f->r8;
    g[REG_R9] = (greg_t)f->r9;
    g[REG_RBX] = (greg_t)f->rbx;
    g[REG_RAX] = (greg_t)nr;
    g[REG_EFL] = (greg_t)f->rflags;
    g[REG_RSP] = (greg_t)((uintptr_t)f + DIRECT_SIZE);
    g[REG_RIP] = (greg_t)after;
    long args[6] = {(long)f->rdi, (long)f->rsi, (long)f->rdx, (long)f->r10, (long)f->r8,
                    (long)f->r9};
    f->rax = (uint64_t)shim_syscall(t, nr, args, &uc, after);
    f->ret = after;
}
