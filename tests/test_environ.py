# SPDX-License-Identifier: Apache-2.0
"""The WSGI environ: CGI variables, subprocess_env, wsgi.* keys (PEP 3333)."""

import base64
import concurrent.futures
import hashlib
import http.client
import json
import pathlib

import pytest

import support

pytestmark = pytest.mark.core


def environ_of(http, url, path='/env/x', **kw):
    response = http.get(url(path), **kw)
    assert response.status_code == 200, response.text
    assert response.headers['Content-Type'] == 'application/json'
    return response.json()


def raw_environ(server, path, headers=(), method='GET', body=None):
    """Environ from a request sent with http.client (exact bytes), plus the
    client's own port (for REMOTE_PORT)."""
    conn = http.client.HTTPConnection(server.host, server.port,
                                      timeout=support.TIMEOUT)
    try:
        conn.putrequest(method, path, skip_host=True,
                        skip_accept_encoding=True)
        conn.putheader('Host', '127.0.0.1:%d' % server.port)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader('Content-Length', str(len(body)))
        conn.endheaders(body)
        client_port = conn.sock.getsockname()[1]
        response = conn.getresponse()
        data = response.read()
        assert response.status == 200, data
        return json.loads(data), client_port
    finally:
        conn.close()


def test_cgi_variables_exact(server):
    env, client_port = raw_environ(
        server, '/env/a/b?x=1&y=two%20words',
        headers=[('User-Agent', 'apwsgi-test/1.0'),
                 ('X-Custom-Header', 'custom value')])
    s = env['str']
    assert s['REQUEST_METHOD'] == 'GET'
    assert s['SCRIPT_NAME'] == '/env'
    assert s['PATH_INFO'] == '/a/b'
    assert s['QUERY_STRING'] == 'x=1&y=two%20words'
    assert s['SERVER_NAME'] == '127.0.0.1'
    assert s['SERVER_PORT'] == str(server.port)
    assert s['SERVER_PROTOCOL'] == 'HTTP/1.1'
    assert s['REMOTE_ADDR'] == '127.0.0.1'
    assert s['REMOTE_PORT'] == str(client_port)
    assert s['HTTP_HOST'] == '127.0.0.1:%d' % server.port
    assert s['HTTP_USER_AGENT'] == 'apwsgi-test/1.0'
    assert s['HTTP_X_CUSTOM_HEADER'] == 'custom value'
    # Plain HTTP: HTTPS absent or 'off' (CGI convention), never 'on'.
    assert s.get('HTTPS', 'off') in ('off',)
    assert s.get('CONTENT_LENGTH', '') in ('', '0')


def test_apache_path_not_in_environ(http, url):
    """Apache's own PATH (which ap_add_common_vars copies for CGI
    children) is not a fact of the request; mod_wsgi leaves it out too."""
    for path in ('/env/x', '/env-named/x'):
        env = environ_of(http, url, path)
        assert 'PATH' not in env['types'], env['str'].get('PATH')


def test_path_set_by_setenv_is_kept(http, url):
    env = environ_of(http, url, '/env-path/x')
    assert env['str']['PATH'] == '/apwsgi-test/bin'


def test_post_content_type_and_length(server):
    env, _ = raw_environ(server, '/env/post', method='POST', body=b'12345',
                         headers=[('Content-Type', 'application/x-test')])
    s = env['str']
    assert s['REQUEST_METHOD'] == 'POST'
    assert s['CONTENT_TYPE'] == 'application/x-test'
    assert s['CONTENT_LENGTH'] == '5'
    assert 'HTTP_CONTENT_TYPE' not in env['types']
    assert 'HTTP_CONTENT_LENGTH' not in env['types']


def test_every_cgi_value_is_native_str(http, url):
    env = environ_of(http, url, '/env/types?q=1',
                     headers={'X-Another': 'v'})
    not_str = {k: t for k, t in env['types'].items()
               if '.' not in k and t != 'str'}
    assert not_str == {}
    assert env['environ_type'] == 'dict'


def test_header_bytes_decoded_as_latin1(server):
    env, _ = raw_environ(server, '/env/latin', headers=[
        ('X-Latin', b'caf\xe9'), ('X-Utf8', b'\xc3\xa9t\xc3\xa9')])
    assert env['str']['HTTP_X_LATIN'] == 'caf\xe9'
    assert env['str']['HTTP_X_UTF8'] == '\xc3\xa9t\xc3\xa9'


def test_repeated_request_header_joined(server):
    env, _ = raw_environ(server, '/env/rep', headers=[
        ('X-Repeat', 'one'), ('X-Repeat', 'two')])
    assert env['str']['HTTP_X_REPEAT'] == 'one, two'


