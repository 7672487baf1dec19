# SPDX-License-Identifier: Apache-2.0
"""mod_wsgi.map_to_storage: with `off` in the <Location>, Apache does not
map the application's URLs to the file system, so <Directory> sections
no longer apply to them; the environ is the same; TRACE stays Apache's;
a <Location> below with `SetHandler none` keeps the walk, for files
Apache serves; `off` set too late is said once; a bad value is
refused."""

import pathlib

import pytest

import support

# A real directory under DocumentRoot, denied by its <Directory>: what the
# walk merges decides between 403 and 200.
PRIVATE = 'private'
FILE_BODY = b'served by Apache\n'


def config(state):
    htdocs = pathlib.Path(state).parent / 'htdocs'
    (htdocs / PRIVATE).mkdir(parents=True, exist_ok=True)
    (htdocs / PRIVATE).chmod(0o755)
    files = pathlib.Path(state).parent / 'files'
    files.mkdir(exist_ok=True)
    files.chmod(0o755)
    (files / 'a.txt').write_bytes(FILE_BODY)
    (files / 'a.txt').chmod(0o644)
    loc = support.location
    return '\n'.join([
        'TraceEnable on',
        '<Directory "%s">' % htdocs,
        '    Header always set X-Directory htdocs',
        '</Directory>',
        '<Directory "%s">' % (htdocs / PRIVATE),
        '    Require all denied',
        '</Directory>',
        # Server-level SetEnvIf runs before Apache maps the URL.
        'SetEnvIf Request_URI "^/%s/fast/" mod_wsgi.map_to_storage=off'
        % PRIVATE,
        loc('/walk', 'environ_app'),
        loc('/skip', 'environ_app',
            extra='SetEnv mod_wsgi.map_to_storage off'),
        'Alias /skip/files "%s"' % files,
        '<Location /skip/files>',
        '    SetHandler none',
        '</Location>',
        '<Directory "%s">' % files,
        '    Require all granted',
        '</Directory>',
        loc('/on', 'environ_app', extra='SetEnv mod_wsgi.map_to_storage ON'),
        loc('/' + PRIVATE, 'environ_app'),
        # Inside a section, SetEnvIf runs after the mapping: too late.
        loc('/late', 'environ_app',
            extra='SetEnvIf Request_URI . mod_wsgi.map_to_storage=off'),
        loc('/bad', 'environ_app',
            extra='SetEnv mod_wsgi.map_to_storage maybe'),
    ])


@pytest.fixture
def srv(make_server):
    return make_server(config)


def get(srv, path, method='GET'):
    with support.Client() as client:
        return client.request(method, srv.url(path))


def test_the_walk_applies_directory_sections_by_default(srv):
    for path in ('/walk/a/b', '/on/a/b'):
        r = get(srv, path)
        assert r.status_code == 200
        assert r.headers['X-Directory'] == 'htdocs'


def test_off_skips_the_directory_sections(srv):
    r = get(srv, '/skip/a/b?x=1')
    assert r.status_code == 200
    assert 'X-Directory' not in r.headers


def test_the_environ_is_the_same_either_way(srv):
    walked = get(srv, '/walk/a/b?x=1').json()['str']
    skipped = get(srv, '/skip/a/b?x=1').json()['str']
    assert (walked['SCRIPT_NAME'], walked['PATH_INFO']) == ('/walk', '/a/b')
    assert (skipped['SCRIPT_NAME'], skipped['PATH_INFO']) == ('/skip',
                                                              '/a/b')
    for key in ('QUERY_STRING', 'REQUEST_METHOD', 'SERVER_PROTOCOL',
                'DOCUMENT_ROOT', 'REQUEST_URI'):
        assert walked[key] == skipped[key].replace('/skip', '/walk'), key
    assert skipped['mod_wsgi.map_to_storage'] == 'off'
    assert set(walked) - {'SCRIPT_FILENAME'} == \
        set(skipped) - {'SCRIPT_FILENAME', 'mod_wsgi.map_to_storage'}


def test_off_means_directory_access_rules_no_longer_apply(srv):
    """The documented trade: a <Directory> that denies the mapped path
    denies the walked request, not the one that skips the walk."""
    assert get(srv, '/%s/slow/x' % PRIVATE).status_code == 403
    r = get(srv, '/%s/fast/x' % PRIVATE)
    assert r.status_code == 200
    assert r.json()['str']['PATH_INFO'] == '/fast/x'


def test_files_below_with_sethandler_none_keep_the_walk(srv):
    """The nested <Location> inherits `off` but not the handler: Apache
    maps it to the file and serves that."""
    r = get(srv, '/skip/files/a.txt')
    assert r.status_code == 200
    assert r.content == FILE_BODY
    assert r.headers['Content-Type'] == 'text/plain'


def test_trace_is_still_answered_by_apache(srv):
    r = get(srv, '/skip/a', method='TRACE')
    assert r.status_code == 200
    assert r.headers['Content-Type'] == 'message/http'
    assert r.text.startswith('TRACE /skip/a HTTP/1.1\r\n')


@pytest.mark.expect_log('APW00118')
def test_off_set_too_late_is_served_and_said_once(srv):
    mark = srv.log_mark()
    with support.Client() as client:
        for _ in range(3):
            r = client.get(srv.url('/late/x'))
            assert r.status_code == 200
            assert r.headers['X-Directory'] == 'htdocs'
    lines = [line for line in srv.log_since(mark).splitlines()
             if 'APW00118' in line]
    assert len(lines) == 1
    assert 'mod_wsgi.map_to_storage off for /late/x changed nothing: ' \
        'Apache had mapped the URL to the file system before the key or ' \
        'the handler was set' in lines[0]


@pytest.mark.expect_log('APW00117')
def test_a_bad_value_is_refused(srv):
    mark = srv.log_mark()
    assert get(srv, '/bad/x').status_code == 500
    lines = [line for line in srv.log_since(mark).splitlines()
             if 'APW00117' in line]
    assert len(lines) == 1
    assert "mod_wsgi.map_to_storage 'maybe' for /bad/x must be 'on' or " \
        "'off'" in lines[0]
