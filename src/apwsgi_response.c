/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_response.c: start_response, write, and sending the body.
 *
 * Data leaves as transient buckets pointing into the application's
 * bytes objects; each pass down the filters either writes them or has
 * the filter that keeps them set them aside (copy), so no bucket points
 * at Python memory once the pass returns.
 *
 * The GIL is released around a pass that may block.  A pass that
 * cannot (apwsgi_output.h) keeps it: the end of a small response, or a
 * block large enough that the core filter writes it at once.  So a
 * typical response costs its thread no GIL hand-off between entering
 * the interpreter and leaving it.
 */
#include "apwsgi_response.h"
#include "apwsgi_filewrapper.h"
#include "apwsgi_output.h"
#include "apwsgi_process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    apwsgi_request_t *req; /* NULL once the request is over */
    PyObject *write;       /* the write callable, made on first use */
} apwsgi_start_response_object;

/* The response's part of an interpreter's state. */
struct apwsgi_response_part {
    PyTypeObject *type; /* StartResponse, strong */
    /* start_response objects whose request ended with nothing else
     * holding them or their write callable, each with that callable (or
     * none yet): the next requests take them rather than make a
     * start_response and a write (a garbage-collected object each). */
    apwsgi_spares_t spare;
};

/* Headers an application must not set (RFC 9110 section 7.6.1; PEP
 * 3333 "Other HTTP Features"): the server owns the connection.
 * Lowercase: parse_header() compares first letters before names. */
static const char *const hop_by_hop[] = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te",         "trailer",    "trailers",           "transfer-encoding",
    "upgrade",    NULL};

/* The latin-1 bytes of str `o` (PEP 3333 "Unicode Issues"), or NULL
 * with TypeError/ValueError set naming `what`. */
static const char *
latin1(PyObject *o, Py_ssize_t *n, const char *what)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %s", what,
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(o) < 0) {
        return NULL;
    }
#endif
    if (PyUnicode_KIND(o) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "%s %R is not latin-1", what, o);
        return NULL;
    }
    *n = PyUnicode_GET_LENGTH(o);
    return (const char *)PyUnicode_1BYTE_DATA(o);
}

/* Whether c may appear in a header value or reason phrase: anything
 * but control characters, tab excepted (RFC 9110 section 5.5). */
static inline int
is_field_char(unsigned char c)
{
    return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/* Whether c is an HTTP token character (RFC 9110 section 5.6.2). */
static inline int
is_tchar(unsigned char c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Check the status; set *code and *line (r->pool).  0, or -1 with an
 * exception set. */
static int
parse_status(request_rec *r, PyObject *status, int *code, const char **line)
{
    Py_ssize_t n = 0;
    const char *s = latin1(status, &n, "status");

    if (!s) {
        return -1;
    }
    if (n < 4 || !apr_isdigit(s[0]) || !apr_isdigit(s[1]) || !apr_isdigit(s[2])
        || s[3] != ' ') {
        PyErr_Format(PyExc_ValueError,
                     "status must be a 3-digit code, a space and a reason "
                     "phrase, such as '200 OK', not %R",
                     status);
        return -1;
    }
    for (Py_ssize_t i = 4; i < n; i++) {
        if (!is_field_char((unsigned char)s[i])) {
            PyErr_Format(PyExc_ValueError,
                         "status %R contains a control character", status);
            return -1;
        }
    }
    *code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (*code < 200 || *code > 599) {
        PyErr_Format(PyExc_ValueError,
                     "status %R: the code must be from 200 to 599", status);
        return -1;
    }
    *line = apr_pstrmemdup(r->pool, s, n);
    return 0;
}

/* Parse a Content-Length value: digits only.  -1 when invalid. */
static apr_off_t
parse_length(const char *v, Py_ssize_t n)
{
    apr_off_t len = 0;

    if (n == 0 || n > 18) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!apr_isdigit(v[i])) {
            return -1;
        }
        len = len * 10 + (v[i] - '0');
    }
    return len;
}

/* Check one (name, value) header and record it in `out`.  0, or -1
 * with an exception set. */
