# SPDX-License-Identifier: Apache-2.0
"""Real frameworks from PyPI end to end through Apache, each in the main
interpreter and in a named one: Flask (routes, JSON, form POST, a 5 MiB
upload, streaming), a Django project made by `django-admin startproject`
(admin login page, a login POST with its CSRF token, static files
collected and served by Apache), and Falcon (a JSON resource).

Not marked core: the frameworks are installed (requirements.txt) only for
the default Python.
"""

import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import harness
import support
from ecosystem import make_readable, module_python_exe

DJANGO_USER = 'apwsgi-admin'
DJANGO_PASSWORD = 'apwsgi-' + support.token()

MOUNTS = {
    'flask': ('/fw/flask', '/fw/flask-named'),
    'falcon': ('/fw/falcon', '/fw/falcon-named'),
    'django': ('/fw/dj', '/fw/dj-named'),
}


def interpreter_of(mount):
    return 'fw-%s' % mount.rsplit('/', 1)[1] if mount.endswith('-named') \
        else None


# ---- the Django project ----

SETTINGS_TAIL = '''
# ---- added by tests/test_frameworks.py ----
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
# Absolute, so not prefixed with SCRIPT_NAME: Apache serves it (Alias).
STATIC_URL = '/static/'
STATIC_ROOT = BASE_DIR / 'collected-static'
# In a directory Apache's user may write (sessions, last_login).
DATABASES['default']['NAME'] = BASE_DIR / 'data' / 'db.sqlite3'
# A fast hasher, as Django advises for tests: each login hashes once.
PASSWORD_HASHERS = ['django.contrib.auth.hashers.MD5PasswordHasher']
'''


def django_admin():
    exe = pathlib.Path(sys.executable).parent / 'django-admin'
    return [str(exe)] if exe.is_file() else [sys.executable, '-m', 'django']


def make_django_project(parent):
    """startproject fwsite, migrate, collectstatic, a superuser; -> dir."""
    project = parent / 'djproject'
    project.mkdir()
    run = dict(check=True, capture_output=True, text=True, timeout=180)
    subprocess.run(django_admin() + ['startproject', 'fwsite',
                                     str(project)], **run)
    settings = project / 'fwsite' / 'settings.py'
    settings.write_text(settings.read_text() + SETTINGS_TAIL)
    (project / 'data').mkdir()
    env = dict(os.environ, DJANGO_SUPERUSER_USERNAME=DJANGO_USER,
               DJANGO_SUPERUSER_PASSWORD=DJANGO_PASSWORD,
               DJANGO_SUPERUSER_EMAIL='admin@example.invalid')
    env.pop('PYTHONPATH', None)
    manage = [sys.executable, str(project / 'manage.py')]
    for command in (['migrate', '--noinput'],
                    ['collectstatic', '--noinput'],
                    ['createsuperuser', '--noinput']):
        subprocess.run(manage + command, cwd=project, env=env, **run)
    make_readable(project)
    (project / 'data').chmod(0o1777)
    (project / 'data' / 'db.sqlite3').chmod(0o666)
    return project


# ---- the server ----

def server_config(project, state):
    loc = support.location
    blocks = ['SetEnv APWSGI_TEST_STATE "%s"' % state]
    for mount in MOUNTS['flask']:
        blocks.append(loc(mount, 'fw_flask_app::app',
                          interpreter=interpreter_of(mount)))
    for mount in MOUNTS['falcon']:
        blocks.append(loc(mount, 'fw_falcon_app::app',
                          interpreter=interpreter_of(mount)))
    for mount in MOUNTS['django']:
        blocks.append(loc(mount, 'fwsite.wsgi::application',
                          directory=project,
                          interpreter=interpreter_of(mount)))
    static = project / 'collected-static'
    blocks += ['Alias /static/ "%s/"' % static,
               '<Directory "%s">' % static,
               '    Require all granted',
               '</Directory>']
    return '\n'.join(blocks)


