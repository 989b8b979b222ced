"""YAML documents parsed as strictly as kubectl does, and within bounds.

A manifest comes from outside, so parsing it must neither accept what
Kubernetes refuses nor cost more than its size. Steps of load_documents(),
in order, for each document:
    1. compose the document into a node graph (libyaml, in C; it refuses
       nesting deeper than 1000 by itself);
    2. check the graph (check_nodes()): a key defined twice in one mapping
       is an error, as in kubectl (`mapping key "x" already defined at line
       N`); an alias that contains itself is an error; and the document,
       with every alias expanded, may have at most MAX_NODES nodes,
       MAX_DEPTH levels and MAX_BYTES bytes of scalars, and no scalar over
       MAX_SCALAR bytes: a few aliases can otherwise stand for gigabytes
       ("billion laughs"), which every later step would pay for;
    3. only then construct the Python objects.

Errors are ManifestErrors with the line and column, like the API server's
"error converting YAML to JSON" messages.

load_one() decodes one request body (JSON, or YAML) with the same bounds,
for the Kubernetes API's create, update and patch.
"""

import json
from typing import Any

import yaml

from minipod.errors import ManifestError

MAX_BYTES = 3 * 1024 * 1024  # the API server's request body limit
MAX_SCALAR = 1024 * 1024  # one string; Kubernetes' whole object may be 1.5 MiB
MAX_NODES = 200_000  # a real Pod has a few hundred
MAX_DEPTH = 100  # a Pod is ~10 deep

# libyaml's C loader when present: several times faster than the pure-Python
# one, with the same safe subset of YAML.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_documents(text: str) -> list[Any]:
    """Every non-empty document of `text`; ManifestError when it is not
    valid, or too costly, YAML."""
    loader = _Loader(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            check_nodes(node)
            doc = loader.construct_document(node)
            if doc is not None:
                docs.append(doc)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ManifestError([f"invalid YAML{where}: {problem}"]) from None
    except RecursionError:  # only without libyaml, which limits nesting itself
        raise ManifestError([f"invalid YAML: exceeded max depth of {MAX_DEPTH}"]) from None
    finally:
        loader.dispose()
    return docs


def _error(node: Any, message: str) -> ManifestError:
    mark = node.start_mark
    return ManifestError([f"invalid YAML (line {mark.line + 1}, column {mark.column + 1}): {message}"])


def check_nodes(root: Any) -> None:
    """Step 2 above, on one composed document. Each distinct node is
    visited once (aliases share nodes), so the check costs the document's
    size, not its expanded size."""
    sizes: dict[int, tuple[int, int, int]] = {}  # id(node) -> (nodes, bytes, depth) expanded
    visiting: set[int] = set()

    def measure(node: Any, depth: int) -> tuple[int, int, int]:
        if depth > MAX_DEPTH:
            raise _error(node, f"exceeded max depth of {MAX_DEPTH}")
        known = sizes.get(id(node))
        if known is not None:
            if depth + known[2] > MAX_DEPTH:
                raise _error(node, f"exceeded max depth of {MAX_DEPTH}")
            return known
        if id(node) in visiting:
            raise _error(node, "an alias refers to a node that contains it")
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_SCALAR:
                raise _error(
                    node, f"a value of {len(node.value)} characters; at most {MAX_SCALAR} are accepted"
                )
            return 1, len(node.value), 0
        visiting.add(id(node))
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(node)
            children = [n for pair in node.value for n in pair]
        else:
            children = node.value
        nodes, size, deepest = 1, 0, 0
        for child in children:
            n, b, d = measure(child, depth + 1)
            nodes, size, deepest = nodes + n, size + b, max(deepest, d + 1)
            if nodes > MAX_NODES or size > MAX_BYTES:
                raise _error(
                    node,
                    f"document contains excessive aliasing: expanded, it is over {MAX_NODES} "
                    f"nodes or {MAX_BYTES} bytes",
                )
        visiting.discard(id(node))
        sizes[id(node)] = (nodes, size, deepest)
        return sizes[id(node)]

    measure(root, 0)


def _check_duplicate_keys(node: Any) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue  # complex keys are refused later; `<<` merges may override
        if key.value in seen:
            raise _error(key, f'mapping key "{key.value}" already defined at line {seen[key.value]}')
        seen[key.value] = key.start_mark.line + 1


def load_one(text: str) -> Any:
    """One object from a request body: JSON (fast, then its depth checked)
    or YAML (load_documents()); None for an empty body."""
    if text.lstrip().startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except RecursionError:
            raise ManifestError([f"invalid JSON: exceeded max depth of {MAX_DEPTH}"]) from None
        except ValueError as e:
            raise ManifestError([f"invalid JSON: {e}"]) from None
        if _depth_over(doc, MAX_DEPTH):
            raise ManifestError([f"invalid JSON: exceeded max depth of {MAX_DEPTH}"])
        return doc
    docs = load_documents(text)
    if len(docs) > 1:
        raise ManifestError(["expected one object, got several YAML documents"])
    return docs[0] if docs else None


def _depth_over(doc: Any, limit: int) -> bool:
    stack = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
    return False
