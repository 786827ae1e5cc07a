/* Scenarios for held calls (deferred completion).
 *
 *   held two            thread A calls getppid at once; thread B, 0.2 s in,
 *                       makes 100 getppid calls: prints when each ended
 *   held read SA|noSA   SIGALRM after 0.1 s (with or without SA_RESTART)
 *                       while reading fd 10, a pipe a child writes "x" to
 *                       after 0.3 s: prints what read returned
 *   held many N         N threads, all alive at once, each calls getppid
 *                       once and expects its own tid back
 *   held order          thread A: getppid, then writes "A"; thread B:
 *                       getpid, then writes "B" (both start together)
 *   held race K sig     K getppid calls (K reads of /dev/zero with "read")
 *                       while a thread sends SIGUSR1 (no SA_RESTART; its
 *                       handler calls getpid) every 100-300 us: counts results
 *   held slow           main gives a worker thread 20 ms to publish: a
 *                       race that native runs never show (see slow())
 *   held longjmp        getppid, interrupted by SIGUSR1 whose handler
 *                       siglongjmps out with no syscall; then an SA_ONSTACK
 *                       SIGUSR2 handler fills a 16 KiB buffer, makes a
 *                       syscall and checks the buffer
 *   held sigsuspend     sigsuspend with SIGUSR1 blocked outside it
 *   held nanosleep      nanosleep(1 s) with a SIGALRM handler at 0.2 s
 *   held forking        getppid; the SIGUSR1 handler forks a child that
 *                       calls getppid and exits
 *   held forkjump       fork, interrupted by SIGUSR1, whose handler spins
 *                       0.5 s with no syscall (the clock is the vDSO's),
 *                       then siglongjmps out; then forks again
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double t0;

/* Installs `fn` for `sig` with `flags` and an empty sa_mask. */
static void handle(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigaction(sig, &sa, 0);
}

static void *two_b(void *arg)
{
    (void)arg;
    usleep(200000);
    double start = now();
    for (int i = 0; i < 100; i++)
        syscall(SYS_getppid);
    printf("B %.3f %.3f\n", start - t0, now() - t0);
    return 0;
}

static int two(void)
{
    pthread_t b;
    pthread_create(&b, 0, two_b, 0);
    syscall(SYS_getppid);
    printf("A %.3f\n", now() - t0);
    pthread_join(b, 0);
    return 0;
}

static volatile sig_atomic_t handled;
static void on_alarm(int sig)
{
    (void)sig;
    handled++;
}

static int read_interrupted(int restart)
{
    int p[2];
    if (pipe(p))
        return 2;
    dup2(p[0], 10);
    close(p[0]);
    pid_t child = fork();
    if (child == 0) {
        usleep(300000);
        write(p[1], "x", 1);
        _exit(0);
    }
    close(p[1]);
    handle(SIGALRM, on_alarm, restart ? SA_RESTART : 0);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, 0);
    char c;
    ssize_t n = read(10, &c, 1);
    int e = errno;
    printf("read=%zd errno=%s handler=%d\n", n, n < 0 ? strerrorname_np(e) : "-", (int)handled);
    waitpid(child, 0, 0);
    return 0;
}

static pthread_barrier_t all_started;

static void *many_one(void *arg)
{
    long *bad = arg;
    pthread_barrier_wait(&all_started);
    long got = syscall(SYS_getppid);
    if (got != syscall(SYS_gettid))
        __atomic_fetch_add(bad, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int many(int n)
{
    pthread_t *t = calloc(n, sizeof *t);
    long bad = 0;
    pthread_barrier_init(&all_started, 0, n);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], 0, many_one, &bad)) {
            printf("pthread_create %d failed\n", i);
            return 2;
        }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], 0);
    printf("threads=%d wrong=%ld\n", n, bad);
    return 0;
}

static pthread_barrier_t both;
static void *order_a(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&both);
    syscall(SYS_getppid);
    write(1, "A\n", 2);
    return 0;
}
static void *order_b(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&both);
    syscall(SYS_getpid);
    write(1, "B\n", 2);
    return 0;
}

static int order(void)
{
    pthread_t a, b;
    pthread_barrier_init(&both, 0, 2);
    pthread_create(&a, 0, order_a, 0);
    pthread_create(&b, 0, order_b, 0);
    pthread_join(a, 0);
    pthread_join(b, 0);
    return 0;
}

static volatile sig_atomic_t racing = 1, usr1;
static pthread_t race_main;
static void on_usr1(int sig)
{
    (void)sig;
    usr1++;
    syscall(SYS_getpid); /* a handler's own trapped call settles the hold */
}
static void *race_sender(void *arg)
{
    (void)arg;
    unsigned seed = 1;
    while (racing) {
        pthread_kill(race_main, SIGUSR1);
        usleep(100 + rand_r(&seed) % 200);
    }
    return 0;
}

static int race(int k, int use_read)
{
    handle(SIGUSR1, on_usr1, 0);
    int zero = open("/dev/zero", O_RDONLY);
    race_main = pthread_self();
    pthread_t sender;
    pthread_create(&sender, 0, race_sender, 0);
    long ok = 0, eintr = 0, other = 0;
    for (int i = 0; i < k; i++) {
        char c;
        long r = use_read ? read(zero, &c, 1) : syscall(SYS_getppid);
        if (r == (use_read ? 1 : 42))
            ok++;
        else if (r < 0 && errno == EINTR)
            eintr++;
        else
            other++;
    }
    racing = 0;
    pthread_join(sender, 0);
    printf("ok=%ld eintr=%ld other=%ld signals=%d\n", ok, eintr, other, usr1 > 0);
    return 0;
}

