/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_metrics.c: the shared segment of figures, its slots, and
 * adding them up.
 *
 * Layout: a header (magic, size, creation time, the fold lock and
 * sequence, the newest step of the series), the retired totals per
 * interpreter name, the throughput and latency series (a ring of
 * points), and the child slots.  Untouched pages of an anonymous
 * mapping cost no memory, so the fixed sizes cost only what the live
 * children use.
 *
 * Concurrency: a child writes its own slot only, with relaxed atomic
 * adds (counters) and per-entry sequence counts (the list of requests
 * and the stacks, which readers copy and check).  Folding a slot into
 * the retired totals takes the fold lock (a pid in the header, taken
 * over from a holder that died) and makes the fold sequence odd while
 * it moves the counters, so that a reader who adds up the retired
 * totals and the slots retries rather than count a slot twice or not
 * at all.  The series has one writer per step: the child whose
 * compare-and-swap of the newest step succeeds.
 */
#include "apwsgi_metrics.h"
#include "apr_shm.h"
#include "http_main.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RETAINED_KEY "apwsgi-metrics-1"
#define MAGIC APR_UINT64_C(0x31746d6773777061) /* "apwsgmt1" */

#define SLOTS 512     /* children at once */
#define RECORDS 32    /* interpreter names per child; last: "(other)" */
#define RETIRED 256   /* interpreter names retired; last: "(other)" */
#define LISTED 64     /* requests listed per child */
#define NAME_BYTES 64 /* names are cut to 63 bytes */
#define METHOD_BYTES 16
#define PATH_BYTES 256
#define STACK_BYTES 4096
#define SERIES 120 /* points: 10 minutes */
#define STEP 5     /* seconds per point */

#define OTHER "(other)"
#define MAIN "(main)"

#define ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define SUB(field, n) __atomic_fetch_sub(&(field), (n), __ATOMIC_RELAXED)
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_ACQUIRE)
#define PEEK(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELEASE)
#define CAS(field, expected, v)                                               \
    __atomic_compare_exchange_n(&(field), (expected), (v), 0,                 \
                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

enum { SLOT_FREE, SLOT_CLAIMING, SLOT_LIVE, SLOT_FOLDING };

const double apwsgi_duration_bounds[APWSGI_DURATION_BUCKETS - 1] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const double apwsgi_gil_bounds[APWSGI_GIL_BUCKETS - 1] = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1};
/* The same bounds in microseconds, for the hot path. */
static const apr_time_t duration_us[APWSGI_DURATION_BUCKETS - 1] = {
    5000,   10000,   25000,   50000,   100000,  250000,
    500000, 1000000, 2500000, 5000000, 10000000};
static const apr_time_t gil_us[APWSGI_GIL_BUCKETS - 1] = {
    100, 500, 1000, 5000, 10000, 50000, 100000, 500000, 1000000};

/* One interpreter name's figures in a slot (or retired). */
typedef struct {
    apr_uint32_t used; /* set once `name` is written */
    char name[NAME_BYTES];
    apwsgi_counters_t c;
    apr_int64_t in_flight;
    apr_int64_t alive;
} record_t;

/* A request in flight, as other processes see it. */
typedef struct {
    apr_uint32_t seq; /* odd while written */
    apr_uint64_t id;  /* 0: free */
    apr_int64_t tid;
    apr_time_t start; /* apwsgi_now() */
    char method[METHOD_BYTES];
    char path[PATH_BYTES];
    char interp[NAME_BYTES];
} listed_t;

typedef struct {
    apr_uint32_t seq; /* odd while written */
    apr_uint64_t id;  /* the request's; 0: free */
    char text[STACK_BYTES];
} stack_area_t;

typedef struct {
    apr_uint32_t state;
    apr_int32_t pid;
    apr_uint64_t proc_start; /* /proc/PID/stat starttime: pid reuse */
    apr_int32_t generation;
    apr_int32_t threads;
    apr_int64_t busy;
    apr_int64_t interpreters;
    apr_time_t started; /* wall clock */
    apr_uint32_t cpu;   /* the CPU it chose + 1; 0: none */
    record_t records[RECORDS];
    listed_t listed[LISTED];
    stack_area_t stacks[APWSGI_METRICS_STACKS];
} slot_t;

