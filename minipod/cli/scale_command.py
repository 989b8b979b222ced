"""`minipod scale KIND NAME --replicas N`, as `kubectl scale`: a merge patch
of the object's `scale` subresource (Deployments, ReplicaSets), which the
controllers then act on. `--current-replicas` is kubectl's precondition:
the scale happens only if the object has that many replicas now.
"""

import click

from minipod.cli.context import Ctx, namespace_opt, pass_ctx
from minipod.errors import MinipodError


@click.command()
@click.argument("kind")
@click.argument("name")
@click.option("--replicas", type=click.IntRange(min=0), required=True, help="The new number of replicas.")
@click.option("--current-replicas", type=int, default=None, help="Only if it has this many replicas now.")
@namespace_opt
@pass_ctx
def scale(c: Ctx, kind, name, replicas, current_replicas, namespace):
    """Set the number of replicas of a Deployment or ReplicaSet."""
    from minipod.cli import object_commands

    res = object_commands.resolve(kind)
    if "scale" not in res.subresources:
        raise MinipodError(
            f"{res.plural}: cannot be scaled: it has no scale subresource",
            hint="deployments and replicasets can be scaled",
        )
    path = res.path(namespace, name) + "/scale"
    body: dict = {"spec": {"replicas": replicas}}
    if current_replicas is not None:
        now = c.client.json("GET", path)
        if now["spec"].get("replicas") != current_replicas:
            raise MinipodError(
                f"Expected replicas to be {current_replicas}, was {now['spec'].get('replicas')}",
                hint="--current-replicas is a precondition; leave it out to scale anyway",
            )
        body["metadata"] = {"resourceVersion": now["metadata"]["resourceVersion"]}
    c.client.json("PATCH", path, body, content_type="application/merge-patch+json")
    click.echo(f"{object_commands.printed_name(res, name)} scaled")
