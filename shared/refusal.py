"""A refusal: a command that must change nothing, with a kind and the words why.

Each service's domain subclasses it once per rule it names; the HTTP edge turns it
into a problem body with `status`, Kafka intake into a CommandRejected event.
"""


class Refusal(Exception):
    kind = "refused"
    status = 422

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
