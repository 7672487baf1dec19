# SPDX-License-Identifier: Apache-2.0
"""The second mode: with Debian's mod_python (libapache2-mod-python) in
the same Apache, WSGI applications run in mod_python's interpreters.

`mod_wsgi.interpreter NAME` and `PythonInterpreter NAME` are then one
interpreter (modules, their globals, caches), the main interpreter (no
mod_wsgi.interpreter, or `main_interpreter`) is mod_python's
main_interpreter, and mod_python's default name (the virtual host's
ServerName) can be named from the WSGI side too.  The keys that need
apwsgi to own an interpreter's life are refused with a 500 and one log
line each; mod_wsgi.max_interpreters, which only refuses new names,
still bounds the names WSGI requests reach.  apwsgi never ends or
finalises an interpreter mod_python owns.

Apps: tests/apps/modpython_shared/ (mp_side.py for mod_python,
wsgi_side.py for apwsgi, both importing shared_state.py).  Servers run
apwsgi built against the system Python (support.system_module), one
process, under the run's MPM (APWSGI_MPM).
"""

import concurrent.futures
import pathlib
import re
import textwrap
import threading
import time

import pytest

import harness
import support

APPS = support.APPS / 'modpython_shared'
SHOP = support.APPS / 'modpython_shop'
DOC = support.REPO / 'docs' / 'modpython.rst'
MODE = 'APW00601'
# The refused keys: value, tag.
REFUSED = {
    'mod_wsgi.gil': ('own', 'APW00602'),
    'mod_wsgi.interpreters': ('2', 'APW00603'),
    'mod_wsgi.reload': ('on', 'APW00604'),
    'mod_wsgi.idle_timeout': ('30', 'APW00605'),
}


def mp_location(path, interpreter=None, handler='mp_side', extra=''):
    """A mod_python Location running mp_side's handler."""
    lines = ['<Location "%s">' % path,
             '    SetHandler mod_python',
             '    PythonHandler %s' % handler,
             '    PythonPath "[\'%s\'] + sys.path"' % APPS]
    if interpreter is not None:
        lines.append('    PythonInterpreter %s' % interpreter)
    lines += ['    ' + line.strip() for line in extra.strip().splitlines()]
    lines.append('</Location>')
    return '\n'.join(lines)


def wsgi_location(path, interpreter=None, extra=''):
    return support.location(path, 'wsgi_side', directory=APPS,
                            interpreter=interpreter, extra=extra)


def start(make_server, *blocks, mpm=None, path=support.SYSTEM_PATH):
    """One process with mod_python and apwsgi (system Python) serving
    `blocks`, with `path` for Apache's PATH; PythonOutputFilter UPPER is
    mp_side.upper."""
    mpm = mpm or support.MPM

    def config(state):
        return '\n'.join(['SetEnv APWSGI_TEST_STATE "%s"' % state,
                          'PythonOutputFilter mp_side::upper UPPER',
                          *blocks]) + '\n'
    return make_server(config, module=support.system_module(), mpm=mpm,
                       modules=('python',), processes=1,
                       threads=1 if mpm == 'prefork' else 25,
                       env={'PATH': path, 'VIRTUAL_ENV': None})


def get(client, srv, path, status=200):
    return support.get_json(client, srv, path, status)


SHARED = (
    mp_location('/mp-shop', 'shop'),
    mp_location('/mp-other', 'other'),
    mp_location('/mp-main', 'main_interpreter'),
    mp_location('/mp-default'),
    wsgi_location('/wsgi-shop', 'shop'),
    wsgi_location('/wsgi-other', 'other'),
    wsgi_location('/wsgi-main'),
    wsgi_location('/wsgi-main-named', 'main_interpreter'),
    wsgi_location('/wsgi-vhost', '127.0.0.1'),
)


@pytest.fixture
def shared(make_server):
    return start(make_server, *SHARED)


