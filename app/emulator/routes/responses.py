"""Response builders shared by the route modules: orgjson bodies and Salesforce error bodies."""

from __future__ import annotations

import orjson
from flask import Response

from app.emulator.errors import OAuthError, SalesforceError

JSON = "application/json;charset=UTF-8"


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype=JSON)


def salesforce_error(error: SalesforceError) -> Response:
    return json_response(error.body(), error.status)


def oauth_error(error: OAuthError) -> Response:
    return json_response(error.body(), error.status)


def no_content() -> Response:
    return Response(status=204)
