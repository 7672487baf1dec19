/*
 * apwsgi_environ.c: build environ from the request.
 */
#include "apwsgi_environ.h"
#include "apwsgi_state.h"

/* A cached environ key: the interned key, and the last value seen for
 * it as C string (PyMem) and str (strong references). */
typedef struct apwsgi_env_entry {
    const char *name; /* the key as C string, st->pool */
    PyObject *key;
    PyObject *value;
    char *last;
} env_entry_t;

static inline PyObject *
latin1_str(const char *s)
{
    return PyUnicode_DecodeLatin1(s, (Py_ssize_t)strlen(s), NULL);
}

/* The cache entry for `key`, made on first use; NULL when the cache is
 * full (sets no exception) or on error (exception set). */
static env_entry_t *
env_entry(apwsgi_state_t *st, const char *key)
{
    env_entry_t *e = apr_hash_get(st->env_cache, key, APR_HASH_KEY_STRING);

    if (e || apr_hash_count(st->env_cache) >= APWSGI_ENV_CACHE_MAX) {
        return e;
    }
    e = apr_pcalloc(st->pool, sizeof(*e));
    e->key = latin1_str(key);
    if (!e->key) {
        return NULL;
    }
    PyUnicode_InternInPlace(&e->key);
    e->name = apr_pstrdup(st->pool, key);
    apr_hash_set(st->env_cache, e->name, APR_HASH_KEY_STRING, e);
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
    if (v && n <= APWSGI_ENV_VALUE_MAX) {
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
entry_at(apwsgi_state_t *st, int pos, const char *key)
{
    env_entry_t *e = pos < APWSGI_ENV_POSITIONS ? st->env_pos[pos] : NULL;

    if (!e || strcmp(e->name, key) != 0) {
        e = env_entry(st, key);
        if (pos < APWSGI_ENV_POSITIONS) {
            st->env_pos[pos] = e;
        }
    }
    return e;
}

/* environ[key] = value (latin-1 str) through the entry at `pos`.
 * 0, or -1 with an exception set. */
static int
set_at(apwsgi_state_t *st, PyObject *environ, int pos, const char *key,
       const char *value)
{
    return set_entry(environ, entry_at(st, pos, key), key, value);
}

/* environ[key] = obj (a Python object) through the entry at `pos`.
 * 0, or -1 with an exception set. */
static int
set_obj_at(apwsgi_state_t *st, PyObject *environ, int pos, const char *key,
           PyObject *obj)
{
    env_entry_t *e = entry_at(st, pos, key);

    if (!e) {
        return PyErr_Occurred() ? -1
                                : PyDict_SetItemString(environ, key, obj);
    }
    return PyDict_SetItem(environ, e->key, obj);
}

void
apwsgi_environ_cache_clear(apwsgi_state_t *st)
{
    for (apr_hash_index_t *hi = apr_hash_first(NULL, st->env_cache); hi;
         hi = apr_hash_next(hi)) {
        env_entry_t *e = apr_hash_this_val(hi);

        Py_CLEAR(e->key);
        Py_CLEAR(e->value);
        PyMem_Free(e->last);
        e->last = NULL;
    }
    apr_hash_clear(st->env_cache);
    memset(st->env_pos, 0, sizeof(st->env_pos));
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
set_table(apwsgi_state_t *st, PyObject *environ, const apr_table_t *t,
          int pos)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;

    for (int i = 0; i < arr->nelts; i++, pos++) {
        if (e[i].key && e[i].val
            && set_at(st, environ, pos, e[i].key, e[i].val) < 0) {
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
    PyObject *environ = PyDict_Copy(st->environ_base);
    const char *https_var = apr_table_get(r->subprocess_env, "HTTPS");
    const char *scheme = ap_http_scheme(r);
    int https = scheme && strcmp(scheme, "https") == 0;
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
    pos = set_table(st, environ, r->subprocess_env, 0);
    if (pos >= 0 && cfg->common) {
        pos = set_table(st, environ, cfg->common, pos);
    }
    if (pos < 0) {
        goto failed;
    }
    /* The CGI request variables (RFC 3875 section 4.1) and the wsgi.*
     * objects of this request, each at its own cache position. */
    if (set_at(st, environ, pos++, "GATEWAY_INTERFACE", "CGI/1.1") < 0
        || set_at(st, environ, pos++, "SERVER_PROTOCOL", r->protocol) < 0
        || set_at(st, environ, pos++, "REQUEST_METHOD", r->method) < 0
        || set_at(st, environ, pos++, "QUERY_STRING", r->args ? r->args : "")
               < 0
        || set_at(st, environ, pos++, "REQUEST_URI", original_uri(r)) < 0
        || set_at(st, environ, pos++, "SCRIPT_NAME", cfg->script_name) < 0
        || set_at(st, environ, pos++, "PATH_INFO", cfg->path_info) < 0
        || (!https_var
            && set_at(st, environ, pos++, "HTTPS", https ? "on" : "off") < 0)
        || set_at(st, environ, pos++, "wsgi.url_scheme",
                  https ? "https" : "http") < 0
        || set_at(st, environ, pos++, "apwsgi.interpreter", interp) < 0
        || set_obj_at(st, environ, pos++, "wsgi.input", input) < 0
        || set_obj_at(st, environ, pos++, "wsgi.errors", errors) < 0) {
        goto failed;
    }
    return environ;
failed:
    Py_DECREF(environ);
    return NULL;
}
