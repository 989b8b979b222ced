"""/openapi/v2 in gnostic's protobuf (kubeapi/openapi_proto.py), read back
with the wire-format reader the API uses for protobuf bodies."""

import json
import struct

from minipod.kubeapi import openapi_proto
from minipod.kubeapi.protobuf import _fields


def fields(data: bytes) -> dict[int, list]:
    out: dict[int, list] = {}
    for number, value in _fields(data):
        out.setdefault(number, []).append(value)
    return out


DOC = {
    "swagger": "2.0",
    "info": {"title": "Kubernetes", "version": "v1.32.0"},
    "paths": {
        "/api/v1/namespaces/{namespace}/configmaps/{name}": {
            "patch": {
                "operationId": "patchConfigMap",
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": True}
                ],
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/ConfigMap"}}},
                "x-kubernetes-action": "patch",
            }
        }
    },
    "definitions": {
        "io.k8s.api.core.v1.ConfigMap": {
            "type": "object",
            "required": ["metadata"],
            "properties": {
                "data": {"type": "object", "additionalProperties": {"type": "string"}},
                "immutable": {"type": "boolean", "default": False},
                "replicas": {"type": "integer", "minimum": -1.5},
            },
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "ConfigMap", "version": "v1"}],
        }
    },
}


def test_document_top_fields_and_a_definition():
    doc = fields(openapi_proto.encode(DOC))
    assert doc[1] == [b"2.0"]
    assert fields(doc[2][0]) == {1: [b"Kubernetes"], 2: [b"v1.32.0"]}
    (named,) = fields(doc[9][0])[1]
    named_fields = fields(named)
    assert named_fields[1] == [b"io.k8s.api.core.v1.ConfigMap"]
    schema = fields(named_fields[2][0])
    assert fields(schema[22][0]) == {1: [b"object"]}  # type
    assert schema[19] == [b"metadata"]  # required
    (ext,) = schema[31]  # the GVK vendor extension, its value as YAML text
    ext_fields = fields(ext)
    assert ext_fields[1] == [b"x-kubernetes-group-version-kind"]
    yaml_text = fields(ext_fields[2][0])[2][0]
    assert json.loads(yaml_text) == [{"group": "", "kind": "ConfigMap", "version": "v1"}]
    props = {fields(p)[1][0]: fields(fields(p)[2][0]) for p in fields(schema[25][0])[1]}
    # additionalProperties: a schema (oneof field 1) of type string.
    extra = fields(fields(props[b"data"][21][0])[1][0])
    assert fields(extra[22][0]) == {1: [b"string"]}
    # A default false is still written (gnostic's Any holds "false").
    assert fields(props[b"immutable"][5][0]) == {2: [b"false"]}
    # Doubles are 8 little-endian bytes.
    assert struct.unpack("<d", props[b"replicas"][9][0]) == (-1.5,)


def test_paths_carry_operations_and_query_parameters():
    doc = fields(openapi_proto.encode(DOC))
    (named_path,) = fields(doc[8][0])[2]
    path = fields(named_path)
    assert path[1] == [b"/api/v1/namespaces/{namespace}/configmaps/{name}"]
    op = fields(fields(path[2][0])[8][0])  # PathItem.patch
    assert op[5] == [b"patchConfigMap"]
    # ParametersItem -> Parameter -> NonBodyParameter -> QueryParameterSubSchema
    query = fields(fields(fields(fields(op[8][0])[1][0])[2][0])[3][0])
    assert query[4] == [b"fieldValidation"] and query[2] == [b"query"] and query[20] == [1]
    response = fields(op[9][0])[1][0]
    assert fields(response)[1] == [b"200"]
