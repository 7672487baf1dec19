/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_affinity.c: keeping each child process of a threaded MPM on
 * a CPU of its own (see apwsgi_affinity.h).
 *
 * The choice is made at child init, among the CPUs the process may use
 * (sched_getaffinity: a cpuset or taskset already applied is honoured):
 * the one the fewest other live children chose (the shared figures keep
 * each child's choice), children starting together told apart by their
 * slot there.  It is applied by the first request
 * the process serves with Python, since only a request carries the
 * mod_wsgi.cpu_affinity key: every thread listed in /proc/self/task is
 * moved, the MPM's listener and workers included, and threads started
 * later inherit the CPU from the thread that starts them.
 */
#include "apwsgi_affinity.h"
#include "apwsgi_metrics.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "apr_atomic.h"

/* Written at child init, before any request; read-only after. */
static cpu_set_t allowed; /* the CPUs the process may use */
static cpu_set_t home;    /* the one CPU of this process */
static int usable;        /* threaded MPM, and more than one CPU */
static int fits;          /* Apache may run a child per CPU or more */

/* Where the process stands; atomic, moved on by compare-and-swap. */
enum { UNDECIDED, DECIDING, PINNED, LEFT, RELEASED };
static volatile apr_uint32_t state;

/* The CPU for this child: of the allowed CPUs the fewest other
 * children took (`taken`, by CPU), the `index`-th round robin. */
static int
choose_cpu(const int *taken, int index)
{
    int least = -1;
    int ties = 0;

    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) {
            continue;
        }
        if (least < 0 || taken[cpu] < least) {
            least = taken[cpu];
            ties = 0;
        }
        ties += taken[cpu] == least;
    }
    index %= ties;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &allowed) && taken[cpu] == least && index-- == 0) {
            return cpu;
        }
    }
    return -1;
}

void
apwsgi_affinity_init(int index)
{
    static int taken[CPU_SETSIZE];
    int threaded = AP_MPMQ_NOT_SUPPORTED;
    int max_threads = 0;
    int max_daemons = 0;
    int count = 0;
    int cpu = -1;

    usable = 0;
    fits = 0;
    apr_atomic_set32(&state, UNDECIDED);
    CPU_ZERO(&home);
    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &max_threads);
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &max_daemons);
    /* More CPUs than a cpu_set_t holds fail here: left as they are. */
    if (threaded == AP_MPMQ_NOT_SUPPORTED || max_threads < 2
        || sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        return;
    }
    count = CPU_COUNT(&allowed);
    if (count < 2) {
        return;
    }
    apwsgi_metrics_cpus_taken(taken, CPU_SETSIZE);
    cpu = choose_cpu(taken, index >= 0 ? index : (int)getpid());
    if (cpu < 0) {
        return;
    }
    CPU_SET(cpu, &home);
    apwsgi_metrics_take_cpu(cpu);
    usable = 1;
    fits = max_daemons >= count;
}

/* Put every thread of this process on `set`.  0, or the errno of the
 * first thread that could not be moved (one that ended meanwhile does
 * not count).  Two passes, for threads started during the first. */
static int
move_threads(const cpu_set_t *set)
{
    DIR *dir = NULL;
    struct dirent *e = NULL;
    int err = 0;

    for (int pass = 0; pass < 2 && !err; pass++) {
        dir = opendir("/proc/self/task");
        if (!dir) {
            return errno;
        }
        while (!err && (e = readdir(dir))) {
            pid_t tid = (pid_t)atoi(e->d_name);

            if (tid > 0 && sched_setaffinity(tid, sizeof(*set), set) != 0
                && errno != ESRCH) {
                err = errno;
            }
        }
        closedir(dir);
    }
    return err;
}

/* Log that the threads could not be put on the process's CPU (err),
 * after putting them back on all of them. */
static void
pin_failed(request_rec *r, int err)
{
    int cpu = 0;

    move_threads(&allowed);
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &home)) {
        cpu++;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, APR_FROM_OS_ERROR(err), r,
                  APWSGI_APLOGNO(00037) "this process keeps all its CPUs: "
                                        "its threads could not be put on "
                                        "CPU %d (mod_wsgi.cpu_affinity); "
                                        "set the key to off to leave "
                                        "them there",
                  cpu);
}

void
apwsgi_affinity_apply(request_rec *r, apwsgi_affinity_t mode, int own_gil)
{
    apr_uint32_t now = apr_atomic_read32(&state);
    int err = 0;

    /* An own GIL is there to run on several CPUs at once. */
    if (now == PINNED && own_gil && mode != APWSGI_AFFINITY_ON
        && apr_atomic_cas32(&state, RELEASED, PINNED) == PINNED) {
        move_threads(&allowed);
        return;
    }
    if (now != UNDECIDED
        || apr_atomic_cas32(&state, DECIDING, UNDECIDED) != UNDECIDED) {
        return;
    }
    if (!usable || mode == APWSGI_AFFINITY_OFF
        || (mode == APWSGI_AFFINITY_AUTO && (!fits || own_gil))) {
        apr_atomic_set32(&state, LEFT);
        return;
    }
    err = move_threads(&home);
    if (err) {
        pin_failed(r, err);
    }
    apr_atomic_set32(&state, err ? LEFT : PINNED);
}
