"""What generated code may use from the scaffold: ToolError, Context and the `http` helper.

Rendered by clawc for notes; do not edit.
"""


class ToolError(Exception):
    """Raise with a message for the agent: the call fails as a tool error with that text."""


class Context:
    """What every tool function receives besides its arguments.

    config: the integration's configuration object (a dict, schema defaults filled in).
    tool:   the name of the tool being called.
    """

    __slots__ = ("config", "tool")

    def __init__(self, config, tool):
        self.config = config
        self.tool = tool


from . import http  # noqa: E402,F401  (re-exported: `from clawc import http`)