/* Cumulative totals of the server at the end of one step. */
typedef struct {
    apr_uint32_t seq; /* odd while written */
    apr_uint64_t step;
    apr_uint64_t requests;
    apr_uint64_t errors;
    apr_uint64_t duration_us;
    apr_uint64_t duration[APWSGI_DURATION_BUCKETS];
    apr_int64_t in_flight;
} point_t;

typedef struct {
    apr_uint64_t magic;
    apr_uint64_t size;
    apr_time_t created;
    apr_uint32_t fold_lock; /* pid of the process folding; 0: free */
    apr_uint32_t fold_seq;  /* odd while a fold moves counters */
    apr_uint64_t last_step; /* the series' newest step */
    record_t retired[RETIRED];
    point_t series[SERIES];
    slot_t slots[SLOTS];
} segment_t;

/* What Apache keeps across the module's unloading. */
typedef struct {
    apr_shm_t *shm;
    segment_t *seg;
} retained_t;

/* Every counter of apwsgi_counters_t is an apr_uint64_t. */
#define COUNTERS (sizeof(apwsgi_counters_t) / sizeof(apr_uint64_t))

static segment_t *seg;
/* This child's: */
static slot_t *own;
static apr_thread_mutex_t *record_mutex; /* adding a record */
static apr_uint64_t listed_mask;         /* atomic: listed[] in use */
/* Interpreter table slot -> (generation << 8 | record + 1). */
static apr_uint64_t rec_cache[APWSGI_MAX_SLOTS];

/* ---- the segment ---- */

void
apwsgi_metrics_setup(apr_pool_t *p)
{
    retained_t *kept = ap_retained_data_get(RETAINED_KEY);
    apr_status_t rv = APR_SUCCESS;

    if (kept) {
        /* A module of another layout must bump RETAINED_KEY; never
         * write into a segment laid out by another build. */
        seg = kept->seg && kept->seg->magic == MAGIC
                      && kept->seg->size == sizeof(segment_t)
                  ? kept->seg
                  : NULL;
        return;
    }
    kept = ap_retained_data_create(RETAINED_KEY, sizeof(*kept));
    /* No file name: an anonymous shared mapping, inherited across
     * fork, that lives as long as the process pool. */
    rv = apr_shm_create(&kept->shm, sizeof(segment_t), NULL, ap_pglobal);
    if (rv != APR_SUCCESS) {
        ap_log_perror(APLOG_MARK, APLOG_WARNING, rv, p,
                      APWSGI_APLOGNO(00703) "no shared memory for the "
                                            "figures of the status page "
                                            "(%" APR_SIZE_T_FMT " bytes): "
                                            "the server runs without them",
                      sizeof(segment_t));
        return;
    }
    kept->seg = apr_shm_baseaddr_get(kept->shm);
    memset(kept->seg, 0, offsetof(segment_t, slots));
    kept->seg->magic = MAGIC;
    kept->seg->size = sizeof(segment_t);
    kept->seg->created = apr_time_now();
    seg = kept->seg;
}

int
apwsgi_metrics_available(void)
{
    return seg != NULL;
}

/* Fields of /proc/PID/stat: 0 when the process is there and no
 * zombie, else -1. */
typedef struct {
    apr_uint64_t start; /* clock ticks after boot */
    apr_uint64_t utime;
    apr_uint64_t stime;
    apr_uint64_t rss; /* pages */
} proc_stat_t;

static int
proc_stat(int pid, proc_stat_t *ps)
{
    char path[64];
    char buf[1024];
    char *p = NULL;
    ssize_t n = 0;
    int fd = -1;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: the fields
     * start after the last ')'. */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') {
        return -1;
    }
    p += 3; /* past the state letter */
    for (int field = 1; field <= 21; field++) {
        char *end = NULL;
        apr_uint64_t v = strtoull(p, &end, 10);

        if (end == p) {
            return -1;
        }
        p = end;
        ps->utime = field == 11 ? v : ps->utime;
        ps->stime = field == 12 ? v : ps->stime;
        ps->start = field == 19 ? v : ps->start;
        ps->rss = field == 21 ? v : ps->rss;
    }
    return 0;
}

/* Whether the child of `slot` still runs (the same process: its
 * start time tells it from another that got its pid). */