def test_one_interpreter_for_one_name_mod_python_first(shared):
    token = support.token()
    with support.Client() as client:
        mp = get(client, shared, '/mp-shop/set?key=a&value=' + token)
        assert (mp['interp'], mp['first']) == ('shop', 'mod_python')
        wsgi = get(client, shared, '/wsgi-shop/')
        assert wsgi['pid'] == mp['pid']
        assert wsgi['values'] == {'a': token}
        assert wsgi['first'] == 'mod_python', 'shared_state imported twice'
        assert (wsgi['mp_interp'], wsgi['is_main']) == ('shop', False)
        get(client, shared, '/wsgi-shop/set?key=b&value=back-' + token)
        assert get(client, shared, '/mp-shop/')['values'] == {
            'a': token, 'b': 'back-' + token}


def test_one_interpreter_for_one_name_apwsgi_first(shared):
    """apwsgi asks mod_python for the interpreter before any handler of
    mod_python ran there: mod_python then finds and uses that one."""
    token = support.token()
    with support.Client() as client:
        wsgi = get(client, shared, '/wsgi-shop/set?key=a&value=' + token)
        assert (wsgi['first'], wsgi['mp_interp']) == ('apwsgi', 'shop')
        mp = get(client, shared, '/mp-shop/')
        assert (mp['pid'], mp['interp']) == (wsgi['pid'], 'shop')
        assert (mp['values'], mp['first']) == ({'a': token}, 'apwsgi')
    log = support.LogWindow(shared, 0)
    assert log.tagged('APW00006') == [], 'apwsgi created an interpreter'


def test_two_names_stay_isolated(shared):
    token = support.token()
    with support.Client() as client:
        get(client, shared, '/mp-shop/set?key=a&value=' + token)
        get(client, shared, '/wsgi-other/set?key=b&value=other-' + token)
        other = get(client, shared, '/mp-other/')
        shop = get(client, shared, '/wsgi-shop/')
        main = get(client, shared, '/wsgi-main/')
    assert (other['interp'], other['values']) == (
        'other', {'b': 'other-' + token})
    assert shop['values'] == {'a': token}
    assert main['values'] == {}


def test_main_interpreter_is_main_interpreter(shared):
    """No mod_wsgi.interpreter, `main_interpreter`, and mod_python's
    `PythonInterpreter main_interpreter` are the one main interpreter."""
    token = support.token()
    with support.Client() as client:
        get(client, shared, '/mp-main/set?key=a&value=' + token)
        main = get(client, shared, '/wsgi-main/')
        named = get(client, shared, '/wsgi-main-named/set?key=b&value=2')
        mp = get(client, shared, '/mp-main/')
    assert (main['is_main'], main['values']) == (True, {'a': token})
    assert named['is_main'] is True
    assert main['mp_interp'] == 'main_interpreter'
    assert mp['values'] == {'a': token, 'b': '2'}


def test_mod_python_default_name_is_the_server_name(shared):
    """Without PythonInterpreter mod_python names the interpreter after
    the virtual host's ServerName; a WSGI application reaches it by that
    name."""
    token = support.token()
    with support.Client() as client:
        mp = get(client, shared, '/mp-default/set?key=a&value=' + token)
        wsgi = get(client, shared, '/wsgi-vhost/')
    assert mp['interp'] == '127.0.0.1'
    assert (wsgi['mp_interp'], wsgi['values']) == ('127.0.0.1', {'a': token})


def test_mod_python_phases_around_a_wsgi_response(make_server):
    """One request: a mod_python fixup handler runs before the WSGI
    application and a mod_python output filter after it, all in one
    interpreter (the filter needs the GIL while apwsgi passes the body
    down, so apwsgi must have let go of it)."""
    srv = start(make_server,
                mp_location('/mp-shop', 'shop'),
                wsgi_location('/wsgi-fixup', 'shop', extra='''
                    PythonPath "['%s'] + sys.path"
                    PythonInterpreter shop
                    PythonFixupHandler mp_side::fixup''' % APPS),
                wsgi_location('/wsgi-filtered', 'shop', extra='''
                    PythonPath "['%s'] + sys.path"
                    PythonInterpreter shop
                    SetOutputFilter UPPER''' % APPS))
    with support.Client() as client:
        fixed = get(client, srv, '/wsgi-fixup/')
        assert fixed['values'] == {'fixup': '/wsgi-fixup/'}
        get(client, srv, '/mp-shop/set?key=greeting&value=hello')
        r = client.get(srv.url('/wsgi-filtered/text'))
        assert (r.status_code, r.text) == (200, 'WSGI SAYS HELLO')
        assert get(client, srv, '/mp-shop/')['values']['filtered'] == len(
            'wsgi says hello')


