# SPDX-License-Identifier: Apache-2.0
"""A Flask application in the main and in a named interpreter.

Not marked core: Flask is installed only for the default Python.
"""

import hashlib
import os

import pytest

import support


@pytest.fixture(scope='module')
def flask_available(server):
    with support.Client() as client:
        info = client.get(server.url('/interp/main/pyinfo')).json()
    if not info['has_flask']:
        pytest.skip('Flask is not installed for the Python the module uses '
                    '(%s)' % info['prefix'])


@pytest.fixture(params=['/flask', '/flask-named'])
def mount(request, flask_available):
    return request.param


def test_index(http, url, mount):
    r = http.get(url(mount + '/'))
    assert (r.status_code, r.content) == (200, b'hello from flask')
    assert r.headers['Content-Type'] == 'text/html; charset=utf-8'


def test_url_building_uses_script_name(http, url, server, mount):
    info = http.get(url(mount + '/info')).json()
    assert info['script_root'] == mount
    assert info['path'] == '/info'
    assert info['url'] == 'http://127.0.0.1:%d%s/' % (server.port, mount)
    assert info['interpreter'] == ('flask' if mount == '/flask-named'
                                   else None)


def test_post_body(http, url, mount):
    data = os.urandom(300000)
    out = http.post(url(mount + '/echo'), data=data).json()
    assert out == {'len': len(data),
                   'sha256': hashlib.sha256(data).hexdigest()}


def test_streamed_response(http, url, mount):
    r = http.get(url(mount + '/stream'))
    assert r.content == b''.join(b'flask-%d\n' % i for i in range(5))


@pytest.mark.expect_log('APW00504')
def test_not_found_and_app_error(http, url, mount, log):
    assert http.get(url(mount + '/no/such/page')).status_code == 404
    # Flask handles its own exceptions and logs them with Python logging,
    # which reaches the error log at error level, URI first (APW00504).
    assert http.get(url(mount + '/fail')).status_code == 500
    log.wait(mount + '/fail: ', 'Exception on /fail [GET]', tag='APW00504')


def test_both_interpreters_in_one_process(http, url, flask_available):
    main = http.get(url('/flask/info')).json()
    named = http.get(url('/flask-named/info')).json()
    assert main['pid'] == named['pid']
    assert (main['interpreter'], named['interpreter']) == (None, 'flask')
