/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_modpython.h: the second mode, where WSGI applications run in
 * mod_python's interpreters.
 *
 * Where mod_python (3.3 or later) is loaded, it starts Python in the
 * Apache parent and exports the optional function
 * mp_acquire_interpreter(name).  apwsgi then asks mod_python for each
 * named interpreter instead of making its own, so `mod_wsgi.interpreter
 * NAME` and `PythonInterpreter NAME` are one interpreter, and the main
 * interpreter is mod_python's `main_interpreter`.
 *
 * What mod_python 3.5 does (src/mod_python.c; Debian's 3.5.0 build):
 *
 * - mp_acquire_interpreter(name) takes the GIL through the thread state
 *   of the parent's main thread (PyEval_RestoreThread), finds the
 *   interpreter in its table or makes it (Py_NewInterpreter, then
 *   imports mod_python.apache there), and swaps in a thread state for
 *   it: one popped from the interpreter's pool, which any thread may
 *   have used before, or a new one.  It returns with that thread state
 *   current and the GIL held.  When the interpreter cannot be made it
 *   dereferences NULL: the caller cannot get an error back.
 * - mp_release_interpreter() deletes the current thread state and then
 *   releases the GIL through it.  CPython refuses to delete the current
 *   thread state ("Fatal Python error: ... tstate ... is still
 *   current"), so on every Python 3 it aborts the process.  It is never
 *   called here.
 * - Its own handlers pool their thread states per interpreter, never
 *   clearing them, and hand them to whichever thread asks next.  It
 *   never ends an interpreter and never finalises Python (child exit
 *   runs no Py_Finalize), so an interpreter lives as long as the
 *   process.
 * - Its table of interpreters is guarded by the GIL alone, which Python
 *   releases now and then while an interpreter is being made: requests
 *   that race a name's first use may each make one, and the one stored
 *   last is kept.
 *
 * So apwsgi calls mp_acquire_interpreter once per name and process, to
 * learn the interpreter (mod_python makes it if new), and once more when
 * such a race is surely over (apwsgi_interp.c: borrow_settle).  Each
 * time it lets go of the GIL without touching mod_python's thread state
 * (it is parked: another thread's PyGILState slot may point at it).  It
 * runs in the interpreter with its own per-thread thread states, exactly
 * as in its own interpreters.  It never ends such an interpreter, and
 * its state there is never freed: mod_python runs its own clean-ups in
 * the interpreter after apwsgi's exit clean-up, and Python is not
 * finalised.
 *
 * Called by apwsgi_python.c (child init) and apwsgi_interp.c (choosing
 * and making interpreters); calls the thread states and the log.
 */
#ifndef APWSGI_MODPYTHON_H
#define APWSGI_MODPYTHON_H

#include "apwsgi.h"
#include "apwsgi_config.h"
#include "apwsgi_interp.h"

/* mod_python's name of the main interpreter. */
#define APWSGI_MODPYTHON_MAIN "main_interpreter"

/*
 * Turn the second mode on when mod_python's optional function is
 * there.  Call only where Python was initialised before apwsgi's child
 * init (by mod_python, in this module's libpython).  Logs that the
 * child uses the second mode.  Returns whether it is on.  Child init;
 * no GIL needed.
 */
int apwsgi_modpython_init(server_rec *s);

/* Whether the second mode is on in this process.  No GIL needed. */
int apwsgi_modpython_active(void);

/*
 * Refuse the keys that need apwsgi to own an interpreter's life
 * (mod_wsgi.gil own, mod_wsgi.interpreters above 1, mod_wsgi.reload
 * on, mod_wsgi.idle_timeout above 0).  OK, or 500 after logging one
 * line naming the key, the URI and what to do.  Second mode only; no
 * GIL needed.
 */
int apwsgi_modpython_refuse(request_rec *r, const apwsgi_config_t *cfg);

/*
 * mod_python's interpreter `name`, made by mod_python if it has none
 * of that name yet.  `main_in` (the main interpreter) is where the
 * check that mod_python can make one runs.  Returns NULL after logging
 * why.  No GIL held on entry or exit; called with apwsgi_interp.c's
 * create_mutex held.
 */
PyInterpreterState *apwsgi_modpython_interp(request_rec *r, const char *name,
                                            apwsgi_interp_t *main_in);

#endif /* APWSGI_MODPYTHON_H */
