/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_reaper.h: the thread that ends retired and idle interpreters.
 *
 * The thread runs the work it is given about once a second, and at
 * once when woken; what to end, and how, is the interpreter table's
 * business (apwsgi_interp.c, the only caller).  The thread holds no
 * lock while the work runs.
 */
#ifndef APWSGI_REAPER_H
#define APWSGI_REAPER_H

#include "apwsgi.h"

/* Set up the reaper's lock and condition, in `pchild`.  0, or -1.
 * Child init, no GIL needed. */
int apwsgi_reaper_init(apr_pool_t *pchild);

/* Start the thread, which calls `work` (no GIL, no lock held) each
 * time round.  0, or -1 when it could not start.  No GIL needed. */
int apwsgi_reaper_start(apr_pool_t *pchild, void (*work)(void));

/* Tell the reaper there may be work.  No GIL needed; no lock held. */
void apwsgi_reaper_wake(void);

/* Stop the thread and wait for it (at child exit; nothing when it
 * never started).  No GIL held. */
void apwsgi_reaper_stop(void);

#endif /* APWSGI_REAPER_H */