static int
parse_header(request_rec *r, PyObject *item, apr_table_t *out,
             const char **content_type, apr_off_t *content_length)
{
    Py_ssize_t nn = 0;
    Py_ssize_t vn = 0;
    const char *name = NULL;
    const char *value = NULL;
    char *key = NULL;
    int first = 0; /* the name's first letter, lowercase */

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_Format(PyExc_TypeError,
                     "each header must be a (name, value) "
                     "tuple of str, not %R",
                     item);
        return -1;
    }
    name = latin1(PyTuple_GET_ITEM(item, 0), &nn, "header name");
    value =
        name ? latin1(PyTuple_GET_ITEM(item, 1), &vn, "header value") : NULL;
    if (!value) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < nn; i++) {
        if (!is_tchar((unsigned char)name[i])) {
            nn = 0;
        }
    }
    if (nn == 0) {
        PyErr_Format(PyExc_ValueError, "header name %R is not an HTTP token",
                     PyTuple_GET_ITEM(item, 0));
        return -1;
    }
    for (Py_ssize_t i = 0; i < vn; i++) {
        if (!is_field_char((unsigned char)value[i])) {
            PyErr_Format(PyExc_ValueError,
                         "value of header %R contains a control character "
                         "(such as CR, LF or NUL)",
                         PyTuple_GET_ITEM(item, 0));
            return -1;
        }
    }
    key = apr_pstrmemdup(r->pool, name, nn);
    first = apr_tolower(key[0]);
    for (const char *const *h = hop_by_hop; *h; h++) {
        if ((*h)[0] == first && strcasecmp(key, *h) == 0) {
            PyErr_Format(PyExc_ValueError,
                         "hop-by-hop header %R is the "
                         "server's to set, not the application's",
                         PyTuple_GET_ITEM(item, 0));
            return -1;
        }
    }
    if (first == 'c' && strcasecmp(key, "Content-Length") == 0) {
        *content_length = parse_length(value, vn);
        if (*content_length < 0) {
            PyErr_Format(PyExc_ValueError,
                         "Content-Length %R is not a "
                         "number of bytes",
                         PyTuple_GET_ITEM(item, 1));
            return -1;
        }
    }
    else if (first == 'c' && strcasecmp(key, "Content-Type") == 0) {
        *content_type = apr_pstrmemdup(r->pool, value, vn);
    }
    else {
        apr_table_addn(out, key, apr_pstrmemdup(r->pool, value, vn));
    }
    return 0;
}

/* Whether a response of status `code` may carry content: 204, 205 and
 * 304 never do (RFC 9110 sections 15.3.5, 15.3.6 and 15.4.5). */
static inline int
status_has_body(int code)
{
    return code != 204 && code != 205 && code != 304;
}

/* Check and record a status and header list (start_response's work).
 * 0, or -1 with an exception set and `req` unchanged. */
static int
record_response(apwsgi_request_t *req, PyObject *status, PyObject *headers)
{
    request_rec *r = req->r;
    const char *line = NULL;
    const char *content_type = NULL;
    apr_off_t content_length = -1;
    apr_table_t *out = NULL;
    int code = 0;

    if (parse_status(r, status, &code, &line) < 0) {
        return -1;
    }
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError,
                     "headers must be a list of (name, "
                     "value) tuples, not %s",
                     Py_TYPE(headers)->tp_name);
        return -1;
    }
    out = apr_table_make(r->pool, (int)PyList_GET_SIZE(headers));
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
        PyObject *item = PyList_GET_ITEM(headers, i);

        if (parse_header(r, item, out, &content_type, &content_length) < 0) {
            return -1;
        }
    }
    /* No body follows: 205 says so with "Content-Length: 0" (RFC 9110
     * section 15.3.6); 204 must not have the field, and Apache drops it
     * from a 304 itself. */
    if (!status_has_body(code)) {
        content_length = code == 205 ? 0 : -1;
    }
    req->status = code;
    req->status_line = line;
    req->headers = out;
    req->content_type = content_type;
    req->content_length = content_length;
    return 0;
}

