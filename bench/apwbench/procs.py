# SPDX-License-Identifier: Apache-2.0
"""Process facts read from /proc: children, resident memory, load, and
the accept queue of a listening port; and placing Apache's children as
apwsgi places its own."""

import os
import pathlib

from apwsgi.apache import live_pids


def children_of(ppid):
    """Pids of the live (not zombie) children of ppid, sorted."""
    return live_pids(ppid=ppid)


def rss_kib(pid):
    """VmRSS of pid in KiB, or None when it is gone."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_of(pids):
    """{'per_child_kib': [...], 'sum_kib': N, 'children': n} for pids."""
    values = [v for v in (rss_kib(pid) for pid in pids) if v is not None]
    return {'children': len(values), 'per_child_kib': values,
            'sum_kib': sum(values)}


def loadavg():
    """The 1-minute load average (a noise indicator), or None."""
    try:
        with open('/proc/loadavg') as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def accept_queue(port):
    """Connections waiting to be accepted on the TCP port's listening
    sockets now (the sum over IPv4 and IPv6), or None when unreadable.

    For a listening socket, /proc/net/tcp's rx_queue is its accept
    queue: connections the kernel completed that no worker took yet.
    """
    total, found = 0, False
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if state == '0A' and int(local.rsplit(':', 1)[1],
                                             16) == port:
                        total += int(fields[4].split(':')[1], 16)
                        found = True
        except (OSError, ValueError, IndexError):
            continue
    return total if found else None


def schedule_like_apwsgi(pids, threads):
    """Give the children pids of a threaded MPM (threads per child) what
    apwsgi gives its own by default (mod_wsgi.cpu_affinity and
    mod_wsgi.sched_batch auto): where there are at least as many
    children as CPUs, each child's threads on one CPU of its own, round
    robin, under SCHED_BATCH.  Returns whether it applied.  A C handler
    measured this way is the bound of what a handler can do in an
    Apache scheduled as apwsgi schedules it."""
    cpus = sorted(os.sched_getaffinity(0))
    if threads < 2 or len(cpus) < 2 or len(pids) < len(cpus):
        return False
    batch = os.sched_param(0)
    for i, pid in enumerate(sorted(pids)):
        try:
            tids = [int(task.name) for task in
                    pathlib.Path('/proc/%d/task' % pid).iterdir()]
        except FileNotFoundError:       # a child that ended meanwhile
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, {cpus[i % len(cpus)]})
                os.sched_setscheduler(tid, os.SCHED_BATCH, batch)
            except ProcessLookupError:  # a thread that ended meanwhile
                pass
    return True
