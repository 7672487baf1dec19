# SPDX-License-Identifier: Apache-2.0
"""mod_wsgi.cpu_affinity: each child of a threaded MPM on a CPU of its
own (auto where Apache may run a child per CPU, on, off), prefork left
alone, a bad value refused, a process whose threads cannot be moved
left on all its CPUs, and requests that wait still overlap.
mod_wsgi.sched_batch: the SCHED_BATCH policy for every thread of a child
(auto where it is on a CPU of its own, on, off), given back with the
CPUs, prefork left alone, a bad value refused."""

import concurrent.futures
import os
import pathlib
import shutil
import subprocess

import pytest

import support

# Apache inherits the CPUs this test process may use.
ALLOWED = sorted(os.sched_getaffinity(0))
two_cpus = pytest.mark.skipif(len(ALLOWED) < 2,
                              reason='needs two CPUs to choose from')

PROCESSES, THREADS = 2, 4
# Twice what one child takes at once: a child with no idle thread stops
# accepting, so both children answer.
CONCURRENT = 2 * THREADS


def config(value=None, batch=None):
    extra = '\n'.join(
        'SetEnv mod_wsgi.%s %s' % (key, v)
        for key, v in (('cpu_affinity', value), ('sched_batch', batch)) if v)
    return lambda state: support.location('/aff', 'affinity_app',
                                          extra=extra)


def answers(srv, sleep=0.3, count=CONCURRENT):
    """count requests at once, each on its own connection -> the JSON
    answers."""
    def one(_):
        with support.Client() as client:
            r = client.get(srv.url('/aff?sleep=%s' % sleep))
            assert r.status_code == 200
            return r.json()
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def cpus_by_pid(srv):
    """{pid: {tuple of the CPUs its request threads may use}}."""
    seen = {}
    for a in answers(srv):
        seen.setdefault(a['pid'], set()).add(tuple(a['cpus']))
    return seen


def thread_cpus(pid):
    """The Cpus_allowed_list of every thread of pid -> set of strings."""
    lists = set()
    for status in pathlib.Path('/proc/%d/task' % pid).glob('*/status'):
        for line in status.read_text().splitlines():
            if line.startswith('Cpus_allowed_list:'):
                lists.add(line.split()[1])
    return lists


def thread_policies(pid):
    """The scheduling policy of every thread of pid -> set of os.SCHED_*."""
    policies = set()
    for task in pathlib.Path('/proc/%d/task' % pid).iterdir():
        try:
            policies.add(os.sched_getscheduler(int(task.name)))
        except ProcessLookupError:      # a thread that ended meanwhile
            pass
    return policies


def start(make_server, value=None, mpm='event', batch=None):
    return make_server(config(value, batch), mpm=mpm, processes=PROCESSES,
                       threads=1 if mpm == 'prefork' else THREADS)


def assert_own_cpus(srv, seen):
    assert len(seen) == PROCESSES
    cpus = {}
    for pid, sets in seen.items():
        assert len(sets) == 1
        (one,) = sets
        assert len(one) == 1 and one[0] in ALLOWED
        cpus[pid] = one[0]
        # The whole process: listener, workers, the module's threads.
        assert thread_cpus(pid) == {str(one[0])}
    assert len(set(cpus.values())) == PROCESSES


@two_cpus
@pytest.mark.parametrize('mpm', ['event', 'worker'])
def test_on_puts_each_child_on_a_cpu_of_its_own(make_server, mpm):
    srv = start(make_server, 'on', mpm)
    assert_own_cpus(srv, cpus_by_pid(srv))


def test_off_leaves_every_thread_where_it_was(make_server):
    srv = start(make_server, 'off')
    seen = cpus_by_pid(srv)
    assert seen and all(sets == {tuple(ALLOWED)} for sets in seen.values())
    for pid in seen:
        assert len(thread_cpus(pid)) == 1


def test_auto_follows_the_number_of_children_and_cpus(make_server):
    """auto: on one CPU each where Apache may run a child per CPU (here
    MaxRequestWorkers / ThreadsPerChild = 2 children), else left alone."""
    srv = start(make_server)
    seen = cpus_by_pid(srv)
    if 2 <= len(ALLOWED) <= PROCESSES:
        assert_own_cpus(srv, seen)
    else:
        assert all(sets == {tuple(ALLOWED)} for sets in seen.values())


def test_prefork_is_left_alone(make_server):
    srv = start(make_server, 'on', 'prefork')
    seen = cpus_by_pid(srv)
    assert seen and all(sets == {tuple(ALLOWED)} for sets in seen.values())


@pytest.mark.parametrize('affinity, batch, tag, said', [
    pytest.param('yes', None, 'APW00116', "mod_wsgi.cpu_affinity 'yes'",
                 marks=pytest.mark.expect_log('APW00116')),
    pytest.param(None, 'batch', 'APW00119', "mod_wsgi.sched_batch 'batch'",
                 marks=pytest.mark.expect_log('APW00119')),
])
def test_a_bad_value_is_refused(make_server, affinity, batch, tag, said):
    srv = start(make_server, affinity, batch=batch)
    mark = srv.log_mark()
    with support.Client() as client:
        assert client.get(srv.url('/aff')).status_code == 500
    lines = [line for line in srv.log_since(mark).splitlines()
             if tag in line]
    assert len(lines) == 1
    assert said + " for /aff must be 'auto', 'on' or 'off'" in lines[0]


@pytest.mark.skipif(not 2 <= len(ALLOWED) <= PROCESSES,
                    reason='auto applies with a child per CPU')
