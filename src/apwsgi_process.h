/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_process.h: the Apache child process belongs to Apache.
 *
 * Two things of the process are Apache's and are kept from the
 * application in every interpreter:
 *
 * - The signals Apache's MPMs use (apwsgi_process_is_apache_signal):
 *   signal.signal() and signal.siginterrupt() for them are ignored,
 *   and signal.pthread_sigmask() leaves them as they are; each attempt
 *   is logged with the caller's file and line.  Ignoring (rather than
 *   raising) lets a library that installs a SIGTERM handler when
 *   imported still be imported.
 * - Its listening sockets: a process forked by the application gets
 *   none of them, nor the client's connection, and never returns into
 *   Apache.  os.fork() (and os.forkpty()) is refused with RuntimeError
 *   where CPython's cleanup in the forked child cannot be safe: in a
 *   named interpreter, or while the process has more than one
 *   interpreter (the child would try to delete the others and hang).
 *
 * Called by apwsgi_state.c (the part that installs the guards in an
 * interpreter), apwsgi_python.c (child init), apwsgi_request.c and
 * apwsgi_response.c (the forked child's way out).  Calls only the log.
 */
#ifndef APWSGI_PROCESS_H
#define APWSGI_PROCESS_H

#include "apwsgi.h"
#include "apwsgi_state.h"

/*
 * Note the listening sockets of this child and make sure a process
 * forked from it closes them (pthread_atfork).  Child init, before any
 * application code runs; no GIL needed.
 */
void apwsgi_process_init(apr_pool_t *pchild, server_rec *s);

/* The name of `signum` when Apache uses it, else NULL.  No GIL. */
const char *apwsgi_process_is_apache_signal(long signum);

/*
 * The guards' part of an interpreter's state (apwsgi_state.h): wraps
 * the current interpreter's _signal.signal, _signal.siginterrupt,
 * _signal.pthread_sigmask, os.fork and os.forkpty (the wrappers keep
 * the originals; the part holds nothing itself).  GIL held.
 */
int apwsgi_process_part_init(apwsgi_state_t *st,
                             const apwsgi_state_setup_t *setup);
void apwsgi_process_part_free(apwsgi_state_t *st);

/*
 * The socket of the client the calling thread serves from now on
 * (NULL: none), which a forked child must not keep open.  Returns the
 * one it served before, for apwsgi_process_restore_client() (requests
 * nest: a subrequest of another module's response).  No GIL needed.
 */
int apwsgi_process_set_client(apr_socket_t *sock);

/* Back to the client that apwsgi_process_set_client() returned.  No
 * GIL needed. */
void apwsgi_process_restore_client(int before);

/* Whether this process was forked by the application from an Apache
 * child.  No GIL needed. */
int apwsgi_process_forked(void);

/*
 * In a process forked by the application that came back into the
 * module (the application returned instead of calling os._exit()):
 * log that and end the process, with `failed` as exit status.  Does
 * nothing elsewhere.  Any thread; GIL or not.
 */
void apwsgi_process_leave_if_forked(request_rec *r, int failed);

#endif /* APWSGI_PROCESS_H */
