/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_config.c: read and check the mod_wsgi.* keys of a request, and
 * split its path into SCRIPT_NAME and PATH_INFO (PEP 3333; CGI 1.1,
 * RFC 3875 section 4.1.13).
 */
#include "apwsgi_config.h"
#include "apwsgi_storage.h"

#define KEY_APPLICATION "mod_wsgi.application"
#define KEY_DIRECTORY "mod_wsgi.directory"
#define KEY_INTERPRETER "mod_wsgi.interpreter"
#define KEY_SCRIPT_NAME "mod_wsgi.script_name"
#define KEY_VIRTUALENV "mod_wsgi.virtualenv"
#define KEY_INTERPRETERS "mod_wsgi.interpreters"
#define KEY_GIL "mod_wsgi.gil"
#define KEY_RELOAD "mod_wsgi.reload"
#define KEY_MAX_INTERPRETERS "mod_wsgi.max_interpreters"
#define KEY_IDLE_TIMEOUT "mod_wsgi.idle_timeout"
#define KEY_REQUEST_TIMEOUT "mod_wsgi.request_timeout"
#define KEY_SLOW_REQUEST "mod_wsgi.slow_request"
#define KEY_CPU_AFFINITY "mod_wsgi.cpu_affinity"
#define KEY_SCHED_BATCH "mod_wsgi.sched_batch"
#define KEY_MAP_TO_STORAGE APWSGI_KEY_MAP_TO_STORAGE

/* The keys, by index into what scan_keys() finds. */
enum {
    K_APPLICATION,
    K_DIRECTORY,
    K_INTERPRETER,
    K_SCRIPT_NAME,
    K_VIRTUALENV,
    K_INTERPRETERS,
    K_GIL,
    K_RELOAD,
    K_MAX_INTERPRETERS,
    K_IDLE_TIMEOUT,
    K_REQUEST_TIMEOUT,
    K_SLOW_REQUEST,
    K_CPU_AFFINITY,
    K_SCHED_BATCH,
    K_MAP_TO_STORAGE,
    K_COUNT
};

static const char *const key_names[K_COUNT] = {
    KEY_APPLICATION,  KEY_DIRECTORY,       KEY_INTERPRETER,
    KEY_SCRIPT_NAME,  KEY_VIRTUALENV,      KEY_INTERPRETERS,
    KEY_GIL,          KEY_RELOAD,          KEY_MAX_INTERPRETERS,
    KEY_IDLE_TIMEOUT, KEY_REQUEST_TIMEOUT, KEY_SLOW_REQUEST,
    KEY_CPU_AFFINITY, KEY_SCHED_BATCH,     KEY_MAP_TO_STORAGE};

/* What every key starts with. */
#define KEY_PREFIX "mod_wsgi."
#define KEY_PREFIX_LEN (sizeof(KEY_PREFIX) - 1)

/* Limits of the numeric keys. */
#define MAX_POOL_SIZE 64
#define DEFAULT_MAX_INTERPRETERS 32
#define MAX_MAX_INTERPRETERS 1000
#define MAX_IDLE_TIMEOUT 86400
#define MAX_REQUEST_TIMEOUT 86400
/* From this age on, the status page shows a request's Python stack. */
#define DEFAULT_SLOW_REQUEST 5

/* The longest interpreter name, in bytes, and how much of an
 * over-long one is looked for in the request (check_interpreter). */
#define MAX_INTERPRETER_NAME 255
#define NAME_PROBE 64
#define NAME_SHOWN 80

/* Default callable name, as in mod_wsgi and PEP 3333's examples. */
#define DEFAULT_CALLABLE "application"

/* Whether [s, s+n) is a Python identifier (ASCII letters, digits, _;
 * bytes >= 0x80 pass, for non-ASCII identifiers). */
static int
is_identifier(const char *s, apr_size_t n)
{
    if (n == 0 || apr_isdigit(s[0])) {
        return 0;
    }
    for (apr_size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!(apr_isalnum(c) || c == '_' || c >= 0x80)) {
            return 0;
        }
    }
    return 1;
}

/* Whether `s` is a dotted module name: identifier(.identifier)*. */
static int
is_module_name(const char *s)
{
    const char *dot = NULL;

    while ((dot = strchr(s, '.'))) {
        if (!is_identifier(s, dot - s)) {
            return 0;
        }
        s = dot + 1;
    }
    return is_identifier(s, strlen(s));
}

