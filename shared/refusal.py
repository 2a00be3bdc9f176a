"""A refusal: a command that must change nothing, with a kind and the words why.

Each service's domain subclasses it once per rule it names. `kind` is the rule's own
name (published: the problem type over HTTP, `refusal` in CommandRejected);
`category` says what sort of refusal it is, and each edge maps the category once:
the HTTP edge to a status (shared/command_routes.py `STATUS`), Kafka intake to a
CommandRejected event.
"""
from typing import Literal

Category = Literal["not-found", "conflict", "rule", "forbidden", "too-large"]


class Refusal(Exception):
    kind = "refused"
    category: Category = "rule"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
