# SPDX-License-Identifier: Apache-2.0
"""What an application tries to do to its Apache process: signals, fork.

Endpoints (by PATH_INFO; JSON with "pid" (os.getpid()) and "interpreter"
(environ apwsgi.interpreter) and what each adds):
  /signal?sig=S            signal.signal(S, SIG_IGN): + "returned" (repr
                           of what it returned), "now" (repr of
                           signal.getsignal(S) afterwards), or "error"
  /siginterrupt?sig=S      signal.siginterrupt(S, False): + "returned"
                           or "error"
  /mask?how=H&sig=S        signal.pthread_sigmask(SIG_<H>, {S}), then the
                           thread's mask is read back: + "blocked" (S is
                           blocked afterwards); the mask is then put back
  /fork?stop=F             os.fork(); the child leaves Apache's process
                           group (setsid), writes its pid to STATE/F.pid,
                           runs until STATE/F exists, then os._exit(0);
                           the parent answers at once: + "child"
  /reap?pid=P              os.waitpid(P, 0): + "status"
  /fork-return             os.fork(); the child returns from the
                           application (no os._exit); the parent waits:
                           + "status" (the child's wait status)
  /fork-refused            os.fork() expected to raise RuntimeError:
                           + "refused" (its message); then
                           subprocess.run(['echo', 'sub']): + "subprocess"
                           (its output)
"""

import json
import os
import signal
import subprocess
import time

from apphelpers import query, state_path, write_file

HOW = {'block': signal.SIG_BLOCK, 'unblock': signal.SIG_UNBLOCK,
       'setmask': signal.SIG_SETMASK}


def _forked_child(stop):
    """In the forked child: leave Apache's process group, say who we
    are, run until told to stop (at most a minute), then leave."""
    try:
        os.setsid()
        write_file(stop + '.pid', str(os.getpid()))
        deadline = time.monotonic() + 60
        while not os.path.exists(stop) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os._exit(0)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = query(environ)
    out = {'pid': os.getpid(),
           'interpreter': environ.get('apwsgi.interpreter')}
    sig = getattr(signal, q.get('sig', 'SIGTERM'))
    if path == '/signal':
        try:
            out['returned'] = repr(signal.signal(sig, signal.SIG_IGN))
            out['now'] = repr(signal.getsignal(sig))
        except ValueError as exc:
            out['error'] = str(exc)
    elif path == '/siginterrupt':
        try:
            out['returned'] = repr(signal.siginterrupt(sig, False))
        except ValueError as exc:
            out['error'] = str(exc)
    elif path == '/mask':
        before = signal.pthread_sigmask(HOW[q['how']],
                                        {sig} if q['how'] != 'setmask'
                                        else set())
        out['blocked'] = sig in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    elif path == '/fork':
        pid = os.fork()
        if pid == 0:
            _forked_child(state_path(environ, q['stop']))
        out['child'] = pid
    elif path == '/reap':
        out['status'] = os.waitpid(int(q['pid']), 0)[1]
    elif path == '/fork-return':
        pid = os.fork()
        if pid != 0:
            out['status'] = os.waitpid(pid, 0)[1]
    elif path == '/fork-refused':
        try:
            os.fork()
        except RuntimeError as exc:
            out['refused'] = str(exc)
        out['subprocess'] = subprocess.run(
            ['echo', 'sub'], capture_output=True, text=True,
            timeout=10).stdout
    body = json.dumps(out).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
