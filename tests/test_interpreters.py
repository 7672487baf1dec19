# SPDX-License-Identifier: Apache-2.0
"""Named sub-interpreters: isolation, sharing by name, the main interpreter,
mod_rewrite-selected per-user interpreters, sys.path handling.

Every test that compares state across requests keeps one connection
(the `http` session) and checks that one pid answered all of them: under
prefork, separate connections could reach different children.
"""

import concurrent.futures
import os

import pytest

import support

pytestmark = pytest.mark.core


def get(http, url, path):
    r = http.get(url(path))
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def one_pid(*responses):
    pids = {r['pid'] for r in responses}
    assert len(pids) == 1, 'requests reached several processes: %s' % pids
    return pids.pop()


def test_interpreter_ids_available(http, url):
    """The app can tell interpreters apart (else the tests below are moot)."""
    main = get(http, url, '/interp/main/whoami')
    alpha = get(http, url, '/interp/a/whoami')
    assert main['interp'] is not None and alpha['interp'] is not None


def test_unset_interpreter_is_main(http, url):
    main = get(http, url, '/interp/main/whoami')
    assert main['is_main'] is True
    assert main['name'] is None


def test_empty_interpreter_is_main(http, url):
    main = get(http, url, '/interp/main/whoami')
    empty = get(http, url, '/interp/empty/whoami')
    one_pid(main, empty)
    assert empty['is_main'] is True
    assert empty['interp'] == main['interp']
    assert empty['modules_id'] == main['modules_id']


def test_key_names_in_any_case(http, url):
    beta = get(http, url, '/interp/b/whoami')
    other_case = get(http, url, '/interp/keycase/whoami')
    assert other_case['is_main'] is False
    assert other_case['interp'] == beta['interp']


def test_named_interpreters_are_sub_interpreters(http, url):
    main = get(http, url, '/interp/main/whoami')
    alpha = get(http, url, '/interp/a/whoami')
    beta = get(http, url, '/interp/b/whoami')
    one_pid(main, alpha, beta)
    assert (alpha['name'], beta['name']) == ('alpha', 'beta')
    assert alpha['is_main'] is False and beta['is_main'] is False
    assert len({main['interp'], alpha['interp'], beta['interp']}) == 3
    assert len({main['modules_id'], alpha['modules_id'],
                beta['modules_id']}) == 3


def test_state_isolated_between_names(http, url):
    value = support.token()
    responses = [get(http, url, '/interp/a/set?value=' + value)]
    alpha = get(http, url, '/interp/a/get')
    beta = get(http, url, '/interp/b/get')
    main = get(http, url, '/interp/main/get')
    one_pid(*responses, alpha, beta, main)
    assert (alpha['value'], alpha['sys_value']) == (value, value)
    assert beta['value'] != value and beta['sys_value'] != value
    assert main['value'] != value and main['sys_value'] != value


def test_state_set_in_main_invisible_in_named(http, url):
    value = support.token()
    first = get(http, url, '/interp/main/set?value=' + value)
    main = get(http, url, '/interp/empty/get')
    alpha = get(http, url, '/interp/a/get')
    one_pid(first, main, alpha)
    assert main['value'] == value
    assert alpha['value'] != value and alpha['sys_value'] != value


def test_same_name_in_two_locations_shares_state(http, url):
    value = support.token()
    first = get(http, url, '/interp/a/set?value=' + value)
    other = get(http, url, '/interp/a2/get')
    one_pid(first, other)
    assert other['interp'] == first['interp']
    assert (other['value'], other['sys_value']) == (value, value)


def test_interpreter_kept_across_requests(http, url):
    first = get(http, url, '/interp/b/whoami')
    later = [get(http, url, '/interp/b/whoami') for _ in range(5)]
    one_pid(first, *later)
    assert {r['interp'] for r in later} == {first['interp']}
    assert [r['counter'] for r in later] == list(
        range(first['counter'] + 1, first['counter'] + 6))


def test_directory_on_sys_path_once(http, url):
    responses = [get(http, url, '/interp/b/whoami') for _ in range(30)]
    final = get(http, url, '/interp/b/syspath')
    one_pid(*responses, final)
    assert final['path'].count(str(support.APPS)) == 1
    assert final['path'][0] == str(support.APPS)


def test_same_name_across_virtual_hosts(vhost_server):
    value = support.token()
    with support.Client() as client:
        a = client.get(vhost_server.url('/vh/state/set?value=' + value))
        b = client.get(vhost_server.url('/vh/state/get'),
                       headers={'Host': 'other.test'})
    a, b = a.json(), b.json()
    one_pid(a, b)
    assert a['name'] == b['name'] == 'shared'
    assert b['interp'] == a['interp']
    assert b['value'] == value


