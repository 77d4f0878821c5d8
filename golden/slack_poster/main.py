# The slack_poster integration's MCP server (stdio). Rendered by clawc from its python scaffold:
# this file and the clawc/ package are the trusted scaffold; generated/ is the model's code.
# Do not edit: `clawc build` re-renders it and `clawc verify` checks it against claw.lock.
import os
import sys

# Run with `python3 -I -B`: isolated mode does not put this folder on the path, so add it
# (and nothing else) here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clawc import mcp  # noqa: E402

if __name__ == "__main__":
    sys.exit(mcp.serve())
