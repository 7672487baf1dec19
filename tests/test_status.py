# SPDX-License-Identifier: Apache-2.0
"""The figures and the status handler (SetHandler apwsgi-status).

Each test starts a server of its own with tests/apps/ops_app.py mounted
at /ops (main interpreter) and /named (interpreter 'n'), and the status
handler at /status; the exact counts below hold because nothing else
reaches that server.
"""

import json
import os
import pathlib
import re
import threading

import jsonschema
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import support

SCHEMA = json.loads((support.REPO / 'docs' / 'status-schema.json')
                    .read_text())
STATUS = '<Location /status>\n    SetHandler apwsgi-status\n</Location>'


def config(extra_ops='', extra=''):
    def make(state):
        return '\n'.join([
            'SetEnv APWSGI_TEST_STATE "%s"' % state,
            support.location('/ops', 'ops_app', extra=extra_ops),
            support.location('/named', 'ops_app', interpreter='n'),
            STATUS, extra]) + '\n'
    return make


def get(srv, path, **kw):
    """One request on a connection of its own."""
    with support.Client() as client:
        return client.get(srv.url(path), **kw)


def status_json(srv):
    r = get(srv, '/status?json')
    assert r.status_code == 200, r.text[:500]
    assert r.headers['Content-Type'] == 'application/json'
    doc = r.json()
    jsonschema.validate(doc, SCHEMA)
    return doc


def interp(doc, name):
    found = [i for i in doc['interpreters'] if i['name'] == name]
    assert len(found) == 1, (name, [i['name'] for i in doc['interpreters']])
    return found[0]


class Spinner:
    """A request to /ops/spin... running in a thread until released."""

    def __init__(self, srv, path, token, **kw):
        self.srv, self.token = srv, token
        self.stop = srv.state_dir / ('spin-%s-stop' % token)
        self.result = None
        self.thread = threading.Thread(
            target=self._run, args=(path, kw), daemon=True)
        self.thread.start()
        support.wait_file(srv.state_dir / ('spin-%s-started' % token))

    def _run(self, path, kw):
        with support.Client() as client:
            self.result = client.get(self.srv.url(path), timeout=30, **kw)

    def release(self):
        support.write_world_readable(self.stop, '')
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.result


@pytest.mark.expect_log('APW00301')
def test_json_counts_exactly_and_matches_the_schema(make_server):
    srv = make_server(config())
    # A child lists itself when it starts and counts its main interpreter
    # once its Python is up, which under prefork may come after another
    # child has served: wait for the slowest.
    support.wait_for(
        lambda: interp(status_json(srv), '(main)')['life']['alive']
        == support.PROCESSES, what="every child's main interpreter")
    for _ in range(5):
        assert get(srv, '/ops/hello').text == 'hello'
    for _ in range(3):
        assert get(srv, '/named/hello').status_code == 200
    for _ in range(2):
        assert get(srv, '/ops/status?s=404').status_code == 404
    assert get(srv, '/ops/raise').status_code == 500
    body = b'x' * 1000
    with support.Client() as client:
        assert client.post(srv.url('/ops/echo'), data=body).content == body
    doc = status_json(srv)
    assert doc['schema'] == 'apwsgi-status/1'
    totals = doc['totals']
    assert totals['requests'] == 12
    assert totals['requests_by_class'] == {
        '1xx': 0, '2xx': 9, '3xx': 0, '4xx': 2, '5xx': 1}
    assert totals['exceptions'] == 1
    assert totals['timeouts'] == 0
    assert totals['bytes_in'] == 1000
    # hello 5 bytes x 8, status 6 bytes x 2, the echo; the 500 page is
    # Apache's, sent after the handler.
    assert totals['bytes_out'] == 5 * 8 + 6 * 2 + 1000
    assert totals['duration_seconds']['count'] == 12
    assert sum(totals['duration_seconds']['counts']) == 12
    assert len(totals['duration_seconds']['counts']) == \
        len(totals['duration_seconds']['bounds']) + 1
    assert totals['gil_wait_seconds']['count'] == 12
    main, named = interp(doc, '(main)'), interp(doc, 'n')
    assert main['requests'] == 9 and named['requests'] == 3
    assert named['requests_by_class']['2xx'] == 3
    # One 'n' in each child that served it.
    assert 1 <= named['life']['created'] == named['life']['alive'] <= \
        support.PROCESSES
    assert main['life']['alive'] == len(doc['processes'])
    assert doc['requests'] == [] and doc['requests_unlisted'] == 0
    assert totals['in_flight'] == 0
    assert totals['processes'] == len(doc['processes']) == support.PROCESSES
    assert sum(p['requests'] for p in doc['processes']) == 12
    # Status requests are nobody's requests.
    for _ in range(3):
        get(srv, '/status')
        get(srv, '/status?metrics')
    assert status_json(srv)['totals']['requests'] == 12


