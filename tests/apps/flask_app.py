# SPDX-License-Identifier: Apache-2.0
"""A small Flask application (Flask from PyPI; not a core test).

Endpoints (relative to the mount point):
  /            'hello from flask'
  /info        JSON: script_root, path, url (url_for('index', external)),
               interpreter (environ mod_wsgi.interpreter), pid
  /echo        POST: JSON {len, sha256} of the body
  /stream      streamed response: b'flask-0\n' .. b'flask-4\n'
  /fail        raises ValueError (a 500 from Flask's own handler)
"""

import hashlib
import os

from flask import Flask, Response, jsonify, request, url_for

app = Flask(__name__)


@app.route('/')
def index():
    return 'hello from flask'


@app.route('/info')
def info():
    return jsonify(script_root=request.script_root, path=request.path,
                   url=url_for('index', _external=True),
                   interpreter=request.environ.get('mod_wsgi.interpreter'),
                   pid=os.getpid())


@app.route('/echo', methods=['POST'])
def echo():
    data = request.get_data()
    return jsonify(len=len(data), sha256=hashlib.sha256(data).hexdigest())


@app.route('/stream')
def stream():
    def generate():
        for i in range(5):
            yield b'flask-%d\n' % i
    return Response(generate(), mimetype='text/plain')


@app.route('/fail')
def fail():
    raise ValueError('apwsgi-test-flask-fail')
