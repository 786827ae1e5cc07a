/* failexec: the main thread's execve blocks on a userfaultfd page (its
 * argv[1] string) until the test says so, then fails (ENOENT interpreter);
 * the program then says it is still running.  Prints "fault" once the
 * exec is blocked. */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static long uffd;
static char *page;

static void *handler(void *arg)
{
    (void)arg;
    struct pollfd p = {(int)uffd, POLLIN, 0};
    poll(&p, 1, -1);
    struct uffd_msg msg;
    if (read((int)uffd, &msg, sizeof msg) != sizeof msg) _exit(3);
    if (write(1, "fault\n", 6) < 0) _exit(3);
    char c;
    if (read(0, &c, 1) < 0) _exit(3); /* the test killed the supervisor */
    static char src[4096] __attribute__((aligned(4096)));
    strcpy(src, "x");
    struct uffdio_copy cp = {.dst = (unsigned long)page, .src = (unsigned long)src, .len = 4096};
    ioctl((int)uffd, UFFDIO_COPY, &cp);
    return 0;
}

int main(int argc, char **argv, char **envp)
{
    if (argc < 2) return 2;
    uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
    if (uffd < 0) { perror("userfaultfd"); return 2; }
    struct uffdio_api api = {.api = UFFD_API};
    if (ioctl((int)uffd, UFFDIO_API, &api)) { perror("api"); return 2; }
    page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct uffdio_register reg = {.range = {(unsigned long)page, 4096},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl((int)uffd, UFFDIO_REGISTER, &reg)) { perror("register"); return 2; }
    pthread_t th;
    pthread_create(&th, 0, handler, 0);
    char *args[] = {argv[1], page, 0};
    execve(argv[1], args, envp);
    pthread_join(th, 0);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "survived %d\n", (int)getppid());
    if (write(1, msg, n) < 0) return 3;
    return 0;
}