@pytest.fixture(scope='module')
def frameworks():
    exe = module_python_exe()
    probe = subprocess.run([str(exe or sys.executable), '-c',
                            'import flask, django, falcon'],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip('Flask, Django or falcon is not installed for the '
                    'Python the module embeds (%s)' % exe)


@pytest.fixture(scope='module')
def fw(frameworks):
    """(server, django project dir, state dir)."""
    scratch = support.scratch_dir('apwsgi-fw-')
    try:
        project = make_django_project(scratch)
        # The generator's end (after the loop's one turn) stops the
        # server and checks its shutdown.
        for server in harness.shared(
                lambda state: server_config(project, state)):
            yield server, project, server.state_dir
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def server(fw):
    return fw[0]


# ---- Flask ----

@pytest.fixture(params=MOUNTS['flask'])
def flask_mount(request):
    return request.param


def test_flask_routes(server, flask_mount):
    with support.Client() as http:
        base = server.url(flask_mount)
        r = http.get(base + '/')
        assert (r.status_code, r.text) == (200, 'fw-flask index')
        assert http.get(base + '/hello/apache').text == 'hello, apache'
        assert http.get(base + '/items/21').json() == {'item': 21,
                                                       'double': 42}
        assert http.get(base + '/items/abc').status_code == 404
        r = http.get(base + '/go-home', allow_redirects=False)
        assert r.status_code == 302
        assert r.headers['Location'] in (flask_mount + '/', base + '/')


def test_flask_json_and_interpreter(server, flask_mount):
    with support.Client() as http:
        base = server.url(flask_mount)
        info = http.get(base + '/api/info').json()
        assert info['interpreter'] == interpreter_of(flask_mount)
        assert info['script_root'] == flask_mount
        assert info['index_url'] == base + '/'
        payload = {'list': [1, 2, 3], 'text': 'caf\u00e9', 'none': None}
        r = http.post(base + '/api/echo', json=payload)
        assert r.status_code == 200
        assert r.headers['Content-Type'] == 'application/json'
        assert r.json() == {'received': payload}


def test_flask_form_post(server, flask_mount):
    with support.Client() as http:
        r = http.post(server.url(flask_mount + '/form'),
                      data={'name': 'J\u00fcrgen & co', 'count': '7'})
    assert r.json() == {'name': 'J\u00fcrgen & co', 'count': 7}


def test_flask_upload_5mib(server, flask_mount):
    data = os.urandom(5 * 1024 * 1024)
    with support.Client() as http:
        r = http.post(server.url(flask_mount + '/upload'),
                      files={'file': ('big.bin', data,
                                      'application/octet-stream')})
    assert r.status_code == 200
    assert r.json() == {'filename': 'big.bin', 'size': len(data),
                        'sha256': hashlib.sha256(data).hexdigest()}


def test_flask_streaming(server, flask_mount, fw):
    """The first chunk reaches the client while the app still waits for
    the client to say so: the response is streamed, not buffered."""
    marker = fw[2] / ('stream-%s' % support.token())
    with support.Client() as http:
        r = http.get(server.url(flask_mount + '/stream'),
                     params={'wait': str(marker)}, stream=True)
        assert r.status_code == 200
        assert r.headers.get('Transfer-Encoding') == 'chunked'
        chunks = r.iter_lines()
        assert next(chunks) == b'chunk-0'
        marker.write_text('go')
        assert list(chunks) == [b'chunk-1', b'chunk-2', b'chunk-3']


# ---- Falcon ----

@pytest.mark.parametrize('mount', MOUNTS['falcon'])
def test_falcon_resources(server, mount):
    with support.Client() as http:
        base = server.url(mount)
        info = http.get(base + '/info').json()
        assert info['interpreter'] == interpreter_of(mount)
        assert (info['script_name'], info['path']) == (mount, '/info')
        name = 'thing-%s' % support.token()
        r = http.post(base + '/things', json={'name': name})
        assert r.status_code == 201
        created = r.json()
        assert created['name'] == name
        assert r.headers['Location'] == '%s/things/%d' % (mount,
                                                          created['id'])
        if support.MPM != 'prefork':  # state lives in one process
            got = http.get(base + '/things/%d' % created['id'])
            assert got.json() == created
        assert http.get(base + '/things/999999').status_code == 404
        assert http.get(base + '/things/x').status_code == 404
        assert http.put(base + '/things').status_code == 405


# ---- Django ----

@pytest.fixture(params=MOUNTS['django'])
def dj_mount(request):
    return request.param


CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def test_django_admin_redirects_to_login(server, dj_mount):
    with support.Client() as http:
        r = http.get(server.url(dj_mount + '/admin/'), allow_redirects=False)
    assert r.status_code == 302
    assert r.headers['Location'] == '%s/admin/login/?next=%s/admin/' % (
        dj_mount, dj_mount)


def test_django_login_with_csrf(server, dj_mount):
    login = server.url(dj_mount + '/admin/login/')
    with support.Client() as http:
        page = http.get(login)
        assert page.status_code == 200
        assert 'action="%s/admin/login/"' % dj_mount in page.text
        assert '/static/admin/css/base.css' in page.text
        token = CSRF_RE.search(page.text).group(1)
        assert 'csrftoken' in http.cookies
        r = http.post(login, data={
            'csrfmiddlewaretoken': token, 'username': DJANGO_USER,
            'password': DJANGO_PASSWORD, 'next': dj_mount + '/admin/'},
            allow_redirects=False)
        assert r.status_code == 302, r.text[:2000]
        assert r.headers['Location'] == dj_mount + '/admin/'
        home = http.get(server.url(dj_mount + '/admin/'))
        assert home.status_code == 200
        assert 'Site administration' in home.text


def test_django_post_without_csrf_is_refused(server, dj_mount):
    with support.Client() as http:
        r = http.post(server.url(dj_mount + '/admin/login/'),
                      data={'username': DJANGO_USER, 'password': 'x'})
    assert r.status_code == 403
    assert 'CSRF' in r.text


def test_django_wrong_password_is_a_form_error(server, dj_mount):
    login = server.url(dj_mount + '/admin/login/')
    with support.Client() as http:
        token = CSRF_RE.search(http.get(login).text).group(1)
        r = http.post(login, data={'csrfmiddlewaretoken': token,
                                   'username': DJANGO_USER,
                                   'password': 'wrong'})
    assert r.status_code == 200
    assert 'Please enter the correct username and password' in r.text


def test_django_static_files_served_by_apache(fw):
    server, project, _ = fw
    path = project / 'collected-static' / 'admin' / 'css' / 'base.css'
    with support.Client() as http:
        r = http.get(server.url('/static/admin/css/base.css'))
        assert r.status_code == 200
        assert r.headers['Content-Type'].startswith('text/css')
        assert r.content == path.read_bytes()
        assert 'ETag' in r.headers  # Apache's default handler
        assert http.get(server.url('/static/admin/none.css')).status_code \
            == 404
