# SPDX-License-Identifier: Apache-2.0
"""What the tests of the status handler's views share (test_top.py,
test_status_page.py): a server's configuration, a request held in
flight, and the JSON document.

The server: tests/apps/ops_app.py at /ops (main interpreter) and /named
(interpreter 'n'), the status handler at /status, and whatever the test
adds.  The counts a test asserts hold because nothing else reaches it.
"""

import threading

import support

STATUS = '<Location /status>\n    SetHandler apwsgi-status\n</Location>'


def ops_config(*extra, slow_request=None):
    """A config callable for harness.create: ops_app, the status handler
    and the `extra` blocks; slow_request: mod_wsgi.slow_request for /ops
    (seconds; the stacks of its requests older than that are shown)."""
    ops_extra = ('SetEnv mod_wsgi.slow_request %s' % slow_request
                 if slow_request is not None else '')

    def make(state):
        return '\n'.join([
            'SetEnv APWSGI_TEST_STATE "%s"' % state,
            support.location('/ops', 'ops_app', extra=ops_extra),
            support.location('/named', 'ops_app', interpreter='n'),
            STATUS, *extra]) + '\n'
    return make


def get(srv, path, **kw):
    """One request on a connection of its own."""
    with support.Client() as client:
        return client.get(srv.url(path), **kw)


def status_json(srv, path='/status'):
    r = get(srv, path + '?json')
    assert r.status_code == 200, r.text[:500]
    return r.json()


class HeldRequest:
    """A request to ops_app's /spin... in flight, in a thread, until
    released (ops_app creates STATE/spin-TOKEN-started first)."""

    def __init__(self, srv, path, token):
        self.srv = srv
        self.stop = srv.state_dir / ('spin-%s-stop' % token)
        self.response = None
        sep = '&' if '?' in path else '?'
        self.thread = threading.Thread(
            target=self._run, args=(path + sep + 'token=' + token,),
            daemon=True)
        self.thread.start()
        support.wait_file(srv.state_dir / ('spin-%s-started' % token))

    def _run(self, path):
        with support.Client() as client:
            self.response = client.get(self.srv.url(path), timeout=40)

    def release(self):
        """Let it end; -> its response."""
        support.write_world_readable(self.stop, '')
        self.thread.join(40)
        assert not self.thread.is_alive(), 'the held request did not end'
        return self.response

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.thread.is_alive():
            self.release()
