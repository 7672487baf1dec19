# SPDX-License-Identifier: Apache-2.0
"""A Flask application for tests/test_frameworks.py (Flask from PyPI).

Endpoints (relative to the mount point):
  GET  /                  'fw-flask index'
  GET  /hello/<name>      'hello, <name>' (a route with a variable)
  GET  /items/<int:n>     JSON {"item": n, "double": 2n}; 404 unless an int
  GET  /api/info          JSON: interpreter (environ mod_wsgi.interpreter),
                          script_root, index_url (url_for, external), pid
  POST /api/echo          JSON body -> JSON {"received": body}
  POST /form              form fields name, count -> JSON {name, count}
  POST /upload            multipart file "file" -> JSON {filename, size,
                          sha256}
  GET  /stream?wait=F     streamed text/plain: 'chunk-0\n', then waits (up
                          to 10 s) until the file F (absolute) exists, then
                          'chunk-1\n' .. 'chunk-3\n' ('timeout\n' instead if
                          F never appears: the client did not get chunk-0
                          before the response ended)
  GET  /go-home           302 to url_for('index')
"""

import hashlib
import os
import time

from flask import (
    Flask,
    Response,
    jsonify,
    redirect,
    request,
    stream_with_context,
    url_for,
)

app = Flask(__name__)


@app.route('/')
def index():
    return 'fw-flask index'


@app.route('/hello/<name>')
def hello(name):
    return 'hello, %s' % name


@app.route('/items/<int:n>')
def item(n):
    return jsonify(item=n, double=2 * n)


@app.route('/api/info')
def info():
    return jsonify(interpreter=request.environ.get('mod_wsgi.interpreter'),
                   script_root=request.script_root,
                   index_url=url_for('index', _external=True),
                   pid=os.getpid())


@app.route('/api/echo', methods=['POST'])
def echo():
    return jsonify(received=request.get_json())


@app.route('/form', methods=['POST'])
def form():
    return jsonify(name=request.form['name'],
                   count=int(request.form['count']))


@app.route('/upload', methods=['POST'])
def upload():
    upload = request.files['file']
    data = upload.read()
    return jsonify(filename=upload.filename, size=len(data),
                   sha256=hashlib.sha256(data).hexdigest())


def _wait_for(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


@app.route('/stream')
def stream():
    marker = request.args['wait']

    def generate():
        yield 'chunk-0\n'
        if not _wait_for(marker):
            yield 'timeout\n'
            return
        for i in range(1, 4):
            yield 'chunk-%d\n' % i
    return Response(stream_with_context(generate()), mimetype='text/plain')


@app.route('/go-home')
def go_home():
    return redirect(url_for('index'))
