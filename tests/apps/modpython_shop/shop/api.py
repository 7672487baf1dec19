# SPDX-License-Identifier: Apache-2.0
"""The shop's WSGI side (mod_wsgi.application shop.api::application).

/add?item=X adds X to the cart; any path answers JSON {"customer"
(SHOP_CUSTOMER, set by the mod_python fixup handler), "items" (the
cart)}.
"""

import json
from urllib.parse import parse_qs

from shop import cart


def application(environ, start_response):
    query = parse_qs(environ.get('QUERY_STRING', ''))
    if environ.get('PATH_INFO') == '/add':
        cart.items.append(query['item'][0])
    body = json.dumps({'customer': environ.get('SHOP_CUSTOMER'),
                       'items': cart.items}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
