"""What orgfeed's loader asks the emulator for stays cheap: queries by SystemModstamp, the warm full-load CSV."""

from __future__ import annotations

from app.emulator import Emulator, demo_orgs
from app.emulator.client import OrgClient
from app.emulator.warmup import full_load_fields
from app.salesforce.describe import parse_describe, selectable_fields


def _ids(client: OrgClient, soql: str) -> list[tuple[str, bool]]:
    body = client.get("queryAll", params={"q": soql}).json()
    records = body["records"]
    while not body["done"]:
        body = client.get(body["nextRecordsUrl"].split("/services/data/v62.0/")[1]).json()
        records += body["records"]
    return [(record["Id"], record["IsDeleted"]) for record in records]


def test_a_modstamp_after_the_generated_data_returns_exactly_the_rows_written_since() -> None:
    with Emulator(demo_orgs(rows={"Employee": 3000}, seed=5)) as emulator:
        ids = emulator.ids("amer", "Employee")
        emulator.advance_clock(3600)
        emulator.update(
            "amer", "Employee", [{"Id": ids[2500], "FirstName": "Later"}, {"Id": ids[7], "FirstName": "Later"}]
        )
        emulator.delete("amer", "Employee", [ids[100]])
        inserted = emulator.insert(
            "amer",
            "Employee",
            [
                {
                    "LastName": "New",
                    "FirstName": "Row",
                    "Email": "new@example.com",
                    "EmployeeNumber": "N-1",
                    "EmployeeStatus": "Active",
                }
            ],
        )
        client = OrgClient(emulator, "amer")
        since = "2025-06-01T00:00:00Z"  # after every generated SystemModstamp (they lie before 2025)
        found = _ids(
            client, f"SELECT Id, IsDeleted FROM Employee WHERE SystemModstamp >= {since} ORDER BY SystemModstamp"
        )
        assert sorted(found) == sorted([(ids[7], False), (ids[2500], False), (ids[100], True), (inserted[0], False)])
        everything = _ids(client, "SELECT Id, IsDeleted, SystemModstamp FROM Employee")
        assert len(everything) == 3001


def test_the_warmed_projection_is_the_one_a_star_mapping_loads() -> None:
    with Emulator(demo_orgs(rows={"Employee": 10}, seed=5)) as emulator:
        body = OrgClient(emulator, "amer").get("sobjects/Employee/describe").json()
        fields, _ = selectable_fields(parse_describe(body), None)
        loaded = tuple(field.name for field in fields if field.type != "base64")
        assert full_load_fields(emulator.table("amer", "Employee")) == loaded
