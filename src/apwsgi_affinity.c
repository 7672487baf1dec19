/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_affinity.c: keeping each child process of a threaded MPM on
 * a CPU of its own, its threads scheduled as a batch (see
 * apwsgi_affinity.h).
 *
 * The choice is made at child init, among the CPUs the process may use
 * (sched_getaffinity: a cpuset or taskset already applied is honoured):
 * the one the fewest other live children chose (the shared figures keep
 * each child's choice), children starting together told apart by their
 * slot there.  It is applied by the first request
 * the process serves with Python, since only a request carries the
 * mod_wsgi.cpu_affinity key: every thread listed in /proc/self/task is
 * moved, the MPM's listener and workers included, and threads started
 * later inherit the CPU (and the policy) from the thread that starts
 * them.
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
static int threaded;      /* threaded MPM, more than one thread */
static int usable;        /* threaded, and more than one CPU */
static int fits;          /* Apache may run a child per CPU or more */

/* Where the process stands; atomic, moved on by compare-and-swap.
 * DECIDED carries what was applied: PINNED (on the process's CPU) and
 * BATCHED (SCHED_BATCH). */
enum { UNDECIDED = 0, DECIDING = 1, DECIDED = 2, PINNED = 4, BATCHED = 8 };
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
    int is_threaded = AP_MPMQ_NOT_SUPPORTED;
    int max_threads = 0;
    int max_daemons = 0;
    int count = 0;
    int cpu = -1;

    threaded = 0;
    usable = 0;
    fits = 0;
    apr_atomic_set32(&state, UNDECIDED);
    CPU_ZERO(&home);
    ap_mpm_query(AP_MPMQ_IS_THREADED, &is_threaded);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &max_threads);
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &max_daemons);
    threaded = is_threaded != AP_MPMQ_NOT_SUPPORTED && max_threads >= 2;
    /* More CPUs than a cpu_set_t holds fail here: left as they are. */
    if (!threaded || sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
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

/* Put every thread of this process on `set` (NULL: leave the CPUs)
 * and give it the scheduling `policy` (-1: leave it).  *cpu_err and
 * *policy_err: the errno of the first thread that could not be moved
 * or given the policy, else 0 (a thread that ended meanwhile does not
 * count).  Two passes, for threads started during the first. */
static void
set_threads(const cpu_set_t *set, int policy, int *cpu_err, int *policy_err)
{
    const struct sched_param param = {0};
    DIR *dir = NULL;
    struct dirent *e = NULL;

    *cpu_err = 0;
    *policy_err = 0;
    for (int pass = 0; pass < 2; pass++) {
        dir = opendir("/proc/self/task");
        if (!dir) {
            *cpu_err = set ? errno : 0;
            *policy_err = policy >= 0 ? errno : 0;
            return;
        }
        while ((e = readdir(dir))) {
            pid_t tid = (pid_t)atoi(e->d_name);

            if (tid <= 0) {
                continue;
            }
            if (set && !*cpu_err
                && sched_setaffinity(tid, sizeof(*set), set) != 0
                && errno != ESRCH) {
                *cpu_err = errno;
            }
            if (policy >= 0 && !*policy_err
                && sched_setscheduler(tid, policy, &param) != 0
                && errno != ESRCH) {
                *policy_err = errno;
            }
        }
        closedir(dir);
    }
}

/* The first CPU of `set`. */
static int
first_cpu(const cpu_set_t *set)
{
    int cpu = 0;

    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, set)) {
        cpu++;
    }
    return cpu;
}

/* Log that the threads could not be put on the process's CPU (err),
 * after putting them back on all of them. */
static void
pin_failed(request_rec *r, int err)
{
    int ignored = 0;

    set_threads(&allowed, -1, &ignored, &ignored);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, APR_FROM_OS_ERROR(err), r,
                  APWSGI_APLOGNO(00037) "this process keeps all its CPUs: "
                                        "its threads could not be put on "
                                        "CPU %d (mod_wsgi.cpu_affinity); "
                                        "set the key to off to leave "
                                        "them there",
                  first_cpu(&home));
}

/* Give every thread the normal policy back (errors ignored: a thread
 * that kept SCHED_BATCH only waits a little longer when it wakes). */
static void
normal_policy(void)
{
    int ignored = 0;

    set_threads(NULL, SCHED_OTHER, &ignored, &ignored);
}

/* Log that the threads could not be given SCHED_BATCH (err), after
 * giving them all the normal policy back. */
static void
batch_failed(request_rec *r, int err)
{
    normal_policy();
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, APR_FROM_OS_ERROR(err), r,
                  APWSGI_APLOGNO(00038) "this process keeps the normal "
                                        "scheduling policy: its threads "
                                        "could not be given SCHED_BATCH "
                                        "(mod_wsgi.sched_batch); set the "
                                        "key to off to stop the attempt");
}

void
apwsgi_affinity_apply(request_rec *r, apwsgi_switch_t mode,
                      apwsgi_switch_t batch, int own_gil)
{
    apr_uint32_t now = apr_atomic_read32(&state);
    int pin = 0;
    int batched = 0;
    int cpu_err = 0;
    int policy_err = 0;

    /* An own GIL is there to run on several CPUs at once: the CPUs
     * back, and the normal policy where it came with them. */
    if ((now & PINNED) && own_gil && mode != APWSGI_SWITCH_ON) {
        batched = (now & BATCHED) && batch == APWSGI_SWITCH_ON;
        if (apr_atomic_cas32(&state, DECIDED | (batched ? BATCHED : 0), now)
            == now) {
            set_threads(&allowed,
                        (now & BATCHED) && !batched ? SCHED_OTHER : -1,
                        &cpu_err, &policy_err);
        }
        return;
    }
    if (now != UNDECIDED
        || apr_atomic_cas32(&state, DECIDING, UNDECIDED) != UNDECIDED) {
        return;
    }
    pin = usable
          && (mode == APWSGI_SWITCH_ON
              || (mode == APWSGI_SWITCH_AUTO && fits && !own_gil));
    batched =
        threaded
        && (batch == APWSGI_SWITCH_ON || (batch == APWSGI_SWITCH_AUTO && pin));
    if (pin || batched) {
        set_threads(pin ? &home : NULL, batched ? SCHED_BATCH : -1, &cpu_err,
                    &policy_err);
    }
    if (policy_err) {
        batch_failed(r, policy_err);
        batched = 0;
    }
    if (cpu_err) {
        pin_failed(r, cpu_err);
        pin = 0;
        /* auto: the policy comes only with the CPU of its own. */
        if (batched && batch == APWSGI_SWITCH_AUTO) {
            normal_policy();
            batched = 0;
        }
    }
    apr_atomic_set32(&state,
                     DECIDED | (pin ? PINNED : 0) | (batched ? BATCHED : 0));
}
