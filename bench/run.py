#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The apwsgi benchmark harness: see --help, and README.md,
section Performance.  `make bench` runs it with the module just built;
`make bench BENCH_ARGS='--quick --scenarios hello'` passes options."""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / 'python')]

from apwbench.cli import main  # noqa: E402

if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit('bench: interrupted; servers stopped')
