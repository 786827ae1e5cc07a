/* Where the supervisor's thread runs while its program starts (placement.c).
 *
 * A spawned program starts on its parent's CPU (the kernel places a vfork
 * child there), and the parent, woken by the child's exec, takes that CPU
 * back: on kernels and VMs whose wake-up placement does not look for an idle
 * CPU (as on our 2-core CI machines), the supervisor's set-up and polling
 * and the program's loader then share one core while the other idles, and a
 * run's start-up costs the sum of both.  Moving the supervisor's thread to
 * another CPU lets the two overlap, but only when that CPU is idle: on a
 * busy one the thread would wait its turn there (milliseconds). */
#ifndef PYSHIM_PLACEMENT_H
#define PYSHIM_PLACEMENT_H

/* Moves the calling thread to the next CPU after its current one in its
 * allowed set when nothing but this thread and the program it just spawned
 * is runnable on the machine (/proc/loadavg), then gives the thread an
 * allowed set again: every CPU when that allows exactly the CPUs it had
 * (the usual unrestricted thread stays unrestricted, cpuset changes to come
 * included), else the set it had.  Returns the CPU it moved to, or -1 when
 * it stayed (one allowed CPU, more CPUs than a cpu_set_t holds, other work
 * runnable, or the kernel refused).
 * Contract: nothing else changes the thread's affinity meanwhile (a change
 * made in between is undone); the caller may be preempted for the move. */
int pyshim_leave_cpu(void);

#endif