/* The core output filter writes what it is given at once, without a
 * FLUSH, from this many bytes on (THRESHOLD_MIN_WRITE in httpd's
 * server/core_filters.c); below, it sets the data aside. */
#define CORE_MIN_WRITE 4096

/* Pass req->bb down the output filters, then empty it.  The GIL is
 * released around the pass, unless `may_hold` (req->bb has no FLUSH
 * bucket) and the pass cannot block (apwsgi_output_cannot_block).
 * Apache's status; APR_ECONNABORTED for a client that is gone.  GIL
 * held, unless req->python_left; not where Apache answered
 * (req->answered). */
static apr_status_t
pass_down(apwsgi_request_t *req, int may_hold)
{
    request_rec *r = req->r;
    PyThreadState *ts = NULL;
    apr_status_t rv = APR_SUCCESS;

    /* A forked child that comes back here with the response must not
     * send it: the parent does. */
    apwsgi_process_leave_if_forked(r, 0);
    if (!req->python_left
        && (!may_hold || !apwsgi_output_cannot_block(r, req->bb))) {
        ts = PyEval_SaveThread();
    }
    rv = ap_pass_brigade(r->output_filters, req->bb);

    apr_brigade_cleanup(req->bb);
    if (ts) {
        PyEval_RestoreThread(ts);
    }
    return rv == APR_SUCCESS && r->connection->aborted ? APR_ECONNABORTED : rv;
}

/* A pass failed with `rv`: the client is taken to be gone (noted once).
 * Always -1. */
static int
client_gone(apwsgi_request_t *req, apr_status_t rv)
{
    request_rec *r = req->r;

    if (!req->client_gone) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, rv, r,
            APWSGI_APLOGNO(00305) "client went away during the "
                                  "response to %s after %" APR_OFF_T_FMT
                                  " bytes",
            r->uri, req->bytes_sent);
    }
    req->client_gone = 1;
    return -1;
}

/* Pass req->bb down the output filters (pass_down, `may_hold` as
 * there).  0, or -1 when the client is gone.  GIL held. */
static int
pass_brigade(apwsgi_request_t *req, int may_hold)
{
    apr_status_t rv = APR_SUCCESS;

    if (req->answered) {
        /* Apache sent its own error response: drop the application's. */
        apr_brigade_cleanup(req->bb);
        return -1;
    }
    rv = pass_down(req, may_hold);
    return rv == APR_SUCCESS ? 0 : client_gone(req, rv);
}

/* Apply the recorded status and headers to r.  0, or -1 with an
 * exception set when start_response was never called. */
static int
apply_headers(apwsgi_request_t *req)
{
    request_rec *r = req->r;
    const apr_array_header_t *arr = NULL;
    const apr_table_entry_t *e = NULL;

    if (!req->status) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the application returned its "
                        "response without calling start_response()");
        return -1;
    }
    r->status = req->status;
    r->status_line = req->status_line;
    if (req->content_type) {
        ap_set_content_type(r, req->content_type);
    }
    if (req->content_length >= 0) {
        ap_set_content_length(r, req->content_length);
    }
    arr = apr_table_elts(req->headers);
    e = (const apr_table_entry_t *)arr->elts;
    for (int i = 0; i < arr->nelts; i++) {
        apr_table_addn(r->headers_out, e[i].key, e[i].val);
    }
    req->headers_sent = 1;
    apwsgi_inflight_mark_sent(req->inflight);
    return 0;
}

/* Whether the body is complete: Content-Length reached, a HEAD, or a
 * status without a body.  Never before start_response: a generator
 * may call it at its first step. */
static inline int
body_done(const apwsgi_request_t *req)
{
    return req->status
           && (req->r->header_only || !status_has_body(req->status)
               || (req->content_length >= 0
                   && req->bytes_sent >= req->content_length));
}

/* Whether the status forbids a body, so that the `len` bytes offered
 * are dropped (noted once per response). */
