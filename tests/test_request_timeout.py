# SPDX-License-Identifier: Apache-2.0
"""mod_wsgi.request_timeout: at the deadline the request's stack is
logged (APW00706) and apwsgi.RequestTimeout is raised in its thread;
504 when nothing was sent (APW00709), a cut connection when the
response had started (APW00710); a thread blocked in C is logged as
stuck (APW00707) and interrupted once it returns to Python.

Each test starts a server of its own with tests/apps/ops_app.py at /to
(interpreter 'to', timeout 1 s) and the status handler at /status.
"""

import re

import pytest

import support

pytestmark = pytest.mark.core

TIMEOUT = 1


def config(state):
    return '\n'.join([
        'SetEnv APWSGI_TEST_STATE "%s"' % state,
        support.location('/to', 'ops_app', interpreter='to',
                         extra='SetEnv mod_wsgi.request_timeout %d'
                         % TIMEOUT),
        support.location('/free', 'ops_app', interpreter='to'),
        support.location('/bad-timeout', 'ops_app',
                         extra='SetEnv mod_wsgi.request_timeout soon'),
        support.location('/bad-slow', 'ops_app',
                         extra='SetEnv mod_wsgi.slow_request -1'),
        '<Location /status>\n    SetHandler apwsgi-status\n</Location>',
    ]) + '\n'


def timeouts(srv):
    with support.Client() as client:
        doc = client.get(srv.url('/status?json')).json()
    return {i['name']: i['timeouts'] for i in doc['interpreters']}


@pytest.mark.expect_log('APW00706', 'APW00709')
def test_timeout_answers_504_with_the_stack_logged(make_server):
    srv = make_server(config)
    log = support.LogWindow(srv)
    with support.Client() as client:
        r = client.get(srv.url('/to/spin?token=a&max=20'))
        assert r.status_code == 504
        assert 'released' not in r.text and 'gave up' not in r.text
        # The connection goes on, and so does the thread's next request.
        assert client.get(srv.url('/free/hello')).text == 'hello'
    head = log.wait('GET /to/spin', "interpreter 'to'",
                    'reached mod_wsgi.request_timeout of 1 s', tag='APW00706')
    assert len(head) == 1
    stack = log.tagged('APW00706', 'File "')
    assert re.search(r'ops_app\.py", line \d+, in application$', stack[0])
    assert stack[-1].endswith('in spin_until_released')
    lines = log.wait('/to/spin reached mod_wsgi.request_timeout of 1 s: 504',
                     tag='APW00709')
    assert len(lines) == 1
    traceback = log.tagged('APW00709')
    assert traceback[1].endswith('Traceback (most recent call last):')
    assert traceback[-1].endswith('APW00709: apwsgi.RequestTimeout')
    assert timeouts(srv) == {'(main)': 0, 'to': 1}


@pytest.mark.expect_log('APW00706', 'APW00710')
def test_timeout_cuts_a_response_that_started(make_server):
    srv = make_server(config)
    log = support.LogWindow(srv)
    status, headers, body = support.raw_get(
        srv, '/to/spin-started?token=b&max=20')
    assert status == b'HTTP/1.1 200 OK'
    assert b'Transfer-Encoding: chunked' in headers
    # The first block, then no last chunk: the client sees it cut.
    assert b'started\n' in body
    assert not body.endswith(b'0\r\n\r\n')
    assert b'released' not in body and b'gave up' not in body
    log.wait('/to/spin-started reached mod_wsgi.request_timeout of 1 s '
             'after its response started: connection cut', tag='APW00710')
    assert timeouts(srv) == {'(main)': 0, 'to': 1}


@pytest.mark.expect_log('APW00706')
def test_application_can_catch_the_timeout(make_server):
    srv = make_server(config)
    with support.Client() as client:
        r = client.get(srv.url('/to/catch?max=20'))
    assert r.status_code == 200
    assert r.text == 'caught apwsgi.RequestTimeout True'
    assert timeouts(srv) == {'(main)': 0, 'to': 1}


@pytest.mark.expect_log('APW00706', 'APW00709')
def test_thread_blocked_in_c_is_logged_stuck_then_interrupted(make_server):
    srv = make_server(config)
    log = support.LogWindow(srv)
    with support.Client() as client:
        r = client.get(srv.url('/to/block?s=4'), timeout=20)
    assert r.status_code == 504
    stuck = log.wait('GET /to/block', 'blocked outside Python',
                     tag='APW00707')
    assert len(stuck) == 1 and '[apwsgi:warn]' in stuck[0]
    log.wait('/to/block reached mod_wsgi.request_timeout of 1 s: 504',
             tag='APW00709')


def test_no_timeout_without_the_key(make_server):
    srv = make_server(config)
    with support.Client() as client:
        r = client.get(srv.url('/free/spin?token=c&max=1.5'))
    assert r.text == 'gave up'
    assert timeouts(srv) == {'(main)': 0, 'to': 0}


@pytest.mark.expect_log('APW00701', 'APW00702')
def test_malformed_keys_give_500(make_server):
    srv = make_server(config)
    log = support.LogWindow(srv)
    with support.Client() as client:
        assert client.get(srv.url('/bad-timeout/hello')).status_code == 500
        assert client.get(srv.url('/bad-slow/hello')).status_code == 500
    log.wait("mod_wsgi.request_timeout 'soon' for /bad-timeout/hello is not "
             "a whole number from 0 to 86400", tag='APW00701')
    log.wait("mod_wsgi.slow_request '-1' for /bad-slow/hello is not a whole "
             "number from 0 to 86400", tag='APW00702')
    # Refused before any Python ran, and still counted.
    with support.Client() as client:
        doc = client.get(srv.url('/status?json')).json()
    main = [i for i in doc['interpreters'] if i['name'] == '(main)'][0]
    assert main['requests_by_class']['5xx'] == 2 and main['requests'] == 2


@pytest.mark.expect_log('APW00706', 'APW00709')
def test_timeout_in_an_interpreter_with_its_own_gil(make_server):
    if not support.own_gil_supported():
        pytest.skip('interpreters have a GIL of their own from Python 3.12')

    def own(state):
        return '\n'.join([
            'SetEnv APWSGI_TEST_STATE "%s"' % state,
            support.location('/own', 'ops_app', interpreter='own',
                             extra='SetEnv mod_wsgi.gil own\n'
                                   'SetEnv mod_wsgi.request_timeout 1\n'
                                   'SetEnv mod_wsgi.slow_request 1'),
            '<Location /status>\n    SetHandler apwsgi-status\n'
            '</Location>']) + '\n'
    srv = make_server(own)
    log = support.LogWindow(srv)
    with support.Client() as client:
        assert client.get(srv.url('/own/spin?token=o&max=20')).status_code \
            == 504
        assert client.get(srv.url('/own/hello')).text == 'hello'
    log.wait('GET /own/spin', "interpreter 'own'", tag='APW00706')
    assert log.tagged('APW00706', 'in spin_until_released')
    assert timeouts(srv)['own'] == 1