static int
slot_alive(const slot_t *slot)
{
    proc_stat_t ps = {0};

    return proc_stat(PEEK(slot->pid), &ps) == 0
           && ps.start == PEEK(slot->proc_start);
}

/* ---- folding ---- */

static void
fold_lock(void)
{
    apr_uint32_t me = (apr_uint32_t)getpid();

    for (;;) {
        apr_uint32_t holder = 0;

        if (CAS(seg->fold_lock, &holder, me)) {
            break;
        }
        /* A holder that died mid-fold leaves the lock to the next. */
        if (kill((pid_t)holder, 0) < 0 && errno == ESRCH
            && CAS(seg->fold_lock, &holder, me)) {
            break;
        }
        sched_yield();
    }
    if (PEEK(seg->fold_seq) & 1) {
        ADD(seg->fold_seq, 1);
    }
}

static void
fold_unlock(void)
{
    STORE(seg->fold_lock, (apr_uint32_t)0);
}

/* The retired record for `name`, added when new.  Fold lock held. */
static record_t *
retired_record(const char *name)
{
    record_t *last = &seg->retired[RETIRED - 1];

    for (int i = 0; i < RETIRED - 1; i++) {
        record_t *rec = &seg->retired[i];

        if (!rec->used) {
            apr_cpystrn(rec->name, name, NAME_BYTES);
            STORE(rec->used, (apr_uint32_t)1);
            return rec;
        }
        if (strcmp(rec->name, name) == 0) {
            return rec;
        }
    }
    if (!last->used) {
        apr_cpystrn(last->name, OTHER, NAME_BYTES);
        STORE(last->used, (apr_uint32_t)1);
    }
    return last;
}

static void
counters_add(apwsgi_counters_t *to, const apwsgi_counters_t *from)
{
    apr_uint64_t *t = (apr_uint64_t *)to;
    const apr_uint64_t *f = (const apr_uint64_t *)from;

    for (size_t i = 0; i < COUNTERS; i++) {
        t[i] += PEEK(f[i]);
    }
}

/* Move the counters of `slot` (state FOLDING, taken by this caller)
 * into the retired totals and free it. */
static void
fold(slot_t *slot)
{
    fold_lock();
    ADD(seg->fold_seq, 1);
    for (int i = 0; i < RECORDS; i++) {
        record_t *rec = &slot->records[i];

        if (LOAD(rec->used)) {
            counters_add(&retired_record(rec->name)->c, &rec->c);
        }
    }
    STORE(slot->state, (apr_uint32_t)SLOT_FREE);
    ADD(seg->fold_seq, 1);
    fold_unlock();
}

/* Fold `slot` if its child died.  Returns whether it did. */
static int
fold_if_dead(slot_t *slot)
{
    apr_uint32_t live = SLOT_LIVE;

    if (LOAD(slot->state) != SLOT_LIVE || slot_alive(slot)
        || !CAS(slot->state, &live, (apr_uint32_t)SLOT_FOLDING)) {
        return 0;
    }
    fold(slot);
    return 1;
}

static apr_status_t
child_exit(void *data)
{
    apr_uint32_t live = SLOT_LIVE;

    (void)data;
    if (own && CAS(own->state, &live, (apr_uint32_t)SLOT_FOLDING)) {
        fold(own);
    }
    own = NULL;
    return APR_SUCCESS;
}

/* ---- a child's slot ---- */

/* Take a free slot.  NULL when none is free. */
static slot_t *
slot_claim(void)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < SLOTS; i++) {
            slot_t *slot = &seg->slots[i];
            apr_uint32_t free_state = SLOT_FREE;

            if (pass == 1) {
                fold_if_dead(slot);
            }
            if (CAS(slot->state, &free_state, (apr_uint32_t)SLOT_CLAIMING)) {
                return slot;
            }
        }
    }
    return NULL;
}

