"""A readable summary of loaded settings, for `orgfeed config check` (secrets are never shown)."""

from __future__ import annotations

from app.config import Settings


def describe_settings(settings: Settings) -> str:
    """Lines naming the config file, the database and every org, mapping, view and feed."""
    database = settings.database
    where = f"embedded PostgreSQL in {database.data_dir}" if database.is_embedded else "DATABASE_URL"
    lines = [f"{settings.config_path}: valid", f"database: {where}"]
    if database.odata_url:
        lines.append("feed reads from: ODATA_DATABASE_URL")
    for org in settings.orgs:
        if org.is_loaded:
            variables = ", ".join(org.secret_envs.values())
            url = org.login_url or org.instance_url
            lines.append(f"org {org.name} (geo {org.geo}): auth {org.auth} at {url}; secrets in {variables}")
        else:
            lines.append(f"org {org.name} (geo {org.geo}): schema filled by Heroku Connect, read only")
    for mapping in settings.mappings:
        fields = "all fields" if mapping.fields is None else f"{len(mapping.fields)} fields"
        orgs = ", ".join(mapping.orgs) if mapping.orgs else "every org"
        lines.append(f"mapping {mapping.object}: {fields}, {orgs}, every {mapping.poll_seconds} s")
    for view in settings.views:
        lines.append(f"view {view.name}: {view.object}" + "".join(f" + {join.object}" for join in view.joins))
    for feed in settings.feeds:
        lines.append(f"feed {feed.name}: /odata/v4/{feed.name}/ with {', '.join(feed.views)}")
    return "\n".join(lines)