static int
drop_for_status(apwsgi_request_t *req, apr_off_t len)
{
    request_rec *r = req->r;

    if (!req->status || status_has_body(req->status)) {
        return 0;
    }
    if (len > 0 && !req->dropped && !r->header_only) {
        req->dropped = 1;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      APWSGI_APLOGNO(00308) "response to %s has status %d, "
                                            "which carries no body: the "
                                            "body the application gave is "
                                            "not sent",
                      r->uri, req->status);
    }
    return 1;
}

/* Queue len bytes at data as a transient bucket, cut to what
 * Content-Length still allows; HEAD responses, and statuses without a
 * body, queue nothing. */
static void
add_data(apwsgi_request_t *req, const char *data, apr_size_t len)
{
    request_rec *r = req->r;

    if (drop_for_status(req, (apr_off_t)len)) {
        return;
    }
    if (req->content_length >= 0
        && (apr_off_t)len > req->content_length - req->bytes_sent) {
        if (!req->truncated) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          APWSGI_APLOGNO(00306) "response to %s is longer "
                                                "than its Content-Length "
                                                "of %" APR_OFF_T_FMT ": "
                                                "the rest is not sent",
                          r->uri, req->content_length);
            req->truncated = 1;
        }
        len = (apr_size_t)(req->content_length - req->bytes_sent);
    }
    req->bytes_sent += len;
    if (len > 0 && !r->header_only) {
        APR_BRIGADE_INSERT_TAIL(
            req->bb, apr_bucket_transient_create(data, len,
                                                 r->connection->bucket_alloc));
    }
}

static void
add_flush(apwsgi_request_t *req)
{
    APR_BRIGADE_INSERT_TAIL(
        req->bb, apr_bucket_flush_create(req->r->connection->bucket_alloc));
}

/*
 * Send the block queued in req->bb on its way before the application
 * makes the next one (PEP 3333 "Buffering and Streaming").  A block the
 * core filter writes at once goes without a FLUSH, keeping the GIL
 * when that cannot block; whatever the filters still hold after it
 * (the socket took only part), and any smaller block, is flushed with
 * the GIL released.  0, or -1 when the client is gone.  GIL held.
 */
static int
send_block(apwsgi_request_t *req)
{
    apr_off_t len = 0;

    apr_brigade_length(req->bb, 0, &len);
    if (len >= CORE_MIN_WRITE) {
        if (pass_brigade(req, 1) < 0) {
            return -1;
        }
        if (!req->r->connection->data_in_output_filters) {
            return 0;
        }
    }
    add_flush(req);
    return pass_brigade(req, 0);
}

void
apwsgi_response_abort(apwsgi_request_t *req)
{
    request_rec *r = req->r;
    conn_rec *c = r->connection;

    /* A file left for later goes now, with the rest. */
    req->later = NULL;
    /* Data still queued goes out first, so that Apache cannot take the
     * whole body for complete and fix up its Content-Length. */
    if (!APR_BRIGADE_EMPTY(req->bb)) {
        add_flush(req);
        if (pass_brigade(req, 0) < 0) {
            return;
        }
    }
    /* The same signal mod_proxy gives for a backend that broke: the
     * chunk filter then writes no last chunk, and the connection is
     * closed after this response. */
    c->keepalive = AP_CONN_CLOSE;
    req->finished = 1;
    APR_BRIGADE_INSERT_TAIL(req->bb,
                            ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL,
                                                   r->pool, c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(req->bb, apr_bucket_eos_create(c->bucket_alloc));
    pass_brigade(req, 0);
}

/* End the body (EOS), or cut it when it fell short of its
 * Content-Length.  0, or -1 with an exception set. */
static int
finish(apwsgi_request_t *req)
{
    request_rec *r = req->r;

    if (!req->headers_sent && apply_headers(req) < 0) {
        return -1;
    }
    if (!r->header_only && req->content_length >= 0
        && req->bytes_sent < req->content_length) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00304) "response to %s ended after %" APR_OFF_T_FMT
                                  " of the %" APR_OFF_T_FMT " bytes its "
                                  "Content-Length promised: connection closed",
            r->uri, req->bytes_sent, req->content_length);
        apwsgi_response_abort(req);
        return 0;
    }
    req->finished = 1;
    APR_BRIGADE_INSERT_TAIL(
        req->bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    pass_brigade(req, 1);
    return 0;
}

