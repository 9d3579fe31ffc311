"""sobjects/X/updated and sobjects/X/deleted: windows, latestDateCovered, retention and the delete log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from app.emulator import Emulator, replication
from app.emulator.client import API_VERSION as API
from app.emulator.client import OrgClient, https_session
from app.emulator.formats import format_datetime


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def test_updated_lists_records_written_in_the_window(emulator: Emulator, sf: Salesforce) -> None:
    start = emulator.clock.now() - timedelta(hours=1)
    touched = emulator.ids("amer", "Employee", limit=2)
    emulator.update("amer", "Employee", [{"Id": touched[0], "Title": "CTO"}, {"Id": touched[1], "Title": "CFO"}])
    created = sf.Employee.create(
        {"LastName": "New", "Email": "n@x.example", "EmployeeNumber": "N1", "EmployeeStatus": "Active"}
    )["id"]
    emulator.advance_clock(120)
    now = emulator.clock.now()
    result = sf.Employee.updated(start, now)
    assert result == {"ids": [*touched, created], "latestDateCovered": format_datetime(_minute(now))}


def test_updated_leaves_out_what_changed_after_the_end(emulator: Emulator, sf: Salesforce) -> None:
    start = emulator.clock.now() - timedelta(hours=1)
    emulator.advance_clock(120)
    end = emulator.clock.now()
    emulator.advance_clock(120)
    emulator.update("amer", "Account", [{"Id": emulator.ids("amer", "Account", limit=1)[0], "Rating": "Hot"}])
    assert sf.Account.updated(start, end)["ids"] == []


def test_latest_date_covered_is_now_when_the_end_is_in_the_future(emulator: Emulator, sf: Salesforce) -> None:
    now = emulator.clock.now()
    result = sf.Contact.updated(now - timedelta(days=1), now + timedelta(days=3))
    assert result["latestDateCovered"] == format_datetime(_minute(now))


def test_deleted_lists_deletions_with_their_dates(emulator: Emulator, sf: Salesforce) -> None:
    start = emulator.clock.now() - timedelta(minutes=5)
    doomed = emulator.ids("amer", "Contact", limit=2)
    deleted_at = emulator.clock.now()
    emulator.delete("amer", "Contact", doomed)
    emulator.advance_clock(120)
    result = sf.Contact.deleted(start, emulator.clock.now())
    assert [entry["id"] for entry in result["deletedRecords"]] == doomed
    assert result["deletedRecords"][0]["deletedDate"] == format_datetime(deleted_at)
    retention = emulator.clock.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=15)
    assert result["earliestDateAvailable"] == format_datetime(retention)


def test_undeleted_records_leave_the_delete_log_and_purged_ones_stay(emulator: Emulator, sf: Salesforce) -> None:
    start = emulator.clock.now() - timedelta(minutes=5)
    first, second = emulator.ids("amer", "Account", limit=2)
    emulator.delete("amer", "Account", [first, second])
    emulator.undelete("amer", "Account", [first])
    emulator.purge("amer", "Account", [second])
    emulator.advance_clock(120)
    assert [e["id"] for e in sf.Account.deleted(start, emulator.clock.now())["deletedRecords"]] == [second]
    assert sf.Account.get(first)["IsDeleted"] is False


def test_trimming_the_delete_log_moves_earliest_date_available(emulator: Emulator, sf: Salesforce) -> None:
    start = emulator.clock.now() - timedelta(minutes=5)
    doomed = emulator.ids("amer", "Employee", limit=1)
    emulator.delete("amer", "Employee", doomed)
    emulator.advance_clock(60)
    emulator.purge("amer", "Employee", trim_delete_log=True)
    trimmed_at = _minute(emulator.clock.now())
    emulator.advance_clock(120)
    result = sf.Employee.deleted(start, emulator.clock.now())
    assert result["deletedRecords"] == []
    assert result["earliestDateAvailable"] == format_datetime(trimmed_at)


@pytest.mark.parametrize(("resource", "days"), [("updated", 30), ("deleted", 15)])
def test_a_start_past_retention_is_invalid_replication_date(
    emulator: Emulator, client: OrgClient, resource: str, days: int
) -> None:
    now = emulator.clock.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    inside = client.get(
        f"sobjects/Employee/{resource}",
        params={"start": (midnight - timedelta(days=days)).isoformat(), "end": now.isoformat()},
    )
    assert inside.status_code == 200
    outside = client.get(
        f"sobjects/Employee/{resource}",
        params={"start": (midnight - timedelta(days=days, minutes=1)).isoformat(), "end": now.isoformat()},
    )
    assert (outside.status_code, outside.json()) == (
        400,
        [{"message": f"startDate cannot be more than {days} days ago", "errorCode": "INVALID_REPLICATION_DATE"}],
    )


def test_retention_follows_the_emulated_clock(emulator: Emulator) -> None:
    start = emulator.clock.now()
    emulator.advance_clock(31 * 86400)
    sf = Salesforce(
        instance_url=emulator.base_url,
        session_id=emulator.session_id("amer"),
        session=https_session(emulator),
        version=API,
    )
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Employee.updated(start, emulator.clock.now())
    assert refused.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_a_start_not_before_the_end_is_invalid_replication_date(shared_client: OrgClient) -> None:
    now = datetime.now(UTC)
    response = shared_client.get(
        "sobjects/Account/updated", params={"start": now.isoformat(), "end": (now + timedelta(seconds=30)).isoformat()}
    )
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, "INVALID_REPLICATION_DATE")


def test_start_and_end_are_required(shared_client: OrgClient) -> None:
    response = shared_client.get("sobjects/Account/deleted")
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, "MISSING_ARGUMENT")


def test_too_many_ids_is_exceeded_id_limit(emulator: Emulator, client: OrgClient, monkeypatch) -> None:
    # 600,000 changed records would make a slow test; the limit is lowered instead.
    monkeypatch.setattr(replication, "ID_LIMIT", 2)
    start = emulator.clock.now() - timedelta(minutes=5)
    emulator.update("amer", "Account", [{"Id": i, "Rating": "Cold"} for i in emulator.ids("amer", "Account", limit=3)])
    emulator.advance_clock(120)
    response = client.get(
        "sobjects/Account/updated", params={"start": start.isoformat(), "end": emulator.clock.now().isoformat()}
    )
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, "EXCEEDED_ID_LIMIT")
