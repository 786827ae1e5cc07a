/* What one hand-off between two processes costs on this machine: a parent
 * and a forked child, both pinned to CPU 0, pass a turn N times (argv[1])
 * through a shared word, each giving the CPU to the other with sched_yield
 * while it is not its turn: every turn is one context switch between two
 * address spaces, as between a program and its supervisor when they share
 * a CPU.  Prints nanoseconds per hand-off.  bench/bench_parallel.py uses it
 * for the floor that several runs at once cannot go under. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    volatile long *turn = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (turn == MAP_FAILED || sched_setaffinity(0, sizeof one, &one)) {
        perror("handoff");
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    long me = child == 0;
    for (long done = 0; done < n;) {
        if ((*turn & 1) == me) {
            ++*turn;
            done++;
        } else {
            sched_yield();
        }
    }
    if (child == 0)
        _exit(0);
    waitpid(child, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    printf("%lld\n", ns / (2 * n));
    return 0;
}
