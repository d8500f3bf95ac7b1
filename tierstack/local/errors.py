"""The one error every part of the local target raises for something the user can fix."""


class TargetError(RuntimeError):
    """The local target could not be brought up or checked; the message says what to fix."""
