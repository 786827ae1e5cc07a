/* The supervisor's thread leaves its program's CPU (see placement.h). */
#include <sched.h>

#include "placement.h"

int pyshim_leave_cpu(void)
{
    cpu_set_t allowed, one;
    int here = sched_getcpu();
    if (here < 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0 ||
        CPU_COUNT(&allowed) < 2)
        return -1;
    int there = -1;
    for (int i = 1; i < CPU_SETSIZE && there < 0; i++) {
        int cpu = (here + i) % CPU_SETSIZE;
        if (CPU_ISSET(cpu, &allowed))
            there = cpu;
    }
    if (there < 0 || there == here)
        return -1;
    CPU_ZERO(&one);
    CPU_SET(there, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0)
        return -1;
    if (sched_setaffinity(0, sizeof allowed, &allowed) != 0) {
        cpu_set_t all;
        CPU_ZERO(&all);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            CPU_SET(cpu, &all);
        sched_setaffinity(0, sizeof all, &all);
    }
    return there;
}
