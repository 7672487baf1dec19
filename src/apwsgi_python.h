/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_python.h: CPython's life in an Apache child process.
 *
 * Python is initialised in each child (child_init), never in the
 * Apache parent, so a graceful restart leaves nothing behind, and with
 * the home of the Python the module was built against (PYTHONHOME in
 * Apache's environment overrides it), whatever python3 comes first on
 * Apache's PATH.  Where another module (mod_python) initialised Python
 * already, that Python is used and left for that module to finalise.
 *
 * Called by the hooks (mod_apwsgi.c) only.  This file drives the
 * interpreter table at the child's start and exit (apwsgi_interp.h),
 * within the bound the watchdog keeps (apwsgi_exit.h); nothing below
 * it calls back here.
 */
#ifndef APWSGI_PYTHON_H
#define APWSGI_PYTHON_H

#include "apwsgi.h"

/*
 * Initialise (or adopt) Python in this child, set up the interpreter
 * table, and register the finalisation on `pchild`.  Logs and returns
 * non-zero when Python cannot be used; requests then get 500.  Called
 * from child_init, with no GIL.
 */
int apwsgi_python_init(apr_pool_t *pchild, server_rec *s);

/* Whether apwsgi_python_init succeeded in this process: the handler
 * serves nothing without it.  No GIL. */
int apwsgi_python_ready(void);

#endif /* APWSGI_PYTHON_H */
