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
    PyObject *key;
    PyObject *value;
    char *last;
} env_entry_t;

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
} environ_part_t;

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

/* The cache entry for `key` at position `pos`: the entry that stood
 * there last time when it is the same key, else the hash's (made on
 * first use), remembered for next time.  NULL as env_entry(). */
static env_entry_t *
entry_at(environ_part_t *part, int pos, const char *key)
{
    env_entry_t *e = pos < ENV_POSITIONS ? part->pos[pos] : NULL;

    if (!e || strcmp(e->name, key) != 0) {
        e = env_entry(part, key);
        if (pos < ENV_POSITIONS) {
            part->pos[pos] = e;
        }
    }
    return e;
}

/* environ[key] = value (latin-1 str) through the entry at `pos`.
 * 0, or -1 with an exception set. */
static int
set_at(environ_part_t *part, PyObject *environ, int pos, const char *key,
       const char *value)
{
    return set_entry(environ, entry_at(part, pos, key), key, value);
}

/* environ[key] = obj (a Python object) through the entry at `pos`.
 * 0, or -1 with an exception set. */
static int
set_obj_at(environ_part_t *part, PyObject *environ, int pos, const char *key,
           PyObject *obj)
{
    env_entry_t *e = entry_at(part, pos, key);

    if (!e) {
        return PyErr_Occurred() ? -1 : PyDict_SetItemString(environ, key, obj);
    }
    return PyDict_SetItem(environ, e->key, obj);
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

/* Every entry of `t` into environ, from cache position `pos` on.
 * Returns the next position, or -1 with an exception set. */
static int
set_table(environ_part_t *part, PyObject *environ, const apr_table_t *t,
          int pos)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;

    for (int i = 0; i < arr->nelts; i++, pos++) {
        if (e[i].key && e[i].val
            && set_at(part, environ, pos, e[i].key, e[i].val) < 0) {
            return -1;
        }
    }
    return pos;
}

PyObject *
apwsgi_environ_new(apwsgi_state_t *st, request_rec *r,
                   const apwsgi_config_t *cfg, const char *interp,
                   PyObject *input, PyObject *errors)
{
    environ_part_t *part = st->environ;
    PyObject *environ = PyDict_Copy(part->base);
    const char *https_var = apr_table_get(r->subprocess_env, "HTTPS");
    const char *scheme = ap_http_scheme(r);
    int https = scheme && strcmp(scheme, "https") == 0;
    const char *query = r->args ? r->args : "";
    int pos = 0;

    if (!environ) {
        return NULL;
    }
    /* HTTPS in the environment (mod_ssl's, or SetEnvIf's behind a
     * proxy that ends TLS) decides wsgi.url_scheme, as in mod_wsgi. */
    if (https_var) {
        https =
            strcasecmp(https_var, "on") == 0 || strcmp(https_var, "1") == 0;
    }
    pos = set_table(part, environ, r->subprocess_env, 0);
    if (pos >= 0 && cfg->common) {
        pos = set_table(part, environ, cfg->common, pos);
    }
    if (pos < 0) {
        goto failed;
    }
    /* The CGI request variables (RFC 3875 section 4.1) and the wsgi.*
     * objects of this request, each at its own cache position. */
    if (set_at(part, environ, pos++, "GATEWAY_INTERFACE", "CGI/1.1") < 0
        || set_at(part, environ, pos++, "SERVER_PROTOCOL", r->protocol) < 0
        || set_at(part, environ, pos++, "REQUEST_METHOD", r->method) < 0
        || set_at(part, environ, pos++, "QUERY_STRING", query) < 0
        || set_at(part, environ, pos++, "REQUEST_URI", original_uri(r)) < 0
        || set_at(part, environ, pos++, "SCRIPT_NAME", cfg->script_name) < 0
        || set_at(part, environ, pos++, "PATH_INFO", cfg->path_info) < 0
        || (!https_var
            && set_at(part, environ, pos++, "HTTPS", https ? "on" : "off") < 0)
        || set_at(part, environ, pos++, "wsgi.url_scheme",
                  https ? "https" : "http")
               < 0
        || set_at(part, environ, pos++, "apwsgi.interpreter", interp) < 0
        || set_obj_at(part, environ, pos++, "wsgi.input", input) < 0
        || set_obj_at(part, environ, pos++, "wsgi.errors", errors) < 0) {
        goto failed;
    }
    /* Only where it can be raised: one entry more in every environ
     * costs a hello world 0.4% of its instructions. */
    if (cfg->request_timeout
        && set_obj_at(part, environ, pos++, "apwsgi.RequestTimeout",
                      apwsgi_timeout_type(st))
               < 0) {
        goto failed;
    }
    return environ;
failed:
    Py_DECREF(environ);
    return NULL;
}
