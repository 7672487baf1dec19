# SPDX-License-Identifier: Apache-2.0
"""Parts of the benchmark harness's report that need no load run: the
facts about the Python it records beside the figures, and how it states
a goal."""

import pathlib
import subprocess
import sys

import support


def harness_modules():
    """The harness's report, venv and scenarios modules (bench/apwbench)."""
    sys.path.insert(0, str(support.REPO / 'bench'))
    try:
        from apwbench import report, scenarios, venv
    finally:
        sys.path.pop(0)
    return report, venv, scenarios


def test_startup_pth_names_only_the_files_that_import(tmp_path):
    """The harness notes the .pth files with import lines that apwsgi's
    Python runs in every interpreter and the bench venv lacks (they add
    to the idle RSS): here a venv's own, one that imports and one that
    only adds a path."""
    report, venv, _ = harness_modules()
    env_dir = tmp_path / 'env'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(env_dir)], check=True, timeout=60)
    python = env_dir / 'bin' / 'python'
    site_dir = pathlib.Path(subprocess.run(
        [str(python), '-c', 'import site; print(site.getsitepackages()[0])'],
        capture_output=True, text=True, check=True).stdout.strip())
    (site_dir / 'adds_path.pth').write_text(str(tmp_path) + '\n')
    (site_dir / 'imports.pth').write_text('import os; os.getpid()\n')
    (site_dir / 'shared.pth').write_text('import\tos\n')

    found = venv.startup_pth(str(python))
    assert found == [str(site_dir / 'imports.pth'),
                     str(site_dir / 'shared.pth')]
    meta = {'apwsgi': {'startup_pth': found},
            'venv': {'startup_pth': ['/elsewhere/shared.pth']}}
    assert report.base_only_pth(meta) == [str(site_dir / 'imports.pth')]
    assert report.base_only_pth({'apwsgi': {'startup_pth': found},
                                 'venv': None}) == found


def entry(contender, rounds, scenario='flask'):
    """A measured result of the harness: its rounds' req/s, median as
    its summary."""
    return {'mpm': 'event', 'scenario': scenario, 'contender': contender,
            'rounds': [{'rps': rps} for rps in rounds],
            'summary': {'rps': sorted(rounds)[len(rounds) // 2],
                        'p99_ms': 10.0}}


def test_goal_rows_carry_the_rounds_ratios():
    """A goal between two contenders of the run states its paired ratio
    (median of round i / round i) and the quartiles of those ratios
    beside the ratio of the medians; one with fewer than 4 rounds has no
    quartiles, one against a recorded figure neither."""
    report, _, scenarios = harness_modules()
    family = scenarios.FAMILIES['apps']
    # Ratios of round i: 0.8, 0.9, 1.0, 1.1, 1.2 (median 1.0; quartiles
    # by statistics.quantiles' exclusive method: 0.85 and 1.15).
    results = [entry('apwsgi-main', [800, 1800, 3000, 4400, 6000]),
               entry('granian', [1000, 2000, 3000, 4000, 5000]),
               entry('apwsgi-main', [90, 110, 100], 'django'),
               entry('granian', [100, 100, 100], 'django'),
               entry('apwsgi-main', [2500, 2600, 2400], 'io')]
    rows = {row['target']: row
            for row in report.evaluate_targets(family, results, [])}

    flask = rows['flask >= 1.0x granian']
    assert (flask['status'], flask['ratio']) == ('met', 1.0)
    assert flask['paired'] == 1.0
    assert flask['middle_half'] == [0.85, 1.15]
    django = rows['django >= 1.0x granian']
    assert (django['paired'], django['middle_half']) == (1.0, None)
    io = rows['io (64 connections) >= 0.95x the recorded figure (a519fcb)']
    assert io['status'] == 'met' and 'paired' not in io
    assert rows['flask >= 0.85x uWSGI']['status'] == 'not measured'

    lines = report.target_lines(list(rows.values()))
    assert [line for line in lines if 'flask >= 1.0x granian' in line] == [
        '  MET      flask >= 1.0x granian [event 2x25]: 1.00x (>= 1.00x), '
        'margin +0%; apwsgi-main 3000 req/s vs granian 3000 req/s, '
        'round by round 1.00x (middle half of the rounds 0.85x-1.15x)']
    assert [line for line in lines if 'django >= 1.0x granian' in line] == [
        '  MET      django >= 1.0x granian [event 2x25]: 1.00x (>= 1.00x), '
        'margin +0%; apwsgi-main 100 req/s vs granian 100 req/s, '
        'round by round 1.00x']
