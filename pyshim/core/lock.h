/* The supervisor's liveness lock in a run's control block (lock.c): a
 * process-shared robust mutex its serving thread holds for the whole run.
 * The kernel clears the owner's tid in the lock word when that thread (or
 * its process) dies, which shims read without any pid (ipc/PROTOCOL.md). */
#ifndef PYSHIM_LOCK_H
#define PYSHIM_LOCK_H

#include "pyshim_ipc.h"

/* Makes `ctl->supervisor_lock` a free process-shared robust mutex.
 * Returns 0 or an errno.  Contract: nobody uses the lock yet. */
int pyshim_lock_init(struct pyshim_control *ctl);

/* Takes the lock for the calling thread (the one that serves the run).
 * Returns 0 or an errno.  Contract: called once per run, with the lock
 * free, before the run's program is started. */
int pyshim_lock_hold(struct pyshim_control *ctl);

/* Gives the lock back.  Contract: the calling thread holds it. */
void pyshim_lock_release(struct pyshim_control *ctl);

#endif
