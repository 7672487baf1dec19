/*
 * apwsgi_environ.c: build environ from the request.
 */
#include "apwsgi_environ.h"
#include "apwsgi_state.h"

/* environ[key] = value, both latin-1 str.  0, or -1 with an exception
 * set. */
static int
set_str(PyObject *environ, const char *key, const char *value)
{
    PyObject *k = PyUnicode_DecodeLatin1(key, (Py_ssize_t)strlen(key), NULL);
    PyObject *v = k ? PyUnicode_DecodeLatin1(value,
                                             (Py_ssize_t)strlen(value), NULL)
                    : NULL;
    int rc = v ? PyDict_SetItem(environ, k, v) : -1;

    Py_XDECREF(k);
    Py_XDECREF(v);
    return rc;
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

PyObject *
apwsgi_environ_new(apwsgi_state_t *st, request_rec *r,
                   const apwsgi_config_t *cfg, const char *interp,
                   PyObject *input, PyObject *errors)
{
    PyObject *environ = PyDict_Copy(st->environ_base);
    const apr_array_header_t *arr = apr_table_elts(r->subprocess_env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int https = ap_http_scheme(r) && strcmp(ap_http_scheme(r), "https") == 0;

    if (!environ) {
        return NULL;
    }
    for (int i = 0; i < arr->nelts; i++) {
        if (e[i].key && e[i].val && set_str(environ, e[i].key, e[i].val) < 0) {
            goto failed;
        }
    }
    if (set_str(environ, "GATEWAY_INTERFACE", "CGI/1.1") < 0
        || set_str(environ, "SERVER_PROTOCOL", r->protocol) < 0
        || set_str(environ, "REQUEST_METHOD", r->method) < 0
        || set_str(environ, "QUERY_STRING", r->args ? r->args : "") < 0
        || set_str(environ, "REQUEST_URI", original_uri(r)) < 0
        || set_str(environ, "SCRIPT_NAME", cfg->script_name) < 0
        || set_str(environ, "PATH_INFO", cfg->path_info) < 0
        || (!apr_table_get(r->subprocess_env, "HTTPS")
            && set_str(environ, "HTTPS", https ? "on" : "off") < 0)
        || set_str(environ, "wsgi.url_scheme", https ? "https" : "http") < 0
        || set_str(environ, "apwsgi.interpreter", interp) < 0
        || PyDict_SetItemString(environ, "wsgi.input", input) < 0
        || PyDict_SetItemString(environ, "wsgi.errors", errors) < 0) {
        goto failed;
    }
    return environ;
failed:
    Py_DECREF(environ);
    return NULL;
}
