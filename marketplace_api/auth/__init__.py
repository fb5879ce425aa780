"""Sign-In with Ethereum (EIP-4361) for the marketplace API: nonces, sessions, bearer tokens.

A wallet asks for a challenge (``GET /auth/nonce``), signs the EIP-4361 message built from it and
posts it (``POST /auth/verify``); the service verifies it with the ``siwe`` library and answers a
bearer token for ``Authorization: Bearer``. The session remembers the signer's public key,
recovered from the signature, so paid content keys can be wrapped to it.

Public surface::

    SignInService, SignInPolicy, Origin     # the server side (routes call it)
    SignedInUser, IssuedSession, Challenge  # what it hands back
    sign_challenge, build_message           # the client side: build and sign the message
    UnauthorizedError, SignInRefusedError   # both answered 401
    create_tables                           # the sign-in tables, created at start-up
"""

from marketplace_api.auth.errors import SignInRefusedError, UnauthorizedError
from marketplace_api.auth.messages import (
    MAX_MESSAGE_CHARS,
    build_message,
    parse_message,
    sign_challenge,
)
from marketplace_api.auth.service import (
    TOKEN_PREFIX,
    Challenge,
    IssuedSession,
    Origin,
    SignedInUser,
    SignInPolicy,
    SignInService,
    token_digest,
)
from marketplace_api.auth.tables import create_tables

__all__ = [
    "MAX_MESSAGE_CHARS",
    "TOKEN_PREFIX",
    "Challenge",
    "IssuedSession",
    "Origin",
    "SignInPolicy",
    "SignInRefusedError",
    "SignInService",
    "SignedInUser",
    "UnauthorizedError",
    "build_message",
    "create_tables",
    "parse_message",
    "sign_challenge",
    "token_digest",
]
