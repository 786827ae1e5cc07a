/* Small freestanding helpers for code that runs inside the SIGSYS handler:
 * no allocation, no locks, no libc. */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "shim.h"

size_t shim_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

void shim_memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
}

void shim_memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
}

int shim_strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return (unsigned char)a[i] - (unsigned char)b[i];
        if (!a[i])
            return 0;
    }
    return 0;
}

/* Contract: msg is a NUL-terminated string of any length; only the first
 * 240 bytes are written. */
void shim_say(const char *msg)
{
    char buf[256] = "pyshim: ";
    size_t n = 8;
    for (size_t i = 0; msg[i] && n < sizeof buf - 1; i++)
        buf[n++] = msg[i];
    buf[n++] = '\n';
    RAW3(SYS_write, 2, buf, n);
}

void shim_die(const char *msg)
{
    if (msg)
        shim_say(msg);
    RAW2(SYS_kill, RAW0(SYS_getpid), SIGKILL);
    for (;;)
        RAW1(SYS_exit_group, 137);
}

/* Copies through process_vm_readv/writev on ourselves so that a bad program
 * pointer yields -EFAULT, as the kernel would return, instead of a fault
 * inside the handler.  Contract: `dst`/`src` on the shim's side are valid. */
long shim_copy_in(void *dst, const void *user_src, size_t n)
{
    struct iovec local = {dst, n}, remote = {(void *)user_src, n};
    long r = RAW6(SYS_process_vm_readv, RAW0(SYS_getpid), &local, 1, &remote, 1, 0);
    return r == (long)n ? 0 : -EFAULT;
}

long shim_copy_out(void *user_dst, const void *src, size_t n)
{
    struct iovec local = {(void *)src, n}, remote = {user_dst, n};
    long r = RAW6(SYS_process_vm_writev, RAW0(SYS_getpid), &local, 1, &remote, 1, 0);
    return r == (long)n ? 0 : -EFAULT;
}

size_t shim_copy_in_partial(void *dst, const void *user_src, size_t n)
{
    struct iovec local = {dst, n}, remote = {(void *)user_src, n};
    long r = RAW6(SYS_process_vm_readv, RAW0(SYS_getpid), &local, 1, &remote, 1, 0);
    return r > 0 ? (size_t)r : 0;
}

size_t shim_utoa(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}
