#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Scale out: apwsgi backends behind Apache's mod_proxy_balancer.

When one machine is not enough, run more Apache hosts with apwsgi and put
an ordinary load balancer in front.  This script shows the arrangement on
loopback: three apwsgi Apache backends (ports PORT+1 .. PORT+3) and one
Apache front end with mod_proxy_balancer (PORT), all from the templates
next to it (backend.conf.in, front.conf.in, member.conf.in).

    python3 examples/scale-out/scale_out.py          # serve; Ctrl-C stops
    python3 examples/scale-out/scale_out.py --demo   # load, stop b2, report

--demo sends a bounded load through the front end, stops backend b2 after
a third of it, and prints how many requests failed and how many each
backend served before and after.  tests/test_scale_out.py runs the same.
On real machines, point the BalancerMember lines at the backend hosts.
"""

import argparse
import http.client
import importlib.util
import os
import pathlib
import shutil
import signal
import string
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
if importlib.util.find_spec('apwsgi') is None:  # a checkout, not pip
    sys.path.insert(0, str(HERE.parents[1] / 'python'))
from apwsgi import config  # noqa: E402
from apwsgi.apache import ApacheServer, find_free_port  # noqa: E402

FRONT_MODULES = ('proxy', 'proxy_http', 'proxy_balancer', 'slotmem_shm',
                 'lbmethod_byrequests')


def render(template, **values):
    return string.Template((HERE / template).read_text()).substitute(values)


def stop_servers(servers, graceful, timeout):
    """Stop the ApacheServers `servers` together: gracefully first when
    `graceful` (SIGWINCH, `apachectl graceful-stop`), waiting up to
    `timeout` seconds for them to exit, then at once (SIGTERM) those
    still up."""
    if graceful:
        for srv in servers:
            if srv.running:
                os.kill(srv.pid, signal.SIGWINCH)
        deadline = time.monotonic() + timeout
        while any(srv.running for srv in servers) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
    for srv in servers:
        srv.stop()


class Cluster:
    """N apwsgi backends and a balancer front end, each an ApacheServer
    (or a subclass: server_class)."""

    server_class = ApacheServer

    def __init__(self, module, *, port=8080, backends=3, host='127.0.0.1',
                 retry=10, backend_ports=None, mpm='event', root=None):
        self.root = pathlib.Path(root or tempfile.mkdtemp(
            prefix='apwsgi-scale-out-'))
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.names = ['b%d' % (i + 1) for i in range(backends)]
        ports = backend_ports or [port + i + 1 for i in range(backends)]
        self.backends = {
            name: self.server_class(
                module, self.backend_config(name), mpm=mpm, processes=1,
                threads=16, host=host, port=p, root=self.root / name)
            for name, p in zip(self.names, ports, strict=True)}
        members = '\n'.join(
            render('member.conf.in', host=host, port=srv.port, name=name,
                   retry=retry).rstrip('\n')
            for name, srv in self.backends.items())
        self.front = self.server_class(
            None, render('front.conf.in', members=members,
                         max_attempts=backends - 1),
            mpm='event', processes=1, threads=32, host=host, port=port,
            root=self.root / 'front', modules=FRONT_MODULES)

    def backend_config(self, name):
        """The directives of backend `name` (backend.conf.in)."""
        return render('backend.conf.in', name=name, directory=HERE)

    def start(self):
        for srv in self.backends.values():
            srv.start()
        self.front.start()
        return self

    def stop(self, timeout=10):
        """Stop the front end, then the backends together, gracefully,
        and at once those not gone after `timeout` seconds.  Stopped at
        once (SIGTERM) just after its clients closed their connections,
        an event-MPM child can crash in Apache itself (its main thread
        closes the sockets of workers that are freeing them, in
        mod_mpm_event); a graceful stop does not take that path."""
        stop_servers([self.front], True, timeout)
        stop_servers(list(self.backends.values()), True, timeout)

    def stop_backend(self, name, graceful=False, timeout=30):
        """Stop one backend: at once (SIGTERM: what a crash looks like to
        the front end), or gracefully (SIGWINCH, `apachectl graceful-stop`:
        it stops listening, then finishes the requests it has)."""
        stop_servers([self.backends[name]], graceful, timeout)

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Load:
    """`total` GET requests through the front end from `clients` threads,
    each with its own keep-alive connection.  Each result is (start, end,
    backend name or None, status or the error's text)."""

    def __init__(self, host, port, total=600, clients=6, path='/load'):
        self.host, self.port, self.path = host, port, path
        self.total = total
        self.clients = clients
        self.results = []
        self._lock = threading.Lock()
        self._issued = 0

    def _next(self):
        with self._lock:
            if self._issued >= self.total:
                return False
            self._issued += 1
            return True

    def _client(self):
        conn = None
        while self._next():
            start = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port,
                                                      timeout=10)
                conn.request('GET', self.path)
                resp = conn.getresponse()
                resp.read()
                outcome = (resp.getheader('X-Backend'), resp.status)
                if resp.status != 200:
                    outcome = (None, resp.status)
            except (OSError, http.client.HTTPException) as exc:
                outcome = (None, '%s: %s' % (type(exc).__name__, exc))
                conn.close()
                conn = None
            with self._lock:
                self.results.append((start, time.monotonic()) + outcome)
        if conn is not None:
            conn.close()

    def completed(self):
        with self._lock:
            return len(self.results)

    def run(self, during=None, at=None):
        """Run the load; call during() once `at` requests have completed
        (in this thread, while the clients keep going)."""
        threads = [threading.Thread(target=self._client)
                   for _ in range(self.clients)]
        for t in threads:
            t.start()
        if during is not None:
            while self.completed() < at and any(t.is_alive()
                                                for t in threads):
                time.sleep(0.005)
            during()
        for t in threads:
            t.join(120)
        return self.results


