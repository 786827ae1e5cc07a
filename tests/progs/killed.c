/* A child dies by SIGKILL (it never says goodbye to its supervisor); then
 * the parent asks getppid until a supervisor answers 1 ("its channel is
 * free"), for at most ~10 s. */
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    if (pipe(fds))
        return 2;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        if (write(fds[1], "r", 1) != 1) /* running */
            _exit(2);
        for (;;)
            pause();
    }
    char c;
    if (read(fds[0], &c, 1) != 1)
        return 2;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    printf("child killed by signal %d\n", WTERMSIG(status));
    for (int i = 0; i < 10000; i++) {
        if (syscall(SYS_getppid) == 1) {
            printf("its channel was freed\n");
            return 0;
        }
        usleep(1000);
    }
    printf("its channel was never freed\n");
    return 1;
}
