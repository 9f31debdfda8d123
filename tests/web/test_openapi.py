"""/openapi.json describes every route, is a valid OpenAPI document, and real answers match it."""

from __future__ import annotations

import json
import re

import jsonschema
import requests
from openapi_spec_validator import validate as validate_spec


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_every_route_is_documented(node):
    document = requests.get(node.url + "/openapi.json").json()
    for rule in node.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = openapi_path(rule.rule)
        assert path in document["paths"], f"{path} is missing from /openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], f"{method} {path} is missing"


def test_document_is_valid_openapi(node):
    validate_spec(requests.get(node.url + "/openapi.json").json())


def test_real_answers_validate_against_the_document(node, auth, receiver):
    text = requests.get(node.url + "/openapi.json").text.replace("#/components/schemas/", "#/$defs/")
    defs = json.loads(text)["components"]["schemas"]
    done = requests.post(node.url + "/v1/triggers?wait=20", headers=auth,
                         json={"callbackUrl": receiver.url(), "reason": "schema"}).json()
    jsonschema.validate(done, {**defs["TriggerStatus"], "$defs": defs})
    page = requests.get(node.url + "/v1/triggers", headers=auth).json()
    jsonschema.validate(page, {**defs["TriggerPage"], "$defs": defs})
    error = requests.post(node.url + "/v1/triggers", headers=auth, json={"elements": 1}).json()
    jsonschema.validate(error, {**defs["Error"], "$defs": defs})
    [callback] = receiver.wait_for(1)
    body = callback.json()
    body.pop("type")
    jsonschema.validate(body, {**defs["BackupResult"], "$defs": defs})
    assert defs["Error"]["properties"]["remediationMessage"]