def test_prefork_children_add_up_exactly(make_server):
    """Three prefork children: three keep-alive connections held open at
    once each reach a child of their own, then 12 requests go over
    connections of their own; every child's count is exact."""
    srv = make_server(config(), mpm='prefork', processes=3)
    served = {}
    sessions = [support.Client() for _ in range(3)]
    try:
        for _round in range(4):
            for session in sessions:
                pid = int(session.get(srv.url('/ops/pid')).text)
                served[pid] = served.get(pid, 0) + 1
        assert len(served) == 3, served
    finally:
        for session in sessions:
            session.close()
    for _ in range(12):
        pid = int(get(srv, '/named/pid').text)
        served[pid] = served.get(pid, 0) + 1
    doc = status_json(srv)
    assert doc['totals']['requests'] == 24
    assert interp(doc, '(main)')['requests'] == 12
    assert interp(doc, 'n')['requests'] == 12
    assert doc['totals']['processes'] == 3
    assert {p['pid']: p['requests'] for p in doc['processes']
            if p['requests']} == served
    assert doc['totals']['workers'] == {'threads': 3, 'busy': 0, 'idle': 3}


def test_prometheus_output_parses_and_agrees_with_json(make_server):
    srv = make_server(config())
    for _ in range(4):
        get(srv, '/ops/hello')
    get(srv, '/named/status?s=503')
    r = get(srv, '/status?metrics')
    assert r.status_code == 200
    assert r.headers['Content-Type'] == \
        'text/plain; version=0.0.4; charset=utf-8'
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    types = {name: f.type for name, f in families.items()}
    # The parser names counters without their _total suffix.
    assert types['apwsgi_requests'] == 'counter'
    assert types['apwsgi_request_duration_seconds'] == 'histogram'
    assert types['apwsgi_gil_wait_seconds'] == 'histogram'
    assert types['apwsgi_requests_in_flight'] == 'gauge'
    assert types['apwsgi_interpreters'] == 'gauge'
    for name in ('apwsgi_request_timeouts', 'apwsgi_application_exceptions',
                 'apwsgi_request_bytes', 'apwsgi_response_bytes',
                 'apwsgi_interpreter_events', 'apwsgi_process_cpu_seconds'):
        assert types[name] == 'counter', name
    for name in ('apwsgi_workers', 'apwsgi_processes',
                 'apwsgi_process_resident_memory_bytes'):
        assert types[name] == 'gauge', name
    requests_total = {
        (s.labels['interpreter'], s.labels['code_class']): s.value
        for s in families['apwsgi_requests'].samples}
    assert requests_total[('(main)', '2xx')] == 4
    assert requests_total[('n', '5xx')] == 1
    assert sum(requests_total.values()) == 5
    buckets = [s for s in families['apwsgi_request_duration_seconds'].samples
               if s.name.endswith('_bucket')
               and s.labels['interpreter'] == '(main)']
    values = [s.value for s in buckets]
    assert values == sorted(values) and values[-1] == 4
    assert buckets[-1].labels['le'] == '+Inf'
    doc = status_json(srv)
    assert {s.labels['interpreter'] for s in
            families['apwsgi_interpreters'].samples} == \
        {i['name'] for i in doc['interpreters']}
    pids = {s.labels['pid'] for s in
            families['apwsgi_process_resident_memory_bytes'].samples}
    assert pids == {str(p['pid']) for p in doc['processes']}
    # Labels of few values only: never a path.
    assert '/ops' not in r.text and '/named' not in r.text


def test_only_get_and_head(make_server):
    srv = make_server(config())
    with support.Client() as client:
        for method in ('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'):
            r = client.request(method, srv.url('/status?json'), data=b'x')
            assert r.status_code == 405, method
            allow = {m.strip() for m in r.headers['Allow'].split(',')}
            assert {'GET', 'HEAD'} <= allow and 'POST' not in allow
        head = client.head(srv.url('/status?json'))
        assert head.status_code == 200 and head.content == b''
        assert head.headers['Content-Type'] == 'application/json'


def test_slow_request_shows_its_stack(make_server):
    srv = make_server(config(extra_ops='SetEnv mod_wsgi.slow_request 1'))
    spinner = Spinner(srv, '/ops/spin?token=slow', 'slow')

    def stack_shown():
        doc = status_json(srv)
        reqs = [q for q in doc['requests'] if q['path'] == '/ops/spin']
        return reqs and reqs[0]['stack'] and reqs[0]
    req = support.wait_for(stack_shown, 15, 'the stack of /ops/spin')
    assert req['method'] == 'GET' and req['interpreter'] == '(main)'
    assert req['age_seconds'] >= 1
    assert re.search(r'File ".*ops_app\.py", line \d+, in application\n'
                     r'  File ".*ops_app\.py", line \d+, in '
                     r'spin_until_released\n$', req['stack']), req['stack']
    page = get(srv, '/status').text
    row = re.search(r'<tr data-pid="%d" data-thread="%d" '
                    r'data-interpreter="\(main\)">(.*?)</tr>'
                    % (req['pid'], req['thread']), page)
    assert row and '/ops/spin' in row.group(1)
    assert 'in spin_until_released' in page.split('<pre class="stack">')[1]
    assert spinner.release().text == 'released'
    assert status_json(srv)['requests'] == []