def test_concurrent_requests_on_both_sides(make_server):
    """Both modules' requests at once in one interpreter: every value
    set arrives, no request fails.  Bounded: 8 clients x 25 requests."""
    srv = start(make_server, mp_location('/mp-shop', 'shop'),
                wsgi_location('/wsgi-shop', 'shop'))
    token = support.token()
    deadline = time.monotonic() + 60

    def client_run(n):
        keys = []
        with support.Client() as client:
            for i in range(25):
                if time.monotonic() > deadline:
                    break
                side = '/mp-shop' if (n + i) % 2 else '/wsgi-shop'
                key = '%s-%d-%d' % (token, n, i)
                r = client.get(srv.url('%s/set?key=%s&value=%d'
                                       % (side, key, i)))
                assert r.status_code == 200, r.text[:300]
                keys.append(key)
        return keys

    # mod_python looks its handler module up in sys.modules without
    # import's lock, so requests that race its first import can find it
    # half-run ("contains no 'handler'"; mod_python alone does that too
    # where the interpreter exists first, e.g. after PythonImport): one
    # request on each side first.
    with support.Client() as client:
        get(client, srv, '/mp-shop/')
        get(client, srv, '/wsgi-shop/')
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        keys = [k for ks in pool.map(client_run, range(8)) for k in ks]
    assert len(keys) == 200
    with support.Client() as client:
        values = get(client, srv, '/wsgi-shop/')['values']
    assert sorted(values) == sorted(keys)


def test_racing_first_requests_settle_on_the_kept_interpreter(
        make_server):
    """mod_python makes an interpreter anew for each request that races
    a name's first use and keeps the last one it stores; apwsgi asks it
    again once that is over (after about 2 s) and moves the name to the
    kept one (APW00613) when it had been given another.  However the
    race went, the two modules end up sharing the interpreter.  Bounded:
    one wave of 16 requests, then polls for 10 s."""
    if support.MPM == 'prefork':
        pytest.skip('needs concurrent requests in one process')
    srv = start(make_server, mp_location('/mp-shop', 'shop'),
                wsgi_location('/wsgi-shop', 'shop'))
    barrier = threading.Barrier(16)

    def first_request(n):
        with support.Client() as client:
            client.get(srv.url('/'))
            barrier.wait(support.TIMEOUT)
            side = '/wsgi-shop/' if n % 2 else '/mp-shop/'
            return side, client.get(srv.url(side)).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        wave = list(pool.map(first_request, range(16)))
    # mod_python's own handler-import race may fail some of its first
    # requests (see test_concurrent_requests_on_both_sides); apwsgi's
    # may not.
    assert {code for side, code in wave if side == '/wsgi-shop/'} == {200}
    with support.Client() as client:
        def shared():
            token = support.token()
            get(client, srv, '/mp-shop/set?key=t&value=' + token)
            return get(client, srv, '/wsgi-shop/')['values'].get('t') == token
        support.wait_for(shared, 10, 'both modules in one interpreter')
        get(client, srv, '/wsgi-shop/set?key=back&value=1')
        assert get(client, srv, '/mp-shop/')['values']['back'] == '1'
    moves = support.LogWindow(srv, 0).tagged('APW00613')
    assert len(moves) <= 1, moves


def test_mode_logged_once_per_child(shared):
    with support.Client() as client:
        pid = get(client, shared, '/wsgi-shop/')['pid']
    log = support.LogWindow(shared, 0)
    lines = log.tagged(MODE)
    assert [support.log_pid(line) for line in lines] == [pid], lines
    assert 'mod_python' in lines[0] and 'main_interpreter' in lines[0]