/* The prefix of a script's module name; 16 hex digits follow. */
#define SCRIPT_MODULE_PREFIX "_apwsgi_"
#define SCRIPT_MODULE_PREFIX_LEN (sizeof(SCRIPT_MODULE_PREFIX) - 1)

/* A stable module name for the script path `s`: SCRIPT_MODULE_PREFIX
 * and the path's 64-bit FNV-1a hash in 16 lowercase hex digits, in
 * `p`.  Formatted by hand: it runs on every request that names a
 * script, and apr_psprintf() took 740 instructions of a hello request
 * for it. */
static const char *
script_module(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);
    char *name = apr_palloc(p, SCRIPT_MODULE_PREFIX_LEN + 16 + 1);
    char *d = name + SCRIPT_MODULE_PREFIX_LEN;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= APR_UINT64_C(1099511628211);
    }
    memcpy(name, SCRIPT_MODULE_PREFIX, SCRIPT_MODULE_PREFIX_LEN);
    for (int i = 15; i >= 0; i--) {
        d[i] = hex[h & 0xf];
        h >>= 4;
    }
    d[16] = '\0';
    return name;
}

/* Split mod_wsgi.application into module/script and callable.  OK, or
 * 500 after logging. */
static int
parse_application(request_rec *r, apwsgi_config_t *cfg)
{
    const char *app = cfg->application;
    const char *sep = NULL;
    const char *what = NULL;
    const char *target = app;

    /* The last "::" separates the callable; a path may not hold one. */
    for (const char *p = app; (p = strstr(p, "::")); p++) {
        sep = p;
    }
    cfg->callable = DEFAULT_CALLABLE;
    if (sep) {
        target = apr_pstrmemdup(r->pool, app, sep - app);
        cfg->callable = sep + 2;
    }
    if (!is_identifier(cfg->callable, strlen(cfg->callable))) {
        what = "the callable after '::' is not a Python identifier";
    }
    else if (target[0] == '/') {
        cfg->script = target;
        cfg->module = script_module(r->pool, target);
    }
    else if (strchr(target, '/')) {
        what = "a script path must be absolute";
    }
    else if (!is_module_name(target)) {
        what = "expected 'package.module::callable', 'package.module' or an "
               "absolute path to a script";
    }
    else {
        cfg->module = target;
    }
    if (what) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00102) "mod_wsgi.application '%s' for %s "
                                            "is malformed: %s",
                      app, r->uri, what);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/*
 * The length of the part of `uri` that the path `mount` matches as a
 * prefix ending at a segment boundary, with each run of '/' in either
 * taken as one '/' (as ap_location_walk compares a <Location> with the
 * URI when MergeSlashes Off keeps runs in r->uri), or -1 when it does
 * not match.  Trailing slashes of `mount` are ignored; "/" matches
 * nothing (it gives no SCRIPT_NAME).
 */
static apr_ssize_t
mount_match(const char *uri, const char *mount)
{
    apr_size_t n = strlen(mount);
    apr_size_t i = 0;
    apr_size_t j = 0;

    while (n > 0 && mount[n - 1] == '/') {
        n--;
    }
    if (n == 0) {
        return -1;
    }
    while (i < n) {
        if (mount[i] == '/') {
            if (uri[j] != '/') {
                return -1;
            }
            while (i < n && mount[i] == '/') {
                i++;
            }
            while (uri[j] == '/') {
                j++;
            }
        }
        else if (uri[j] == mount[i]) {
            i++;
            j++;
        }
        else {
            return -1;
        }
    }
    return uri[j] == '/' || uri[j] == '\0' ? (apr_ssize_t)j : -1;
}

/*
 * The mount point of the innermost <Location> that applies, or NULL.
 * Apache keeps the path of the last merged section in core's
 * per-directory config; <Location> sections merge last, so that is the
 * Location when one applies.  Regex and wildcard sections, and paths
 * that are not a prefix of the URI (a <Directory>), give no mount
 * point.  *len: how much of r->uri it matched.
 */
static const char *
location_prefix(request_rec *r, apr_size_t *len)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    apr_ssize_t n = -1;

    if (!d || !d->d || d->r || d->d_is_fnmatch || d->d[0] != '/') {
        return NULL;
    }
    n = mount_match(r->uri, d->d);
    if (n < 0) {
        return NULL;
    }
    *len = (apr_size_t)n;
    return r->uri;
}