void
apwsgi_metrics_child_init(apr_pool_t *pchild, server_rec *s)
{
    proc_stat_t ps = {0};
    int pid = (int)getpid();
    int threads = 1;
    int generation = 0;
    slot_t *slot = NULL;

    if (!seg || proc_stat(pid, &ps) < 0
        || apwsgi_mutex_create(&record_mutex, pchild) < 0) {
        return;
    }
    /* A slot still under this pid was a child that died before. */
    for (int i = 0; i < SLOTS; i++) {
        if (PEEK(seg->slots[i].pid) == pid) {
            fold_if_dead(&seg->slots[i]);
        }
    }
    slot = slot_claim();
    if (!slot) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     APWSGI_APLOGNO(00704) "more than %d children at once: "
                                           "this one is left out of the "
                                           "status page's figures",
                     SLOTS);
        return;
    }
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    ap_mpm_query(AP_MPMQ_GENERATION, &generation);
    memset((char *)slot + sizeof(slot->state), 0,
           sizeof(*slot) - sizeof(slot->state));
    slot->pid = pid;
    slot->proc_start = ps.start;
    slot->generation = generation;
    slot->threads = threads > 0 ? threads : 1;
    slot->started = apr_time_now();
    STORE(slot->state, (apr_uint32_t)SLOT_LIVE);
    own = slot;
    apr_pool_cleanup_register(pchild, NULL, child_exit, apr_pool_cleanup_null);
}

int
apwsgi_metrics_slot_index(void)
{
    return own ? (int)(own - seg->slots) : -1;
}

void
apwsgi_metrics_cpus_taken(int *counts, int n)
{
    memset(counts, 0, n * sizeof(*counts));
    if (!seg) {
        return;
    }
    for (int i = 0; i < SLOTS; i++) {
        slot_t *slot = &seg->slots[i];
        apr_uint32_t cpu = PEEK(slot->cpu);

        if (slot != own && LOAD(slot->state) == SLOT_LIVE && cpu > 0
            && cpu <= (apr_uint32_t)n) {
            counts[cpu - 1]++;
        }
    }
}

void
apwsgi_metrics_take_cpu(int cpu)
{
    if (own) {
        STORE(own->cpu, (apr_uint32_t)(cpu + 1));
    }
}

/* ---- the hot path ---- */

/* The record of this child for `name`, added when new.  Lock-free
 * when it exists. */
static int
record_find(const char *name)
{
    char label[NAME_BYTES];
    int found = -1;

    apr_cpystrn(label, *name ? name : MAIN, sizeof(label));
    for (int i = 0; i < RECORDS; i++) {
        record_t *rec = &own->records[i];

        if (!LOAD(rec->used)) {
            break;
        }
        if (strcmp(rec->name, label) == 0) {
            return i;
        }
    }
    apr_thread_mutex_lock(record_mutex);
    for (int i = 0; i < RECORDS - 1 && found < 0; i++) {
        record_t *rec = &own->records[i];

        if (!rec->used) {
            apr_cpystrn(rec->name, label, NAME_BYTES);
            STORE(rec->used, (apr_uint32_t)1);
            found = i;
        }
        else if (strcmp(rec->name, label) == 0) {
            found = i;
        }
    }
    if (found < 0) {
        found = RECORDS - 1;
        if (!own->records[found].used) {
            apr_cpystrn(own->records[found].name, OTHER, NAME_BYTES);
            STORE(own->records[found].used, (apr_uint32_t)1);
        }
    }
    apr_thread_mutex_unlock(record_mutex);
    return found;
}