def test_httpoxy_proxy_header_not_passed(http, url):
    env = environ_of(http, url, '/env/proxy',
                     headers={'Proxy': 'http://evil.example:3128'})
    assert 'HTTP_PROXY' not in env['types']


def test_wsgi_keys(http, url):
    env = environ_of(http, url)
    w = env['wsgi']
    assert w['version'] == [1, 0]
    assert w['version_type'] == 'tuple'
    assert w['url_scheme'] == 'http'
    assert w['run_once'] is False
    assert w['input_terminated'] is True
    assert w['file_wrapper_callable'] is True
    assert w['input_attrs'] == ['__iter__', 'read', 'readline', 'readlines']
    assert w['errors_attrs'] == ['flush', 'write', 'writelines']
    assert env['types']['wsgi.multithread'] == 'bool'
    assert env['types']['wsgi.multiprocess'] == 'bool'
    assert env['types']['wsgi.run_once'] == 'bool'


def test_wsgi_keys_in_named_interpreter(http, url):
    env = environ_of(http, url, '/env-named/x')
    assert env['str']['mod_wsgi.interpreter'] == 'envtest'
    assert env['wsgi']['version'] == [1, 0]
    assert env['wsgi']['url_scheme'] == 'http'
    assert env['str']['SCRIPT_NAME'] == '/env-named'
    assert env['str']['PATH_INFO'] == '/x'
    assert env['environ_type'] == 'dict'


def test_subprocess_env_passed(http, url):
    env = environ_of(http, url)
    s = env['str']
    assert s['APWSGI_SETENV'] == 'set by SetEnv'
    assert s['mod_wsgi.application'] == 'environ_app'
    assert s['mod_wsgi.directory'] == str(support.APPS)
    assert s['APWSGI_TEST_STATE']  # server-level SetEnv reaches the app
    assert 'APWSGI_SELECTED' not in s


def test_setenvif_reaches_environ(http, url):
    env = environ_of(http, url, headers={'X-Apwsgi-Select': 'yes'})
    assert env['str']['APWSGI_SELECTED'] == 'chosen'


def test_environ_fresh_for_each_request(http, url):
    environ_of(http, url, '/env/m?mutate=1')
    env = environ_of(http, url, '/env/m')
    assert 'APWSGI_LEAK' not in env['types']
    assert env['wsgi']['url_scheme'] == 'http'
    assert env['wsgi']['version'] == [1, 0]


def test_authorization_hidden_by_default(http, url):
    # Apache's CGI convention (ap_add_common_vars): without CGIPassAuth the
    # credentials Apache may have checked itself are not handed on.
    env = environ_of(http, url, headers={'Authorization': 'Basic eDp5'})
    assert 'HTTP_AUTHORIZATION' not in env['types']


def test_authorization_passed_with_cgipassauth(http, url):
    env = environ_of(http, url, '/env-auth/x',
                     headers={'Authorization': 'Basic eDp5'})
    assert env['str']['HTTP_AUTHORIZATION'] == 'Basic eDp5'


# The variables Apache's ap_add_common_vars() makes for a request, which
# apwsgi makes itself on the way to environ (PATH aside: it never
# reaches environ) and which a CGI script gets from Apache.
COMMON_VARS = {
    'CONTENT_TYPE', 'CONTENT_LENGTH', 'SERVER_SIGNATURE', 'SERVER_SOFTWARE',
    'SERVER_NAME', 'SERVER_ADDR', 'SERVER_PORT', 'REMOTE_HOST',
    'REMOTE_ADDR', 'DOCUMENT_ROOT', 'REQUEST_SCHEME', 'CONTEXT_PREFIX',
    'CONTEXT_DOCUMENT_ROOT', 'SERVER_ADMIN', 'REMOTE_PORT', 'REMOTE_USER',
    'AUTH_TYPE', 'REMOTE_IDENT', 'REDIRECT_URL', 'REDIRECT_QUERY_STRING',
    'REDIRECT_STATUS', 'REDIRECT_REMOTE_USER',
}

CGI_SCRIPT = """#!/usr/bin/python3
import json, os, sys
sys.stdout.write('Content-Type: application/json\\r\\n\\r\\n')
sys.stdout.write(json.dumps(dict(os.environ)))
"""


def common_part(env):
    return {k: v for k, v in env.items()
            if k in COMMON_VARS or k.startswith('HTTP_')}


