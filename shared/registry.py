"""Event types as versioned pydantic models, upcasters, and JSON Schema export.

An event payload model declares `event_type` and `version`. Old versions stay
registered (their schema stays exportable); upcasters lift a stored payload from
version n to n+1 until it reaches the current model. Unknown types or versions are
errors, never silent drops.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
E = TypeVar("E", bound="DomainEvent")


class DomainEvent(BaseModel):
    """Base of every event payload. Subclasses set `event_type` and `version`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_type: ClassVar[str]
    version: ClassVar[int] = 1


class UnknownEventType(LookupError):
    pass


class UnknownSchemaVersion(LookupError):
    pass


class InvalidPayload(ValueError):
    def __init__(self, event_type: str, version: int, error: ValidationError):
        super().__init__(f"{event_type} v{version} payload is invalid: "
                         f"{error.error_count()} error(s): {_summarise(error)}")
        self.errors = error.errors(include_url=False, include_input=False)


def _summarise(error: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
             for e in error.errors(include_url=False)[:5]]
    return "; ".join(parts)


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[DomainEvent]] = {}
        self._latest: dict[str, int] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: type[E]) -> type[E]:
        key = (model.event_type, model.version)
        if key in self._models:
            raise ValueError(f"{model.event_type} v{model.version} registered twice")
        self._models[key] = model
        self._latest[model.event_type] = max(self._latest.get(model.event_type, 0),
                                             model.version)
        return model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function lifting a payload from `from_version` to the next."""
        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn
        return decorate

    def knows(self, event_type: str) -> bool:
        return event_type in self._latest

    def latest_model(self, event_type: str) -> type[DomainEvent] | None:
        """The model a decoded event of this type has (after upcasting); None if unknown."""
        version = self._latest.get(event_type)
        return None if version is None else self._models[(event_type, version)]

    def latest_version(self, event_type: str) -> int:
        if event_type not in self._latest:
            raise UnknownEventType(f"unknown event type {event_type!r}")
        return self._latest[event_type]

    def decode(self, event_type: str, version: int, payload: dict[str, Any]) -> DomainEvent:
        """Validate a stored payload at its version, upcast it, return the current model."""
        latest = self.latest_version(event_type)
        if version > latest or (event_type, version) not in self._models:
            raise UnknownSchemaVersion(
                f"{event_type} v{version} is not known (known up to v{latest})")
        stored = self._validate(event_type, version, payload)
        if version == latest:
            return stored  # the current model already: validated once
        while version < latest:
            lift = self._upcasters.get((event_type, version))
            if lift is None:
                raise UnknownSchemaVersion(f"no upcaster for {event_type} v{version}")
            payload, version = lift(dict(payload)), version + 1
        return self._validate(event_type, version, payload)

    def _validate(self, event_type: str, version: int, payload: dict[str, Any]) -> DomainEvent:
        try:
            return self._models[(event_type, version)].model_validate(payload)
        except ValidationError as error:
            raise InvalidPayload(event_type, version, error) from error

    def json_schemas(self) -> dict[str, dict[str, Any]]:
        """JSON Schema of every registered version, keyed `<type>.v<version>`."""
        return {f"{t}.v{v}": m.model_json_schema()
                for (t, v), m in sorted(self._models.items())}

    def merged(self, *others: "EventRegistry") -> "EventRegistry":
        out = EventRegistry()
        for reg in (self, *others):
            for model in reg._models.values():
                out.register(model)
            out._upcasters.update(reg._upcasters)
        return out
