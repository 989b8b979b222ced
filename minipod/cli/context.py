"""What every command of the `minipod` CLI shares: its context (the
instance and a client of its daemon), the decorator that passes it, and the
-n/--namespace option.

Its own module so that the modules of commands (commands.py, pod_commands.py)
import it without importing each other.
"""

import click

from minipod.cli.client import Client
from minipod.paths import instance


class Ctx:
    current: "Ctx | None" = None  # this command's, for error messages after click is done

    def __init__(self, root: str | None):
        self.inst = instance(root)
        self.client = Client(self.inst)
        Ctx.current = self


pass_ctx = click.make_pass_decorator(Ctx)
namespace_opt = click.option(
    "-n", "--namespace", default="default", show_default=True, help="The namespace of the pods."
)
