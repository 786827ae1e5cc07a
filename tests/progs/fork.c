/* Creates a child process: this version of pyshim must refuse clearly. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, 0, 0);
    printf("forked\n");
    return 0;
}