def report(results, names, stopped=None, window=None):
    """Requests per backend (before, during and after stopping `stopped`,
    when window = (stop began, stop ended)) and the failures."""
    def counts(rows):
        return {name: sum(1 for r in rows if r[2] == name) for name in names}
    failed = [r for r in results if r[2] is None]
    lines = ['requests %d, failed %d' % (len(results), len(failed))]
    if window is None:
        lines.append('per backend: %s' % counts(results))
    else:
        begin, end = window
        for label, rows in (
                ('before stopping %s' % stopped,
                 [r for r in results if r[0] < begin]),
                ('while stopping %s' % stopped,
                 [r for r in results if begin <= r[0] < end]),
                ('after stopping %s' % stopped,
                 [r for r in results if r[0] >= end])):
            lines.append('%-20s %s' % (label + ':', counts(rows)))
    for row in failed[:10]:
        lines.append('  failed: %s' % (row[3],))
    return '\n'.join(lines)


def demo(cluster, total=600, clients=6, victim='b2', graceful=False):
    """The load with one backend stopped after a third; -> (results,
    (time the stop began, time it ended))."""
    load = Load(cluster.front.host, cluster.front.port, total, clients)
    window = []

    def stop_victim():
        window.append(time.monotonic())
        cluster.stop_backend(victim, graceful)
        window.append(time.monotonic())
    results = load.run(during=stop_victim, at=total // 3)
    return results, tuple(window)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--port', type=int, default=8080,
                        help='front end port; backends use the next ones')
    parser.add_argument('--backends', type=int, default=3)
    parser.add_argument('--module', help='mod_apwsgi.so (default: found '
                                         'like apwsgi serve does)')
    parser.add_argument('--demo', action='store_true',
                        help='run a load, stop b2 mid-way, report, exit')
    parser.add_argument('--graceful', action='store_true',
                        help='--demo: stop b2 gracefully (graceful-stop), '
                             'not at once')
    parser.add_argument('--root', metavar='DIR',
                        help="keep the servers' ServerRoots (configuration "
                             'and logs) in DIR (default: a temporary '
                             'directory, removed at exit)')
    args = parser.parse_args(argv)
    module = config.find_module(args.module)
    free = [find_free_port() for _ in range(args.backends)] \
        if args.demo else None
    cluster = Cluster(module, port=args.port, backends=args.backends,
                      backend_ports=free, root=args.root)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        cluster.start()
        print('front end  %s  (balancer-manager: %s)' % (
            cluster.front.url('/'), cluster.front.url('/balancer-manager')))
        for name, srv in cluster.backends.items():
            print('backend %s %s' % (name, srv.url('/')))
        if args.demo:
            results, window = demo(cluster, graceful=args.graceful)
            print(report(results, cluster.names, 'b2', window))
            return 0
        print('Ctrl-C stops all of them.', flush=True)
        while cluster.front.running:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.stop()
        if not args.root:
            cluster.remove()


if __name__ == '__main__':
    sys.exit(main())
