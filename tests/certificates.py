"""Self-signed X.509 certificates for tests: the package's (tierstack/mocks/certificates.py)."""

from tierstack.mocks.certificates import self_signed

__all__ = ["self_signed"]
