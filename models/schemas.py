"""JSON Schemas of the records, as the schema registry keeps them, and what makes a change break
their readers.

`json_schema(value_type)` is the pydantic model's JSON Schema (camelCase names) with a closed
content model (`additionalProperties: false` on every object): a record holds the fields its
schema names and no others. That is what makes the registry's BACKWARD rule the one a team
expects: adding an optional field is compatible (no older record has it), while removing a field
or changing its type is refused (older records have it, or have it in another type). With open
content models the registry refuses every added field and lets every removed one through.

`breaking_changes(registered, proposed)` names, field by field, why a reader with schema
`proposed` cannot read every record written with `registered`: the registry answers only yes or no.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

JSON = dict[str, Any]
#: Draft 7, said explicitly: Apicurio cannot tell a schema that is not an object (a batch, a stock
#: level) from other content without it, and its compatibility check knows no later draft.
DIALECT = "http://json-schema.org/draft-07/schema#"
#: Draft 7 keeps shared definitions under `definitions` (pydantic writes draft 2020-12's `$defs`).
REF_TEMPLATE = "#/definitions/{model}"


def json_schema(value_type: Any) -> JSON:
    """The JSON Schema of a record type (or a list of records, or a union) with closed objects."""
    schema = TypeAdapter(value_type).json_schema(by_alias=True, ref_template=REF_TEMPLATE)
    if "$defs" in schema:
        schema["definitions"] = schema.pop("$defs")
    _close_objects(schema)
    return {"$schema": DIALECT, **schema}


def _close_objects(node: Any) -> None:
    if isinstance(node, dict):
        if "properties" in node:
            node["additionalProperties"] = False
            for field in node["properties"].values():
                field.pop("title", None)  # pydantic's "Customerid": noise in every diff
        for child in node.values():
            _close_objects(child)
    elif isinstance(node, list):
        for child in node:
            _close_objects(child)


def breaking_changes(registered: JSON, proposed: JSON) -> list[str]:
    """Why records written with `registered` may not be valid under `proposed`, one line per
    field (`quantity: type integer is now string`); empty when none is found."""
    return _compare(registered, registered, proposed, proposed, "record")


def _compare(old_root: JSON, old: Any, new_root: JSON, new: Any, path: str) -> list[str]:
    old, new = _resolve(old_root, old), _resolve(new_root, new)
    old_types, new_types = _types(old_root, old), _types(new_root, new)
    if "any" not in new_types and any(not _accepts(new_types, kind) for kind in old_types):
        return [f"{path}: type {_describe(old_types)} is now {_describe(new_types)}"]
    changes: list[str] = []
    old_enum, new_enum = _enum(old_root, old), _enum(new_root, new)
    if old_enum is not None and new_enum is not None and not old_enum <= new_enum:
        changes.append(f"{path}: values {sorted(old_enum - new_enum)} are no longer allowed")
    old_fields, new_fields = _properties(old_root, old), _properties(new_root, new)
    if old_fields is not None and new_fields is not None:
        for name, field in old_fields.items():
            if name not in new_fields:
                changes.append(f"{path}.{name}: removed")
            else:
                changes += _compare(old_root, field, new_root, new_fields[name], f"{path}.{name}")
        old_required = _required(old_root, old)
        for name in sorted(_required(new_root, new) - old_required):
            changes.append(f"{path}.{name}: "
                           + ("now required" if name in old_fields else "added as required"))
    old_items, new_items = _items(old_root, old), _items(new_root, new)
    if old_items is not None and new_items is not None:
        changes += _compare(old_root, old_items, new_root, new_items, f"{path}[]")
    return changes


def _resolve(root: JSON, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported, not {ref}")
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def _branches(root: JSON, node: Any) -> list[Any]:
    """The alternatives of a node (`anyOf` / `oneOf`), or the node itself."""
    node = _resolve(root, node)
    for key in ("anyOf", "oneOf"):
        if isinstance(node, dict) and key in node:
            return [branch for option in node[key] for branch in _branches(root, option)]
    return [node]


def _types(root: JSON, node: Any) -> set[str]:
    types: set[str] = set()
    for branch in _branches(root, node):
        declared = branch.get("type", "any") if isinstance(branch, dict) else "any"
        types |= set(declared) if isinstance(declared, list) else {declared}
    return types


def _accepts(types: set[str], kind: str) -> bool:
    return kind in types or (kind == "integer" and "number" in types)  # a number takes integers


def _enum(root: JSON, node: Any) -> set[Any] | None:
    values: set[Any] = set()
    for branch in _branches(root, node):
        if isinstance(branch, dict) and "enum" in branch:
            values |= set(branch["enum"])
        elif branch.get("type") != "null":
            return None  # some branch takes any value of its type
    return values


def _object(root: JSON, node: Any) -> JSON | None:
    objects = [b for b in _branches(root, node) if isinstance(b, dict) and "properties" in b]
    return objects[0] if len(objects) == 1 else None


def _properties(root: JSON, node: Any) -> JSON | None:
    found = _object(root, node)
    return None if found is None else found["properties"]


def _required(root: JSON, node: Any) -> set[str]:
    found = _object(root, node)
    return set() if found is None else set(found.get("required", ()))


def _items(root: JSON, node: Any) -> Any:
    arrays = [b for b in _branches(root, node) if isinstance(b, dict) and "items" in b]
    return arrays[0]["items"] if len(arrays) == 1 else None


def _describe(types: set[str]) -> str:
    return " or ".join(sorted(types))
