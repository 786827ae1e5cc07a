/* The supervisor outlives a segment that shrinks under it (guard.c).
 *
 * A program of the run can open its own /dev/shm/pyshim-* segments (same
 * user) and truncate them; the supervisor's next access to a page past the
 * new end would raise SIGBUS and kill it.  Every segment the supervisor maps
 * is registered here; a SIGBUS inside one maps a private zero page over the
 * faulting page (the access then completes and reads zeros) and counts the
 * fault, and the dispatcher, seeing the count move, stops the run with a
 * message naming the processes whose channels were there.  Any other SIGBUS
 * goes to the handler that was installed before (faulthandler, say) or to
 * the default action. */
#ifndef PYSHIM_GUARD_H
#define PYSHIM_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define PYSHIM_GUARD_SLOTS 1024 /* segments mapped at once, all runs of the process */

/* Installs the SIGBUS handler unless it is installed already (someone else
 * may have replaced it since: it is put back, and theirs is chained).
 * Returns 0 or -errno.  Contract: not called concurrently with itself (the
 * caller holds the GIL). */
int pyshim_guard_install(void);

/* Registers [start, start + len) as a segment mapping.  Returns 0, or
 * -ENOSPC when every slot is taken (the segment then goes unguarded).
 * Contract: as pyshim_guard_install; the range stays mapped until
 * pyshim_guard_remove(start). */
int pyshim_guard_add(void *start, size_t len);

/* Forgets the range that starts at `start` (no-op if unknown).  Contract:
 * as pyshim_guard_install; call it after the range is unmapped. */
void pyshim_guard_remove(void *start);

/* How many pages have been repaired so far, in any range. */
uint64_t pyshim_guard_count(void);

/* Whether `addr` lies in a registered range that has faulted. */
int pyshim_guard_faulted(const void *addr);

#endif