/* SCRIPT_NAME and PATH_INFO from r->uri (already %-decoded): the part
 * of the URI the mount point (`given`, mod_wsgi.script_name, else the
 * <Location>) matched, in the URI's own characters, and the rest.  OK,
 * or 500 after logging. */
static int
split_path(request_rec *r, apwsgi_config_t *cfg, const char *given)
{
    const char *prefix = NULL;
    apr_ssize_t n = 0;
    apr_size_t len = 0;

    if (given && *given && strspn(given, "/") < strlen(given)) {
        n = mount_match(r->uri, given);
        if (n < 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          APWSGI_APLOGNO(00105) "mod_wsgi.script_name '%s' is "
                                                "not a prefix of the request "
                                                "path %s: fix the rule that "
                                                "sets it",
                          given, r->uri);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        prefix = r->uri;
        len = (apr_size_t)n;
    }
    else if (!given || !*given) {
        prefix = location_prefix(r, &len);
    }
    cfg->script_name = prefix ? apr_pstrmemdup(r->pool, prefix, len) : "";
    cfg->path_info = r->uri + (prefix ? len : 0);
    return OK;
}

/*
 * The value of every key in one pass over r->subprocess_env, as
 * apr_table_get() would find it (the first entry, names in any case),
 * into v[K_COUNT] (NULL: unset): one comparison of the prefix per entry
 * rather than a scan of the table per key.
 */
static void
scan_keys(request_rec *r, const char **v)
{
    const apr_array_header_t *arr = apr_table_elts(r->subprocess_env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;

    memset(v, 0, K_COUNT * sizeof(*v));
    for (int i = 0; i < arr->nelts; i++) {
        const char *key = e[i].key;
        int first = 0;

        if (!key || apr_tolower(key[0]) != KEY_PREFIX[0]
            || strncasecmp(key, KEY_PREFIX, KEY_PREFIX_LEN) != 0) {
            continue;
        }
        /* The names are lowercase: their first letters tell most apart
         * before strcasecmp() runs. */
        first = apr_tolower(key[KEY_PREFIX_LEN]);
        for (int k = 0; k < K_COUNT; k++) {
            if (!v[k] && key_names[k][KEY_PREFIX_LEN] == first
                && strcasecmp(key + KEY_PREFIX_LEN,
                              key_names[k] + KEY_PREFIX_LEN)
                       == 0) {
                v[k] = e[i].val;
                break;
            }
        }
    }
}

/*
 * The whole number `v` of `key`, from `lo` to `hi` (`dflt` when unset),
 * into *out.  1, or 0 after logging `tag` with what to fix.
 */
static int
int_key(request_rec *r, const char *tag, const char *key, const char *v,
        int lo, int hi, int dflt, int *out)
{
    char *end = NULL;
    long n = dflt;

    if (v && *v) {
        n = strtol(v, &end, 10);
    }
    if (v && *v && (*end || n < lo || n > hi)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "%s%s '%s' for %s is not a whole number from %d to %d",
                      tag, key, v, r->uri, lo, hi);
        return 0;
    }
    *out = (int)n;
    return 1;
}

/*
 * 1 or 0 for the words `yes`/`no` in the value `v` of `key` (`dflt`
 * when unset), into *out.  1, or 0 after logging `tag`.
 */
static int
word_key(request_rec *r, const char *tag, const char *key, const char *v,
         const char *yes, const char *no, int dflt, int *out)
{
    if (!v || !*v) {
        *out = dflt;
    }
    else if (strcasecmp(v, yes) == 0 || strcasecmp(v, no) == 0) {
        *out = strcasecmp(v, yes) == 0;
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "%s%s '%s' for %s must be '%s' or '%s'", tag, key, v,
                      r->uri, yes, no);
        return 0;
    }
    return 1;
}

/* The index in `words` (3: auto, on, off) of the value `v` of `key`, in
 * any case, 0 (auto) when unset; -1 after logging `tag`. */
static int
auto_on_off(request_rec *r, const char *tag, const char *key, const char *v)
{
    static const char *const words[] = {"auto", "on", "off"};

    if (!v || !*v) {
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(v, words[i]) == 0) {
            return i;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "%s%s '%s' for %s must be 'auto', 'on' or 'off'", tag, key,
                  v, r->uri);
    return -1;
}

/* mod_wsgi.cpu_affinity and mod_wsgi.sched_batch: auto (unset), on or
 * off, into cfg->cpu_affinity and cfg->sched_batch.  OK, or 500 after
 * logging. */