/* A list or tuple: every item is checked before anything is sent, and
 * all of it goes out in one pass with its Content-Length. */
static int
send_sequence(apwsgi_request_t *req, PyObject *seq)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    apr_off_t total = 0;

    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_Format(PyExc_TypeError,
                         "response item %zd is %s, not "
                         "bytes",
                         i, Py_TYPE(items[i])->tp_name);
            return -1;
        }
        total += PyBytes_GET_SIZE(items[i]);
    }
    if (!req->headers_sent) {
        if (req->status && req->content_length < 0
            && status_has_body(req->status)) {
            req->content_length = total;
        }
        if (apply_headers(req) < 0) {
            return -1;
        }
    }
    drop_for_status(req, total);
    for (Py_ssize_t i = 0; i < n && !body_done(req); i++) {
        add_data(req, PyBytes_AS_STRING(items[i]),
                 (apr_size_t)PyBytes_GET_SIZE(items[i]));
    }
    return finish(req);
}

/* Any other iterable: each non-empty block is on its way to the client
 * before the next one is asked for (PEP 3333 "Buffering and
 * Streaming"), except the block that completes the Content-Length,
 * which goes with the end of the body.  Headers go with the first
 * non-empty block. */
static int
send_iterable(apwsgi_request_t *req, PyObject *result)
{
    PyObject *iter = PyObject_GetIter(result);
    PyObject *item = NULL;
    int rc = -1;

    if (!iter) {
        goto done;
    }
    while (!body_done(req) && (item = PyIter_Next(iter))) {
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError,
                         "the response iterable yielded "
                         "%s, not bytes",
                         Py_TYPE(item)->tp_name);
            goto done;
        }
        if (PyBytes_GET_SIZE(item) > 0) {
            if (!req->headers_sent && apply_headers(req) < 0) {
                goto done;
            }
            add_data(req, PyBytes_AS_STRING(item),
                     (apr_size_t)PyBytes_GET_SIZE(item));
            /* A framework's one-block body (Flask, Django): no next
             * block to wait for, so no pass of its own. */
            if (!body_done(req) && send_block(req) < 0) {
                rc = 0; /* the client is gone: stop, not an error */
                goto done;
            }
        }
        Py_CLEAR(item);
    }
    if (!PyErr_Occurred()) {
        rc = finish(req);
    }
done:
    Py_XDECREF(item);
    Py_XDECREF(iter);
    return rc;
}

/* What apwsgi_response_send_later sends: the file queued in req->bb
 * (add_file) by `fd`, a duplicate that a cleanup of r->pool closes. */
struct apwsgi_later {
    int fd;
    apr_off_t end;  /* where the bytes queued end in the file */
    apr_off_t size; /* the file's size when they were queued */
    apr_off_t len;  /* how many */
};

/*
 * Queue `len` bytes of the file `fd` from `pos` as file buckets.  They
 * go by sendfile where EnableSendfile is On for the request (as the
 * default handler's files, Apache's default_handler), else by read();
 * never by a map: a file cut short while it is sent would kill the
 * process with SIGBUS through one.  The descriptor stays the caller's:
 * no pool cleanup closes it.
 */
static void
add_file(apwsgi_request_t *req, int fd, apr_off_t pos, apr_off_t len)
{
    request_rec *r = req->r;
    const core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    apr_file_t *file = NULL;

    apr_os_file_put(&file, &fd,
                    APR_FOPEN_READ | AP_SENDFILE_ENABLED(d->enable_sendfile),
                    r->pool);
    apr_brigade_insert_file(req->bb, file, pos, len, r->pool);
    for (apr_bucket *b = APR_BRIGADE_FIRST(req->bb);
         b != APR_BRIGADE_SENTINEL(req->bb); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_FILE(b)) {
            apr_bucket_file_enable_mmap(b, 0);
        }
    }
}