/* Begin and end a change of a seqlock-guarded entry. */
static inline void
write_begin(apr_uint32_t *seq)
{
    __atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void
write_end(apr_uint32_t *seq)
{
    __atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

static _Thread_local long thread_tid;

/* `s` into `to` of `size` bytes, cut to fit: strnlen and memcpy, which
 * the C library does a word at a time (apr_cpystrn goes byte by
 * byte). */
static inline void
copy_cut(char *to, const char *s, size_t size)
{
    size_t n = strnlen(s, size - 1);

    memcpy(to, s, n);
    to[n] = '\0';
}

void
apwsgi_metrics_begin(apwsgi_metrics_req_t *m, request_rec *r, apr_uint64_t id,
                     apr_time_t start)
{
    apr_uint64_t mask = 0;
    int i = -1;

    m->rec = -1;
    m->listed = -1;
    m->start = start;
    if (!own) {
        return;
    }
    ADD(own->busy, 1);
    mask = PEEK(listed_mask);
    do {
        if (mask == ~APR_UINT64_C(0)) {
            return;
        }
        i = __builtin_ctzll(~mask);
    } while (!CAS(listed_mask, &mask, mask | (APR_UINT64_C(1) << i)));
    if (!thread_tid) {
        thread_tid = (long)syscall(SYS_gettid);
    }
    m->listed = i;
    write_begin(&own->listed[i].seq);
    own->listed[i].id = id ? id : 1;
    own->listed[i].tid = thread_tid;
    own->listed[i].start = m->start;
    copy_cut(own->listed[i].method, r->method, METHOD_BYTES);
    copy_cut(own->listed[i].path, r->uri, PATH_BYTES);
    own->listed[i].interp[0] = '\0';
    write_end(&own->listed[i].seq);
}

void
apwsgi_metrics_interp(apwsgi_metrics_req_t *m, apwsgi_interp_t *in)
{
    apr_uint64_t *cached = NULL;
    apr_uint64_t v = 0;
    int rec = -1;

    if (!own || m->rec >= 0) {
        return;
    }
    cached = &rec_cache[in->index];
    v = PEEK(*cached);
    if ((v >> 8) == (apr_uint64_t)in->generation && (v & 0xff)) {
        rec = (int)(v & 0xff) - 1;
    }
    else {
        rec = record_find(in->name);
        __atomic_store_n(cached,
                         ((apr_uint64_t)in->generation << 8) | (rec + 1),
                         __ATOMIC_RELAXED);
    }
    m->rec = rec;
    ADD(own->records[rec].in_flight, 1);
    if (m->listed >= 0) {
        listed_t *l = &own->listed[m->listed];

        write_begin(&l->seq);
        copy_cut(l->interp, own->records[rec].name, NAME_BYTES);
        write_end(&l->seq);
    }
}

static inline int
bucket(const apr_time_t *bounds, int n, apr_time_t t)
{
    int i = 0;

    while (i < n - 1 && t > bounds[i]) {
        i++;
    }
    return i;
}

void
apwsgi_metrics_end(apwsgi_metrics_req_t *m, const char *name,
                   const apwsgi_metrics_done_t *done)
{
    apr_time_t took = apwsgi_now() - m->start;
    int class = done->code / 100;
    apwsgi_counters_t *c = NULL;
    int rec = m->rec;

    if (!own) {
        return;
    }
    if (rec < 0) {
        rec = record_find(name ? name : "");
    }
    else {
        SUB(own->records[rec].in_flight, 1);
    }
    c = &own->records[rec].c;
    class = class < 1 ? 1 : class > APWSGI_CODE_CLASSES ? 5 : class;
    ADD(c->requests[class - 1], 1);
    ADD(c->duration_us, (apr_uint64_t)took);
    ADD(c->duration[bucket(duration_us, APWSGI_DURATION_BUCKETS, took)], 1);
    if (m->rec >= 0) {
        ADD(c->gil_wait_us, (apr_uint64_t)done->gil_wait);
        ADD(c->gil_wait[bucket(gil_us, APWSGI_GIL_BUCKETS, done->gil_wait)],
            1);
    }
    if (done->exception) {
        ADD(c->exceptions, 1);
    }
    if (done->timeout) {
        ADD(c->timeouts, 1);
    }
    if (done->bytes_in > 0) {
        ADD(c->bytes_in, (apr_uint64_t)done->bytes_in);
    }
    if (done->bytes_out > 0) {
        ADD(c->bytes_out, (apr_uint64_t)done->bytes_out);
    }
    if (m->listed >= 0) {
        listed_t *l = &own->listed[m->listed];

        write_begin(&l->seq);
        l->id = 0;
        write_end(&l->seq);
        __atomic_fetch_and(&listed_mask, ~(APR_UINT64_C(1) << m->listed),
                           __ATOMIC_RELEASE);
    }
    SUB(own->busy, 1);
}

void
apwsgi_metrics_refused(const char *name, int code)
{
    apwsgi_metrics_req_t m = {-1, -1, 0};
    apwsgi_metrics_done_t done = {0};

    if (!own) {
        return;
    }
    m.start = apwsgi_now();
    done.code = code;
    ADD(own->busy, 1); /* what apwsgi_metrics_end takes back */
    apwsgi_metrics_end(&m, name, &done);
}

void
apwsgi_metrics_interp_event(const char *name, int event)
{
    int rec = -1;

    if (!own || event < 0 || event >= APWSGI_INTERP_EVENTS) {
        return;
    }
    rec = record_find(name);
    ADD(own->records[rec].c.events[event], 1);
    if (event == APWSGI_INTERP_CREATED) {
        ADD(own->records[rec].alive, 1);
        ADD(own->interpreters, 1);
    }
    else if (event == APWSGI_INTERP_ENDED) {
        SUB(own->records[rec].alive, 1);
        SUB(own->interpreters, 1);
    }
}

/* ---- the monitor's share ---- */

void
apwsgi_metrics_stacks(const apr_uint64_t *ids, const char *const *texts, int n)
{
    if (!own) {
        return;
    }
    for (int i = 0; i < APWSGI_METRICS_STACKS; i++) {
        stack_area_t *area = &own->stacks[i];

        if (i >= n && !area->id) {
            continue;
        }
        write_begin(&area->seq);
        area->id = i < n ? ids[i] : 0;
        if (i < n) {
            apr_cpystrn(area->text, texts[i], STACK_BYTES);
        }
        write_end(&area->seq);
    }
}

/* The server's totals (retired and every claimed slot), consistent
 * with respect to folding.  `names`: also per name, into a hash of
 * apwsgi_interp_view_t in `p`. */
static void
sum_all(apwsgi_counters_t *totals, apr_int64_t *busy, apr_hash_t *names,
        apr_pool_t *p)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        apr_uint32_t seq = LOAD(seg->fold_seq);

        if (seq & 1) {
            sched_yield();
            continue;
        }
        memset(totals, 0, sizeof(*totals));
        *busy = 0;
        if (names) {
            apr_hash_clear(names);
        }
        for (int i = 0; i < RETIRED; i++) {
            record_t *rec = &seg->retired[i];

            if (!LOAD(rec->used)) {
                break;
            }
            counters_add(totals, &rec->c);
            if (names) {
                apwsgi_interp_view_t *v = apr_pcalloc(p, sizeof(*v));

                v->name = apr_pstrdup(p, rec->name);
                counters_add(&v->c, &rec->c);
                apr_hash_set(names, v->name, APR_HASH_KEY_STRING, v);
            }
        }
        for (int i = 0; i < SLOTS; i++) {
            slot_t *slot = &seg->slots[i];
            apr_uint32_t state = LOAD(slot->state);

            if (state != SLOT_LIVE && state != SLOT_FOLDING) {
                continue;
            }
            *busy += PEEK(slot->busy);
            for (int j = 0; j < RECORDS; j++) {
                record_t *rec = &slot->records[j];
                apwsgi_interp_view_t *v = NULL;

                if (!LOAD(rec->used)) {
                    break;
                }
                counters_add(totals, &rec->c);
                if (!names) {
                    continue;
                }
                v = apr_hash_get(names, rec->name, APR_HASH_KEY_STRING);
                if (!v) {
                    v = apr_pcalloc(p, sizeof(*v));
                    v->name = apr_pstrndup(p, rec->name, NAME_BYTES - 1);
                    apr_hash_set(names, v->name, APR_HASH_KEY_STRING, v);
                }
                counters_add(&v->c, &rec->c);
                v->in_flight += PEEK(rec->in_flight);
                v->alive += PEEK(rec->alive);
            }
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (PEEK(seg->fold_seq) == seq) {
            return;
        }
    }
}

void
apwsgi_metrics_tick(void)
{
    apr_uint64_t step = (apr_uint64_t)(apr_time_sec(apr_time_now()) / STEP);
    apr_uint64_t last = 0;
    apwsgi_counters_t totals;
    apr_int64_t busy = 0;
    point_t *pt = NULL;

    if (!seg) {
        return;
    }
    last = LOAD(seg->last_step);
    if (step <= last || !CAS(seg->last_step, &last, step)) {
        return;
    }
    sum_all(&totals, &busy, NULL, NULL);
    pt = &seg->series[step % SERIES];
    write_begin(&pt->seq);
    pt->step = step;
    pt->requests = 0;
    for (int i = 0; i < APWSGI_CODE_CLASSES; i++) {
        pt->requests += totals.requests[i];
    }
    pt->errors = totals.requests[4];
    pt->duration_us = totals.duration_us;
    memcpy(pt->duration, totals.duration, sizeof(pt->duration));
    pt->in_flight = busy;
    write_end(&pt->seq);
}

/* ---- reading ---- */

/* Copy a seqlock-guarded entry of `size` bytes at `from` (whose first
 * member is its sequence) into `to`.  0, or -1 when it kept changing. */
static int
read_entry(void *to, const void *from, size_t size)
{
    const apr_uint32_t *seq = from;

    for (int attempt = 0; attempt < 100; attempt++) {
        apr_uint32_t before = LOAD(*seq);

        if (before & 1) {
            sched_yield();
            continue;
        }
        memcpy(to, from, size);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (PEEK(*seq) == before) {
            return 0;
        }
    }
    return -1;
}

/* The requests `slot` lists, with the stacks published for them. */
static void
read_requests(apwsgi_view_t *view, slot_t *slot, int pid, apr_pool_t *p)
{
    apr_time_t mono = apwsgi_now();
    stack_area_t *stacks = apr_palloc(p, sizeof(slot->stacks));
    listed_t l;

    for (int i = 0; i < APWSGI_METRICS_STACKS; i++) {
        if (read_entry(&stacks[i], &slot->stacks[i], sizeof(stacks[i]))) {
            stacks[i].id = 0;
        }
    }
    for (int i = 0; i < LISTED; i++) {
        apwsgi_request_view_t *rv = NULL;

        if (!PEEK(slot->listed[i].id)
            || read_entry(&l, &slot->listed[i], sizeof(l)) < 0 || !l.id) {
            continue;
        }
        rv = apr_array_push(view->requests);
        rv->pid = pid;
        rv->tid = (long)l.tid;
        rv->method = apr_pstrndup(p, l.method, METHOD_BYTES - 1);
        rv->path = apr_pstrndup(p, l.path, PATH_BYTES - 1);
        rv->interp = apr_pstrndup(p, l.interp, NAME_BYTES - 1);
        rv->age = (double)(mono - l.start) / APR_USEC_PER_SEC;
        rv->started = view->now - (mono - l.start);
        rv->stack = NULL;
        for (int j = 0; j < APWSGI_METRICS_STACKS; j++) {
            if (stacks[j].id == l.id) {
                rv->stack = apr_pstrndup(p, stacks[j].text, STACK_BYTES - 1);
            }
        }
        view->unlisted--;
    }
}

static int
by_age(const void *a, const void *b)
{
    const apwsgi_request_view_t *x = a;
    const apwsgi_request_view_t *y = b;

    return x->age < y->age ? 1 : x->age > y->age ? -1 : 0;
}

/* The processes, their resources and the requests they list. */
static void
read_slots(apwsgi_view_t *view, apr_pool_t *p)
{
    long tick = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);

    for (int i = 0; i < SLOTS; i++) {
        slot_t *slot = &seg->slots[i];
        apwsgi_process_view_t *pv = NULL;
        proc_stat_t ps = {0};

        if (LOAD(slot->state) != SLOT_LIVE) {
            continue;
        }
        pv = apr_array_push(view->processes);
        memset(pv, 0, sizeof(*pv));
        pv->pid = PEEK(slot->pid);
        pv->generation = PEEK(slot->generation);
        pv->threads = PEEK(slot->threads);
        pv->busy = PEEK(slot->busy);
        pv->interpreters = PEEK(slot->interpreters);
        pv->started = PEEK(slot->started);
        for (int j = 0; j < RECORDS; j++) {
            for (int k = 0; k < APWSGI_CODE_CLASSES; k++) {
                pv->requests += PEEK(slot->records[j].c.requests[k]);
            }
        }
        if (proc_stat(pv->pid, &ps) == 0) {
            pv->rss_bytes = ps.rss * (apr_uint64_t)page;
            pv->cpu_user = (double)ps.utime / tick;
            pv->cpu_system = (double)ps.stime / tick;
        }
        view->threads += pv->threads;
        view->interpreters += pv->interpreters;
        view->unlisted += pv->busy;
        read_requests(view, slot, pv->pid, p);
    }
    if (view->unlisted < 0) {
        view->unlisted = 0;
    }
    qsort(view->requests->elts, view->requests->nelts,
          sizeof(apwsgi_request_view_t), by_age);
}

