# SPDX-License-Identifier: Apache-2.0
"""The shop's mod_python handlers.

handler (PythonHandler shop.legacy): /shop/add?item=X adds X to the cart;
any path answers text/plain 'cart: A, B' (the items in order).

fixup (PythonFixupHandler shop.legacy::fixup): puts the customer's name
(the `customer` cookie, else 'guest') into the request's environment as
SHOP_CUSTOMER, which the WSGI side finds in its environ.
"""

from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from mod_python import apache

from shop import cart


def handler(req):
    query = parse_qs(req.args or '')
    if req.uri.endswith('/add'):
        cart.items.append(query['item'][0])
    req.content_type = 'text/plain'
    req.write('cart: ' + ', '.join(cart.items))
    return apache.OK


def fixup(req):
    cookie = SimpleCookie(req.headers_in.get('Cookie', ''))
    customer = cookie['customer'].value if 'customer' in cookie else 'guest'
    req.subprocess_env['SHOP_CUSTOMER'] = customer
    return apache.OK