/*
 * Pass the `len` bytes of the file `fd` queued in req->bb (add_file)
 * with a FLUSH, so that Apache is done with the descriptor on return,
 * then end the body (finish).  A file that shrank below `end` (from
 * `size` bytes) meanwhile was sent short: the connection is cut.  As
 * apwsgi_response_send; GIL held, unless req->python_left.
 */
static int
pass_file(apwsgi_request_t *req, int fd, apr_off_t end, apr_off_t size,
          apr_off_t len)
{
    request_rec *r = req->r;
    struct stat sb;
    apr_status_t rv = APR_SUCCESS;

    add_flush(req);
    rv = pass_down(req, 0);
    /* A read past the new end fails the pass (or sends short): the
     * client must not wait for the rest. */
    if (fstat(fd, &sb) == 0 && (apr_off_t)sb.st_size < end) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      APWSGI_APLOGNO(00309) "file sent for %s shrank "
                                            "from %" APR_OFF_T_FMT
                                            " to %" APR_OFF_T_FMT
                                            " bytes while it was sent: "
                                            "connection cut",
                      r->uri, size, (apr_off_t)sb.st_size);
        req->client_gone = 1;
        apwsgi_response_abort(req);
        return 0;
    }
    if (rv != APR_SUCCESS) {
        client_gone(req, rv);
        return 0;
    }
    req->bytes_sent += len;
    return finish(req);
}

/* A pool cleanup: close the descriptor that `data` carries. */
static apr_status_t
close_fd(void *data)
{
    close((int)(intptr_t)data);
    return APR_SUCCESS;
}

/*
 * Leave the `len` bytes of the file `fd` from `pos` to
 * apwsgi_response_send_later, by a duplicate of `fd`, when they end
 * the body.  1 when left, 0 when they must go now (the body goes on
 * past them, or no descriptor is free).  GIL held.
 */
static int
leave_file(apwsgi_request_t *req, int fd, apr_off_t pos, apr_off_t size,
           apr_off_t len)
{
    request_rec *r = req->r;
    apwsgi_later_t *later = NULL;
    int own = -1;

    if (req->content_length >= 0
        && req->bytes_sent + len < req->content_length) {
        return 0;
    }
    own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
        return 0;
    }
    apr_pool_cleanup_register(r->pool, (void *)(intptr_t)own, close_fd,
                              apr_pool_cleanup_null);
    later = apr_palloc(r->pool, sizeof(*later));
    later->fd = own;
    later->end = pos + len;
    later->size = size;
    later->len = len;
    add_file(req, own, pos, len);
    req->later = later;
    return 1;
}

void
apwsgi_response_send_later(apwsgi_request_t *req)
{
    apwsgi_later_t *later = req->later;

    if (!later) {
        return;
    }
    req->later = NULL;
    /* The headers went with send_file: nothing below needs Python. */
    req->python_left = 1;
    pass_file(req, later->fd, later->end, later->size, later->len);
    apr_pool_cleanup_run(req->r->pool, (void *)(intptr_t)later->fd, close_fd);
}

/*
 * A wsgi.file_wrapper around a file whose bytes on disk are what it
 * would read (apwsgi_filewrapper_file): send it from its current
 * position as a file bucket, then flush, so Apache is done with the
 * descriptor before close() runs; where the file ends the body, that
 * happens after close(), with no GIL held (leave_file).  Returns 1
 * when `filelike` must be iterated instead, else as
 * apwsgi_response_send.
 */
static int
send_file(apwsgi_request_t *req, PyObject *filelike)
{
    request_rec *r = req->r;
    apr_off_t pos = 0;
    apr_off_t size = 0;
    apr_off_t len = 0;
    int fd = -1;

    if (!apwsgi_filewrapper_file(req->state, filelike, &fd, &pos, &size)) {
        return 1;
    }
    len = size - pos;
    if (!req->headers_sent) {
        if (req->status && req->content_length < 0
            && status_has_body(req->status)) {
            req->content_length = len;
        }
        if (apply_headers(req) < 0) {
            return -1;
        }
    }
    if (drop_for_status(req, len) || r->header_only) {
        len = 0;
    }
    else if (req->content_length >= 0
             && len > req->content_length - req->bytes_sent) {
        len = req->content_length - req->bytes_sent;
    }
    if (len <= 0 || req->answered) {
        req->bytes_sent += len;
        return finish(req);
    }
    if (leave_file(req, fd, pos, size, len)) {
        return 0;
    }
    add_file(req, fd, pos, len);
    return pass_file(req, fd, pos + len, size, len);
}