def test_graceful_restart(shared):
    with support.Client() as client:
        get(client, shared, '/mp-shop/set?key=a&value=before')
        old = get(client, shared, '/wsgi-shop/')
    assert old['values'] == {'a': 'before'}
    mark = shared.log_mark()
    shared.graceful()
    with support.Client() as client:
        wsgi = get(client, shared, '/wsgi-shop/set?key=b&value=after')
        mp = get(client, shared, '/mp-shop/')
    assert wsgi['pid'] == mp['pid'] != old['pid']
    assert (wsgi['values'], mp['values']) == ({'b': 'after'}, {'b': 'after'})
    support.LogWindow(shared, mark).wait('[pid %d:' % wsgi['pid'], tag=MODE)


def test_stop_ends_nothing_mod_python_owns(shared):
    """At exit apwsgi neither ends mod_python's interpreters (their
    atexit handlers do not run: mod_python does not finalise them) nor
    finalises Python; the log has no crash and no APW error (checked by
    make_server)."""
    named = shared.state_dir / ('atexit-shop-' + support.token())
    main = shared.state_dir / ('atexit-main-' + support.token())
    with support.Client() as client:
        get(client, shared, '/mp-shop/')
        get(client, shared, '/wsgi-shop/atexit?file=%s' % named)
        get(client, shared, '/wsgi-main/atexit?file=%s' % main)
    mark = shared.log_mark()
    shared.stop()
    assert not named.exists(), 'apwsgi ended mod_python\'s interpreter'
    assert not main.exists(), 'apwsgi finalised mod_python\'s Python'
    log = support.LogWindow(shared, mark)
    assert log.tagged('APW00017') == []
    assert harness.crash_lines(shared, mark) == []


def test_prefork_stop_while_mod_python_runs_python(make_server):
    """Prefork ends a child from its SIGTERM handler, here while a
    mod_python handler runs Python (holding the GIL): apwsgi's clean-up
    must not wait for that GIL (Apache would kill the child) and nothing
    may touch Python; the child ends at once and says so."""
    srv = start(make_server, *SHARED, mpm='prefork')
    log = support.LogWindow(srv, 0)

    def busy():
        try:
            with support.Client() as client:
                client.get(srv.url('/mp-shop/busy'), timeout=30)
        except Exception:   # the stop cuts it
            pass
    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    support.wait_file(srv.state_dir / 'busy')
    srv.stop()
    thread.join(30)
    line, = log.tagged('APW00036')
    assert ':warn]' in line and 'the process ends at once' in line
    assert log.lines('still did not exit') == []
    assert harness.crash_lines(srv, 0) == []


@pytest.mark.expect_log(*sorted(tag for _, tag in REFUSED.values()))
@pytest.mark.parametrize('key', sorted(REFUSED))
def test_owner_keys_refused(make_server, key):
    """Each key that needs apwsgi to own the interpreter's life gets a
    500 and one line with its own tag, naming the key and the URI; the
    other Locations of the interpreter keep serving."""
    value, tag = REFUSED[key]
    srv = start(make_server,
                wsgi_location('/refused', 'shop',
                              extra='SetEnv %s %s' % (key, value)),
                wsgi_location('/wsgi-shop', 'shop'))
    log = support.LogWindow(srv)
    with support.Client() as client:
        r = client.get(srv.url('/refused/'))
        assert r.status_code == 500
        assert get(client, srv, '/wsgi-shop/')['mp_interp'] == 'shop'
    lines = log.wait('/refused/', tag=tag)
    assert len(lines) == 1, lines
    assert key in lines[0] and 'mod_python' in lines[0], lines[0]
    assert log.error_tags() == {tag}, log.text()


def test_values_that_ask_nothing_are_accepted(make_server):
    """The defaults, set explicitly, are not refused."""
    srv = start(make_server, wsgi_location('/plain', 'shop', extra='''
        SetEnv mod_wsgi.gil shared
        SetEnv mod_wsgi.interpreters 1
        SetEnv mod_wsgi.reload off
        SetEnv mod_wsgi.idle_timeout 0'''))
    with support.Client() as client:
        assert get(client, srv, '/plain/')['mp_interp'] == 'shop'