def test_page_shows_no_secrets_and_escapes_everything(make_server):
    """A path of markup and quotes, with a query string, a cookie, a
    header and a body: the page and the JSON show the path, escaped,
    and none of the rest."""
    srv = make_server(config())
    path = '/ops/spin/<script>alert("x")</script>\'&'
    quoted = requests.utils.quote(path, safe='/')
    spinner = Spinner(
        srv, quoted + '?token=esc&secret=QUERYSECRET', 'esc',
        headers={'X-Secret': 'HEADERSECRET',
                 'Cookie': 'session=COOKIESECRET'})
    doc = status_json(srv)
    assert [q['path'] for q in doc['requests']] == [path]
    pages = {form: get(srv, '/status' + form).text
             for form in ('', '?json', '?metrics')}
    for form, text in pages.items():
        for secret in ('QUERYSECRET', 'HEADERSECRET', 'COOKIESECRET',
                       'token=esc'):
            assert secret not in text, (form, secret)
    html = pages['']
    assert '<script>alert' not in html
    assert ('/ops/spin/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
            '&#39;&amp;') in html
    # The only script is the page's own, allowed by its nonce.
    nonces = re.findall(r'<script nonce="([^"]+)">', html)
    assert len(nonces) == 1 and html.count('<script') == 1
    csp = get(srv, '/status').headers['Content-Security-Policy']
    assert "default-src 'none'" in csp and "script-src 'nonce-" in csp
    assert '<script>' not in pages['?json'] and \
        '\\u003cscript\\u003e' in pages['?json']
    assert spinner.release().status_code == 200


def test_counters_survive_recycling_and_graceful_restart(make_server):
    """Children recycled every 3 connections, then a graceful restart:
    the totals are exact and never go down."""
    srv = make_server(config(extra='MaxConnectionsPerChild 3'),
                      mpm='prefork', processes=2)
    seen = []
    pids = set()
    for _ in range(10):
        pids.add(int(get(srv, '/ops/pid').text))
        seen.append(status_json(srv)['totals']['requests'])
    assert len(pids) > 2, pids  # children were replaced
    srv.graceful()
    for _ in range(5):
        get(srv, '/named/hello')
        seen.append(status_json(srv)['totals']['requests'])
    assert seen == list(range(1, 16)), seen
    doc = status_json(srv)
    assert interp(doc, '(main)')['requests'] == 10
    assert interp(doc, 'n')['requests'] == 5
    assert interp(doc, 'n')['life']['created'] >= 1
    gens = {p['generation'] for p in doc['processes']}
    assert gens == {max(gens)} and max(gens) >= 1


def _shared_files(pid):
    """Files under /dev/shm or /tmp that process `pid` maps or holds
    open (a shared segment with a name would show here)."""
    found = set()
    # The module and the suite's own files stand under /tmp when the
    # checkout does: they are not segments.
    own = (str(support.REPO) + os.sep, os.path.realpath(support.MODULE))
    try:
        for line in pathlib.Path('/proc/%d/maps' % pid).read_text() \
                .splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith(('/dev/shm', '/tmp')):
                found.add(parts[5])
        for fd in os.listdir('/proc/%d/fd' % pid):
            try:
                target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
            except OSError:
                continue
            if target.startswith(('/dev/shm', '/tmp')):
                found.add(target)
    except FileNotFoundError:
        pass
    return {f for f in found if not f.startswith(own)}


def test_nothing_on_disk(make_server):
    srv = make_server(config(extra_ops='SetEnv mod_wsgi.slow_request 1'))
    root = srv.root
    files_before = {p for p in root.rglob('*')}
    spinner = Spinner(srv, '/ops/spin?token=disk', 'disk')
    support.wait_for(lambda: any(q['stack'] for q in
                                 status_json(srv)['requests']), 15,
                     'a stack on the status page')
    spinner.release()
    for pid in [srv.pid] + srv.child_pids():
        held = {f for f in _shared_files(pid)
                if not f.startswith(str(root))}
        assert not held, (pid, held)
    made = {p for p in root.rglob('*')} - files_before
    assert {p.relative_to(root).as_posix() for p in made} == {
        'state/spin-disk-started', 'state/spin-disk-stop'}
