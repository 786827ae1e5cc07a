/* Calls whose libc sites the shim rewrites once their traps proved
 * them (shim/rewrite.c), checked result by result.
 *
 *   rewrite count N   getppid() and access("/") N times each; prints how
 *                     many getppid results equal the first, and how many
 *                     access calls succeeded
 *   rewrite many N    N rounds of 16 different calls, each at its own libc
 *                     site, in turn; prints how many rounds gave the first
 *                     round's results
 *   rewrite fork      getppid() a few times, then fork: the child inherits
 *                     the rewritten code and calls it 100 times
 *   rewrite threads   8 threads x 5000 x (uname + getppid) at once, so the
 *                     site is rewritten while other threads run it
 *
 * getdents64 and getcwd have sites whose mov straddles an aligned 8-byte
 * word (rewritten with two stores, or one when the second word keeps its
 * bytes):
 *
 *   rewrite site CALL  how libc's site for CALL (getdents64 or getcwd)
 *                      lies, found by the shim's rule: "getdents64 4+1"
 *                      when an aligned word boundary splits its mov after
 *                      4 bytes, "getdents64 5" when it does not, "getdents64
 *                      none" when there is no such site
 *   rewrite readdir DIR N
 *                      reads DIR N times (opendir, readdir, closedir);
 *                      prints the entries per round if all rounds agree
 *   rewrite dirs DIR ENTRIES N
 *                      16 threads released at once, each N x (read DIR,
 *                      expecting ENTRIES entries; getcwd(NULL, 0) from
 *                      DIR, expecting DIR), so the sites are rewritten
 *                      while other threads run them; the main thread
 *                      makes neither call before */
#define _GNU_SOURCE /* getdents64 */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t parent;
static struct utsname expected;

static void *hammer(void *arg)
{
    long bad = 0;
    for (int i = 0; i < 5000; i++) {
        struct utsname u;
        if (uname(&u) != 0 || strcmp(u.release, expected.release) != 0)
            bad++;
        if (getppid() != parent)
            bad++;
    }
    return (void *)bad;
}

/* Where an aligned 8-byte boundary splits the site `mov $nr, %eax;
 * syscall` (b8 imm32 0f 05, imm32 = nr) among the first 256 bytes of
 * libc's function `fn`, the site shim/rewrite.c would rewrite: the mov's
 * bytes before the boundary (1 to 4), 5 if it lies in one word, 0 if there
 * is no such site. */
static int split(const void *fn, uint32_t nr)
{
    const unsigned char *code = fn;
    for (int i = 0; i < 256; i++) {
        uint32_t imm;
        memcpy(&imm, code + i + 1, 4);
        if (code[i] == 0xb8 && imm == nr && code[i + 5] == 0x0f && code[i + 6] == 0x05) {
            uintptr_t at = (uintptr_t)(code + i) % 8;
            return at <= 3 ? 5 : (int)(8 - at);
        }
    }
    return 0;
}

/* Prints how libc's site for `call` lies (see "rewrite site"); 0 if the
 * call is not one this program knows. */
static int print_site(const char *call)
{
    int k;
    if (strcmp(call, "getcwd") == 0)
        k = split((const void *)getcwd, SYS_getcwd);
    else if (strcmp(call, "getdents64") == 0)
        k = split((const void *)getdents64, SYS_getdents64);
    else
        return 0;
    if (k == 0)
        printf("%s none\n", call);
    else if (k == 5)
        printf("%s 5\n", call);
    else
        printf("%s %d+%d\n", call, k, 5 - k);
    return 1;
}

/* Entries of `dir` (opendir, readdir, closedir); -1 if it cannot be read. */
static long entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static struct {
    const char *dir;
    long entries, rounds;
    pthread_barrier_t go;
} dirs;

