/* The preload library's constructor: join the run named in the environment. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "pyshim_sync.h"
#include "shim.h"

/* Keeps this library's path from LD_PRELOAD (entries are separated by ':'
 * or spaces), to give it to new images. */
static void remember_preload(const char *list)
{
    static const char name[] = "libpyshim_preload.so";
    const size_t name_len = sizeof name - 1;
    for (const char *p = list; p && *p;) {
        const char *end = p;
        while (*end && *end != ':' && *end != ' ')
            end++;
        size_t len = (size_t)(end - p);
        if (len >= name_len && len < sizeof shim_proc.preload &&
            shim_strncmp(end - name_len, name, name_len) == 0) {
            shim_memcpy(shim_proc.preload, p, len);
            shim_proc.preload[len] = 0;
            return;
        }
        p = *end ? end + 1 : end;
    }
}

/* Contract: runs once per image, single-threaded, before main; libc is
 * usable (getenv) because dispatch is not armed yet. */
__attribute__((constructor)) static void shim_init(void)
{
    const char *text = getenv(PYSHIM_ENV_CHANNEL);
    if (!text)
        return; /* not started by a supervisor: stay out of the way */

    shim_maps_adopt(getenv(PYSHIM_ENV_FDS));
    struct pyshim_block_desc desc;
    if (shim_parse_desc(text, &desc))
        shim_die("malformed " PYSHIM_ENV_CHANNEL " in the environment");
    struct pyshim_channel *ch = shim_map_block(&desc);
    if (!ch || desc.size < sizeof *ch)
        shim_die("cannot map the channel named in " PYSHIM_ENV_CHANNEL
                 " (is its supervisor gone?)");
    /* The program's own parent-death signal, before anything sets the
     * shim's (shim_await_channel may). */
    int pdeathsig = 0;
    RAW2(SYS_prctl, PR_GET_PDEATHSIG, &pdeathsig);
    int set_up = shim_await_channel(ch, &desc);
    if (set_up < 0)
        shim_die("the channel named in " PYSHIM_ENV_CHANNEL
                 " was never set up (is its supervisor gone?)");
    if (set_up == 0)
        shim_die("the channel named in " PYSHIM_ENV_CHANNEL
                 " is not in use (its thread has ended)");
    if (ch->magic != PYSHIM_CHANNEL_MAGIC || ch->version != PYSHIM_PROTOCOL_VERSION)
        shim_die("the channel's protocol version does not match this shim");
    /* The channel is this image's when this process posted on it last (its
     * execve) or nobody did (the run's first program).  Else the
     * environment came from elsewhere than the shim's exec: a process that
     * stopped trapping (a PTRACE_TRACEME child) exec'd with its parent's
     * environment.  Stay out of the way: the supervisor knows. */
    int32_t owner = __atomic_load_n(&ch->event.pid, __ATOMIC_ACQUIRE);
    if (owner != 0 && owner != (int32_t)RAW0(SYS_getpid))
        return;
    uint32_t exec_flags = ch->event.flags;

    struct pyshim_block_desc ctl_desc;
    shim_memcpy(&ctl_desc, &ch->control, sizeof ctl_desc);
    struct pyshim_control *ctl = shim_map_block(&ctl_desc);
    if (!ctl || ctl_desc.size < sizeof *ctl || ctl->magic != PYSHIM_CONTROL_MAGIC)
        shim_die("cannot map the run's control block");
    shim_proc.control = ctl;
    shim_memcpy(&shim_proc.control_desc, &ctl_desc, sizeof ctl_desc);
    shim_proc.supervisor_pid = ctl->supervisor_pid;
    shim_proc.sigsys_action.handler = (uintptr_t)SIG_DFL;

    /* The kernel's parent-death signal is the program's own across an exec
     * (exec.c hands it over); the shim's tie replaces it: the supervisor's
     * direct child dies with it at once (SIGKILL), other processes learn
     * from SIGSYS that their parent died and look whether the supervisor
     * did (signals.c). */
    shim_proc.pdeathsig = pdeathsig;
    shim_check_pidns(owner, exec_flags);
    shim_follow_supervisor();

    shim_check_tsc(); /* before the first wait (Start) */
    if (getenv(PYSHIM_ENV_SIGSYSFD))
        shim_sigsys_fd_inherit();
    shim_rewrite_init();
    if (RAW1(SYS_prctl, PR_GET_SECCOMP) == 2) /* a filter, kept across exec */
        shim_direct_off();
    if (shim_install_sigsys_handler() < 0)
        shim_die("cannot install the SIGSYS handler");
    long status;
    remember_preload(getenv("LD_PRELOAD"));
    struct shim_thread *t = shim_thread_init(ch, &desc, &status);
    if (!t)
        shim_die("no memory for the shim's signal stack");
    shim_sigsys_adopt(t); /* before anything can trap */
    shim_start(t, status);
}
