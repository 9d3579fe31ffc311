"""The sync: the one package that joins `app.salesforce` and `app.warehouse`.

`run` syncs orgs and objects once or in a loop, `report` holds what a run was asked and what it did,
`console` shows its progress and summary. It may import `app.config`, `app.salesforce`, `app.warehouse`
and `app.views` (to refresh views after a run); it must not import `app.odata`, `app.dashboard` or
`app.emulator`.
"""
