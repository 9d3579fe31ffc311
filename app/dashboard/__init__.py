"""The status dashboard: a Flask blueprint like Heroku Connect's mappings screen, behind ORGFEED_ADMIN_PASSWORD.

It may import Flask, SQLAlchemy, `app.config`, `app.warehouse` (state and status) and `app.views`;
it must not import `app.salesforce` or `app.emulator`. The page polls a JSON endpoint, so it
follows a running sync without a reload.
"""
