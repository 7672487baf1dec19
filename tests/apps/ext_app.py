# SPDX-License-Identifier: Apache-2.0
"""Use extension modules that refuse sub-interpreters: pydantic (its core
is a PyO3 module) and cryptography (its Rust bindings are one too).

Endpoints (by PATH_INFO; JSON with "interpreter" (apwsgi.interpreter)):
  /pydantic   validates {'name': 'x', 'size': '3'} with a pydantic model:
              + "model" (its model_dump()), "version"
  /fernet     encrypts and decrypts b'apwsgi' with a new Fernet key:
              + "roundtrip" (the decrypted text), "version"
The import happens inside the request, so a refusal is the request's
ImportError (a 500), as it would be for an application module that
imports the package at its top.
"""

import json


def _pydantic():
    import pydantic

    class Item(pydantic.BaseModel):
        name: str
        size: int

    return {'model': Item.model_validate({'name': 'x', 'size': '3'})
            .model_dump(), 'version': pydantic.VERSION}


def _fernet():
    import cryptography
    from cryptography.fernet import Fernet
    box = Fernet(Fernet.generate_key())
    return {'roundtrip': box.decrypt(box.encrypt(b'apwsgi')).decode(),
            'version': cryptography.__version__}


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    out = {'/pydantic': _pydantic, '/fernet': _fernet}[path]()
    out['interpreter'] = environ['apwsgi.interpreter']
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps(out).encode()]
