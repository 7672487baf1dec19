# SPDX-License-Identifier: Apache-2.0
"""flask: a Flask JSON route, as a small real application has one.

Endpoint: GET /flask/items/<int:item_id>?q=... with an X-Bench-Client
header -> 200 application/json {"item": id, "q": q, "client": header,
"double": 2 * id}, with Content-Length (Flask sets it).  The route reads
a path parameter, the query string and a request header.

The Apache contenders mount it at /flask (SCRIPT_NAME /flask); the peer
servers serve it at the root, where the path keeps its /flask prefix, so
the route is registered under both.
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


def item(item_id):
    return jsonify(item=item_id, q=request.args.get('q', ''),
                   client=request.headers.get('X-Bench-Client', 'none'),
                   double=2 * item_id)


for prefix in ('', '/flask'):
    app.add_url_rule(prefix + '/items/<int:item_id>', 'item' + prefix, item)

application = app