/* The 95th percentile of a histogram's counts (as Prometheus's
 * histogram_quantile: linear within the bucket), or -1. */
static double
p95(const apr_uint64_t *counts, apr_uint64_t total)
{
    double want = 0.95 * (double)total;
    double seen = 0;

    if (total == 0) {
        return -1;
    }
    for (int i = 0; i < APWSGI_DURATION_BUCKETS; i++) {
        double lo = i ? apwsgi_duration_bounds[i - 1] : 0;

        if (seen + (double)counts[i] >= want && counts[i] > 0) {
            if (i == APWSGI_DURATION_BUCKETS - 1) {
                return lo;
            }
            return lo
                   + (apwsgi_duration_bounds[i] - lo) * (want - seen)
                         / (double)counts[i];
        }
        seen += (double)counts[i];
    }
    return apwsgi_duration_bounds[APWSGI_DURATION_BUCKETS - 2];
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const apwsgi_interp_view_t *)a)->name,
                  ((const apwsgi_interp_view_t *)b)->name);
}

static int
by_step(const void *a, const void *b)
{
    const point_t *x = a;
    const point_t *y = b;

    return x->step < y->step ? -1 : x->step > y->step;
}

/* The series: a point per step of the last minutes, from the
 * differences of consecutive cumulative totals. */