def test_cgi_variables_are_apaches(make_server):
    """The CGI variables in environ are those Apache gives a CGI script
    for the same request on the same connection (mod_cgid): the same
    keys, with the same values, for the headers Apache exports, drops
    (Proxy, a name with '_' or '.') and passes with CGIPassAuth, an
    authenticated user, and after an internal redirect (ErrorDocument)."""
    auth = 'Basic ' + base64.b64encode(b'alice:secret').decode()

    def config(state):
        root = pathlib.Path(state).parent
        cgi = root / 'htdocs' / 'cgi'
        cgi.mkdir(parents=True)
        (cgi / 'env.py').write_text(CGI_SCRIPT)
        (cgi / 'env.py').chmod(0o755)
        digest = base64.b64encode(hashlib.sha1(b'secret').digest())
        (pathlib.Path(state) / 'users').write_text(
            'alice:{SHA}%s\n' % digest.decode())
        guard = '\n'.join([
            'CGIPassAuth On', 'AuthType Basic', 'AuthName apwsgi',
            'AuthUserFile "%s/users"' % state, 'Require valid-user'])
        return '\n'.join([
            'LogLevel info apwsgi:trace1',
            'ScriptSock "%s/run/cgid.sock"' % root,
            '<Directory "%s">' % cgi,
            '    Options +ExecCGI', '    SetHandler cgi-script', guard,
            '</Directory>',
            support.location('/wsgi', 'environ_app', extra=guard),
            '<Location /gone-cgi>', '    ErrorDocument 404 /cgi/env.py',
            '</Location>',
            '<Location /gone-wsgi>', '    ErrorDocument 404 /wsgi/missing',
            '</Location>',
        ])
    srv = make_server(config, modules=('cgid', 'auth_basic', 'authn_file',
                                       'authz_user'))
    headers = [('User-Agent', 'apwsgi-test/1.0'),
               ('X-Custom-Header', 'custom value'),
               ('content-type', 'text/plain'),
               ('X_Under', 'dropped'),
               ('X.Dot', 'dropped'),
               ('Proxy', 'http://proxy.invalid/'),
               ('X-2fa', 'digits'),
               ('X-' + 'Long-' * 40 + 'Name', 'long'),
               ('Authorization', auth)]
    conn = http.client.HTTPConnection(srv.host, srv.port,
                                      timeout=support.TIMEOUT)
    try:
        def get(path):
            conn.putrequest('GET', path, skip_host=True,
                            skip_accept_encoding=True)
            conn.putheader('Host', '127.0.0.1:%d' % srv.port)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            data = response.read()
            return response.status, json.loads(data)

        status, cgi = get('/cgi/env.py/a?x=1')
        assert status == 200
        status, wsgi = get('/wsgi/a?x=1')
        assert status == 200
        wsgi = wsgi['str']
        assert common_part(wsgi) == common_part(cgi)
        assert wsgi['REMOTE_USER'] == 'alice'
        assert wsgi['AUTH_TYPE'] == 'Basic'
        assert wsgi['HTTP_AUTHORIZATION'] == auth
        assert wsgi['CONTENT_TYPE'] == 'text/plain'
        assert wsgi['HTTP_X_2FA'] == 'digits'
        assert wsgi['HTTP_X_' + 'LONG_' * 40 + 'NAME'] == 'long'
        assert 'HTTP_X_UNDER' not in wsgi and 'HTTP_X_DOT' not in wsgi
        assert 'HTTP_PROXY' not in wsgi
        # Dropped, and logged at trace1 as Apache logs it for CGI.
        logged = [line for line in srv.log_bytes().decode().splitlines()
                  if 'APW00310' in line]
        assert [line.rsplit(': ', 1)[1] for line in logged] == [
            'X_Under', 'X.Dot'], logged
        assert all('Not exporting header with invalid name as envvar'
                   in line for line in logged), logged
        assert wsgi['SCRIPT_FILENAME'] == str(srv.root / 'htdocs' / 'wsgi')
        assert 'PATH' not in wsgi

        # A CGI script without a Status line keeps the error's status;
        # the application's start_response sets its own.
        status, cgi = get('/gone-cgi/page?q=2')
        assert status == 404
        status, wsgi = get('/gone-wsgi/page?q=2')
        assert status == 200
        wsgi = wsgi['str']
        assert wsgi['REDIRECT_URL'] == '/gone-wsgi/page'
        assert cgi['REDIRECT_URL'] == '/gone-cgi/page'
        del wsgi['REDIRECT_URL'], cgi['REDIRECT_URL']
        assert common_part(wsgi) == common_part(cgi)
        assert wsgi['REDIRECT_QUERY_STRING'] == 'q=2'
        assert wsgi['REDIRECT_STATUS'] == '404'
        assert 'PATH' not in wsgi
    finally:
        conn.close()


def test_multithread_multiprocess_match_mpm(http, url):
    env = environ_of(http, url)
    assert env['wsgi']['multithread'] is (support.MPM != 'prefork')
    assert env['wsgi']['multiprocess'] is (support.PROCESSES > 1)


