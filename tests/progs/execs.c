/* exec and vfork cases; argv[1] picks one. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *target;

static void *exec_from_thread(void *arg)
{
    (void)arg;
    char *argv[] = {(char *)target, "from a thread", 0};
    execv(target, argv);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    target = argc > 2 ? argv[2] : "/bin/echo";
    if (!strcmp(mode, "failed")) {
        char *args[] = {"/nonexistent/program", 0};
        execv(args[0], args);
        printf("exec failed: %s; still here, pid %s\n", strerror(errno),
               getpid() > 0 ? "ok" : "odd");
        return 0;
    }
    if (!strcmp(mode, "thread")) {
        pthread_t t;
        pthread_create(&t, 0, exec_from_thread, 0);
        pthread_join(t, 0); /* never returns: the exec replaces us */
        return 1;
    }
    if (!strcmp(mode, "emptyenv")) {
        char *args[] = {"/usr/bin/env", 0};
        char *env[] = {"ONLY=this", 0};
        execve(args[0], args, env);
        return 1;
    }
    if (!strcmp(mode, "bigenv")) { /* 3000 variables: /usr/bin/env lists them */
        int n = 3000;
        char **env = calloc(n + 1, sizeof *env);
        for (int i = 0; i < n; i++)
            if (asprintf(&env[i], "V%d=%d", i, i * 7) < 0)
                return 1;
        char *args[] = {"/usr/bin/env", 0};
        execve(args[0], args, env);
        return 1;
    }
    if (!strcmp(mode, "edgeenv")) { /* a short variable ending a page, nothing mapped after */
        char *page = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED || munmap(page + 4096, 4096))
            return 1;
        char *edge = page + 4096 - 4;
        memcpy(edge, "E=1", 4);
        char *args[] = {"/usr/bin/env", 0};
        char *env[] = {"A=b", edge, "Z=y", 0};
        execve(args[0], args, env);
        return 1;
    }
    if (!strcmp(mode, "holeenv")) { /* strings on two pages with a hole between */
        char *pages = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pages == MAP_FAILED || munmap(pages + 4096, 4096))
            return 1;
        static const char preload[] = "LD_PRELOAD=libc.so.6";
        char *first = pages + 4096 - sizeof preload; /* ends the page before the hole */
        memcpy(first, preload, sizeof preload);
        memcpy(pages, "A=1", 4);
        memcpy(pages + 2 * 4096, "B=2", 4);
        char *args[] = {"/usr/bin/env", 0};
        char *env[] = {pages, first, pages + 2 * 4096, 0};
        execve(args[0], args, env);
        return 1;
    }
    if (!strcmp(mode, "badenv")) { /* an unreadable variable: EFAULT, and still here */
        char *args[] = {"/usr/bin/env", 0};
        char *env[] = {"A=b", (char *)0xdead0000, 0};
        execve(args[0], args, env);
        printf("exec: %s\n", strerror(errno));
        return 0;
    }
    if (!strcmp(mode, "vfork")) {
        volatile int x = 0;
        pid_t pid = vfork();
        if (pid == 0) {
            x = 42; /* the parent, suspended until we exit, sees this */
            _exit(3);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("vfork: parent sees %d, child exited %d\n", x, WEXITSTATUS(status));
        return 0;
    }
    if (!strcmp(mode, "spawn")) {
        pid_t pid;
        char *missing[] = {"/nonexistent", 0};
        int r = posix_spawn(&pid, missing[0], 0, 0, missing, environ);
        printf("posix_spawn of a missing program: %s\n", strerror(r));
        char *echo[] = {"/bin/echo", "spawned", 0};
        r = posix_spawn(&pid, echo[0], 0, 0, echo, environ);
        int status;
        waitpid(pid, &status, 0);
        printf("posix_spawn: %d, child exited %d\n", r, WEXITSTATUS(status));
        return 0;
    }
    fprintf(stderr, "usage: execs failed|thread PROG|emptyenv|vfork|spawn\n");
    return 2;
}