static void
read_series(apwsgi_view_t *view, apr_pool_t *p)
{
    point_t *pts = apr_palloc(p, SERIES * sizeof(*pts));
    apr_uint64_t now_step = (apr_uint64_t)(apr_time_sec(view->now) / STEP);
    int n = 0;

    for (int i = 0; i < SERIES; i++) {
        if (read_entry(&pts[n], &seg->series[i], sizeof(pts[n])) == 0
            && pts[n].step && pts[n].step + SERIES > now_step) {
            n++;
        }
    }
    qsort(pts, n, sizeof(*pts), by_step);
    for (int i = 1; i < n; i++) {
        apwsgi_point_view_t *pv = apr_array_push(view->series);
        double dt = (double)(pts[i].step - pts[i - 1].step) * STEP;
        apr_uint64_t count = pts[i].requests - pts[i - 1].requests;
        apr_uint64_t diff[APWSGI_DURATION_BUCKETS];

        for (int j = 0; j < APWSGI_DURATION_BUCKETS; j++) {
            diff[j] = pts[i].duration[j] - pts[i - 1].duration[j];
        }
        pv->time = apr_time_from_sec((apr_time_t)pts[i].step * STEP);
        pv->rate = (double)count / dt;
        pv->errors = (double)(pts[i].errors - pts[i - 1].errors) / dt;
        pv->mean = count
                       ? (double)(pts[i].duration_us - pts[i - 1].duration_us)
                             / APR_USEC_PER_SEC / (double)count
                       : -1;
        pv->p95 = p95(diff, count);
        pv->in_flight = pts[i].in_flight;
    }
}