def test_auto_gives_the_cpus_back_for_an_own_gil(make_server):
    """A process that serves a request asking for an own GIL (Python
    on several CPUs at once) gets all its CPUs back, every thread."""
    def both(state):
        return '\n'.join([
            support.location('/aff', 'affinity_app'),
            support.location('/own', 'affinity_app', interpreter='own',
                             extra='SetEnv mod_wsgi.gil own')])
    srv = make_server(both, mpm='event', processes=PROCESSES,
                      threads=THREADS)
    assert_own_cpus(srv, cpus_by_pid(srv))
    for pid in cpus_by_pid(srv):
        assert thread_policies(pid) == {os.SCHED_BATCH}

    def one(_):
        with support.Client() as client:
            r = client.get(srv.url('/own?sleep=0.3'))
            assert r.status_code == 200
            return r.json()['pid']
    with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
        pids = set(pool.map(one, range(CONCURRENT)))
    assert len(pids) == PROCESSES
    for pid in pids:
        assert thread_cpus(pid) == {cpu_list_text()}
        assert thread_policies(pid) == {os.SCHED_OTHER}


def cpu_list_text():
    """ALLOWED as /proc writes a Cpus_allowed_list ('0-1', '0,2')."""
    ranges, first = [], None
    for i, cpu in enumerate(ALLOWED):
        if first is None:
            first = cpu
        if i + 1 == len(ALLOWED) or ALLOWED[i + 1] != cpu + 1:
            ranges.append(str(first) if first == cpu
                          else '%d-%d' % (first, cpu))
            first = None
    return ','.join(ranges)


def assert_policy(got, policy):
    """Every answer's thread, the thread it started, and every thread of
    every process that answered run under `policy`."""
    assert got
    assert {(a['policy'], a['started']) for a in got} == {(policy, policy)}
    for pid in {a['pid'] for a in got}:
        assert thread_policies(pid) == {policy}


@two_cpus
@pytest.mark.parametrize('mpm', ['event', 'worker'])
def test_batch_comes_with_a_cpu_of_its_own(make_server, mpm):
    srv = start(make_server, 'on', mpm)
    assert_policy(answers(srv), os.SCHED_BATCH)


def test_batch_auto_stays_normal_without_a_cpu_of_its_own(make_server):
    srv = start(make_server, 'off')
    got = answers(srv)
    assert all(len(a['cpus']) == len(ALLOWED) for a in got)
    assert_policy(got, os.SCHED_OTHER)


def test_batch_on_without_a_cpu_of_its_own(make_server):
    srv = start(make_server, 'off', batch='on')
    got = answers(srv)
    assert all(a['cpus'] == ALLOWED for a in got)
    assert_policy(got, os.SCHED_BATCH)


@two_cpus
def test_batch_off_keeps_the_normal_policy_on_a_cpu_of_its_own(make_server):
    srv = start(make_server, 'on', batch='OFF')
    got = answers(srv)
    assert all(len(a['cpus']) == 1 for a in got)
    assert_policy(got, os.SCHED_OTHER)


def test_batch_leaves_prefork_alone(make_server):
    srv = start(make_server, 'on', 'prefork', batch='on')
    assert_policy(answers(srv), os.SCHED_OTHER)


# A preload whose sched_setaffinity() fails as a seccomp filter or a
# container's policy can make it fail (EPERM); every other call is the C
# library's.
NO_AFFINITY_C = r'''
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

int
sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
    (void)pid;
    (void)size;
    (void)set;
    errno = EPERM;
    return -1;
}
'''


@pytest.fixture
def no_affinity():
    """LD_PRELOAD value for an Apache whose threads cannot be moved
    (ask for it before make_server, so that the server stops first)."""
    if not shutil.which('gcc'):
        pytest.skip('no gcc to build the preload')
    directory = support.scratch_dir()
    source = directory / 'no_affinity.c'
    source.write_text(NO_AFFINITY_C)
    shared = directory / 'no_affinity.so'
    subprocess.run(['gcc', '-shared', '-fPIC', '-O0', '-o', str(shared),
                    str(source)], check=True, timeout=60)
    shared.chmod(0o755)
    yield str(shared)
    support.remove_tree(directory)


@two_cpus
@pytest.mark.parametrize('batch, policy', [(None, os.SCHED_OTHER),
                                           ('on', os.SCHED_BATCH)])
def test_threads_that_cannot_be_moved_keep_all_cpus(no_affinity, make_server,
                                                    batch, policy):
    """When the threads cannot be put on the process's CPU, each process
    says so once (APW00037) and keeps every CPU; SCHED_BATCH, which
    auto gives only with a CPU of its own, is given back with it, and
    stays where the key is on."""
    srv = make_server(config('on', batch), mpm='event', processes=PROCESSES,
                      threads=THREADS, env={'LD_PRELOAD': no_affinity})
    mark = srv.log_mark()
    got = answers(srv)
    pids = {a['pid'] for a in got}
    assert len(pids) == PROCESSES
    assert all(a['cpus'] == ALLOWED for a in got)
    for pid in pids:
        assert thread_cpus(pid) == {cpu_list_text()}
    assert_policy(got, policy)
    lines = [line for line in srv.log_since(mark).splitlines()
             if 'APW00037' in line]
    assert len(lines) == PROCESSES
    assert all('this process keeps all its CPUs: its threads could not be '
               'put on CPU' in line and 'Operation not permitted' in line
               for line in lines)


@two_cpus
def test_waiting_requests_still_overlap(make_server):
    """Requests that wait (here time.sleep, as on a socket or a database)
    run at the same time on a child's one CPU: as many as the child has
    threads, every one started before any ended."""
    srv = make_server(config('on'), mpm='event', processes=1,
                      threads=CONCURRENT)
    got = answers(srv, sleep=0.5)
    assert all(len(a['cpus']) == 1 for a in got)
    assert max(a['start'] for a in got) < min(a['end'] for a in got)
