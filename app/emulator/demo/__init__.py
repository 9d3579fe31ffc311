"""The demo orgs' data: the objects (`objects`), their field constructors (`fields`) and the two orgs (`orgs`)."""
