# SPDX-License-Identifier: Apache-2.0
"""Parts of the benchmark harness's report that need no load run: the
facts about the Python it records beside the figures."""

import pathlib
import subprocess
import sys

import support


def harness_modules():
    """The harness's report and venv modules (bench/apwbench)."""
    sys.path.insert(0, str(support.REPO / 'bench'))
    try:
        from apwbench import report, venv
    finally:
        sys.path.pop(0)
    return report, venv


def test_startup_pth_names_only_the_files_that_import(tmp_path):
    """The harness notes the .pth files with import lines that apwsgi's
    Python runs in every interpreter and the bench venv lacks (they add
    to the idle RSS): here a venv's own, one that imports and one that
    only adds a path."""
    report, venv = harness_modules()
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
