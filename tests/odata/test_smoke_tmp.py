def test_smoke(client):
    for path in ["", "$metadata", "people", "people?$select=lastname&$orderby=lastname&$top=3&$count=true",
                 "people?$filter=lastname ne 'Smith'", "people('a01')", "people/$count", "big?$top=3000",
                 "people?$filter=contains(notes,'50%25')", "people?$search=Smith"]:
        r = client.get(path)
        print(path, r.status_code, r.headers.get("Content-Type"), r.get_data(as_text=True)[:600])
