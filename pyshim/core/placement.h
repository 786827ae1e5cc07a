/* Where the supervisor's thread runs while its program starts (placement.c).
 *
 * A spawned program starts on its parent's CPU (the kernel places a vfork
 * child there), and the parent, woken by the child's exec, takes that CPU
 * back: on kernels and VMs whose wake-up placement does not look for an idle
 * CPU (as on our 2-core CI machines), the supervisor's set-up and polling
 * and the program's loader then share one core while the other idles, and a
 * run's start-up costs the sum of both.  Moving the supervisor's thread to
 * another CPU it may use lets the two overlap. */
#ifndef PYSHIM_PLACEMENT_H
#define PYSHIM_PLACEMENT_H

/* Moves the calling thread to the next CPU after its current one in its
 * allowed set, then gives the thread its allowed set back unchanged (the
 * kernel leaves a thread where it is when its set allows it).  Returns the
 * CPU it moved to, or -1 when it stayed (one allowed CPU, more CPUs than a
 * cpu_set_t holds, or the kernel refused: a cpuset changing meanwhile).
 * Contract: nothing else changes the thread's affinity meanwhile; if giving
 * the set back fails, the thread is given every CPU its cpuset allows
 * rather than stay pinned. */
int pyshim_leave_cpu(void);

#endif
