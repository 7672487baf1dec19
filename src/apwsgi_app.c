/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_app.c: import an application module (or run a script file as
 * one) and find its callable, once per interpreter.
 *
 * A module name means one file per interpreter: a second Location that
 * asks the same interpreter for the same module from a different
 * mod_wsgi.directory is refused rather than served the first one's
 * code.
 */
#include "apwsgi_app.h"
#include "apwsgi_log.h"

/* The application loader's part of an interpreter's state. */
struct apwsgi_app_part {
    apr_pool_t *pool;
    /* Loaded applications: application string -> app_entry_t, and
     * module name -> the mod_wsgi.directory it was loaded with. */
    apr_hash_t *apps;
    apr_hash_t *modules;
    apr_hash_t *paths; /* directories already put on sys.path */
    apr_hash_t *venvs; /* mod_wsgi.virtualenv values already added */
    /* Held while an application loads: a script's module is visible in
     * sys.modules before its code has run, and running it may release
     * the GIL, so other threads wait here rather than find it
     * half-made. */
    PyThread_type_lock load_lock;
    /* The entry the last request found (entries stay for the part's
     * life), checked before the hash: most interpreters serve one
     * application. */
    struct app_entry *last;
};

/* Told about every load (set once at child init). */
static const apwsgi_app_watcher_t *watcher;

/* A loaded application, in the part's pool; `callable` is a strong
 * ref. */
typedef struct app_entry {
    PyObject *callable;
    const char *application; /* its key in the hash */
    const char *directory;   /* "" when mod_wsgi.directory was unset */
} app_entry_t;

static const char *
interp_label(const apwsgi_config_t *cfg)
{
    return *cfg->interpreter ? cfg->interpreter : "(main)";
}

/* After a failed import, forget what the import system cached about
 * directory contents, so a fixed or new file is found next time. */
static void
invalidate_import_caches(void)
{
    PyObject *importlib = PyImport_ImportModule("importlib");
    PyObject *res = NULL;

    if (importlib) {
        res = PyObject_CallMethod(importlib, "invalidate_caches", NULL);
    }
    Py_XDECREF(res);
    Py_XDECREF(importlib);
    PyErr_Clear();
}

/* Put `dir` at the front of sys.path, once per interpreter.  0, or -1
 * with an exception set. */
