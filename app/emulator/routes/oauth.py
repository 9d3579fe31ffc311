"""OAuth views: the token, authorize and revoke endpoints and the identity URL.

Each view parses the request, calls oauth.py, and shapes the response; OAuthError becomes
`{"error", "error_description"}` with status 400 (app.py's error handler).
"""

from __future__ import annotations

from flask import Response, current_app, redirect, request

from app.emulator.emulator import Emulator
from app.emulator.oauth import authorize as approve
from app.emulator.oauth import grant_token, revoke_token
from app.emulator.routes.responses import json_response


def _emulator() -> Emulator:
    return current_app.extensions["emulator"]


def token() -> Response:
    body = grant_token(_emulator().authority(), request.form, request.headers.get("Authorization"))
    return json_response(body)


def authorize() -> Response:
    # A 302 to the redirect URI, as Salesforce answers once the user has approved the app.
    return redirect(approve(_emulator().authority(), request.args), code=302)  # type: ignore[return-value]  # flask.redirect is typed as werkzeug's BaseResponse


def revoke() -> Response:
    # "Revoke OAuth Tokens": POST with the token in the form body, or GET with it in the query string.
    source = request.form if request.method == "POST" else request.args
    revoke_token(_emulator().authority(), source.get("token", ""))
    return Response(status=200)


def identity(org_id: str, user_id: str) -> Response:
    emulator = _emulator()
    session = emulator.sessions.find(request.headers.get("Authorization", " ").partition(" ")[2])
    org = next((o for o in emulator.orgs.values() if o.org_id == org_id), None)
    user = org.user_by_id(user_id) if org else None
    if session is None or org is None or user is None or session.org != org.name:
        return json_response("Bad_OAuth_Token", 403)
    return json_response(
        {
            "id": f"{emulator.base_url}/id/{org_id}/{user_id}",
            "user_id": user_id,
            "organization_id": org_id,
            "username": user.username,
            "display_name": user.display_name,
            "active": True,
            "locale": org.spec.locale,
            "timezone": org.spec.timezone,
        }
    )
