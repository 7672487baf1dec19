# SPDX-License-Identifier: Apache-2.0
"""wsgi.multithread / wsgi.multiprocess follow the MPM and its limits;
graceful restarts start fresh children that initialise Python again."""

import pytest

import harness
import support

pytestmark = pytest.mark.core


def env_config(state):
    return support.location('/env', 'environ_app')


@pytest.mark.parametrize(
    'mpm, processes, threads, multithread, multiprocess', [
        ('event', 1, 25, True, False),
        ('worker', 2, 4, True, True),
        ('prefork', 2, 1, False, True),
        ('prefork', 1, 1, False, False),
    ])
def test_flags_follow_mpm(make_server, mpm, processes, threads, multithread,
                          multiprocess):
    srv = make_server(env_config, mpm=mpm, processes=processes,
                      threads=threads)
    with support.Client() as client:
        w = client.get(srv.url('/env/')).json()['wsgi']
    assert (w['multithread'], w['multiprocess']) == (multithread,
                                                     multiprocess)


def test_graceful_restart(make_server):
    srv = make_server(env_config)
    with support.Client() as client:
        assert client.get(srv.url('/env/')).status_code == 200
    old = set(srv.child_pids())
    mark = srv.log_mark()
    srv.graceful()
    with support.Client() as client:
        r = client.get(srv.url('/env/'))
    assert r.status_code == 200
    assert r.json()['pid'] not in old
    assert harness.crash_lines(srv, mark) == []


def test_graceful_restart_runs_atexit_in_old_children(make_server):
    from test_python_home import state_config
    srv = make_server(state_config)
    names = {}
    with support.Client() as client:
        for mount in ('/py', '/py-named'):
            names[mount] = 'atexit-%s' % support.token()
            r = client.get(srv.url(mount + '/atexit?file=' + names[mount]))
            assert r.status_code == 200
    srv.graceful()
    for name in names.values():
        support.wait_file(srv.state_dir / name, timeout=15)
    with support.Client() as client:
        assert client.get(srv.url('/py-named/whoami')).status_code == 200