static int
path_add(apwsgi_state_t *st, const char *dir)
{
    PyObject *sys_path = NULL;
    PyObject *entry = NULL;
    int rc = -1;

    if (apr_hash_get(st->app->paths, dir, APR_HASH_KEY_STRING)) {
        return 0;
    }
    sys_path = apwsgi_sys_get("path");
    if (sys_path && !PyList_Check(sys_path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
    }
    if (!sys_path || !PyList_Check(sys_path)) {
        goto done;
    }
    entry = PyUnicode_DecodeFSDefault(dir);
    if (!entry || PyList_Insert(sys_path, 0, entry) < 0) {
        goto done;
    }
    apr_hash_set(st->app->paths, apr_pstrdup(st->app->pool, dir),
                 APR_HASH_KEY_STRING, "");
    rc = 0;
done:
    Py_XDECREF(entry);
    Py_XDECREF(sys_path);
    return rc;
}

/* The longest part of an exception's message put in a log line. */
#define REASON_SHOWN 200

/*
 * The module that the import statement `line` (in a module of package
 * `package`, "" for none) imports: "from X import ..." or "import X",
 * with X's leading dots resolved.  In r->pool, or NULL.
 */
static const char *
statement_target(request_rec *r, const char *line, const char *package)
{
    const char *name = NULL;
    apr_size_t n = 0;
    apr_size_t dots = 0;
    apr_size_t base = strlen(package);

    line += strspn(line, " \t");
    if (strncmp(line, "from ", 5) == 0 || strncmp(line, "import ", 7) == 0) {
        name = line + (line[0] == 'f' ? 5 : 7);
        name += strspn(name, " \t");
        dots = strspn(name, ".");
        n = strspn(name + dots, "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");
    }
    if (!name || (n == 0 && dots == 0)) {
        return NULL;
    }
    if (dots == 0) {
        return apr_pstrmemdup(r->pool, name, n);
    }
    /* ".x" is package.x, "..x" the parent's x, and so on. */
    for (apr_size_t up = 1; up < dots && base > 0; up++) {
        while (base > 0 && package[base - 1] != '.') {
            base--;
        }
        base = base > 0 ? base - 1 : 0;
    }
    return apr_psprintf(r->pool, "%.*s%s%.*s", (int)base, package,
                        base && n ? "." : "", (int)n, name + dots);
}

/*
 * The name of the extension module whose loading raised `exc`, in
 * r->pool, or NULL: the one CPython names in "module X does not
 * support loading in subinterpreters", else the module that the import
 * statement of the innermost frame of the traceback imports (importlib
 * takes its own frames out of an ImportError's traceback, so that is
 * where the import was asked for).  GIL held; sets no exception.
 */
static const char *
failed_extension(request_rec *r, PyObject *exc, const char *msg)
{
    PyObject *tb = PyException_GetTraceback(exc);
    PyObject *next = NULL;
    PyObject *frame = NULL;
    PyObject *lineno = NULL;
    PyObject *code = NULL;
    PyObject *file = NULL;
    PyObject *globals = NULL;
    PyObject *package = NULL; /* borrowed */
    PyObject *linecache = NULL;
    PyObject *line = NULL;
    const char *found = NULL;

    if (strncmp(msg, "module ", 7) == 0 && strchr(msg + 7, ' ')) {
        found = apr_pstrmemdup(r->pool, msg + 7, strcspn(msg + 7, " "));
        goto done;
    }
    while (tb && (next = PyObject_GetAttrString(tb, "tb_next"))
           && next != Py_None) {
        Py_SETREF(tb, next);
        next = NULL;
    }
    frame = tb ? PyObject_GetAttrString(tb, "tb_frame") : NULL;
    lineno = frame ? PyObject_GetAttrString(tb, "tb_lineno") : NULL;
    code = lineno ? PyObject_GetAttrString(frame, "f_code") : NULL;
    file = code ? PyObject_GetAttrString(code, "co_filename") : NULL;
    globals = file ? PyObject_GetAttrString(frame, "f_globals") : NULL;
    package = globals && PyDict_Check(globals)
                  ? PyDict_GetItemString(globals, "__package__")
                  : NULL;
    linecache = globals ? PyImport_ImportModule("linecache") : NULL;
    line = linecache
               ? PyObject_CallMethod(linecache, "getline", "OO", file, lineno)
               : NULL;
    if (line && PyUnicode_Check(line)) {
        const char *text = PyUnicode_AsUTF8(line);
        const char *pkg = package && PyUnicode_Check(package)
                              ? PyUnicode_AsUTF8(package)
                              : NULL;

        found = text ? statement_target(r, text, pkg ? pkg : "") : NULL;
    }
done:
    PyErr_Clear();
    Py_XDECREF(line);
    Py_XDECREF(linecache);
    Py_XDECREF(globals);
    Py_XDECREF(file);
    Py_XDECREF(code);
    Py_XDECREF(lineno);
    Py_XDECREF(frame);
    Py_XDECREF(next);
    Py_XDECREF(tb);
    return found;
}

/* What an extension module's refusal of an interpreter says: PyO3's
 * ("PyO3 modules do not yet support subinterpreters", before 0.20 "may
 * only be initialized once per interpreter process"), Cython's ("can
 * only be loaded into one interpreter per process"), CPython's in an
 * interpreter with its own GIL ("does not support loading in
 * subinterpreters"), and other modules' own words. */
static const char *const refusals[] = {
    "subinterpreter",
    "sub-interpreter",
    "once per interpreter process",
    "one interpreter per process",
    NULL,
};

/* Whether the message `msg` is such a refusal (any case). */
static int
refusal_message(const char *msg)
{
    for (const char *const *s = refusals; *s; s++) {
        if (ap_strcasestr(msg, *s)) {
            return 1;
        }
    }
    return 0;
}

/*
 * Whether `exc` is an extension module's refusal to load in this
 * (sub-)interpreter: an ImportError saying so, from PyO3 ("PyO3
 * modules do not yet support subinterpreters": only the first
 * interpreter of a process that imports one may), from CPython in an
 * interpreter with its own GIL ("does not support loading in
 * subinterpreters"), or from the module itself.  If so, log one line
 * naming the module and the fix, and return 1.  GIL held.
 */
static int
log_refusal(request_rec *r, const apwsgi_config_t *cfg, PyObject *exc)
{
    PyObject *text = NULL;
    const char *msg = NULL;
    const char *module = NULL;
    int own_gil = 0;

    if (!PyErr_GivenExceptionMatches(exc, PyExc_ImportError)) {
        return 0;
    }
    text = PyObject_Str(exc);
    msg = text ? PyUnicode_AsUTF8(text) : NULL;
    PyErr_Clear();
    if (!msg || !refusal_message(msg)) {
        Py_XDECREF(text);
        return 0;
    }
    own_gil =
        strstr(msg, "does not support loading in subinterpreters") != NULL;
    module = failed_extension(r, exc, msg);
    /* In the main interpreter, a PyO3 module was taken by another
     * interpreter first (PyO3 allows only the first). */
    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, r,
        APWSGI_APLOGNO(00209) "mod_wsgi.application '%s' for %s: extension "
                              "module '%s' cannot be loaded in interpreter "
                              "%s (%.*s): %s in the main interpreter "
                              "(leave mod_wsgi.interpreter unset or empty), "
                              "or in an Apache of its own (the scale-out "
                              "recipe)%s",
        cfg->application, r->uri, module ? module : "(unknown)",
        interp_label(cfg), REASON_SHOWN, msg,
        *cfg->interpreter ? "run it"
                          : "another interpreter of this process loaded it "
                            "first: run every application that uses it only",
        own_gil ? "; one that refuses only an interpreter with its own GIL "
                  "loads with 'SetEnv mod_wsgi.gil shared'"
                : "");
    Py_DECREF(text);
    return 1;
}

