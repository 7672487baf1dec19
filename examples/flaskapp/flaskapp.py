# SPDX-License-Identifier: Apache-2.0
"""A small Flask application, served as flaskapp::app.

Endpoints (mounted at /flask by conf/examples.conf, main interpreter):
    GET  /               HTML page with a form
    POST /greet          form field "name": HTML greeting
    GET  /api/info       JSON: Python, interpreter, process, mount point
    GET  /api/add?a=&b=  JSON: the sum of two integers (400 if not integers)
"""

import os
import sys

from flask import Flask, jsonify, render_template_string, request, url_for

app = Flask(__name__)

PAGE = '''<!doctype html>
<title>apwsgi Flask example</title>
<h1>{{ heading }}</h1>
<form method="post" action="{{ url_for('greet') }}">
  <label>Your name <input name="name" value="{{ name }}"></label>
  <button>Greet me</button>
</form>
<p><a href="{{ url_for('info') }}">/api/info</a> ·
   <a href="{{ url_for('add', a=2, b=3) }}">/api/add?a=2&amp;b=3</a></p>
'''


@app.get('/')
def index():
    return render_template_string(PAGE, heading='Hello from Flask', name='')


@app.post('/greet')
def greet():
    name = request.form.get('name', '').strip() or 'stranger'
    return render_template_string(PAGE, heading='Hello, %s!' % name,
                                  name=name)


@app.get('/api/info')
def info():
    return jsonify(
        python=sys.version.split()[0],
        interpreter=request.environ.get('mod_wsgi.interpreter') or '(main)',
        pid=os.getpid(),
        script_root=request.script_root,
        url=url_for('info', _external=True),
    )


@app.get('/api/add')
def add():
    try:
        a = int(request.args['a'])
        b = int(request.args['b'])
    except (KeyError, ValueError):
        return jsonify(error='give integers a and b, e.g. ?a=2&b=3'), 400
    return jsonify(a=a, b=b, sum=a + b)
