/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_environ.c: build environ from the request.
 */
#include "apwsgi_environ.h"
#include "apwsgi_filewrapper.h"
#include "apwsgi_timeout.h"

#define ENV_CACHE_MAX 256
#define ENV_POSITIONS 64
#define ENV_VALUE_MAX 128

/* A cached environ key: the interned key, and the last value seen for
 * it as C string (PyMem) and str (strong references). */
typedef struct {
    const char *name; /* the key as C string, in the part's pool */
    /* The string literal the key was last given as (put_lit()), whose
     * address alone then identifies it; NULL if none. */
    const char *literal;
    PyObject *key;
    PyObject *value;
    char *last;
    /* What the template holds under this key while the entry stands at
     * one of its positions: TMPL_VALUE (`value`), TMPL_NONE (None, for
     * a request's own object) or TMPL_STALE (something else). */
    int in_tmpl;
    /* The number of the last request that set it. */
    unsigned long seen;
} env_entry_t;

enum { TMPL_STALE = 0, TMPL_VALUE, TMPL_NONE };

/* The environ's part of an interpreter's state. */
typedef struct apwsgi_environ_part {
    /* environ entries that are the same for every request (PEP 3333
     * "environ Variables"): wsgi.version, wsgi.multithread, ... */
    PyObject *base;
    apr_pool_t *pool;
    /* environ keys seen so far (C string -> env_entry_t): the interned
     * key and the last value with its str, so that a value that did
     * not change (SERVER_NAME, REQUEST_METHOD, ...) is not decoded
     * again.  At most ENV_CACHE_MAX keys. */
    apr_hash_t *cache;
    /* The entry of each position of r->subprocess_env last time: the
     * order repeats from request to request, so a strcmp here usually
     * saves the hash lookup. */
    env_entry_t *pos[ENV_POSITIONS];
    /* The template: `base` plus every key the request that made it set,
     * in order, each with its entry's value (None for a request's own
     * objects, wsgi.input and the like), or NULL.  A request that sets
     * the same keys in the same order starts from a copy (one memcpy of
     * the hash table) and sets only what differs; one that does not
     * makes a new template.  tmpl_pos: the entry at each position. */
    PyObject *tmpl;
    int tmpl_n;
    env_entry_t *tmpl_pos[ENV_POSITIONS];
    /* The number of the request being built. */
    unsigned long gen;
    /* Set while an environ is built from the template.  Under CPython
     * 3.11, copying a dict can start a garbage collection (when the
     * dicts' free list is empty, the new dict's allocation collects at
     * once), whose finalizers run Python that may let another thread
     * take the GIL and build an environ of its own: that one then takes
     * the plain path, which uses no cache.  From 3.12 a collection
     * waits for the evaluation loop (What's New 3.12, gh-97922). */
    int building;
} environ_part_t;

/* One environ being built: where it stands against the template. */
typedef struct {
    environ_part_t *part;
    PyObject *environ;
    int pos;
    int same;      /* so far the template's keys, in its order */
    int untracked; /* a key without a cache entry, or too many keys */
    int plain;     /* another build is under way: no cache, no template */
    /* What environ holds at each position: TMPL_VALUE where it is the
     * entry's cached value, TMPL_NONE for an object. */
    char held[ENV_POSITIONS];
} builder_t;

static inline PyObject *
latin1_str(const char *s)
{
    return PyUnicode_DecodeLatin1(s, (Py_ssize_t)strlen(s), NULL);
}

/* The cache entry for `key`, made on first use; NULL when the cache is
 * full (sets no exception) or on error (exception set). */
static env_entry_t *
env_entry(environ_part_t *part, const char *key)
{
    env_entry_t *e = apr_hash_get(part->cache, key, APR_HASH_KEY_STRING);

    if (e || apr_hash_count(part->cache) >= ENV_CACHE_MAX) {
        return e;
    }
    e = apr_pcalloc(part->pool, sizeof(*e));
    e->key = latin1_str(key);
    if (!e->key) {
        return NULL;
    }
    PyUnicode_InternInPlace(&e->key);
    e->name = apr_pstrdup(part->pool, key);
    apr_hash_set(part->cache, e->name, APR_HASH_KEY_STRING, e);
    return e;
}

/* The str for `value` under entry `e`: the cached one when the value is
 * the same as last time.  New reference, or NULL with an exception
 * set. */