/*
 * Log a failed import (an exception is set) with `headline` and its
 * traceback; an extension module that refuses this interpreter gets
 * one line instead that says what to do (log_refusal).
 * GIL held; no exception set on return.
 */
static void
log_import_failure(request_rec *r, const apwsgi_config_t *cfg, const char *tag,
                   const char *headline)
{
    PyObject *exc = apwsgi_err_take();

    if (exc && log_refusal(r, cfg, exc)) {
        Py_DECREF(exc);
        return;
    }
    apwsgi_err_restore(exc);
    apwsgi_log_exception(r, NULL, tag, headline);
}

/* The "version" a venv's pyvenv.cfg records, or NULL (r->pool). */
static const char *
venv_version(request_rec *r, const char *venv)
{
    const char *path = apr_pstrcat(r->pool, venv, "/pyvenv.cfg", NULL);
    apr_file_t *file = NULL;
    char line[256];
    const char *found = NULL;
    apr_status_t rv = apr_file_open(&file, path, APR_FOPEN_READ, 0, r->pool);

    if (rv != APR_SUCCESS) {
        return NULL;
    }
    while (!found && apr_file_gets(line, sizeof(line), file) == APR_SUCCESS) {
        char *eq = strchr(line, '=');

        if (eq && strncmp(line, "version", 7) == 0
            && (line[7] == ' ' || line[7] == '=')) {
            found = apr_pstrdup(r->pool, eq + 1 + strspn(eq + 1, " \t"));
        }
    }
    apr_file_close(file);
    return found ? apr_pstrndup(r->pool, found, strcspn(found, "\r\n")) : NULL;
}

/*
 * Put the site-packages of the virtual environment at `venv` at the
 * front of sys.path, once per interpreter, through site.addsitedir
 * (so its .pth files work).  A venv made by another Python version is
 * refused.  0, or -1 after logging.  GIL held.
 */