static int
read_process_keys(request_rec *r, apwsgi_config_t *cfg, const char **v)
{
    int affinity = auto_on_off(r, APWSGI_APLOGNO(00116), KEY_CPU_AFFINITY,
                               v[K_CPU_AFFINITY]);
    int batch = affinity < 0 ? -1
                             : auto_on_off(r, APWSGI_APLOGNO(00119),
                                           KEY_SCHED_BATCH, v[K_SCHED_BATCH]);

    if (affinity < 0 || batch < 0) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    cfg->cpu_affinity = (apwsgi_switch_t)affinity;
    cfg->sched_batch = (apwsgi_switch_t)batch;
    return OK;
}

/* Whether the n bytes at `needle` occur in `hay` (NULL: no). */
static int
holds(const char *hay, const char *needle, apr_size_t n)
{
    return hay && memmem(hay, strlen(hay), needle, n) != NULL;
}

/* Bytes looked for in the request's headers. */
typedef struct {
    const char *s;
    apr_size_t n;
} probe_t;

/* apr_table_do callback: 0 (stop) when the value holds the probe. */
static int
header_lacks(void *rec, const char *key, const char *value)
{
    const probe_t *probe = rec;

    (void)key;
    return !holds(value, probe->s, probe->n);
}

/*
 * Whether the n bytes at `s` occur in what the client sent: the path
 * (decoded and as sent), the query (as sent and decoded), the host or
 * a request header's value.  That is where a rule (mod_rewrite's
 * back-references, SetEnvIf's) can take part of a name from.
 */
static int
in_request(request_rec *r, const char *s, apr_size_t n)
{
    probe_t probe = {s, n};
    char *query = r->args ? apr_pstrdup(r->pool, r->args) : NULL;

    if (query) {
        ap_unescape_urlencoded(query);
    }
    return holds(r->uri, s, n) || holds(r->unparsed_uri, s, n)
           || holds(r->args, s, n) || holds(query, s, n)
           || holds(r->hostname, s, n)
           || !apr_table_do(header_lacks, &probe, r->headers_in, NULL);
}

/*
 * Check mod_wsgi.interpreter: no '#' (it names the members of a pool),
 * no control character, at most MAX_INTERPRETER_NAME bytes.  A bad
 * name that came from the request is the client's fault: 400 and an
 * info line.  It came from the request when what makes it bad occurs
 * there (see in_request): the bad character, or for an over-long name
 * its first or last NAME_PROBE bytes.  Otherwise the administrator's
 * rule made it: 500 and an error line.  OK, or the status after
 * logging.
 */
static int
check_interpreter(request_rec *r, const char *name)
{
    apr_size_t n = strlen(name);
    const char *bad = name;
    const char *what = NULL;
    int client = 0;

    while (*bad && *bad != '#' && (unsigned char)*bad >= 0x20
           && *bad != 0x7f) {
        bad++;
    }
    if (*bad) {
        what = *bad == '#' ? "contains '#', which names the members of a "
                             "pool (mod_wsgi.interpreters)"
                           : "contains a control character";
        client = in_request(r, bad, 1);
    }
    else if (n > MAX_INTERPRETER_NAME) {
        what = apr_psprintf(r->pool,
                            "is %" APR_SIZE_T_FMT " bytes long, over the "
                            "limit of %d",
                            n, MAX_INTERPRETER_NAME);
        client = in_request(r, name, NAME_PROBE)
                 || in_request(r, name + n - NAME_PROBE, NAME_PROBE);
    }
    if (!what) {
        return OK;
    }
    name = ap_escape_logitem(r->pool, apr_pstrndup(r->pool, name, NAME_SHOWN));
    if (client) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APWSGI_APLOGNO(00114) "mod_wsgi.interpreter \"%s%s\" "
                                            "for %s, taken from the request, "
                                            "%s: 400",
                      name, n > NAME_SHOWN ? "..." : "", r->uri, what);
        return HTTP_BAD_REQUEST;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  APWSGI_APLOGNO(00115) "mod_wsgi.interpreter \"%s%s\" for "
                                        "%s %s: fix the configuration that "
                                        "sets it",
                  name, n > NAME_SHOWN ? "..." : "", r->uri, what);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* The keys that choose and shape the interpreter (its name, a pool,
 * its GIL, reloading, bounds).  OK, or 400 or 500 after logging. */
