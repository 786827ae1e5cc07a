/* The supervisor's liveness lock (see lock.h). */
#include <errno.h>
#include <pthread.h>

#include "lock.h"

_Static_assert(sizeof(pthread_mutex_t) == sizeof(((struct pyshim_control *)0)->supervisor_lock),
               "supervisor_lock holds exactly a pthread_mutex_t");
_Static_assert(_Alignof(pthread_mutex_t) <= 8, "supervisor_lock (offset 24) is aligned enough");

static pthread_mutex_t *mutex(struct pyshim_control *ctl)
{
    return (pthread_mutex_t *)(void *)ctl->supervisor_lock;
}

int pyshim_lock_init(struct pyshim_control *ctl)
{
    pthread_mutexattr_t attr;
    int r = pthread_mutexattr_init(&attr);
    if (!r)
        r = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (!r)
        r = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (!r)
        r = pthread_mutex_init(mutex(ctl), &attr);
    pthread_mutexattr_destroy(&attr);
    return r;
}

int pyshim_lock_hold(struct pyshim_control *ctl)
{
    int r = pthread_mutex_lock(mutex(ctl));
    if (r == EOWNERDEAD) /* cannot happen on a fresh run's lock; recover anyway */
        r = pthread_mutex_consistent(mutex(ctl));
    return r;
}

void pyshim_lock_release(struct pyshim_control *ctl)
{
    pthread_mutex_unlock(mutex(ctl));
}