static int
venv_add(apwsgi_state_t *st, request_rec *r, const char *venv)
{
    const char *sp = apr_psprintf(r->pool, "%s/lib/python%d.%d/site-packages",
                                  venv, PY_MAJOR_VERSION, PY_MINOR_VERSION);
    const char *made_by = NULL;
    apr_finfo_t finfo;
    PyObject *site = NULL;
    PyObject *sys_path = NULL;
    PyObject *before = NULL;
    PyObject *res = NULL;
    int rc = -1;

    if (apr_hash_get(st->app->venvs, venv, APR_HASH_KEY_STRING)) {
        return 0;
    }
    if (apr_stat(&finfo, sp, APR_FINFO_TYPE, r->pool) != APR_SUCCESS
        || finfo.filetype != APR_DIR) {
        made_by = venv_version(r, venv);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      APWSGI_APLOGNO(00111) "mod_wsgi.virtualenv '%s' for %s "
                                            "%s%s%s, but this module embeds "
                                            "Python %d.%d: make the venv with "
                                            "python%d.%d -m venv",
                      venv, r->uri,
                      made_by ? "was made by Python "
                              : "is not a virtual "
                                "environment of this Python (no ",
                      made_by ? made_by : sp, made_by ? "" : ")",
                      PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MAJOR_VERSION,
                      PY_MINOR_VERSION);
        return -1;
    }
    site = PyImport_ImportModule("site");
    sys_path = site ? apwsgi_sys_get("path") : NULL;
    before =
        site && sys_path ? PyList_GetSlice(sys_path, 0, PY_SSIZE_T_MAX) : NULL;
    res = before ? PyObject_CallMethod(site, "addsitedir", "s", sp) : NULL;
    if (res && PyList_Check(sys_path)) {
        /* addsitedir appends; the venv must win over the system's
         * site-packages, so its new entries move to the front. */
        Py_ssize_t old = PyList_GET_SIZE(before);
        Py_ssize_t now = PyList_GET_SIZE(sys_path);
        PyObject *added = PyList_GetSlice(sys_path, old, now);

        if (added && PyList_SetSlice(sys_path, old, now, NULL) == 0
            && PyList_SetSlice(sys_path, 0, 0, added) == 0) {
            rc = 0;
        }
        Py_XDECREF(added);
    }
    if (rc < 0) {
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00207),
                             apr_psprintf(r->pool,
                                          "mod_wsgi.virtualenv '%s' "
                                          "for %s could not be added:",
                                          venv, r->uri));
    }
    else {
        apr_hash_set(st->app->venvs, apr_pstrdup(st->app->pool, venv),
                     APR_HASH_KEY_STRING, "");
    }
    Py_XDECREF(res);
    Py_XDECREF(before);
    Py_XDECREF(sys_path);
    Py_XDECREF(site);
    return rc;
}

/* Read the whole script into r->pool, NUL-terminated, with the GIL
 * released.  NULL after logging. */
static char *
script_read(request_rec *r, const apwsgi_config_t *cfg)
{
    apr_file_t *file = NULL;
    apr_finfo_t finfo;
    apr_status_t rv;
    apr_size_t got = 0;
    char *buf = NULL;
    PyThreadState *ts = PyEval_SaveThread();

    rv = apr_file_open(&file, cfg->script, APR_FOPEN_READ, 0, r->pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&finfo, APR_FINFO_SIZE, file);
    }
    if (rv == APR_SUCCESS) {
        buf = apr_palloc(r->pool, (apr_size_t)finfo.size + 1);
        rv = apr_file_read_full(file, buf, (apr_size_t)finfo.size, &got);
        if (rv == APR_EOF && got == 0 && finfo.size == 0) {
            rv = APR_SUCCESS;
        }
        buf[got] = '\0';
    }
    if (file) {
        apr_file_close(file);
    }
    PyEval_RestoreThread(ts);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      APWSGI_APLOGNO(00203) "mod_wsgi.application script '%s' "
                                            "for %s cannot be read: check the "
                                            "path and that Apache's user may "
                                            "read it",
                      cfg->script, r->uri);
        return NULL;
    }
    return buf;
}

/*
 * Run the script file as module cfg->module (a name unique to its
 * path), kept in sys.modules.  Returns a new reference, or NULL after
 * logging.
 */
static PyObject *
script_load(request_rec *r, const apwsgi_config_t *cfg)
{
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    PyObject *module = NULL;
    PyObject *code = NULL;
    PyObject *file = NULL;
    PyObject *res = NULL;
    PyObject *dict = NULL; /* borrowed */
    PyObject *builtins = NULL;
    char *source = NULL;

    module = PyDict_GetItemString(modules, cfg->module);
    if (module) {
        return Py_NewRef(module);
    }
    source = script_read(r, cfg);
    if (!source) {
        goto done;
    }
    code =
        Py_CompileStringExFlags(source, cfg->script, Py_file_input, NULL, -1);
    if (!code) {
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00208),
                             apr_psprintf(r->pool,
                                          "mod_wsgi.application script '%s' "
                                          "for %s does not compile:",
                                          cfg->script, r->uri));
        goto done;
    }
    module = PyModule_New(cfg->module);
    file = module ? PyUnicode_DecodeFSDefault(cfg->script) : NULL;
    dict = module ? PyModule_GetDict(module) : NULL;
    /* The builtins of the running frame (none: the interpreter's). */