def test_https_variables(make_server):
    """Over TLS (mod_ssl): wsgi.url_scheme 'https' and HTTPS 'on'."""
    import shutil
    import subprocess

    import urllib3
    if not shutil.which('openssl'):
        pytest.skip('openssl is needed to make a test certificate')
    tls_port = support.free_port()

    def config(state):
        cert, key = state.parent / 'cert.pem', state.parent / 'key.pem'
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048',
                        '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1',
                        '-keyout', str(key), '-out', str(cert)],
                       check=True, capture_output=True)
        return '\n'.join([
            'Listen 127.0.0.1:%d https' % tls_port,
            '<VirtualHost 127.0.0.1:%d>' % tls_port,
            '    SSLEngine on',
            '    SSLCertificateFile "%s"' % cert,
            '    SSLCertificateKeyFile "%s"' % key,
            support.location('/env', 'environ_app'),
            '</VirtualHost>',
        ])
    srv = make_server(config, modules=('ssl',))
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with support.Client() as client:
        r = client.get('https://127.0.0.1:%d/env/x' % tls_port, verify=False)
    assert r.status_code == 200
    env = r.json()
    assert env['wsgi']['url_scheme'] == 'https'
    assert env['str']['HTTPS'] == 'on'
    assert env['str']['SERVER_PORT'] == str(tls_port)
    with support.Client() as client:
        plain = client.get(srv.url('/env/x'))
    assert plain.status_code == 404   # the mount is in the TLS host only


def test_each_environ_has_exactly_its_own_request(make_server):
    """Requests on one interpreter whose keys change from one to the
    next (a header there or not, a value that changes, one too long to
    cache, a SetEnvIf that overrides a wsgi.* entry) each see exactly
    their own: nothing left from the request before."""
    srv = support.start_interp_server(
        make_server,
        'SetEnvIf Request_URI "/override" wsgi.multiprocess=overridden',
        support.location('/env', 'environ_app'))
    long_value = 'v' * 300
    steps = [
        ('/env/a', {'X-One': '1'}),
        ('/env/a', {'X-One': '1'}),
        ('/env/b?q=2', {'X-Two': '2'}),
        ('/env/override', {'X-One': '3', 'X-Two': long_value}),
        ('/env/a', {'X-One': '3', 'X-Two': long_value}),
        ('/env/a', {}),
        ('/env/a', {'X-One': '1'}),
    ]
    base = None
    with support.Client() as client:
        for path, headers in steps:
            got = environ_of(client, srv.url, path, headers=headers)
            strs, types = got['str'], got['types']
            assert strs.get('HTTP_X_ONE') == headers.get('X-One')
            assert strs.get('HTTP_X_TWO') == headers.get('X-Two')
            assert strs['REQUEST_URI'] == path
            assert strs['QUERY_STRING'] == path.partition('?')[2]
            if path == '/env/override':
                assert strs['wsgi.multiprocess'] == 'overridden'
            else:
                assert types['wsgi.multiprocess'] == 'bool'
            assert types['wsgi.input'] == 'Input'
            keys = set(types) - {'HTTP_X_ONE', 'HTTP_X_TWO', 'REMOTE_PORT'}
            if base is None:
                base = keys
            assert keys == base


def test_environs_built_while_collections_switch_threads(make_server):
    """Eight clients at once on one child, every other request with a
    header more (so that the environ's template changes all the time)
    and query strings from three values (so that a value is often
    already cached by another request's build), while garbage
    collections started inside apwsgi's C code give the GIL away
    (environ_gc_app; CPython 3.11): each answer is exactly its own
    request's.  This checks that a second environ built while another
    is under way (apwsgi_environ_new()'s `building` flag) leaves the
    template and its cache alone: without that flag, answers carry
    another request's keys and values, and children crash.

    The child has more threads than twice the clients: when the event
    MPM's listener finds no idle worker, it closes every idle keep-alive
    connection (event.c, "kill'em all"), and a client whose next request
    is already on such a connection sees it aborted."""
    srv = support.start_interp_server(
        make_server, support.location('/gc', 'environ_gc_app'),
        threads=25, concurrent=True)

    def client(n):
        wrong = []
        with support.Client() as session:
            for i in range(25):
                token = '%d-%d' % (n, i)
                headers = {'X-Token': token}
                if i % 2:
                    headers['X-Other'] = 'o'
                query = 'q=%d' % (i % 3)
                r = session.get(srv.url('/gc/x?' + query), headers=headers)
                assert r.status_code == 200
                want = {'token': token, 'q': query,
                        'other': headers.get('X-Other')}
                if r.json() != want:
                    wrong.append((r.json(), want))
        return wrong

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client, range(8)))
    assert [w for ws in results for w in ws] == []
