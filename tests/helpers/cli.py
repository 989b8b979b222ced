"""Reading what the CLI prints.

names()              the pods `get pods -o name` lists, as a set of names
error_lines()        the lines of stderr that report an error
rows()               a printed table, by its first column
assert_user_error()  exit 1, an error line, no traceback
events_of()          a pod's lines of `minipod events`
"""


def names(mp, *args: str) -> set[str]:
    """The pod names `minipod get pods ARGS -o name` prints."""
    out = mp.run("get", "pods", *args, "-o", "name").stdout
    assert all(line.startswith("pod/") for line in out.splitlines()), out
    return {line[len("pod/") :] for line in out.splitlines()}


def error_lines(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("error:") or line.startswith("Error from server")
    ]


def rows(table: str) -> dict[str, list[str]]:
    """A printed table as {first column: the row's columns}, header excluded."""
    lines = table.splitlines()
    return {line.split()[0]: line.split() for line in lines[1:] if line.strip()}


def assert_user_error(p, *expected: str) -> None:
    """Exit code 1, an error line saying each of `expected`, no traceback."""
    assert p.returncode == 1, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    assert "Traceback" not in p.stderr + p.stdout, p.stderr
    assert error_lines(p.stderr), f"no error: line in stderr:\n{p.stderr}"
    for text in expected:
        assert text in p.stderr, f"{text!r} not in stderr:\n{p.stderr}"


def events_of(mp, name: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of each line `minipod events` prints for the pod."""
    out = []
    for line in mp.run("events").stdout.splitlines()[1:]:
        cols = line.split(None, 4)  # LAST SEEN, TYPE, REASON, OBJECT, MESSAGE
        if len(cols) == 5 and cols[3] == f"pod/{name}":
            out.append((cols[1], cols[2], cols[4]))
    return out
