/*
 * apwsgi_reload.h: noticing that an application's code changed
 * (mod_wsgi.reload on).
 *
 * The files watched in an interpreter are its applications' module
 * and script files and every module it loaded from a mod_wsgi.directory.
 * The first modification time seen for a file is its baseline; a later
 * scan that finds another one reports a change.  Replacing the
 * interpreter is apwsgi_interp.c's business.
 */
#ifndef APWSGI_RELOAD_H
#define APWSGI_RELOAD_H

#include "apwsgi.h"
#include "apwsgi_state.h"

/*
 * Scan the watched files of the current interpreter.  Returns 1 when a
 * file changed since its baseline, else 0 (recording baselines for
 * files seen for the first time).  GIL of the state's interpreter
 * held; no exception set on entry or exit.
 */
int apwsgi_reload_scan(apwsgi_state_t *st);

/*
 * Take the current modification times as the new baseline (after a
 * reload failed: the next attempt waits for the next change).  GIL of
 * the state's interpreter held.
 */
void apwsgi_reload_rebase(apwsgi_state_t *st);

/* Watch `path` (a module's __file__ or a script) too.  GIL held. */
void apwsgi_reload_watch(apwsgi_state_t *st, const char *path);

/* Watch every module under `dir` (a mod_wsgi.directory) too.  GIL
 * held. */
void apwsgi_reload_watch_dir(apwsgi_state_t *st, const char *dir);

/* Reload's part of an interpreter's state (apwsgi_state.h).  GIL
 * held. */
int apwsgi_reload_part_init(apwsgi_state_t *st,
                            const apwsgi_state_setup_t *setup);
void apwsgi_reload_part_free(apwsgi_state_t *st);

#endif /* APWSGI_RELOAD_H */