def test_per_user_interpreters_from_mod_rewrite(http, url):
    alice = get(http, url, '/~alice/hello')
    bob = get(http, url, '/~bob/hello')
    alice2 = get(http, url, '/~alice/again')
    one_pid(alice, bob, alice2)
    assert alice['user'] == 'alice' and bob['user'] == 'bob'
    assert alice['file'] == str(support.USERS / 'alice/wsgi/userapp.py')
    assert bob['file'] == str(support.USERS / 'bob/wsgi/userapp.py')
    assert (alice['name'], bob['name']) == ('user-alice', 'user-bob')
    assert alice['is_main'] is False and bob['is_main'] is False
    assert alice['interp'] != bob['interp']
    assert alice2['interp'] == alice['interp']
    assert alice2['counter'] == alice['counter'] + 1
    assert (alice['script_name'], alice['path_info']) == ('', '/~alice/hello')


@pytest.mark.expect_log('APW00201')
def test_per_user_without_app_fails_cleanly(http, url, log):
    assert http.get(url('/~carol/x')).status_code == 500
    log.wait('/~carol/x', tag='APW00201')


def test_concurrent_requests_across_interpreters(server):
    """Parallel requests to three interpreters each get their own."""
    paths = ['/interp/main/whoami', '/interp/a/whoami', '/interp/b/whoami']
    expect = dict(zip(paths, (None, 'alpha', 'beta'), strict=True))

    def one(i):
        path = paths[i % 3]
        with support.Client() as client:
            r = client.get(server.url(path))
        return path, r.status_code, r.json()
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, range(60)))
    for path, status, out in results:
        assert status == 200
        assert out['name'] == expect[path]
        assert out['is_main'] is (expect[path] is None)


def script_module_name(path):
    """The module name apwsgi gives the script file at path: _apwsgi_ and
    the 64-bit FNV-1a hash of the path in 16 lowercase hex digits."""
    h = 14695981039346656037
    for byte in os.fsencode(path):
        h = ((h ^ byte) * 1099511628211) % 2**64
    return '_apwsgi_%016x' % h


def test_script_files_same_basename_distinct(http, url):
    one = http.get(url('/script/one/'))
    two = http.get(url('/script/two/'))
    assert one.status_code == two.status_code == 200
    # Distinct names, each derived from its path and nothing else, so
    # that it is the same in every process and after a restart.
    assert one.content == b'script one ' + script_module_name(
        support.SCRIPTS / 'one' / 'app.wsgi').encode('ascii')
    assert two.content == b'script two ' + script_module_name(
        support.SCRIPTS / 'two' / 'app.wsgi').encode('ascii')
    alt = http.get(url('/script/one-alt/'))
    assert alt.content == b'script one alternative'
    assert http.get(url('/script/py/')).content == b'plain py script'


@pytest.mark.parametrize('mount', ['/interp/main', '/interp/b'])
def test_thread_state_reused_across_requests(http, url, mount):
    """threading.local data lives in the thread state: it survives from one
    request to the next on the same Apache thread only if the module reuses
    that thread's PyThreadState (more requests than threads guarantee that
    some thread serves twice)."""
    seen = {}
    for _ in range(support.THREADS * 2 + 2):
        out = get(http, url, mount + '/thread')
        seen.setdefault((out['pid'], out['ident']), []).append(
            out['local_count'])
    repeated = {key: counts for key, counts in seen.items()
                if len(counts) > 1}
    assert repeated, 'no thread served twice: %s' % seen
    for key, counts in repeated.items():
        assert counts == list(range(counts[0], counts[0] + len(counts))), \
            (key, counts)


@pytest.mark.expect_log('APW00201')
@pytest.mark.parametrize('mpm', ['prefork', 'event'])
def test_new_interpreter_after_failed_one(make_server, mpm):
    """An interpreter whose application failed to import (which the module
    may end) leaves nothing behind that breaks the next interpreter created
    on the same Apache thread.  One thread (prefork, 1 process) makes it
    the same thread every time; event is checked for good measure."""
    def config(state):
        loc = support.location
        return '\n'.join([
            'SetEnv APWSGI_TEST_STATE "%s"' % state,
            loc('/broken', 'import_raises', interpreter='doomed'),
            *(loc('/fresh%d' % i, 'state_app', interpreter='fresh%d' % i)
              for i in range(3)),
        ])
    srv = make_server(config, mpm=mpm, processes=1,
                      threads=1 if mpm == 'prefork' else 2)
    log = support.LogWindow(srv)
    with support.Client() as client:
        for i in range(3):
            assert client.get(srv.url('/broken/')).status_code == 500
            log.wait('/broken/', tag='APW00201')
            try:   # give the module the time to end it, if it does
                log.wait("'doomed'", tag='APW00017', timeout=2)
            except AssertionError:
                pass
            r = client.get(srv.url('/fresh%d/whoami' % i))
            assert r.status_code == 200
            assert r.json()['name'] == 'fresh%d' % i
            log = support.LogWindow(srv)