static PyObject *
env_value(env_entry_t *e, const char *value)
{
    size_t n = strlen(value);
    PyObject *v = NULL;

    if (e->value && strcmp(e->last, value) == 0) {
        return Py_NewRef(e->value);
    }
    v = PyUnicode_DecodeLatin1(value, (Py_ssize_t)n, NULL);
    if (v && n <= ENV_VALUE_MAX) {
        char *last = PyMem_Realloc(e->last, n + 1);

        if (last) {
            memcpy(last, value, n + 1);
            e->last = last;
            Py_XSETREF(e->value, Py_NewRef(v));
        }
    }
    return v;
}

/* environ[key] = value, both latin-1 str; `e` is key's cache entry, or
 * NULL.  0, or -1 with an exception set. */
static int
set_entry(PyObject *environ, env_entry_t *e, const char *key,
          const char *value)
{
    PyObject *k = NULL;
    PyObject *v = NULL;
    int rc = -1;

    if (e) {
        v = env_value(e, value);
        rc = v ? PyDict_SetItem(environ, e->key, v) : -1;
    }
    else if (!PyErr_Occurred()) {
        k = latin1_str(key);
        v = k ? latin1_str(value) : NULL;
        rc = v ? PyDict_SetItem(environ, k, v) : -1;
    }
    Py_XDECREF(k);
    Py_XDECREF(v);
    return rc;
}

/* entry_at() where the entry at `pos` is not known by its address. */
static env_entry_t *
entry_lookup(environ_part_t *part, int pos, const char *key, int literal)
{
    env_entry_t *e = pos < ENV_POSITIONS ? part->pos[pos] : NULL;

    if (!e || strcmp(e->name, key) != 0) {
        e = env_entry(part, key);
        if (pos < ENV_POSITIONS) {
            part->pos[pos] = e;
        }
    }
    if (e && literal) {
        e->literal = key;
    }
    return e;
}

/* The cache entry for `key` at position `pos`: the entry that stood
 * there last time when it is the same key, else the hash's (made on
 * first use), remembered for next time.  `literal`: key is a string
 * literal (a fixed address for the process's life), so that the entry
 * knows it next time by its address, without comparing the strings:
 * most keys of most requests, checked here without a call.  NULL as
 * env_entry(). */
static inline env_entry_t *
entry_at(environ_part_t *part, int pos, const char *key, int literal)
{
    env_entry_t *e = pos < ENV_POSITIONS ? part->pos[pos] : NULL;

    if (e && literal && e->literal == key) {
        return e;
    }
    return entry_lookup(part, pos, key, literal);
}

/* environ[key] = v through entry `e` at the builder's position, kept
 * in the template too where the template has the key there.  `held`:
 * what v is (TMPL_VALUE, TMPL_NONE or TMPL_STALE).  0, or -1 with an
 * exception set. */
static int
put_entry(builder_t *b, env_entry_t *e, PyObject *v, int held)
{
    environ_part_t *part = b->part;
    int in_place =
        b->same && b->pos < part->tmpl_n && part->tmpl_pos[b->pos] == e;

    if (!in_place) {
        b->same = 0;
    }
    if (PyDict_SetItem(b->environ, e->key, v) < 0) {
        return -1;
    }
    /* Here the template does not hold v: the value changed, or it
     * held something else. */
    if (in_place && held == TMPL_VALUE) {
        if (PyDict_SetItem(part->tmpl, e->key, v) < 0) {
            return -1;
        }
        e->in_tmpl = TMPL_VALUE;
    }
    else if (in_place && held == TMPL_STALE) {
        e->in_tmpl = TMPL_STALE;
    }
    return 0;
}

/* Step past the builder's position, which `e` (NULL: none) took. */
static void
advance(builder_t *b, env_entry_t *e, int held)
{
    if (e) {
        e->seen = b->part->gen;
    }
    if (!e || b->pos >= ENV_POSITIONS) {
        b->untracked = 1;
    }
    else {
        b->held[b->pos] = (char)held;
    }
    b->pos++;
}

/* environ[key] = value (latin-1 str) at the builder's position: nothing
 * to do when the template copy already holds it.  `literal` as for
 * entry_at().  0, or -1 with an exception set. */
