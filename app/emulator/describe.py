"""Metadata payloads: API versions, the version's resources, describeGlobal, describe and limits.

Key sets follow the REST API Developer Guide ("Versions", "Resources by Version", "Describe
Global", "sObject Describe", "Limits") as returned for API version 62.0.
"""

from __future__ import annotations

from app.emulator.org import Org
from app.emulator.schema import SOAP_TYPES, TEXT_TYPES, Field, SObjectType

API_VERSIONS = tuple(f"{major}.0" for major in range(31, 65))  # 31.0 (Summer '14) .. 64.0 (Summer '25)


def release_label(version: str) -> str:
    """Return the release name of an API version: 62.0 -> "Winter '25"."""
    step = int(float(version)) - 31
    season = ("Summer", "Winter", "Spring")[step % 3]
    return f"{season} '{14 + (step + 2) // 3}"


def versions() -> list[dict[str, str]]:
    return [{"label": release_label(v), "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS]


def resources(api_version: str) -> dict[str, str]:
    base = f"/services/data/v{api_version}"
    names = (
        "tooling",
        "metadata",
        "jobs",
        "query",
        "queryAll",
        "search",
        "sobjects",
        "limits",
        "composite",
        "recent",
        "identity",
    )
    return {name: f"{base}/{name}" for name in names}


def describe_global(org: Org, api_version: str) -> dict[str, object]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [global_entry(table.sobject, api_version) for table in org.tables.values()],
    }


def global_entry(sobject: SObjectType, api_version: str) -> dict[str, object]:
    """Return one object's entry in describeGlobal (also the `objectDescribe` of sobjects/X)."""
    flags = _object_flags(sobject)
    return {
        **flags,
        "name": sobject.name,
        "label": sobject.label,
        "labelPlural": sobject.label_plural,
        "keyPrefix": sobject.key_prefix,
        "urls": _urls(sobject, api_version),
    }


def _object_flags(sobject: SObjectType) -> dict[str, object]:
    return {
        "activateable": False,
        "createable": True,
        "custom": sobject.custom,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": True,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "layoutable": True,
        "mergeable": False,
        "mruEnabled": True,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": True,
        "updateable": True,
    }


def _urls(sobject: SObjectType, api_version: str) -> dict[str, str]:
    base = f"/services/data/v{api_version}/sobjects/{sobject.name}"
    return {
        "rowTemplate": f"{base}/{{ID}}",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "describe": f"{base}/describe",
        "sobject": base,
    }


def describe_sobject(sobject: SObjectType, api_version: str) -> dict[str, object]:
    """Return the full describe of one object."""
    return {
        **_object_flags(sobject),
        "actionOverrides": [],
        "childRelationships": [],
        "compactLayoutable": True,
        "defaultImplementation": None,
        "extendedBy": None,
        "extendsInterfaces": None,
        "fields": [describe_field(field) for field in sobject.fields],
        "implementedBy": None,
        "implementsInterfaces": None,
        "keyPrefix": sobject.key_prefix,
        "label": sobject.label,
        "labelPlural": sobject.label_plural,
        "listviewable": None,
        "lookupLayoutable": None,
        "name": sobject.name,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [],
        "searchLayoutable": True,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [{"label": "All accounts", "name": "everything"}],
        "urls": _urls(sobject, api_version),
    }


def describe_field(field: Field) -> dict[str, object]:
    """Return one entry of describe's `fields` array."""
    text = field.type in TEXT_TYPES
    return {
        "aggregatable": field.type not in ("textarea", "base64", "address", "location"),
        "aiPredictionField": False,
        "autoNumber": field.auto_number,
        "byteLength": field.length * 3 if text else 0,
        "calculated": field.calculated,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": field.compound_field_name,
        "controllerName": None,
        "createable": field.createable,
        "custom": field.custom,
        "defaultValue": False if field.type == "boolean" and field.defaulted_on_create else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": field.defaulted_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": field.digits,
        "displayLocationInDecimal": field.type == "location",
        "encrypted": False,
        "externalId": field.external_id,
        "extraTypeInfo": field.extra_type_info,
        "filterable": field.type not in ("textarea", "base64") or field.length <= 255,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": field.type in TEXT_TYPES | {"boolean", "date", "int"} and field.type != "textarea",
        "highScaleNumber": False,
        "htmlFormatted": field.html_formatted,
        "idLookup": field.type == "id" or field.external_id,
        "inlineHelpText": None,
        "label": field.label,
        "length": field.length,
        "mask": None,
        "maskType": None,
        "name": field.name,
        "nameField": field.name_field,
        "namePointing": False,
        "nillable": field.nillable,
        "permissionable": field.nillable and field.createable,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": value, "validFor": None, "value": value}
            for value in field.picklist_values
        ],
        "polymorphicForeignKey": len(field.reference_to) > 1,
        "precision": field.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(field.reference_to),
        "relationshipName": field.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": False,
        "scale": field.scale,
        "searchPrefilterable": False,
        "soapType": SOAP_TYPES.get(field.type, "xsd:string"),
        "sortable": field.type not in ("textarea", "base64", "address", "location") or field.length <= 255,
        "type": field.type,
        "unique": field.unique,
        "updateable": field.updateable,
        "writeRequiresMasterRead": False,
    }


def limits(org: Org) -> dict[str, dict[str, int]]:
    """Return the org's limits; DailyApiRequests, DailyBulkApiBatches and DailyBulkV2QueryJobs go down with use."""

    def entry(maximum: int, used: int = 0) -> dict[str, int]:
        return {"Max": maximum, "Remaining": max(maximum - used, 0)}

    return {
        "ConcurrentAsyncGetReportInstances": entry(200),
        "DailyApiRequests": entry(org.api_max, org.api_used),
        "DailyAsyncApexExecutions": entry(250000),
        "DailyBulkApiBatches": entry(15000, org.bulk_batches_created),
        "DailyBulkV2QueryFileStorageMB": entry(976562),
        "DailyBulkV2QueryJobs": entry(10000, org.bulk_jobs_created),
        "DailyStreamingApiEvents": entry(1000000),
        "DataStorageMB": entry(1024),
        "FileStorageMB": entry(2048),
        "HourlyTimeBasedWorkflow": entry(1000),
        "SingleEmail": entry(5000),
    }
