/* Small freestanding helpers for code that runs inside the SIGSYS handler:
 * no allocation, no locks, no libc. */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "shim.h"

/* The string and memory helpers below: contract as their libc namesakes
 * (valid, non-overlapping buffers), without libc. */
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
    typedef uint64_t __attribute__((may_alias)) word;
    unsigned char *d = dst;
    uint64_t fill = (unsigned char)c * 0x0101010101010101ull;
    for (; n && ((uintptr_t)d & 7); n--) /* up to a word boundary */
        *d++ = (unsigned char)c;
    for (; n >= 8; n -= 8, d += 8) /* a word at a time: a context is 1 KiB */
        *(word *)d = fill;
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

/* Copies between our memory and the program's through process_vm_readv or
 * writev on ourselves, so that a bad program pointer yields -EFAULT (or a
 * short count), as the kernel would, instead of a fault inside the handler.
 * Returns the bytes copied.  Contract: `mine` is valid for n bytes. */
static long vm_copy(long nr, void *mine, void *theirs, size_t n)
{
    struct iovec local = {mine, n}, remote = {theirs, n};
    return RAW6(nr, RAW0(SYS_getpid), &local, 1, &remote, 1, 0);
}

long shim_copy_in(void *dst, const void *user_src, size_t n)
{
    return vm_copy(SYS_process_vm_readv, dst, (void *)user_src, n) == (long)n ? 0 : -EFAULT;
}

long shim_copy_out(void *user_dst, const void *src, size_t n)
{
    return vm_copy(SYS_process_vm_writev, (void *)src, user_dst, n) == (long)n ? 0 : -EFAULT;
}

size_t shim_copy_in_partial(void *dst, const void *user_src, size_t n)
{
    long r = vm_copy(SYS_process_vm_readv, dst, (void *)user_src, n);
    return r > 0 ? (size_t)r : 0;
}

size_t shim_gather_in(void *out, const void *const *from, size_t count, size_t n, long pid)
{
    struct iovec local = {out, count * n}, remote[SHIM_GATHER_MAX];
    if (count > SHIM_GATHER_MAX || n == 0)
        return 0;
    for (size_t i = 0; i < count; i++) {
        remote[i].iov_base = (void *)from[i];
        remote[i].iov_len = n;
    }
    long r = RAW6(SYS_process_vm_readv, pid, &local, 1, remote, count, 0);
    return r > 0 ? (size_t)r / n : 0;
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