int
apwsgi_response_send(apwsgi_request_t *req, PyObject *result)
{
    PyObject *filelike = apwsgi_filewrapper_filelike(req->state, result);

    if (filelike) {
        int rc = send_file(req, filelike);

        if (rc <= 0) {
            return rc;
        }
    }
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        return send_sequence(req, result);
    }
    return send_iterable(req, result);
}

/* write(data): the imperative API (PEP 3333 "The write() Callable"). */
static PyObject *
response_write(PyObject *self, PyObject *data)
{
    apwsgi_request_t *req = ((apwsgi_start_response_object *)self)->req;

    if (!req || req->finished) {
        PyErr_SetString(PyExc_RuntimeError,
                        "write() called after the response ended");
        return NULL;
    }
    if (!apwsgi_request_thread_check(req, "write()")) {
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError,
                     "write() argument must be bytes, not "
                     "%s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (req->client_gone) {
        PyErr_SetString(PyExc_OSError,
                        req->answered
                            ? "Apache already answered the request (its body "
                              "could not be read)"
                            : "the client closed the connection");
        return NULL;
    }
    if (PyBytes_GET_SIZE(data) == 0
        || drop_for_status(req, PyBytes_GET_SIZE(data)) || body_done(req)) {
        Py_RETURN_NONE;
    }
    if (!req->headers_sent && apply_headers(req) < 0) {
        return NULL;
    }
    add_data(req, PyBytes_AS_STRING(data), (apr_size_t)PyBytes_GET_SIZE(data));
    if (send_block(req) < 0) {
        PyErr_SetString(PyExc_OSError, "the client closed the connection");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef write_def = {
    "write",
    response_write,
    METH_O,
    "write(data: bytes): send data to the client now (PEP 3333).",
};

/* Re-raise the exception in exc_info (a 3-tuple from sys.exc_info()).
 * Always NULL, with that exception set (TypeError when the tuple holds
 * no exception instance).  GIL held. */
static PyObject *
reraise(PyObject *exc_info)
{
    PyObject *value = PyTuple_GET_ITEM(exc_info, 1);
    PyObject *tb = PyTuple_GET_ITEM(exc_info, 2);

    if (!PyExceptionInstance_Check(value)) {
        PyErr_Format(PyExc_TypeError,
                     "exc_info[1] must be an exception instance, not %s",
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (PyTraceBack_Check(tb) && PyException_SetTraceback(value, tb) < 0) {
        return NULL;
    }
    PyErr_SetRaisedException(Py_NewRef(value));
#else
    PyErr_Restore(Py_NewRef(Py_TYPE(value)), Py_NewRef(value),
                  PyTraceBack_Check(tb) ? Py_NewRef(tb) : NULL);
#endif
    return NULL;
}

/* start_response(status, response_headers, exc_info=None) -> write */
static PyObject *
start_response_call(PyObject *callable, PyObject *const *args, size_t nargsf,
                    PyObject *kwnames)
{
    apwsgi_start_response_object *self =
        (apwsgi_start_response_object *)callable;
    apwsgi_request_t *req = self->req;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *kw = nkw == 1 ? PyTuple_GET_ITEM(kwnames, 0) : NULL;
    PyObject *exc_info = Py_None;

    if (nargs + nkw < 2 || nargs + nkw > 3 || nargs < 2
        || (kw && PyUnicode_CompareWithASCIIString(kw, "exc_info") != 0)) {
        PyErr_SetString(PyExc_TypeError,
                        "start_response(status, response_headers, "
                        "exc_info=None)");
        return NULL;
    }
    if (nargs + nkw == 3) {
        exc_info = args[2];
    }
    if (!req) {
        PyErr_SetString(PyExc_RuntimeError,
                        "start_response() called after its request ended");
        return NULL;
    }
    if (!apwsgi_request_thread_check(req, "start_response()")) {
        return NULL;
    }
    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_TypeError,
                            "exc_info must be a tuple from sys.exc_info()");
            return NULL;
        }
        if (req->headers_sent) {
            return reraise(exc_info);
        }
    }
    else if (req->status) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() called again "
                                            "without exc_info");
        return NULL;
    }
    if (record_response(req, args[0], args[1]) < 0) {
        return NULL;
    }
    if (!self->write) {
        self->write = PyCFunction_New(&write_def, callable);
        if (!self->write) {
            return NULL;
        }
    }
    return Py_NewRef(self->write);
}