/* A thread "waits long enough" for another: it gives the worker 20 ms to
 * write its 40 records and publish, which natively takes microseconds. */
static volatile int published;
static void *worker(void *arg)
{
    (void)arg;
    int fd = open("/dev/null", O_WRONLY);
    for (int i = 0; i < 40; i++)
        write(fd, "record", 6);
    close(fd);
    published = 1;
    return 0;
}

static int slow(void)
{
    pthread_t w;
    pthread_create(&w, 0, worker, 0);
    usleep(20000); /* long enough, surely */
    int seen = published;
    pthread_join(w, 0);
    printf(seen ? "published in time\n" : "RACE: not published after 20 ms\n");
    return seen ? 0 : 1;
}

static sigjmp_buf jump;
static volatile int filled;
static volatile long bad_offset = -1;
static void jump_out(int sig)
{
    (void)sig;
    siglongjmp(jump, 1); /* no syscall on the way */
}
static void __attribute__((noinline)) fill_and_check(int sig)
{
    (void)sig;
    volatile unsigned char buf[16384];
    for (int i = 0; i < (int)sizeof buf; i++)
        buf[i] = 0xAA;
    syscall(SYS_getpid); /* traps: the abandoned hold is settled now */
    for (int i = 0; i < (int)sizeof buf; i++)
        if (buf[i] != 0xAA) {
            bad_offset = i;
            break;
        }
    filled = 1;
}

static int longjmp_out(void)
{
    handle(SIGUSR1, jump_out, 0);
    handle(SIGUSR2, fill_and_check, SA_ONSTACK);
    if (sigsetjmp(jump, 0) == 0) {
        long r = syscall(SYS_getppid);
        printf("not interrupted: %ld\n", r);
        return 1;
    }
    while (!filled)
        ; /* no syscalls until the SIGUSR2 handler ran */
    printf("jumped out; buffer intact: %s\n", bad_offset < 0 ? "yes" : "no");
    printf("getppid again: %s\n", syscall(SYS_getppid) > 0 ? "ok" : "failed");
    return 0;
}

static int suspend(void)
{
    handle(SIGUSR1, on_alarm, 0);
    sigset_t blocked, none;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigprocmask(SIG_BLOCK, &blocked, 0);
    sigemptyset(&none);
    double start = now();
    int r = sigsuspend(&none);
    printf("sigsuspend=%d errno=%s handler=%d after %.1f s\n", r, strerrorname_np(errno),
           (int)handled, now() - start);
    return 0;
}

static int sleep_interrupted(void)
{
    handle(SIGALRM, on_alarm, 0);
    struct itimerval it = {{0, 0}, {0, 200000}};
    setitimer(ITIMER_REAL, &it, 0);
    struct timespec req = {1, 0}, rem = {-1, -1};
    int r = nanosleep(&req, &rem);
    printf("nanosleep=%d errno=%s rem=%.1f\n", r, strerrorname_np(errno),
           rem.tv_sec + rem.tv_nsec / 1e9);
    return 0;
}

static void fork_child(int sig)
{
    (void)sig;
    pid_t child = fork();
    if (child == 0)
        _exit(syscall(SYS_getppid) > 0 ? 0 : 1);
    int status;
    waitpid(child, &status, 0);
    handled = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1 : -1;
}

static void spin_then_jump(int sig)
{
    (void)sig;
    double until = now() + 0.5;
    while (now() < until)
        ; /* the supervisor answers the fork meanwhile: no frame will claim it */
    siglongjmp(jump, 1);
}

static int fork_jump(void)
{
    handle(SIGUSR1, spin_then_jump, 0);
    if (sigsetjmp(jump, 1) == 0) {
        pid_t p = fork();
        if (p == 0)
            _exit(3);
        printf("not interrupted: %d\n", p > 0);
        return 1;
    }
    pid_t child = fork();
    if (child == 0)
        _exit(syscall(SYS_getppid) > 0 ? 0 : 1);
    int status;
    waitpid(child, &status, 0);
    printf("jumped out of a held fork; fork again: %s\n",
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "failed");
    return 0;
}

static int forking(void)
{
    handle(SIGUSR1, fork_child, 0);
    long r = syscall(SYS_getppid);
    printf("getppid=%s child=%s\n", r > 0 ? "ok" : "failed", handled == 1 ? "ok" : "failed");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    t0 = now();
    if (argc > 1 && !strcmp(argv[1], "two"))
        return two();
    if (argc > 2 && !strcmp(argv[1], "read"))
        return read_interrupted(!strcmp(argv[2], "SA"));
    if (argc > 2 && !strcmp(argv[1], "many"))
        return many(atoi(argv[2]));
    if (argc > 1 && !strcmp(argv[1], "order"))
        return order();
    if (argc > 3 && !strcmp(argv[1], "race"))
        return race(atoi(argv[2]), !strcmp(argv[3], "read"));
    if (argc > 1 && !strcmp(argv[1], "slow"))
        return slow();
    if (argc > 1 && !strcmp(argv[1], "longjmp"))
        return longjmp_out();
    if (argc > 1 && !strcmp(argv[1], "sigsuspend"))
        return suspend();
    if (argc > 1 && !strcmp(argv[1], "nanosleep"))
        return sleep_interrupted();
    if (argc > 1 && !strcmp(argv[1], "forking"))
        return forking();
    if (argc > 1 && !strcmp(argv[1], "forkjump"))
        return fork_jump();
    fprintf(stderr, "usage: held two|read SA|noSA|many N|order|race K getppid|read|slow|"
                    "longjmp|sigsuspend|nanosleep|forking|forkjump\n");
    return 2;
}
