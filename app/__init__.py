"""orgfeed: mirror Salesforce orgs into PostgreSQL, union them in views, serve the views over OData v4.

Subpackages own one system each (salesforce, warehouse, views, odata, dashboard, emulator);
`config` is the only reader of the environment, `cli` the only command-line edge.
"""

__version__ = "0.1.0"