static int
start_response_traverse(apwsgi_start_response_object *self, visitproc visit,
                        void *arg)
{
    Py_VISIT(self->write);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
start_response_clear(apwsgi_start_response_object *self)
{
    Py_CLEAR(self->write);
    return 0;
}

static void
start_response_dealloc(apwsgi_start_response_object *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    start_response_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMemberDef start_response_members[] = {
    {"__vectorcalloffset__", APWSGI_T_SSIZE,
     offsetof(apwsgi_start_response_object, vectorcall), APWSGI_READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot start_response_slots[] = {
    {Py_tp_dealloc, start_response_dealloc},
    {Py_tp_traverse, start_response_traverse},
    {Py_tp_clear, start_response_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, start_response_members},
    {Py_tp_doc, "start_response(status, response_headers, exc_info=None) "
                "-> write (PEP 3333)."},
    {0, NULL},
};

static PyType_Spec start_response_spec = {
    .name = "apwsgi.StartResponse",
    .basicsize = sizeof(apwsgi_start_response_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = start_response_slots,
};

int
apwsgi_response_part_init(apwsgi_state_t *st,
                          const apwsgi_state_setup_t *setup)
{
    st->response = apr_pcalloc(setup->pool, sizeof(*st->response));
    st->response->type = (PyTypeObject *)PyType_FromSpec(&start_response_spec);
    return st->response->type ? 0 : -1;
}

void
apwsgi_response_part_free(apwsgi_state_t *st)
{
    struct apwsgi_response_part *part = st->response;
    apwsgi_start_response_object *self = NULL;

    while ((self = (apwsgi_start_response_object *)apwsgi_spares_take(
                &part->spare))) {
        /* write holds its start_response: break the cycle first. */
        Py_CLEAR(self->write);
        Py_DECREF(self);
    }
    Py_CLEAR(part->type);
}

PyObject *
apwsgi_start_response_new(apwsgi_request_t *req)
{
    struct apwsgi_response_part *part = req->state->response;
    apwsgi_start_response_object *self = NULL;

    self = (apwsgi_start_response_object *)apwsgi_spares_take(&part->spare);
    if (self) {
        self->req = req;
        return (PyObject *)self;
    }
    self = PyObject_GC_New(apwsgi_start_response_object, part->type);
    if (!self) {
        return NULL;
    }
    /* PyObject_GC_New took the reference to the heap type. */
    self->vectorcall = start_response_call;
    self->req = req;
    self->write = NULL;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

void
apwsgi_start_response_detach(PyObject *start_response)
{
    apwsgi_start_response_object *self =
        (apwsgi_start_response_object *)start_response;
    struct apwsgi_response_part *part =
        self->req ? self->req->state->response : NULL;
    /* The caller's reference, and write's to its self. */
    Py_ssize_t own = 1 + (self->write != NULL);

    self->req = NULL;
    if (part && (!self->write || Py_REFCNT(self->write) == 1)
        && apwsgi_spares_keep(&part->spare, start_response, own)) {
        return;
    }
    /* write holds start_response (its self): without this reference
     * back the two go when the last reference to them does, not at the
     * next garbage collection.  A write the application kept still
     * holds start_response, and raises like it. */
    Py_CLEAR(self->write);
}
