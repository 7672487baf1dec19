# SPDX-License-Identifier: Apache-2.0
"""Process facts read from /proc: children, resident memory, load, and
the accept queue of a listening port; placing Apache's children as
apwsgi places its own; and what a wake-up costs on this machine."""

import os
import pathlib
import time

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


def wakeup_cost(round_trips=10000):
    """What waking a sleeping process costs here: two processes hand a
    byte back and forth over two pipes (each round trip two wake-ups),
    both on the first CPU ('one_cpu'), then on the first and the last
    ('two_cpus'; absent with one CPU). For each, the time of a round
    trip and the CPU time both processes spent on it, in microseconds:
    {'one_cpu': {'round_trip_us': ..., 'cpu_us': ...}, ...}.

    A virtual machine may make a wake-up on another CPU far dearer than
    on bare metal (an interrupt between virtual CPUs), and every
    server's figures then weigh how often its threads and wrk sleep.
    """
    cpus = sorted(os.sched_getaffinity(0))
    pairs = {'one_cpu': (cpus[0], cpus[0])}
    if len(cpus) > 1:
        pairs['two_cpus'] = (cpus[0], cpus[-1])
    cost = {}
    try:
        for name, (here, there) in pairs.items():
            cost[name] = _ping_pong(here, there, round_trips)
    finally:
        os.sched_setaffinity(0, cpus)
    return cost


def _ping_pong(here, there, round_trips):
    ping, pong = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.sched_setaffinity(0, {there})
            for _ in range(round_trips):
                os.write(pong[1], os.read(ping[0], 1))
        finally:
            os._exit(0)
    try:
        os.sched_setaffinity(0, {here})
        time.sleep(0.05)        # the child reaches its first read
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(round_trips):
            os.write(ping[1], b'x')
            os.read(pong[0], 1)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        for fd in ping + pong:
            os.close(fd)
        _, _, usage = os.wait4(pid, 0)
    cpu += usage.ru_utime + usage.ru_stime
    return {'round_trip_us': round(elapsed * 1e6 / round_trips, 1),
            'cpu_us': round(cpu * 1e6 / round_trips, 1)}


def wakeup_line(cost):
    """One line saying what wakeup_cost() found."""
    parts = ['%.1f us %s (%.1f us of CPU time)' % (
        value['round_trip_us'],
        'on one CPU' if name == 'one_cpu' else 'across two CPUs',
        value['cpu_us']) for name, value in cost.items()]
    return 'wake-ups here, a round trip of two: ' + ', '.join(parts)
