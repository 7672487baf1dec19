# SPDX-License-Identifier: Apache-2.0
"""A smoke run of the benchmark harness (bench/run.py), not a timing test.

The harness runs in quick mode for apwsgi's main interpreter and Apache's
static file only: the hello scenario, one round of one second under the
suite's MPM.  The test checks that the run succeeds and that its JSON
holds a positive rate and no errors for both, and their ratio round by
round; it asserts nothing about speed.  It needs wrk but not the bench
venv (mod_wsgi, gunicorn), so it needs no network.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

import support

pytestmark = pytest.mark.skipif(shutil.which('wrk') is None,
                                reason='wrk not installed (Debian: wrk)')

HARNESS = support.REPO / 'bench' / 'run.py'
RUN_TIMEOUT = 120   # seconds: the run itself takes about ten


@pytest.fixture
def work_dir():
    """Server roots for the harness, traversable by Apache's user."""
    path = pathlib.Path(tempfile.mkdtemp(prefix='apwsgi-bench-smoke-'))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_quick_run_measures_apwsgi_and_static(tmp_path, work_dir):
    out = tmp_path / 'results'
    cmd = [sys.executable, str(HARNESS), '--quick', '--rounds', '1',
           '--duration', '1', '--warmup', '1', '--scenarios', 'hello',
           '--contenders', 'apwsgi-main,static', '--mpms', support.MPM,
           '--module', str(support.MODULE), '--out', str(out),
           '--work', str(work_dir), '--no-chart']
    run = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=RUN_TIMEOUT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    files = sorted(out.glob('*.json'))
    assert len(files) == 1, files
    assert files[0].name.endswith('-partial.json')
    document = json.loads(files[0].read_text())
    results = {entry['contender']: entry for entry in document['results']}
    assert set(results) == {'apwsgi-main', 'static'}
    for name, entry in results.items():
        assert entry['error'] is None, (name, entry['error'])
        assert entry['summary']['rps'] > 0, name
        assert entry['summary']['errors'] == 0, (name, entry['rounds'])
        assert entry['rss_after']['sum_kib'] > 0, name
        assert not entry['log_problems']['crashes'], entry['log_problems']
    assert 'targets' in document and 'ratios' in document
    # One round each: the median of the rounds' ratios is the one ratio.
    (row,) = [r for r in document['ratios'] if r['reference'] == 'static']
    mine = results['apwsgi-main']['rounds'][0]['rps']
    theirs = results['static']['rounds'][0]['rps']
    assert row['paired'] == round(mine / theirs, 3)
    assert document['meta']['label'] == 'partial'
    # What a wake-up costs here, on one CPU and (with two or more) across
    # two, as the run printed it.
    wakeup = document['meta']['machine']['wakeup']
    assert set(wakeup) == ({'one_cpu', 'two_cpus'}
                           if len(os.sched_getaffinity(0)) > 1
                           else {'one_cpu'})
    for cost in wakeup.values():
        assert cost['round_trip_us'] > 0 and cost['cpu_us'] > 0, wakeup
    assert 'wake-ups here, a round trip of two: %.1f us on one CPU' % (
        wakeup['one_cpu']['round_trip_us']) in run.stdout
