"""Confirmation before destruction: a destructive call (what --disable-destructive removes, and
scaling to zero) from a client that can ask its user (form elicitation) first runs its server-side
dry run and asks the user, with what would change; only an accepted question lets it run.

The asking is the SDK's resolver flow (`Resolve` + `Elicit`), so it follows the negotiated
protocol: a standalone `elicitation/create` request mid-call before 2026-07-28, an
`InputRequiredResult` the client answers on its retry from then on (the dry run runs again on the
retry; a question worded differently, because the cluster changed, is asked again). The writes
layer knows nothing of this: `confirmed` wraps the bound tool.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.server.mcpserver.utilities.context_injection import find_context_parameter
from mcp_types import CallToolResult, TextContent
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from k8s_multicluster_mcp.common.errors import UserError
from k8s_multicluster_mcp.render.confirm import declined, question, refused
from k8s_multicluster_mcp.render.writes import WriteOutput
from k8s_multicluster_mcp.tools.base import ToolSpec
from k8s_multicluster_mcp.writes.writer import ObjectWriter

PARAMETER = "confirmation"
"""The wrapped tool's extra parameter, filled by the resolver (never in the input schema)."""
INPUT_REQUIRED_VERSION = "2026-07-28"
"""From this protocol version on, questions ride an `InputRequiredResult`: no back-channel needed."""

Decision = Literal["run", "ask", "refuse"]


class Confirm(BaseModel):
    """The form the user answers: accepting it (with the box left ticked) lets the call run."""

    confirm: bool = Field(
        default=True, title="Go ahead", description="Untick, or decline, to change nothing."
    )


@dataclass(frozen=True)
class Proceed:
    """The resolver's answer when no question is asked: run the call, or (`answer`) return this
    instead (the dry run failed, so nothing would change)."""

    answer: CallToolResult | None = None


def is_destructive(spec: ToolSpec, arguments: Mapping[str, Any]) -> bool:
    """Whether this call is one --disable-destructive forbids."""
    return spec.destructive or bool(spec.destructive_if and spec.destructive_if(arguments))


def decide(*, destructive: bool, dry_run: bool, can_ask: bool, required: bool) -> Decision:
    """Ask before a destructive call that changes something, when the client can ask; refuse it
    under --require-confirmation when the client cannot; otherwise run as before."""
    if not destructive or dry_run:
        return "run"
    if can_ask:
        return "ask"
    return "refuse" if required else "run"


def can_ask(ctx: Context[Any, Any]) -> bool:
    """The client declared form elicitation (a bare `elicitation: {}` counts) and this request can
    carry a question: a 2026-07-28 connection always can, an older one needs a back-channel
    (stateless HTTP and JSON-response HTTP have none)."""
    try:
        capabilities = ctx.client_capabilities
        version = ctx.protocol_version
        session = ctx.session
    except ValueError:  # a call made outside a request (in process): nobody to ask
        return False
    elicitation = capabilities.elicitation if capabilities is not None else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    return bool(version and is_version_at_least(version, INPUT_REQUIRED_VERSION)) or session.can_send_request


def confirmed(
    tool: Callable[..., Awaitable[CallToolResult]], spec: ToolSpec, writer: ObjectWriter, *, required: bool
) -> Callable[..., Awaitable[CallToolResult]]:
    """`tool` (bound, with its error wrapper) behind a confirmation: same name, arguments and input
    schema, plus the resolver-filled `confirmation` parameter."""
    signature = inspect.signature(tool, eval_str=True)
    context_kwarg = find_context_parameter(tool)
    previewable = "dry_run" in signature.parameters
    arguments = [name for name in signature.parameters if name != context_kwarg]

    def context_name(given: Mapping[str, Any]) -> str:
        try:
            return writer.reader.one(given.get("context"), spec.name).name
        except UserError as exc:
            raise ToolError(str(exc)) from exc

    async def ask(request_ctx: Context[Any, Any], **given: Any) -> Elicit[Confirm] | Proceed:
        decision = decide(
            destructive=is_destructive(spec, given),
            dry_run=bool(given.get("dry_run")),
            can_ask=can_ask(request_ctx),
            required=required,
        )
        if decision == "run":
            return Proceed()
        if decision == "refuse":
            raise ToolError(refused(spec.name, previewable=previewable))
        context = context_name(given)
        preview = None
        if previewable:
            extra = {context_kwarg: request_ctx} if context_kwarg else {}
            result = await tool(**{**given, **extra, "dry_run": True})
            if result.is_error:
                return Proceed(result)
            preview = WriteOutput.model_validate(result.structured_content)
        return Elicit(question(spec.title, given, context, preview), Confirm)

    ask.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("request_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)]
        + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in arguments]
    )
    ask.__annotations__ = {"request_ctx": Context}

    async def call(**given: Any) -> CallToolResult:
        outcome = given.pop(PARAMETER)
        # The call's Context, when the tool takes one (its progress), goes to the tool only.
        passed = {context_kwarg: given.pop(context_kwarg)} if context_kwarg in given else {}
        if isinstance(outcome, AcceptedElicitation):
            data = outcome.data
            if isinstance(data, Proceed) and data.answer is not None:
                return data.answer
            if not isinstance(data, Confirm) or data.confirm:
                return await tool(**given, **passed)
            action = "decline"
        else:
            action = outcome.action
        said = declined(spec.title, given, context_name(given), action)
        return CallToolResult(
            content=[TextContent(type="text", text=said)],
            structured_content={"done": False, "user_action": action, "message": said},
        )

    extra = inspect.Parameter(
        PARAMETER,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[ElicitationResult[Confirm], Resolve(ask)],
    )
    call.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])  # type: ignore[attr-defined]
    call.__annotations__ = {
        **{name: p.annotation for name, p in signature.parameters.items()},
        PARAMETER: extra.annotation,
        "return": signature.return_annotation,
        **({context_kwarg: Context} if context_kwarg else {}),
    }
    for attribute in ("__name__", "__qualname__", "__module__", "__doc__"):
        setattr(call, attribute, getattr(tool, attribute))
    return call