int
apwsgi_metrics_read(apr_pool_t *p, apwsgi_view_t *view)
{
    apr_hash_t *names = apr_hash_make(p);

    memset(view, 0, sizeof(*view));
    if (!seg) {
        return -1;
    }
    for (int i = 0; i < SLOTS; i++) {
        fold_if_dead(&seg->slots[i]);
    }
    view->now = apr_time_now();
    view->created = seg->created;
    view->step = STEP;
    view->interps = apr_array_make(p, 8, sizeof(apwsgi_interp_view_t));
    view->processes = apr_array_make(p, 8, sizeof(apwsgi_process_view_t));
    view->requests = apr_array_make(p, 8, sizeof(apwsgi_request_view_t));
    view->series = apr_array_make(p, SERIES, sizeof(apwsgi_point_view_t));
    sum_all(&view->totals, &view->busy, names, p);
    for (apr_hash_index_t *hi = apr_hash_first(p, names); hi;
         hi = apr_hash_next(hi)) {
        apwsgi_interp_view_t *v = apr_hash_this_val(hi);

        *(apwsgi_interp_view_t *)apr_array_push(view->interps) = *v;
    }
    qsort(view->interps->elts, view->interps->nelts,
          sizeof(apwsgi_interp_view_t), by_name);
    view->in_flight = view->busy;
    read_slots(view, p);
    read_series(view, p);
    return 0;
}
