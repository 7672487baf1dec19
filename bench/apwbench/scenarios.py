# SPDX-License-Identifier: Apache-2.0
"""What is measured: scenarios, MPM settings, and families of both.

A scenario is one WSGI application under bench/apps/ and one kind of
request.  A family groups scenarios with the contenders that serve them,
the MPM settings they run under, and the targets their ratios are held
to.  Adding a family (as ``interp`` and ``apps`` were added) means adding
its apps to bench/apps/, its Scenario entries and one Family entry here,
and any new contenders in contenders.py; the runner, the report and the
chart need no change.
"""

import dataclasses
import json

from . import APPS


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One workload: an app, a request, and how to check the answer."""

    name: str
    app: str                    # file name under bench/apps/
    description: str
    method: str = 'GET'
    query: str = ''
    body_bytes: int = 0         # request body sent with every request
    # File name for Apache's static-file ceiling with the same bytes (the
    # same size for json), or None where a static file means nothing.
    static: str | None = None
    c_ceiling: bool = False     # mod_ceiling answers it (12 bytes)
    exact: bool = True          # the body is the same whatever serves it
    # The app imports a framework from the bench venv (every contender
    # runs it from there); the harness does not render it itself.
    venv_app: bool = False
    subpath: str = ''           # after the mount point, e.g. /items/42
    headers: tuple = ()         # (name, value) pairs sent with each request
    connections: int | None = None  # wrk -c for this scenario, not the run's

    @property
    def path(self):
        return '/' + self.name

    @property
    def app_path(self):
        return APPS / self.app

    @property
    def request_path(self):
        return (self.path + self.subpath
                + ('?' + self.query if self.query else ''))

    def check_body(self, body, expected):
        """None when body is a right answer, else what is wrong."""
        if self.exact:
            if body == expected:
                return None
            return ('body differs from the expected %d bytes (got %d '
                    'bytes: %r...)' % (len(expected), len(body), body[:60]))
        return _CHECKS[self.name](body, expected)


def _check_json(body, expected):
    if len(body) != len(expected):
        return 'JSON body of %d bytes, not %d' % (len(body), len(expected))
    try:
        data = json.loads(body)
    except ValueError as exc:
        return 'body is not JSON: %s' % exc
    if data.get('REQUEST_METHOD') != 'GET':
        return 'JSON echo lacks REQUEST_METHOD GET: %r' % body[:80]
    return None


def _check_cpu(body, expected):
    return None if body.strip().isdigit() else 'cpu body %r' % body[:40]


def _check_flask(body, expected):
    try:
        data = json.loads(body)
    except ValueError as exc:
        return 'body is not JSON: %s' % exc
    want = {'item': 42, 'q': 'bench', 'client': 'wrk', 'double': 84}
    return None if data == want else 'flask answered %r, not %r' % (
        data, want)


def _check_django(body, expected):
    text = body.decode('utf-8', 'replace')
    if 'Item 42, query bench, client wrk.' not in text:
        return 'django page lacks the item line: %r' % body[:200]
    if text.count('<li ') != 10:
        return 'django page has %d list items, not 10' % text.count('<li ')
    return None


_CHECKS = {'json': _check_json, 'cpu': _check_cpu, 'flask': _check_flask,
           'django': _check_django}

CLIENT_HEADER = (('X-Bench-Client', 'wrk'),)

MIB = 1024 * 1024

SCENARIOS = {s.name: s for s in (
    Scenario('hello', 'hello.py', '12 bytes, a one-item list',
             static='hello.txt', c_ceiling=True),
    Scenario('chunks', 'chunks.py', '64 KiB as a list of 16 chunks',
             static='chunks.bin'),
    Scenario('file', 'file.py', '1 MiB file through wsgi.file_wrapper',
             static='file.bin'),
    Scenario('post', 'post.py', '1 MiB POST read with wsgi.input.read()',
             method='POST', body_bytes=MIB, static='post.txt'),
    Scenario('json', 'json_echo.py',
             '200-byte JSON echo of environ keys', query='q=bench',
             static='json.json', exact=False),
    Scenario('stream', 'stream.py', '100 chunks of 64 bytes from a '
             'generator (chunked)', static='stream.txt'),
    Scenario('cpu', 'cpu.py', 'about 5 ms of pure-Python work',
             exact=False),
    # The apps family: what a Python user runs, and I/O-bound waiting.
    Scenario('flask', 'flask_app.py', 'Flask JSON route: path parameter, '
             'query string, header read', subpath='/items/42',
             query='q=bench', headers=CLIENT_HEADER, exact=False,
             venv_app=True),
    Scenario('django', 'django_app.py', 'Django view rendering a small '
             'template (no database)', subpath='/items/42',
             query='q=bench', headers=CLIENT_HEADER, exact=False,
             venv_app=True),
    Scenario('io', 'io_wait.py', 'waits 20 ms (time.sleep) then answers; '
             '64 connections', connections=64),
)}


@dataclasses.dataclass(frozen=True)
class MpmSetting:
    """One Apache MPM configuration, used by every Apache contender."""

    key: str
    mpm: str
    processes: int
    threads: int

    @property
    def label(self):
        if self.mpm == 'prefork':
            return 'prefork %d' % self.processes
        return '%s %dx%d' % (self.mpm, self.processes, self.threads)


MPMS = {m.key: m for m in (
    MpmSetting('event', 'event', 2, 25),
    MpmSetting('prefork', 'prefork', 8, 1),
    MpmSetting('event1', 'event', 1, 25),
    MpmSetting('worker', 'worker', 2, 25),
    # The no-threads reference with the peers' process count, and the
    # few-threads setting between it and Apache's default.
    MpmSetting('prefork2', 'prefork', 2, 1),
    MpmSetting('event4', 'event', 2, 4),
)}


@dataclasses.dataclass(frozen=True)
class Target:
    """A goal of the form num/den >= minimum (or <= maximum).

    metric 'rps' compares median requests per second in one scenario;
    'p99' the median p99 latency; 'idle_rss' the RSS of an idle child
    that served the hello app; 'previous' compares num's req/s with its
    own in the same cell of the previous full run of the family (den is
    then 'previous').  With den_value, den is a figure recorded here,
    not a contender of the run.  mpm None means: check it under every
    MPM setting measured.
    """

    text: str
    num: str
    den: str
    scenario: str = 'hello'
    mpm: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    metric: str = 'rps'
    den_value: float | None = None


@dataclasses.dataclass(frozen=True)
class Family:
    """Scenarios, contenders and MPMs measured together, with targets."""

    name: str
    description: str
    scenarios: tuple
    contenders: tuple
    mpms: tuple
    subjects: tuple             # the contenders whose ratios are printed
    references: tuple           # ... against these
    targets: tuple = ()
    idle_rss: tuple = ()        # contenders of the idle-child RSS check
    python_note: str = ''


# A result no slower than the previous full run: within this much of it
# (medians of 3 rounds on the 2-core machine differ by a few per cent
# between two runs of the same build).
NOT_SLOWER = 0.95

# apwsgi's io figure (event 2x25, 64 connections) before the work on
# threads sharing an interpreter (the GIL kept across passes that cannot
# block): the mean of 6 alternating rounds of 4 s
# (2,371-2,428 req/s) of the module built from a519fcb, 2026-12-01.  io is
# bound by its 20 ms waits and the 50 threads, not by the CPU, so the
# figure hardly depends on the machine: at most 50 / 20 ms = 2,500.
IO_BASELINE_RPS = 2402.0


def _not_slower(contender, scenarios, mpm=None):
    return tuple(Target('%s: not slower than the previous full run'
                        % scenario, contender, 'previous',
                        scenario=scenario, mpm=mpm, metric='previous',
                        minimum=NOT_SLOWER)
                 for scenario in scenarios)


def _app_targets(scenario):
    return (
        Target('%s >= 1.0x granian' % scenario, 'apwsgi-main', 'granian',
               scenario=scenario, mpm='event', minimum=1.0),
        Target('%s >= 0.85x uWSGI' % scenario, 'apwsgi-main', 'uwsgi',
               scenario=scenario, mpm='event', minimum=0.85),
        Target('%s >= 0.95x apwsgi under prefork 2 (threads cost '
               'nothing)' % scenario, 'apwsgi-main', 'apwsgi-prefork2',
               scenario=scenario, mpm='event', minimum=0.95),
    )


FAMILIES = {f.name: f for f in (
    Family(
        'main', 'apwsgi against mod_wsgi, gunicorn and Apache ceilings',
        scenarios=('hello', 'chunks', 'file', 'post', 'json', 'stream'),
        contenders=('apwsgi-main', 'apwsgi-sub', 'apwsgi-walk',
                    'apwsgi-nobatch', 'mod_wsgi', 'gunicorn-sync',
                    'gunicorn-gthread', 'granian', 'uwsgi', 'static',
                    'ceiling', 'ceiling-plain'),
        mpms=('event', 'prefork', 'event1'),
        subjects=('apwsgi-main', 'apwsgi-sub'),
        references=('apwsgi-walk', 'apwsgi-nobatch', 'mod_wsgi',
                    'gunicorn-sync', 'gunicorn-gthread', 'granian', 'uwsgi',
                    'static', 'ceiling', 'ceiling-plain'),
        targets=(
            Target('hello >= 1.0x static file',
                   'apwsgi-main', 'static', mpm='event', minimum=1.0),
            Target('hello >= 0.75x C ceiling',
                   'apwsgi-main', 'ceiling', mpm='event', minimum=0.75),
            Target('hello >= 2x mod_wsgi',
                   'apwsgi-main', 'mod_wsgi', mpm='event1', minimum=2.0),
            Target('file_wrapper 1 MiB >= 0.95x static file',
                   'apwsgi-main', 'static', scenario='file',
                   minimum=0.95),
            Target('POST 1 MiB >= 1.5x mod_wsgi', 'apwsgi-main',
                   'mod_wsgi', scenario='post', minimum=1.5),
            Target('idle child RSS (hello) <= mod_wsgi', 'apwsgi-main',
                   'mod_wsgi', metric='idle_rss', maximum=1.0),
        ) + _not_slower('apwsgi-main', ('file', 'post', 'chunks',
                                        'stream', 'json')),
        idle_rss=('apwsgi-main', 'apwsgi-sub', 'mod_wsgi', 'static'),
    ),
    Family(
        'interp', 'CPU-bound requests on apwsgi interpreter pools; '
        'needs apwsgi built for Python 3.12+',
        scenarios=('cpu',),
        contenders=('apwsgi-shared-1', 'apwsgi-own-pool-2',
                    'apwsgi-own-pool-4'),
        mpms=('event1',),
        subjects=('apwsgi-own-pool-2', 'apwsgi-own-pool-4'),
        references=('apwsgi-shared-1',),
        targets=(
            Target('cpu: own-GIL pool of 2 >= 1.7x one shared-GIL '
                   'interpreter', 'apwsgi-own-pool-2',
                   'apwsgi-shared-1', scenario='cpu', mpm='event1',
                   minimum=1.7),
        ) + _not_slower('apwsgi-own-pool-2', ('cpu',))
          + _not_slower('apwsgi-own-pool-4', ('cpu',)),
        python_note='own GIL needs Python 3.12+: make bench-interp builds '
                    'build/py3.12/mod_apwsgi.so',
    ),
    Family(
        'apps', 'real applications (Flask, Django) and I/O-bound waiting '
        'under the threaded MPM, against granian, uWSGI and apwsgi '
        'without threads',
        scenarios=('flask', 'django', 'io'),
        contenders=('apwsgi-main', 'apwsgi-nobatch', 'apwsgi-unpinned',
                    'apwsgi-walk', 'apwsgi-prefork2', 'apwsgi-worker',
                    'granian', 'uwsgi', 'mod_wsgi', 'gunicorn-gthread'),
        mpms=('event',),
        subjects=('apwsgi-main',),
        references=('apwsgi-nobatch', 'apwsgi-unpinned', 'apwsgi-walk',
                    'apwsgi-prefork2', 'apwsgi-worker', 'granian', 'uwsgi',
                    'mod_wsgi', 'gunicorn-gthread'),
        targets=_app_targets('flask') + _app_targets('django') + (
            Target('flask p99 <= granian', 'apwsgi-main', 'granian',
                   scenario='flask', mpm='event', metric='p99',
                   maximum=1.0),
            Target('io (64 connections) >= 0.95x the recorded figure '
                   '(a519fcb)', 'apwsgi-main', 'recorded', scenario='io',
                   mpm='event', minimum=0.95, den_value=IO_BASELINE_RPS),
        ),
    ),
)}
