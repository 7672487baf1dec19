# SPDX-License-Identifier: Apache-2.0
"""SCRIPT_NAME / PATH_INFO splitting and decoding (docs/configuration.rst,
mod_wsgi.script_name).

SCRIPT_NAME is what the innermost non-regex <Location> matches of the
path (trailing '/' dropped, runs of '/' matching one, <Location /> gives
''), '' for <LocationMatch>, and mod_wsgi.script_name overrides it.
PATH_INFO is the percent-decoded rest of the path, as latin-1 str.
"""

import http.client
import json

import pytest

import support


def split(server, path, host=None):
    """(SCRIPT_NAME, PATH_INFO, QUERY_STRING) for a raw request path."""
    conn = http.client.HTTPConnection(server.host, server.port,
                                      timeout=support.TIMEOUT)
    try:
        conn.putrequest('GET', path, skip_host=True)
        conn.putheader('Host', host or '127.0.0.1:%d' % server.port)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status, body)
        s = json.loads(body)['str']
        return s['SCRIPT_NAME'], s['PATH_INFO'], s['QUERY_STRING']
    finally:
        conn.close()


@pytest.mark.parametrize('path, script_name, path_info', [
    ('/sn/app/x/y', '/sn/app', '/x/y'),
    ('/sn/app', '/sn/app', ''),
    ('/sn/app/', '/sn/app', '/'),
    ('/sn/app/a%20b/%C3%A9', '/sn/app', '/a b/\xc3\xa9'),
    ('/sn/app/%7Euser/%25', '/sn/app', '/~user/%'),
    ('/sn/%61pp/x', '/sn/app', '/x'),
    ('/sn/app/inner/deep', '/sn/app/inner', '/deep'),
    ('/sn/app/innerx', '/sn/app', '/innerx'),
    ('/sn/slash/x', '/sn/slash', '/x'),
    ('/sn/slash/', '/sn/slash', '/'),
    ('/sn/over/x', '/sn', '/over/x'),
    ('/sn/re/x/y', '', '/sn/re/x/y'),
    ('/sn/re2/x/y', '/sn/re2', '/x/y'),
    ('/sn/rw/foo/bar', '/sn/rw/foo', '/bar'),
])
def test_split(server, path, script_name, path_info):
    assert split(server, path)[:2] == (script_name, path_info)


def test_query_string_is_raw_and_separate(server):
    assert split(server, '/sn/app/p%20q?a=%20b&c') == (
        '/sn/app', '/p q', 'a=%20b&c')


def test_empty_query_string(server):
    assert split(server, '/sn/app/x')[2] == ''


@pytest.mark.parametrize('path, path_info', [
    ('/', '/'),
    ('/x/y', '/x/y'),
    ('/a%2Bb', '/a+b'),
])
def test_root_location_gives_empty_script_name(vhost_server, path,
                                               path_info):
    assert split(vhost_server, path, host='other.test')[:2] == ('', path_info)


@pytest.mark.expect_log('APW00105')
def test_script_name_override_not_a_prefix(http, url, log):
    response = http.get(url('/sn/bad/x'))
    assert response.status_code == 500
    log.wait('/sn/bad/x', tag='APW00105')


# With MergeSlashes Off, r->uri keeps runs of '/' (Apache itself drops
# the leading ones of a request path), but Apache compares <Location>
# paths with them merged: SCRIPT_NAME is the part of the URI that
# matched, in the URI's own characters, and SCRIPT_NAME + PATH_INFO is
# always the whole path.
SLASH_CASES = {
    'Off': [
        ('/app/x', '/app', '/x'),
        ('/app//x', '/app', '//x'),
        ('//app/x', '/app', '/x'),
        ('/app//', '/app', '//'),
        ('//app', '/app', ''),
        ('///app///x//y', '/app', '///x//y'),
        ('/appx/y', '', '/appx/y'),
        ('/dir//x', '/dir', '//x'),
        ('//dir/x', '/dir', '/x'),
        ('/a//b/x', '/a//b', '/x'),
        ('/a///b//', '/a///b', '//'),
        ('/a/b//', '/a/b', '//'),
        ('/a//bx', '', '/a//bx'),
        ('//ov//x', '/ov', '//x'),
        ('/ov//x', '/ov', '//x'),
    ],
    'On': [
        ('/app/x', '/app', '/x'),
        ('/app//x', '/app', '/x'),
        ('//app/x', '/app', '/x'),
        ('/app//', '/app', '/'),
        ('/dir//x', '/dir', '/x'),
        ('/a//b/x', '/a/b', '/x'),
        ('//ov//x', '/ov', '/x'),
    ],
}


@pytest.mark.parametrize('merge', ['Off', 'On'])
def test_split_with_merge_slashes(make_server, merge):
    """<Location /app>, <Location /dir/> (trailing slash), <Location /a/b>,
    and mod_wsgi.script_name /ov, under MergeSlashes Off and On."""
    srv = support.start_interp_server(
        make_server, 'MergeSlashes %s' % merge,
        support.location('/', 'environ_app'),
        support.location('/app', 'environ_app'),
        support.location('/dir/', 'environ_app'),
        support.location('/a/b', 'environ_app'),
        support.location('/ov', 'environ_app',
                         extra='SetEnv mod_wsgi.script_name /ov'))
    for path, script_name, path_info in SLASH_CASES[merge]:
        got = split(srv, path)[:2]
        assert got == (script_name, path_info), (merge, path, got)
