# SPDX-License-Identifier: Apache-2.0
"""A Falcon application for tests/test_frameworks.py (falcon from PyPI).

Endpoints (relative to the mount point):
  GET  /things            JSON list of the things POSTed to this process
  POST /things            JSON {"name": ...} -> 201, Location /things/<id>,
                          JSON {"id": id, "name": name}
  GET  /things/{id:int}   JSON {"id": id, "name": name}; 404 if unknown
  GET  /info              JSON: interpreter, script_name (req.root_path),
                          path, falcon version, pid
"""

import os
import threading

import falcon

_LOCK = threading.Lock()
_THINGS = {}


class Things:
    def on_get(self, req, resp):
        with _LOCK:
            resp.media = [{'id': k, 'name': v} for k, v in
                          sorted(_THINGS.items())]

    def on_post(self, req, resp):
        name = req.get_media()['name']
        with _LOCK:
            thing_id = len(_THINGS) + 1
            _THINGS[thing_id] = name
        resp.status = falcon.HTTP_201
        resp.location = '%s/things/%d' % (req.root_path, thing_id)
        resp.media = {'id': thing_id, 'name': name}


class Thing:
    def on_get(self, req, resp, thing_id):
        with _LOCK:
            if thing_id not in _THINGS:
                raise falcon.HTTPNotFound()
            resp.media = {'id': thing_id, 'name': _THINGS[thing_id]}


class Info:
    def on_get(self, req, resp):
        resp.media = {'interpreter': req.env.get('mod_wsgi.interpreter'),
                      'script_name': req.root_path, 'path': req.path,
                      'falcon': falcon.__version__, 'pid': os.getpid()}


app = falcon.App()
app.add_route('/things', Things())
app.add_route('/things/{thing_id:int}', Thing())
app.add_route('/info', Info())
