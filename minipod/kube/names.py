"""The name formats Kubernetes uses, with the API server's own wording.

Each function takes a string and returns a list of problems with it (empty
when the name is fine), so a caller can report them all and prefix each
with the field path and the value:

    dns_subdomain_problems   pod names: lowercase, '-' and '.', max 253
    dns_label_problems       container, volume and namespace names, and
                             hostnames: lowercase and '-', max 63
    port_name_problems       port names: IANA service names, max 15
    qualified_name_problems  label and annotation keys, e.g. app.kubernetes.io/name
    label_value_problems     label values: max 63, may be empty

The wording is kept identical to the API server's, so that searching for
a message finds the same answers as for kubectl.

Standard library only.
"""

import re

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
    "characters or '-', and must start and end with an alphanumeric character"
)
QUALIFIED_NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def dns_subdomain_problems(value: str) -> list[str]:
    problems = ["must be no more than 253 characters"] if len(value) > 253 else []
    if not _DNS_SUBDOMAIN.match(value):
        problems.append(SUBDOMAIN_RULE)
    return problems


def dns_label_problems(value: str) -> list[str]:
    problems = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _DNS_LABEL.match(value):
        # A valid subdomain that is not a valid label can only be at fault
        # for its dots: say just that.
        problems.append("must not contain dots" if _DNS_SUBDOMAIN.match(value) else LABEL_RULE)
    return problems


def port_name_problems(value: str) -> list[str]:
    """An IANA service name (RFC 6335): at most 15 characters of a-z, 0-9
    and single inner hyphens, with at least one letter so that it cannot
    be mistaken for a port number."""
    problems = ["must be no more than 15 characters"] if len(value) > 15 else []
    if not re.match(r"^[-a-z0-9]+$", value):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", value):
        problems.append("must contain at least one letter (a-z)")
    if "--" in value:
        problems.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        problems.append("must not begin or end with a hyphen")
    return problems


def qualified_name_problems(key: str) -> list[str]:
    """An optional DNS subdomain prefix and '/', then a name of up to 63
    characters, e.g. app.kubernetes.io/name or just app."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            f"a qualified name {QUALIFIED_NAME_RULE}, with an optional DNS "
            "subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    problems = []
    if len(parts) == 2:
        if not parts[0]:
            problems.append("prefix part must be non-empty")
        else:
            problems += ["prefix part " + p for p in dns_subdomain_problems(parts[0])]
    name = parts[-1]
    if not name:
        return problems + ["name part must be non-empty"]
    if len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    if not _QUALIFIED_NAME.match(name):
        problems.append("name part " + QUALIFIED_NAME_RULE)
    return problems


def label_value_problems(value: str) -> list[str]:
    problems = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _LABEL_VALUE.match(value):
        problems.append(f"a valid label must be an empty string or {QUALIFIED_NAME_RULE}")
    return problems