static int
put_value(builder_t *b, const char *key, const char *value, int literal)
{
    environ_part_t *part = b->part;
    env_entry_t *e = NULL;
    PyObject *v = NULL;
    int held = TMPL_STALE;
    int rc = -1;

    if (b->plain) {
        return set_entry(b->environ, NULL, key, value);
    }
    e = entry_at(part, b->pos, key, literal);
    if (!e) {
        if (PyErr_Occurred()) {
            return -1;
        }
        b->same = 0;
        rc = set_entry(b->environ, NULL, key, value);
        advance(b, NULL, TMPL_STALE);
        return rc;
    }
    if (b->same && b->pos < part->tmpl_n && part->tmpl_pos[b->pos] == e
        && e->in_tmpl == TMPL_VALUE && e->value
        && strcmp(e->last, value) == 0) {
        advance(b, e, TMPL_VALUE);
        return 0;
    }
    v = env_value(e, value);
    if (v) {
        held = v == e->value ? TMPL_VALUE : TMPL_STALE;
        rc = put_entry(b, e, v, held);
    }
    Py_XDECREF(v);
    advance(b, e, held);
    return rc;
}

/* put_value() for a key from a table or a buffer. */
static int
put_str(builder_t *b, const char *key, const char *value)
{
    return put_value(b, key, value, 0);
}

/* put_value() for a key that is a string literal. */
static int
put_lit(builder_t *b, const char *key, const char *value)
{
    return put_value(b, key, value, 1);
}

/* environ[key] = obj (a request's own object) at the builder's
 * position; key is a string literal.  0, or -1 with an exception set. */
static int
put_obj(builder_t *b, const char *key, PyObject *obj)
{
    env_entry_t *e = NULL;
    int rc = -1;

    if (b->plain) {
        return PyDict_SetItemString(b->environ, key, obj);
    }
    e = entry_at(b->part, b->pos, key, 1);
    if (!e) {
        if (PyErr_Occurred()) {
            return -1;
        }
        b->same = 0;
        rc = PyDict_SetItemString(b->environ, key, obj);
    }
    else {
        rc = put_entry(b, e, obj, TMPL_NONE);
    }
    advance(b, e, TMPL_NONE);
    return rc;
}

/*
 * After the last key: where the keys were not the template's, take out
 * of environ what the template had and this request did not set, and
 * make a new template from environ (None for the objects).  0, or -1
 * with an exception set.
 */
static int
builder_finish(builder_t *b)
{
    environ_part_t *part = b->part;
    PyObject *tmpl = NULL;

    if (b->plain || (b->same && b->pos == part->tmpl_n)) {
        return 0;
    }
    /* What the template set and this request did not goes back to
     * what `base` has, else out; each key once (marked seen), since a
     * key may stand at two positions. */
    for (int i = 0; part->tmpl && i < part->tmpl_n; i++) {
        env_entry_t *e = part->tmpl_pos[i];
        PyObject *dflt = NULL; /* borrowed */

        if (e->seen == part->gen) {
            continue;
        }
        e->seen = part->gen;
        dflt = PyDict_GetItemWithError(part->base, e->key);
        if (dflt
                ? PyDict_SetItem(b->environ, e->key, dflt) < 0
                : PyErr_Occurred() || PyDict_DelItem(b->environ, e->key) < 0) {
            return -1;
        }
    }
    Py_CLEAR(part->tmpl);
    part->tmpl_n = 0;
    if (b->untracked) {
        return 0;
    }
    tmpl = PyDict_Copy(b->environ);
    if (!tmpl) {
        return -1;
    }
    for (int i = 0; i < b->pos; i++) {
        env_entry_t *e = part->pos[i];

        e->in_tmpl = b->held[i];
        if (b->held[i] == TMPL_NONE
            && PyDict_SetItem(tmpl, e->key, Py_None) < 0) {
            Py_DECREF(tmpl);
            return -1;
        }
        part->tmpl_pos[i] = e;
    }
    part->tmpl = tmpl;
    part->tmpl_n = b->pos;
    return 0;
}

/*
 * wsgi.multithread and wsgi.multiprocess from the MPM's limits: true
 * only where the MPM can really run requests concurrently that way.
 */
static void
mpm_concurrency(int *multithread, int *multiprocess)
{
    int threaded = AP_MPMQ_NOT_SUPPORTED;
    int forked = AP_MPMQ_NOT_SUPPORTED;
    int max_threads = 1;
    int max_daemons = 1;

    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &max_threads);
    ap_mpm_query(AP_MPMQ_IS_FORKED, &forked);
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &max_daemons);
    *multithread = threaded != AP_MPMQ_NOT_SUPPORTED && max_threads > 1;
    *multiprocess = forked != AP_MPMQ_NOT_SUPPORTED && max_daemons > 1;
}

