"""MCP prompts: the workflows the tools are built for (`workflows`), served through the SDK's own
prompt support (`prompts/list`, `prompts/get`).

A prompt's arguments are checked before it is rendered; a bad one is a JSON-RPC invalid-params
error of one line naming what is valid (the SDK's own would be a set repr or "Error rendering
prompt"), and the server keeps serving. The text names only the tools this server registered,
and says which toolset a missing one needs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.prompts.base import Message, Prompt, PromptArgument, UserMessage
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import ConfigDict

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.prompts.workflows import WORKFLOWS, ContextCheck, Workflow
from k8s_multicluster_mcp.tools import all_tools
from k8s_multicluster_mcp.tools.base import ask

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

__all__ = ["WORKFLOWS", "WorkflowPrompt", "invalid", "register_prompts"]


def invalid(message: str) -> MCPError:
    """The error a client gets for a bad prompt request: invalid params, one line."""
    return MCPError(INVALID_PARAMS, message)


class WorkflowPrompt(Prompt):
    """A workflow as the SDK's `Prompt`: listed with its arguments, rendered by `render` below."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    workflow: Workflow
    registered: Callable[[], Collection[str]]
    """The names of the tools this server registered (asked at each render)."""
    check_context: ContextCheck

    async def render(self, arguments: dict[str, Any] | None, context: Context[Any, Any]) -> list[Message]:
        del context
        try:
            # Checking a context may re-read the kubeconfig files: then not on the event loop.
            text = await ask(
                self.workflow.render,
                arguments,
                self.registered(),
                {spec.name: spec.toolset for spec in all_tools()},
                self.check_context,
            )
        except UserError as exc:
            raise invalid(str(exc)) from exc
        return [UserMessage(text)]


def register_prompts(
    server: MCPServer[Any], registered: Callable[[], Collection[str]], check_context: ContextCheck
) -> list[str]:
    """Add every workflow to `server` as a prompt; returns their names."""
    for workflow in WORKFLOWS:
        server.add_prompt(
            WorkflowPrompt(
                name=workflow.name,
                title=workflow.title,
                description=workflow.description,
                arguments=[PromptArgument(name=a.name, description=a.description, required=a.required)
                           for a in workflow.arguments],
                fn=workflow.render,  # the SDK's model requires one; `render` above does the work
                context_kwarg=None,
                workflow=workflow,
                registered=registered,
                check_context=check_context,
            )
        )  # fmt: skip
    return [workflow.name for workflow in WORKFLOWS]