#if PY_VERSION_HEX >= 0x030D0000
    builtins = file ? PyEval_GetFrameBuiltins() : NULL;
#else
    builtins = file ? Py_XNewRef(PyEval_GetBuiltins()) : NULL;
#endif
    if (!builtins || PyDict_SetItemString(dict, "__file__", file) < 0
        || PyDict_SetItemString(dict, "__builtins__", builtins) < 0
        || PyDict_SetItemString(modules, cfg->module, module) < 0) {
        goto failed;
    }
    res = PyEval_EvalCode(code, dict, dict);
    if (res) {
        goto done;
    }
    /* Like a failed import: the half-run module must not stay. */
    {
        PyObject *exc = apwsgi_err_take();

        if (PyDict_DelItemString(modules, cfg->module) < 0) {
            PyErr_Clear();
        }
        apwsgi_err_restore(exc);
    }
failed:
    log_import_failure(r, cfg, APWSGI_APLOGNO(00205),
                       apr_psprintf(r->pool,
                                    "mod_wsgi.application script '%s' for "
                                    "%s failed to load in interpreter %s:",
                                    cfg->script, r->uri, interp_label(cfg)));
    Py_CLEAR(module);
done:
    Py_XDECREF(builtins);
    Py_XDECREF(code);
    Py_XDECREF(file);
    Py_XDECREF(res);
    return module;
}

/* Import cfg->module.  Returns a new reference, or NULL after logging. */
static PyObject *
module_import(request_rec *r, const apwsgi_config_t *cfg)
{
    PyObject *module = PyImport_ImportModule(cfg->module);

    if (!module) {
        log_import_failure(r, cfg, APWSGI_APLOGNO(00201),
                           apr_psprintf(r->pool,
                                        "mod_wsgi.application '%s' for %s: "
                                        "module '%s' failed to import in "
                                        "interpreter %s:",
                                        cfg->application, r->uri, cfg->module,
                                        interp_label(cfg)));
        invalidate_import_caches();
    }
    return module;
}

/* Load and cache the application.  Borrowed reference, or NULL after
 * logging. */
static PyObject *
app_load(apwsgi_state_t *st, request_rec *r, const apwsgi_config_t *cfg,
         const char *dir)
{
    const char *known =
        apr_hash_get(st->app->modules, cfg->module, APR_HASH_KEY_STRING);
    PyObject *module = NULL;
    PyObject *callable = NULL;
    app_entry_t *entry = NULL;

    if (known && strcmp(known, dir) != 0) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00103) "mod_wsgi.application '%s' for %s: "
                                  "module '%s' is already loaded in "
                                  "interpreter %s from "
                                  "mod_wsgi.directory '%s', not "
                                  "'%s': give this Location its own "
                                  "mod_wsgi.interpreter",
            cfg->application, r->uri, cfg->module, interp_label(cfg), known,
            dir);
        return NULL;
    }
    /* The venv first, so that mod_wsgi.directory ends up in front. */
    if (cfg->virtualenv && venv_add(st, r, cfg->virtualenv) < 0) {
        return NULL;
    }
    if (*dir && path_add(st, dir) < 0) {
        apwsgi_log_exception(r, NULL, APWSGI_APLOGNO(00206),
                             apr_psprintf(r->pool,
                                          "mod_wsgi.directory '%s' for %s "
                                          "cannot be put on sys.path:",
                                          dir, r->uri));
        return NULL;
    }
    if (watcher && watcher->before) {
        watcher->before(st, cfg);
    }
    module = cfg->script ? script_load(r, cfg) : module_import(r, cfg);
    if (!module) {
        return NULL;
    }
    callable = PyObject_GetAttrString(module, cfg->callable);
    if (!callable || !PyCallable_Check(callable)) {
        PyErr_Clear();
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            APWSGI_APLOGNO(00202) "mod_wsgi.application '%s' for %s: "
                                  "module '%s' has %s '%s'",
            cfg->application, r->uri, cfg->module,
            callable ? "a non-callable" : "no", cfg->callable);
        Py_XDECREF(callable);
        Py_DECREF(module);
        return NULL;
    }
    if (watcher && watcher->after) {
        watcher->after(st, cfg, module);
    }
    Py_DECREF(module);
    if (!known) {
        apr_hash_set(st->app->modules, apr_pstrdup(st->app->pool, cfg->module),
                     APR_HASH_KEY_STRING, apr_pstrdup(st->app->pool, dir));
    }
    entry = apr_hash_get(st->app->apps, cfg->application, APR_HASH_KEY_STRING);
    if (!entry) {
        entry = apr_pcalloc(st->app->pool, sizeof(*entry));
        entry->application = apr_pstrdup(st->app->pool, cfg->application);
        apr_hash_set(st->app->apps, entry->application, APR_HASH_KEY_STRING,
                     entry);
    }
    Py_XSETREF(entry->callable, callable); /* the entry owns it now */
    entry->directory = apr_pstrdup(st->app->pool, dir);
    return callable;
}

