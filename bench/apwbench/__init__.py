# SPDX-License-Identifier: Apache-2.0
"""apwbench: the apwsgi benchmark harness, run by `make bench`.

One run measures WSGI servers side by side against the same Apache binary
and MPM settings, on loopback, with wrk:

- ``scenarios``: the workloads (WSGI apps in bench/apps/), the MPM
  settings, and the families of scenarios with their contenders and
  targets;
- ``contenders``: how each contender is configured and started
  (apwsgi, mod_wsgi, gunicorn, granian, uWSGI, Apache's static files,
  mod_ceiling);
- ``servers``: the processes (a bench Apache, the peer servers), their
  children and their RSS;
- ``load``: one bounded wrk run, parsed from bench/wrk/report.lua;
- ``venv``: the bench venv with mod_wsgi, the peer servers, Flask,
  Django and matplotlib;
- ``runner``: the plan, its time estimate, and the alternating rounds;
- ``report``: the terminal table, ratios, targets and the JSON file;
- ``chart``: the PNG, run by a Python that has matplotlib;
- ``cli``: the command line (bench/run.py).
"""

import pathlib

BENCH = pathlib.Path(__file__).resolve().parent.parent
REPO = BENCH.parent
APPS = BENCH / 'apps'
