# SPDX-License-Identifier: Apache-2.0
"""tools/run-examples, what `make run` runs: the checkout's examples in a
real Apache under this run's MPM, each URL it lists answering, and Ctrl-C
stopping it with nothing left behind (processes, error-log problems).

The examples use Flask, so this runs where the module's Python has the
test requirements (not among the -m core tests).
"""

import json
import os
import signal
import subprocess
import sys

import harness
import support
from apwsgi.apache import find_free_port
from harness import group_pids, pid_alive, wait_gone
from support import scratch_dir

TOOL = support.REPO / 'tools' / 'run-examples'
STOP_TIMEOUT = 30  # seconds for the tool to stop Apache and exit


def body_checks(port):
    """{path: check(response)} for every URL the tool lists, in order;
    one Apache process, so /also-alpha/ continues /alpha/'s count."""
    def text(*lines):
        return lambda r: [line for line in r.text.splitlines()
                          if line in lines] == list(lines)

    def flask_json(**expected):
        return lambda r: {k: json.loads(r.text).get(k)
                          for k in expected} == expected

    return {
        '/': text('Hello from apwsgi.', "SCRIPT_NAME   ''",
                  "PATH_INFO     '/'", 'interpreter   (main)'),
        '/flask/': lambda r: '<h1>Hello from Flask</h1>' in r.text,
        '/flask/api/info': flask_json(
            interpreter='(main)', script_root='/flask',
            url='http://127.0.0.1:%d/flask/api/info' % port),
        '/flask/api/add?a=2&b=3': flask_json(a=2, b=3, sum=5),
        '/alpha/': lambda r: 'interpreter  alpha\n' in r.text
        and '\nrequests     1 ' in r.text,
        '/also-alpha/': lambda r: 'interpreter  alpha\n' in r.text
        and '\nrequests     2 ' in r.text,
        '/beta/': lambda r: 'interpreter  beta\n' in r.text
        and '\nrequests     1 ' in r.text,
        '/~alice/': text("Hello from alice's app.", 'interpreter  user-alice',
                         "SCRIPT_NAME  '/~alice'", "PATH_INFO    '/'"),
        '/~bob/': text("Hello from bob's app.", 'interpreter  user-bob',
                       "SCRIPT_NAME  '/~bob'", "PATH_INFO    '/'"),
    }


def apache_pid(root):
    return int((root / 'run' / 'httpd.pid').read_text())


def test_examples_answer_and_ctrl_c_stops_them():
    port = find_free_port()
    scratch = scratch_dir('apwsgi-examples-')
    root, output = scratch / 'root', scratch / 'output.txt'
    # The tool's Apache: its log is checked after the test.
    log = harness.LogFile(root / 'logs' / 'error.log', support.MPM)
    harness.adopt(log, root=scratch)
    with open(output, 'w') as out:
        proc = subprocess.Popen(
            [sys.executable, str(TOOL), '--port', str(port), '--module',
             str(support.MODULE), '--mpm', support.MPM, '--server-root',
             str(root)], stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT)
    pid = None
    try:
        # The banner ends with the error log's path, once Apache serves.
        lines = support.wait_file(output, 40, contains='apwsgi: error log ')
        pid = apache_pid(root)
        base = 'http://127.0.0.1:%d' % port
        listed = [line.split()[0][len(base):] for line in lines.splitlines()
                  if line.startswith('    ' + base)]
        checks = body_checks(port)
        assert listed == list(checks)
        with support.Client() as client:
            for path, check in checks.items():
                r = client.get(base + path)
                assert r.status_code == 200, (path, r.text)
                assert check(r), (path, r.text)
        log.note_stop(pid, port)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(STOP_TIMEOUT) == 0
        assert 'apwsgi: stopping Apache ...' in output.read_text()
        wait_gone(pid)
        assert group_pids(pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if pid is not None and pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
