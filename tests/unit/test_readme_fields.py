"""Issue 11, defect 9: what the README calls supported is what the
implementation table says, so that no supported field ever warns
"not implemented by minipod yet"."""

import pathlib
import re

import yaml

from minipod.kube import implemented, schema
from minipod.kube.validate import validate_pod

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"

# Fields the README names only to say they are refused or not implemented.
REFUSED_IN_README = {"grpc", "subPath", "windowsOptions"}


def schema_fields(typ=schema.POD, out=None) -> set[str]:
    out = set() if out is None else out
    if isinstance(typ, list):
        return schema_fields(typ[1], out)
    if isinstance(typ, dict) and set(typ) not in ({"map"}, {"enum"}):
        for key, child in typ.items():
            if key != "status":
                out.add(key)
                schema_fields(child, out)
    return out


def readme_fields() -> set[str]:
    """Pod fields the README names in backquotes, before its "Not yet"."""
    text = README.read_text().split("\n## Not yet")[0]
    fields = schema_fields()
    found = set()
    for token in re.findall(r"`([a-zA-Z][a-zA-Z.]*)`", text):
        last = token.rsplit(".", 1)[-1]
        if last in fields and last not in REFUSED_IN_README:
            found.add(last)
    return found


def table_fields() -> set[str]:
    """The name of every schema field that is implemented, or inside an
    implemented field (a probe's periodSeconds), or holds implemented
    fields (securityContext), or is silent by table."""
    silent = implemented.IMPLEMENTED | set(implemented.DEFAULTS) | implemented.IGNORED
    out: set[str] = set()

    def walk(typ, pattern: str, covered: bool) -> None:
        if isinstance(typ, list):
            return walk(typ[1], pattern + "[]", covered)
        if isinstance(typ, dict) and set(typ) not in ({"map"}, {"enum"}):
            for key, child in typ.items():
                path = f"{pattern}.{key}" if pattern else key
                path = path.replace("spec.initContainers", "spec.containers")
                here = covered or path in silent
                if here or any(p.startswith(path + ".") for p in silent):
                    out.add(key)  # implemented, or some of its fields are
                walk(child, path, here)

    walk(schema.POD, "", False)
    return out


def test_the_readme_names_fields():
    assert {"imagePullSecrets", "runAsUser", "postStart", "hostPath"} <= readme_fields()


def test_every_field_the_readme_calls_supported_is_in_the_implemented_table():
    missing = readme_fields() - table_fields()
    assert not missing, f"the README calls these supported, but they would warn: {sorted(missing)}"


def test_image_pull_secrets_do_not_warn():
    pod = yaml.safe_load("""
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  imagePullSecrets: [{name: regcred}]
  containers: [{name: web, image: busybox}]
""")
    assert validate_pod(pod) == []


def test_code_that_reads_a_field_must_list_it():
    assert implemented.honoured("spec.imagePullSecrets") == "imagePullSecrets"
    try:
        implemented.honoured("spec.ephemeralContainers")
    except RuntimeError as e:
        assert "IMPLEMENTED" in str(e)
    else:
        raise AssertionError("an unlisted field was accepted")
