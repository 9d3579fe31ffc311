"""Views: union the org schemas into one SQL view per [[views]] spec, as committed files, then apply them.

Resolving specs against the catalog and rendering SQL are pure functions; reading the catalog,
writing sql/views/ and applying run at the edges. It may import SQLAlchemy, `app.config` and
`app.warehouse` (identifier quoting, table names); it must not import `app.salesforce`.
"""


class ViewError(Exception):
    """A view that cannot be built or applied; the message says which, why and what to do."""
