/* exec and vfork cases; argv[1] picks one. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
