"""Domain errors: each carries a message fit to show the user who caused it."""


class DomainError(Exception):
    """Something the user asked for can't be done; ``str(err)`` says why, politely."""


class TransitionError(DomainError):
    """A ticket can't move that way from where it is."""


class NotAllowed(DomainError):
    """The user may not do this (not a pod member, not the reporter…)."""


class NotFound(DomainError):
    """The ticket (or follow-up) named does not exist."""