static void *read_dirs(void *arg)
{
    (void)arg;
    long bad = 0;
    pthread_barrier_wait(&dirs.go);
    for (long i = 0; i < dirs.rounds; i++) {
        char *cwd = getcwd(NULL, 0);
        if (!cwd || strcmp(cwd, dirs.dir) != 0)
            bad++;
        free(cwd);
        if (entries(".") != dirs.entries)
            bad++;
    }
    return (void *)bad;
}

/* One round of 16 calls at 16 libc sites, summed into one number. */
static long sixteen(void)
{
    struct sysinfo si;
    struct utsname u;
    long sum = getppid() + getuid() + geteuid() + getgid() + getegid() + getpgrp() + getpid() +
               gettid() + sched_yield() + getpriority(PRIO_PROCESS, 0) +
               sched_getscheduler(0) + getsid(0) + getpgid(0) + sysinfo(&si) + uname(&u);
    mode_t old = umask(022);
    umask(old);
    return sum + old;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    parent = getppid();
    if (strcmp(mode, "count") == 0 && argc > 2) {
        long n = atol(argv[2]), same = 0, ok = 0;
        for (long i = 0; i < n; i++) {
            same += getppid() == parent;
            ok += access("/", F_OK) == 0;
        }
        printf("getppid %ld/%ld same, access %ld/%ld ok\n", same, n, ok, n);
        return 0;
    }
    if (strcmp(mode, "many") == 0 && argc > 2) {
        long n = atol(argv[2]), first = sixteen(), same = 0;
        for (long i = 0; i < n; i++)
            same += sixteen() == first;
        printf("many: %ld/%ld rounds the same\n", same, n);
        return 0;
    }
    if (strcmp(mode, "fork") == 0) {
        for (int i = 0; i < 5; i++)
            getppid();
        pid_t me = getpid(), child = fork();
        if (child == 0) {
            for (int i = 0; i < 100; i++)
                if (getppid() != me)
                    _exit(1);
            _exit(0);
        }
        int status;
        waitpid(child, &status, 0);
        printf("child saw its parent: %s\n",
               WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");
        return 0;
    }
    if (strcmp(mode, "threads") == 0) {
        uname(&expected);
        pthread_t t[8];
        long bad = 0;
        for (int i = 0; i < 8; i++)
            if (pthread_create(&t[i], NULL, hammer, NULL) != 0)
                return 1;
        for (int i = 0; i < 8; i++) {
            void *r;
            pthread_join(t[i], &r);
            bad += (long)r;
        }
        printf("threads: %ld wrong results\n", bad);
        return 0;
    }
    if (strcmp(mode, "site") == 0 && argc > 2 && print_site(argv[2]))
        return 0;
    if (strcmp(mode, "readdir") == 0 && argc > 3) {
        long n = atol(argv[3]), first = entries(argv[2]), same = 0;
        for (long i = 1; i < n; i++)
            same += entries(argv[2]) == first;
        if (same == n - 1)
            printf("readdir: %ld rounds of %ld entries\n", n, first);
        else
            printf("readdir: %ld of %ld rounds differ\n", n - 1 - same, n);
        return 0;
    }
    if (strcmp(mode, "dirs") == 0 && argc > 4) {
        enum { THREADS = 16 };
        dirs.dir = argv[2];
        dirs.entries = atol(argv[3]);
        dirs.rounds = atol(argv[4]);
        if (chdir(dirs.dir) != 0)
            return 1;
        pthread_barrier_init(&dirs.go, NULL, THREADS);
        pthread_t t[THREADS];
        long bad = 0;
        for (int i = 0; i < THREADS; i++)
            if (pthread_create(&t[i], NULL, read_dirs, NULL) != 0)
                return 1;
        for (int i = 0; i < THREADS; i++) {
            void *r;
            pthread_join(t[i], &r);
            bad += (long)r;
        }
        printf("dirs: %ld wrong results\n", bad);
        return 0;
    }
    fprintf(stderr, "usage: rewrite count N | fork | threads | site CALL | readdir DIR N"
                    " | dirs DIR ENTRIES N\n");
    return 2;
}
