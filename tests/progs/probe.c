/* Makes a few calls a handler can answer and prints what it got back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "random")) {
            unsigned char buf[8] = {0};
            ssize_t n = getrandom(buf, sizeof buf, 0);
            printf("getrandom %zd:", n);
            for (int j = 0; j < 8; j++)
                printf(" %02x", buf[j]);
            printf("\n");
        } else if (!strcmp(argv[i], "ppid")) {
            printf("getppid %ld\n", (long)getppid());
        } else {
            int fd = open(argv[i], O_RDONLY);
            if (fd < 0)
                printf("open %s: %s\n", argv[i], strerror(errno));
            else
                printf("open %s: fd %d\n", argv[i], fd);
        }
    }
    return 0;
}
