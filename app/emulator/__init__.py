"""A local emulator of Salesforce orgs: HTTPS REST, Bulk API 2.0, OAuth, demo data and fault injection.

It may import the standard library, Flask/Werkzeug, cryptography, trustme and PyJWT.
It must not import any other orgfeed package; only the CLI's `demo`/`emulator` commands and
the tests import it.
"""