/* dict[key] = True or False.  0, or -1 with an exception set. */
static int
set_bool(PyObject *dict, const char *key, int value)
{
    return PyDict_SetItemString(dict, key, value ? Py_True : Py_False);
}

/* The entries that are the same for every request.  Returns a new
 * reference to the dict, or NULL with an exception set. */
static PyObject *
environ_base_new(apwsgi_state_t *st)
{
    PyObject *file_wrapper = apwsgi_filewrapper_type(st); /* borrowed */
    PyObject *base = NULL;
    PyObject *version = NULL;
    int threads = 0;
    int processes = 0;

    mpm_concurrency(&threads, &processes);
    version = Py_BuildValue("(ii)", 1, 0);
    base = version ? PyDict_New() : NULL;
    if (!base || PyDict_SetItemString(base, "wsgi.version", version) < 0
        || set_bool(base, "wsgi.multithread", threads) < 0
        || set_bool(base, "wsgi.multiprocess", processes) < 0
        || PyDict_SetItemString(base, "wsgi.run_once", Py_False) < 0
        || PyDict_SetItemString(base, "wsgi.input_terminated", Py_True) < 0
        || PyDict_SetItemString(base, "wsgi.file_wrapper", file_wrapper) < 0) {
        Py_CLEAR(base);
    }
    Py_XDECREF(version);
    return base;
}

int
apwsgi_environ_part_init(apwsgi_state_t *st, const apwsgi_state_setup_t *setup)
{
    environ_part_t *part = apr_pcalloc(setup->pool, sizeof(*part));

    part->pool = setup->pool;
    part->cache = apr_hash_make(setup->pool);
    part->base = environ_base_new(st);
    st->environ = part;
    return part->base ? 0 : -1;
}

void
apwsgi_environ_part_free(apwsgi_state_t *st)
{
    environ_part_t *part = st->environ;

    for (apr_hash_index_t *hi = apr_hash_first(NULL, part->cache); hi;
         hi = apr_hash_next(hi)) {
        env_entry_t *e = apr_hash_this_val(hi);

        Py_CLEAR(e->key);
        Py_CLEAR(e->value);
        PyMem_Free(e->last);
        e->last = NULL;
    }
    apr_hash_clear(part->cache);
    memset(part->pos, 0, sizeof(part->pos));
    memset(part->tmpl_pos, 0, sizeof(part->tmpl_pos));
    part->tmpl_n = 0;
    Py_CLEAR(part->tmpl);
    Py_CLEAR(part->base);
}

/* The URI of the request as the client sent it (what Apache's CGI
 * calls REQUEST_URI), across internal redirects. */
static const char *
original_uri(request_rec *r)
{
    while (r->prev) {
        r = r->prev;
    }
    return r->unparsed_uri ? r->unparsed_uri : "";
}

/* Every entry of `t` into environ but those named `skip` (exactly;
 * NULL: none).  0, or -1 with an exception set. */
static int
put_table(builder_t *b, const apr_table_t *t, const char *skip)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;

    for (int i = 0; i < arr->nelts; i++) {
        const char *key = e[i].key;

        if (!key || !e[i].val
            || (skip && key[0] == skip[0] && strcmp(key, skip) == 0)) {
            continue;
        }
        if (put_str(b, key, e[i].val) < 0) {
            return -1;
        }
    }
    return 0;
}

/* environ[key] = value where value is not NULL (Apache's
 * add_unless_null()); key is a string literal.  0, or -1 with an
 * exception set. */
static int
put_opt(builder_t *b, const char *key, const char *value)
{
    return value ? put_lit(b, key, value) : 0;
}

/* `n` in decimal into buf (at least 6 bytes), as "%u" would. */
static const char *
port_str(apr_port_t n, char *buf)
{
    char *p = buf + 5;

    *p = '\0';
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    return p;
}

#define HEADER_VAR_MAX 128

/*
 * The CGI variable of request header `name`, as Apache's http2env()
 * (server/util_script.c) makes it: "HTTP_" and the name with letters
 * upper-cased and each '-' made '_'.  NULL for a name with any other
 * character, which Apache does not export (an underscore would let
 * X_Foo pose as X-Foo), logged at trace1 as Apache does.  In `buf`
 * (HEADER_VAR_MAX bytes), or in r->pool for a longer name.
 */
