/* The supervisor's thread leaves its program's CPU (see placement.h). */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "placement.h"

/* Tasks runnable on the machine now, this one included (the fourth field
 * of /proc/loadavg, "running/total"), or -1 if unknown. */
static int runnable_now(void)
{
    char text[128];
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    int running;
    if (n <= 0)
        return -1;
    text[n] = 0;
    return sscanf(text, "%*s %*s %*s %d/", &running) == 1 ? running : -1;
}

int pyshim_leave_cpu(void)
{
    cpu_set_t allowed, cpus;
    int here = sched_getcpu();
    if (here < 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0 ||
        CPU_COUNT(&allowed) < 2)
        return -1;
    int runnable = runnable_now();
    if (runnable < 0 || runnable > 2) /* this thread and its program */
        return -1;
    int there = here; /* another allowed CPU exists: at least two are */
    do
        there = (there + 1) % CPU_SETSIZE;
    while (!CPU_ISSET(there, &allowed));
    CPU_ZERO(&cpus);
    CPU_SET(there, &cpus);
    if (sched_setaffinity(0, sizeof cpus, &cpus) != 0)
        return -1;
    /* The kernel keeps the set asked for, not only the CPUs it allows now:
     * every CPU, unless that allows more than the thread had. */
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        CPU_SET(cpu, &cpus);
    sched_setaffinity(0, sizeof cpus, &cpus);
    if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || !CPU_EQUAL(&cpus, &allowed))
        sched_setaffinity(0, sizeof allowed, &allowed);
    return there;
}
