"""Payload validation with pydantic: declare the payload, receive it checked.

The guide validates one event with a Joi schema inside that event's handler, and
answers any problem with a bare "Invalid message format". Here a handler declares
its payload by annotating the parameter with a pydantic model, and one event
middleware checks every such handler before it runs::

    class SendMessage(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        roomId: str = Field(min_length=1, max_length=64)
        message: str = Field(min_length=1, max_length=500)

    server.use_event(PayloadValidator(server))

    @server.on("send-message")
    async def send_message(socket: Socket, data: SendMessage) -> None:
        ...                              # data is a SendMessage; never a bad payload

An invalid payload never reaches the handler. The client gets the refusal (an
``error`` event, or the ack's error when it asked for an ack) naming the first
problem, and the list of all of them::

    {"message": "message: String should have at most 500 characters",
     "event": "send-message", "field": "message", "rule": "string_too_long",
     "errors": [{"field": "message", "rule": "string_too_long", "message": ...}]}

``field`` is the path inside the payload (``"roomId"``, ``"items.0.name"``), or the
parameter's name when the payload as a whole is wrong (``null``, a number, missing);
``rule`` is pydantic's error type. Lengths of strings are counted in code points, as
Python counts them: an emoji such as 😀 is one (JavaScript's ``length`` says two),
and one with a skin tone or a joiner is several. Use ``strict=True`` models: a lax one
turns ``"5"`` into ``5`` and ``True`` into ``1`` without telling anyone.

Models are found with :func:`typing.get_type_hints`, so define them at module level
(a model defined inside a function cannot be resolved from a string annotation).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .exceptions import EventRefusedError, UsageError
from .namespace import Namespace

if TYPE_CHECKING:
    from .namespace import Socket
    from .server import Server

__all__ = ["MAX_REPORTED_ERRORS", "PayloadValidator", "describe_errors", "payload_models"]

MAX_REPORTED_ERRORS = 10
"""At most this many problems are listed in a refusal's ``errors``."""


@dataclass(frozen=True)
class _Slot:
    index: int  # position among the event's arguments (after the socket)
    name: str
    model: type[BaseModel]


def payload_models(handler: Callable[..., Any]) -> list[tuple[int, str, type[BaseModel]]]:
    """The arguments of an event handler that are declared as pydantic models.

    Args:
        handler: ``(socket, *args)``.

    Returns:
        ``(index, parameter name, model)`` per declared argument, ``index`` counting
        from the first argument after the socket.

    Raises:
        UsageError: an annotation cannot be resolved (a model defined inside a
            function, under ``from __future__ import annotations``).
    """
    try:
        hints = typing.get_type_hints(handler)
    except NameError as exc:
        raise UsageError(
            f"cannot read the annotations of {handler!r} ({exc}); define its payload "
            "models at module level"
        ) from None
    except TypeError:
        return []  # not a function with annotations (a builtin, a partial...)
    try:
        parameters = list(inspect.signature(handler).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    found = []
    for index, parameter in enumerate(parameters):
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            break
        hint = hints.get(parameter.name)
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            found.append((index, parameter.name, hint))
    return found


def _field(location: tuple[int | str, ...], parameter: str) -> str:
    return ".".join(str(part) for part in location) if location else parameter


def describe_errors(error: ValidationError, parameter: str) -> list[dict[str, str]]:
    """pydantic's errors as the client sees them: ``{field, rule, message}`` each."""
    described = []
    for item in error.errors(include_url=False, include_input=False):
        field = _field(tuple(item["loc"]), parameter)
        described.append({"field": field, "rule": item["type"], "message": item["msg"]})
    return described


class PayloadValidator:
    """Event middleware that validates the model-annotated arguments of handlers.

    Args:
        where: the namespace whose handlers it looks up (a Server means ``"/"``).
    """

    def __init__(self, where: Server | Namespace) -> None:
        self.namespace = where if isinstance(where, Namespace) else where.of("/")
        self._plans: dict[Callable[..., Any], list[_Slot]] = {}

    def _plan(self, handler: Callable[..., Any]) -> list[_Slot]:
        plan = self._plans.get(handler)
        if plan is None:
            plan = [_Slot(*found) for found in payload_models(handler)]
            self._plans[handler] = plan
        return plan

    def __call__(self, socket: Socket, event: str, args: list[Any]) -> list[Any] | None:
        handler = self.namespace.handler_for(event)
        if handler is None:
            return None
        plan = self._plan(handler)
        if not plan:
            return None
        checked = list(args)
        for slot in plan:
            if slot.index >= len(checked):
                raise EventRefusedError(
                    f"{slot.name}: a payload is required",
                    field=slot.name,
                    rule="missing",
                    errors=[{"field": slot.name, "rule": "missing", "message": "Field required"}],
                )
            try:
                checked[slot.index] = slot.model.model_validate(checked[slot.index])
            except ValidationError as exc:
                errors = describe_errors(exc, slot.name)
                first = errors[0]
                raise EventRefusedError(
                    f"{first['field']}: {first['message']}",
                    field=first["field"],
                    rule=first["rule"],
                    errors=errors[:MAX_REPORTED_ERRORS],
                ) from None
        return checked