static const char *
header_var(request_rec *r, const char *name, char *buf)
{
    size_t n = strlen(name);
    char *var = n + 6 <= HEADER_VAR_MAX ? buf : apr_palloc(r->pool, n + 6);
    char *p = var + 5;

    memcpy(var, "HTTP_", 5);
    for (const char *s = name; *s; s++) {
        char c = *s;

        if (c >= 'a' && c <= 'z') {
            *p++ = (char)(c - 'a' + 'A');
        }
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            *p++ = c;
        }
        else if (c == '-') {
            *p++ = '_';
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                          APWSGI_APLOGNO(00310) "Not exporting header with "
                                                "invalid name as envvar: %s",
                          ap_escape_logitem(r->pool, name));
            return NULL;
        }
    }
    *p = '\0';
    return var;
}

/*
 * One HTTP_* variable for each request header, as ap_add_common_vars()
 * makes them: Content-Type and Content-Length as CONTENT_TYPE and
 * CONTENT_LENGTH, no Proxy (HTTP_PROXY would name a proxy for the
 * application's own requests: "httpoxy"), and Authorization and
 * Proxy-Authorization only with CGIPassAuth On.  0, or -1 with an
 * exception set.
 */
static int
put_headers(builder_t *b, request_rec *r)
{
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *h = (const apr_table_entry_t *)arr->elts;
    core_dir_config *conf = ap_get_core_module_config(r->per_dir_config);
    int pass_auth = conf->cgi_pass_auth == AP_CGI_PASS_AUTH_ON;
    char buf[HEADER_VAR_MAX];

    for (int i = 0; i < arr->nelts; i++) {
        const char *var = NULL;
        const char *name = NULL;

        if (!h[i].key || !h[i].val) {
            continue;
        }
        var = header_var(r, h[i].key, buf);
        if (!var) {
            continue;
        }
        name = var + 5;
        if (name[0] == 'C'
            && (strcmp(name, "CONTENT_TYPE") == 0
                || strcmp(name, "CONTENT_LENGTH") == 0)) {
            var = name;
        }
        else if (name[0] == 'P' && strcmp(name, "PROXY") == 0) {
            continue;
        }
        else if (!pass_auth
                 && ((name[0] == 'A' && strcmp(name, "AUTHORIZATION") == 0)
                     || (name[0] == 'P'
                         && strcmp(name, "PROXY_AUTHORIZATION") == 0))) {
            continue;
        }
        if (put_str(b, var, h[i].val) < 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * The CGI variables that Apache computes for every request
 * (ap_add_common_vars(), server/util_script.c, httpd 2.4): the request
 * headers, SERVER_*, REMOTE_*, DOCUMENT_ROOT, ..., in Apache's order,
 * but for PATH, Apache's own search path for the CGI programs it
 * starts, which says nothing about the request (mod_wsgi leaves it out
 * too; one set with SetEnv stays).  Made here straight from the request
 * rather than through a table of Apache's and a copy: after an internal
 * redirect (r->prev), whose REDIRECT_* variables depend on more of
 * Apache's configuration, Apache's own function makes them.  0, or -1
 * with an exception set.
 */
static int
put_common(builder_t *b, request_rec *r)
{
    conn_rec *c = r->connection;
    const char *server_name = NULL;
    const char *filename = r->filename;
    const char *q = NULL;
    char port[6];
    char remote_port[6];

    if (r->prev) {
        apr_table_t *env = r->subprocess_env;
        apr_table_t *common = apr_table_make(r->pool, 32);

        /* Given an empty table, Apache fills it rather than merging
         * into (and sorting) what SetEnv put there. */
        r->subprocess_env = common;
        ap_add_common_vars(r);
        r->subprocess_env = env;
        return put_table(b, common, "PATH");
    }
    server_name = ap_get_server_name_for_url(r);
    if (strpbrk(server_name, "<>&\"")) {
        server_name = ap_escape_html(r->pool, server_name);
    }
    /* mod_proxy's query string noted apart from the file name. */
    if (filename && apr_table_get(r->notes, "proxy-noquery")
        && (q = strchr(filename, '?'))) {
        filename =
            apr_pstrmemdup(r->pool, filename, (apr_size_t)(q - filename));
    }
    if (put_headers(b, r) < 0
        || put_lit(b, "SERVER_SIGNATURE", ap_psignature("", r)) < 0
        || put_lit(b, "SERVER_SOFTWARE", ap_get_server_banner()) < 0
        || put_lit(b, "SERVER_NAME", server_name) < 0
        || put_opt(b, "SERVER_ADDR", c->local_ip) < 0
        || put_lit(b, "SERVER_PORT", port_str(ap_get_server_port(r), port)) < 0
        || put_opt(b, "REMOTE_HOST",
                   ap_get_useragent_host(r, REMOTE_HOST, NULL))
               < 0
        || put_opt(b, "REMOTE_ADDR", r->useragent_ip) < 0
        || put_opt(b, "DOCUMENT_ROOT", ap_document_root(r)) < 0
        || put_opt(b, "REQUEST_SCHEME", ap_http_scheme(r)) < 0
        || put_opt(b, "CONTEXT_PREFIX", ap_context_prefix(r)) < 0
        || put_opt(b, "CONTEXT_DOCUMENT_ROOT", ap_context_document_root(r)) < 0
        || put_opt(b, "SERVER_ADMIN", r->server->server_admin) < 0
        || put_opt(b, "SCRIPT_FILENAME", filename) < 0
        || put_lit(b, "REMOTE_PORT",
                   port_str(c->client_addr->port, remote_port))
               < 0
        || put_opt(b, "REMOTE_USER", r->user) < 0
        || put_opt(b, "AUTH_TYPE", r->ap_auth_type) < 0
        || put_opt(b, "REMOTE_IDENT", ap_get_remote_logname(r)) < 0) {
        return -1;
    }
    return 0;
}

PyObject *
apwsgi_environ_new(apwsgi_state_t *st, request_rec *r,
                   const apwsgi_config_t *cfg, const char *interp,
                   PyObject *input, PyObject *errors)
{
    environ_part_t *part = st->environ;
    const char *https_var = apr_table_get(r->subprocess_env, "HTTPS");
    const char *scheme = ap_http_scheme(r);
    int https = scheme && strcmp(scheme, "https") == 0;
    const char *query = r->args ? r->args : "";
    PyObject *environ = NULL;
    builder_t b;

    memset(&b, 0, sizeof(b));
    b.part = part;
    b.plain = part->building;
    b.same = !b.plain && part->tmpl != NULL;
    if (!b.plain) {
        part->building = 1;
        part->gen++;
    }
    b.environ = PyDict_Copy(b.same ? part->tmpl : part->base);
    if (!b.environ) {
        goto done;
    }
    /* HTTPS in the environment (mod_ssl's, or SetEnvIf's behind a
     * proxy that ends TLS) decides wsgi.url_scheme, as in mod_wsgi. */
    if (https_var) {
        https =
            strcasecmp(https_var, "on") == 0 || strcmp(https_var, "1") == 0;
    }
    if (put_table(&b, r->subprocess_env, NULL) < 0 || put_common(&b, r) < 0) {
        goto done;
    }
    /* The CGI request variables (RFC 3875 section 4.1) and the wsgi.*
     * objects of this request, each at its own cache position. */
    if (put_lit(&b, "GATEWAY_INTERFACE", "CGI/1.1") < 0
        || put_lit(&b, "SERVER_PROTOCOL", r->protocol) < 0
        || put_lit(&b, "REQUEST_METHOD", r->method) < 0
        || put_lit(&b, "QUERY_STRING", query) < 0
        || put_lit(&b, "REQUEST_URI", original_uri(r)) < 0
        || put_lit(&b, "SCRIPT_NAME", cfg->script_name) < 0
        || put_lit(&b, "PATH_INFO", cfg->path_info) < 0
        || (!https_var && put_lit(&b, "HTTPS", https ? "on" : "off") < 0)
        || put_lit(&b, "wsgi.url_scheme", https ? "https" : "http") < 0
        || put_lit(&b, "apwsgi.interpreter", interp) < 0
        || put_obj(&b, "wsgi.input", input) < 0
        || put_obj(&b, "wsgi.errors", errors) < 0) {
        goto done;
    }
    /* Only where it can be raised: one entry more in every environ
     * costs a hello world 0.4% of its instructions. */
    if (cfg->request_timeout
        && put_obj(&b, "apwsgi.RequestTimeout", apwsgi_timeout_type(st)) < 0) {
        goto done;
    }
    if (builder_finish(&b) < 0) {
        goto done;
    }
    environ = b.environ;
    b.environ = NULL;
done:
    if (!b.plain) {
        part->building = 0;
    }
    Py_XDECREF(b.environ);
    return environ;
}