/* The cached callable for cfg, or NULL.  GIL held. */
static PyObject *
app_cached(apwsgi_state_t *st, const apwsgi_config_t *cfg, const char *dir)
{
    app_entry_t *entry = st->app->last;

    if (!entry || strcmp(entry->application, cfg->application) != 0) {
        entry =
            apr_hash_get(st->app->apps, cfg->application, APR_HASH_KEY_STRING);
        if (!entry) {
            return NULL;
        }
        st->app->last = entry;
    }
    return strcmp(entry->directory, dir) == 0 ? entry->callable : NULL;
}

PyObject *
apwsgi_app_get(apwsgi_state_t *st, request_rec *r, const apwsgi_config_t *cfg)
{
    const char *dir = cfg->directory ? cfg->directory : "";
    PyObject *app = app_cached(st, cfg, dir);

    if (app) {
        return app;
    }
    /* One load at a time per interpreter; wait without the GIL, then
     * look again: the thread that held the lock may have loaded it. */
    if (!PyThread_acquire_lock(st->app->load_lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(st->app->load_lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    app = app_cached(st, cfg, dir);
    if (!app) {
        app = app_load(st, r, cfg, dir);
    }
    if (app) {
        apwsgi_log_route_logging(st);
    }
    PyThread_release_lock(st->app->load_lock);
    return app;
}

int
apwsgi_app_log_refusal(request_rec *r, const apwsgi_config_t *cfg)
{
    PyObject *exc = apwsgi_err_take();

    if (exc && log_refusal(r, cfg, exc)) {
        Py_DECREF(exc);
        return 1;
    }
    apwsgi_err_restore(exc);
    return 0;
}

void
apwsgi_app_set_watcher(const apwsgi_app_watcher_t *w)
{
    watcher = w;
}

int
apwsgi_app_count(apwsgi_state_t *st)
{
    return (int)apr_hash_count(st->app->apps);
}

int
apwsgi_app_part_init(apwsgi_state_t *st, const apwsgi_state_setup_t *setup)
{
    struct apwsgi_app_part *part = apr_pcalloc(setup->pool, sizeof(*part));

    part->pool = setup->pool;
    part->apps = apr_hash_make(setup->pool);
    part->modules = apr_hash_make(setup->pool);
    part->paths = apr_hash_make(setup->pool);
    part->venvs = apr_hash_make(setup->pool);
    part->load_lock = PyThread_allocate_lock();
    st->app = part;
    if (!part->load_lock) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

void
apwsgi_app_part_free(apwsgi_state_t *st)
{
    struct apwsgi_app_part *part = st->app;

    for (apr_hash_index_t *hi = apr_hash_first(NULL, part->apps); hi;
         hi = apr_hash_next(hi)) {
        app_entry_t *entry = apr_hash_this_val(hi);

        Py_CLEAR(entry->callable);
    }
    part->last = NULL;
    apr_hash_clear(part->apps);
    apr_hash_clear(part->modules);
    apr_hash_clear(part->paths);
    PyThread_free_lock(part->load_lock);
}