static int
read_interpreter_keys(request_rec *r, apwsgi_config_t *cfg,
                      const char *const *v)
{
    int idle = 0;
    int status = check_interpreter(r, cfg->interpreter);

    if (status != OK) {
        return status;
    }
    if (!int_key(r, APWSGI_APLOGNO(00106), KEY_INTERPRETERS, v[K_INTERPRETERS],
                 1, MAX_POOL_SIZE, 1, &cfg->pool_size)
        || !word_key(r, APWSGI_APLOGNO(00107), KEY_GIL, v[K_GIL], "own",
                     "shared", 0, &cfg->own_gil)
        || !word_key(r, APWSGI_APLOGNO(00108), KEY_RELOAD, v[K_RELOAD], "on",
                     "off", 0, &cfg->reload)
        || !int_key(r, APWSGI_APLOGNO(00109), KEY_MAX_INTERPRETERS,
                    v[K_MAX_INTERPRETERS], 1, MAX_MAX_INTERPRETERS,
                    DEFAULT_MAX_INTERPRETERS, &cfg->max_interpreters)
        || !int_key(r, APWSGI_APLOGNO(00110), KEY_IDLE_TIMEOUT,
                    v[K_IDLE_TIMEOUT], 0, MAX_IDLE_TIMEOUT, 0, &idle)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    cfg->idle_timeout = apr_time_from_sec(idle);
    if (cfg->pool_size > 1 && !*cfg->interpreter) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00112) "mod_wsgi.interpreters for %s "
                                            "needs a pool name: set "
                                            "mod_wsgi.interpreter too",
                      r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* The keys of a request's time limits.  OK, or 500 after logging. */
static int
read_request_keys(request_rec *r, apwsgi_config_t *cfg, const char *const *v)
{
    int timeout = 0;
    int slow = 0;

    if (!int_key(r, APWSGI_APLOGNO(00701), KEY_REQUEST_TIMEOUT,
                 v[K_REQUEST_TIMEOUT], 0, MAX_REQUEST_TIMEOUT, 0, &timeout)
        || !int_key(r, APWSGI_APLOGNO(00702), KEY_SLOW_REQUEST,
                    v[K_SLOW_REQUEST], 0, MAX_REQUEST_TIMEOUT,
                    DEFAULT_SLOW_REQUEST, &slow)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    cfg->request_timeout = apr_time_from_sec(timeout);
    cfg->slow_request = apr_time_from_sec(slow);
    return OK;
}

int
apwsgi_config_read(request_rec *r, apwsgi_config_t *cfg)
{
    const char *v[K_COUNT];
    int status = OK;

    memset(cfg, 0, sizeof(*cfg));
    scan_keys(r, v);
    cfg->application = v[K_APPLICATION];
    cfg->directory = v[K_DIRECTORY];
    cfg->virtualenv = v[K_VIRTUALENV];
    cfg->interpreter = v[K_INTERPRETER];
    cfg->map_to_storage = v[K_MAP_TO_STORAGE];
    if (!cfg->interpreter) {
        cfg->interpreter = "";
    }
    if (cfg->directory && !*cfg->directory) {
        cfg->directory = NULL;
    }
    if (cfg->virtualenv && !*cfg->virtualenv) {
        cfg->virtualenv = NULL;
    }
    if (!cfg->application || !*cfg->application) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00101) "mod_wsgi.application is not set "
                                  "for %s: add 'SetEnv "
                                  "mod_wsgi.application "
                                  "module::callable' (or a script "
                                  "path) where 'SetHandler mod_wsgi' "
                                  "is",
            r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cfg->directory && cfg->directory[0] != '/') {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00104) "mod_wsgi.directory '%s' for %s is "
                                  "not an absolute path",
            cfg->directory, r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cfg->virtualenv && cfg->virtualenv[0] != '/') {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00113) "mod_wsgi.virtualenv '%s' for %s "
                                            "is not an absolute path",
                      cfg->virtualenv, r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    status = parse_application(r, cfg);
    if (status == OK) {
        status = split_path(r, cfg, v[K_SCRIPT_NAME]);
    }
    if (status == OK) {
        status = read_interpreter_keys(r, cfg, v);
    }
    if (status == OK) {
        status = read_request_keys(r, cfg, v);
    }
    if (status == OK) {
        status = read_process_keys(r, cfg, v);
    }
    return status;
}