@pytest.mark.expect_log('APW00012')
def test_bound_counts_the_names_wsgi_reaches(make_server):
    """mod_wsgi.max_interpreters never ends an interpreter, so it keeps
    its meaning: a WSGI request for one name more than the bound gets a
    503; the main interpreter does not count."""
    bound = 'SetEnv mod_wsgi.max_interpreters 1'
    srv = start(make_server, mp_location('/mp-other', 'other'),
                wsgi_location('/wsgi-shop', 'shop', extra=bound),
                wsgi_location('/wsgi-other', 'other', extra=bound),
                wsgi_location('/wsgi-main', extra=bound))
    log = support.LogWindow(srv)
    with support.Client() as client:
        assert get(client, srv, '/wsgi-shop/')['mp_interp'] == 'shop'
        assert get(client, srv, '/mp-other/')['interp'] == 'other'
        get(client, srv, '/wsgi-other/', status=503)
        assert get(client, srv, '/wsgi-main/')['is_main'] is True
    assert len(log.wait('/wsgi-other/', tag='APW00012')) == 1


@pytest.mark.expect_log('APW00606')
def test_mod_python_without_its_package(make_server):
    """Where another python3 comes first on Apache's PATH, mod_python's
    Python lacks its package and mod_python cannot make an interpreter
    (its own handlers get 500s).  A WSGI request for a named interpreter
    gets a 500 and APW00606 saying what to fix, and the process lives
    on: asked anyway, mod_python would crash it.  The main interpreter
    keeps serving."""
    other = support.other_python('3.11', '/usr')
    if other is None:
        pytest.skip('no second Python 3.11 install on this machine')
    bindir = pathlib.Path('/tmp') / ('apwsgi-fakebin-' + support.token())
    bindir.mkdir(mode=0o755)
    try:
        for name in ('python3', 'python', 'python3.11'):
            (bindir / name).symlink_to(other)
        srv = start(make_server, wsgi_location('/wsgi-shop', 'shop'),
                    wsgi_location('/wsgi-main'),
                    path='%s:%s' % (bindir, support.SYSTEM_PATH))
        log = support.LogWindow(srv)
        with support.Client() as client:
            get(client, srv, '/wsgi-shop/', status=500)
            main = get(client, srv, '/wsgi-main/')
            get(client, srv, '/wsgi-shop/', status=500)
            assert get(client, srv, '/wsgi-main/')['pid'] == main['pid']
        lines = log.tagged('APW00606', '/wsgi-shop/')
        assert len(lines) == 2 and 'PATH' in lines[0], lines
        srv.stop()   # before the fake bin goes: children may still start
    finally:
        support.remove_tree(bindir)


def doc_example(name):
    """The apache code block after `.. example: NAME` in DOC."""
    match = re.search(r'^\.\. example: %s\n\n\.\. code-block:: apache\n\n'
                      r'((?:   .*\n|\n)+)' % re.escape(name),
                      DOC.read_text(), re.M)
    assert match, 'no example %s in %s' % (name, DOC)
    return textwrap.dedent(match.group(1))


def test_migration_example_of_the_docs(make_server):
    """docs/modpython.rst's worked example, with /srv/shop the shop of
    tests/apps/modpython_shop: one cart for both modules, and the
    mod_python fixup handler's SHOP_CUSTOMER in the WSGI environ."""
    srv = start(make_server, doc_example('modpython-migration')
                .replace('/srv/shop', str(SHOP)))
    with support.Client() as client:
        r = client.get(srv.url('/shop/add?item=book'))
        assert (r.status_code, r.text) == (200, 'cart: book')
        api = get(client, srv, '/shop/api/cart')
        assert api == {'customer': 'guest', 'items': ['book']}
        client.cookies.set('customer', 'ada')
        api = get(client, srv, '/shop/api/add?item=pen')
        assert api == {'customer': 'ada', 'items': ['book', 'pen']}
        r = client.get(srv.url('/shop/cart'))
        assert (r.status_code, r.text) == (200, 'cart: book, pen')
