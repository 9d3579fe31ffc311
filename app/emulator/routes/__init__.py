"""The emulator's HTTP views: the REST API and OAuth (`rest`), Bulk API 2.0 (`bulk`), the control API (`control`)."""
