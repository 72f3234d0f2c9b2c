"""Authorization-matrix rows of the accounts app's own routes (merged into
tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator

from tests.authz import AUTH_SIGNED_IN, DENY, GONE, LOGIN, OK, PUBLIC, REDIRECT


def _not_a_security_key(world: Any) -> dict[str, Any]:
    # The physician's authenticator app: not a security key, so no one's key page.
    found = Authenticator.objects.get(user=world.physician, type=Authenticator.Type.TOTP)
    return {"pk": found.pk}


# allauth's second-factor pages (issue 15 item 1). Staff personas are enrolled in the
# authenticator app (tests/factories/accounts.py); patients are not. Adding or changing a factor
# first asks for the password again (a redirect to /accounts/reauthenticate/); pages about an
# app or codes someone does not have are not found.
_ASKS_PASSWORD_FIRST = (LOGIN,) + (REDIRECT,) * 7
_ENROLLED_ONLY = (LOGIN, DENY, DENY) + (REDIRECT,) * 5
MFA_ENTRIES: dict[str, Any] = {
    "mfa_index": (AUTH_SIGNED_IN, None),
    # Only in the middle of a sign-in; a signed-in user is sent home.
    "mfa_authenticate": (_ASKS_PASSWORD_FIRST, None),
    "mfa_reauthenticate": ((LOGIN, REDIRECT, REDIRECT, OK, OK, OK, OK, OK), None),
    "mfa_activate_totp": (_ASKS_PASSWORD_FIRST, None),
    "mfa_deactivate_totp": (_ENROLLED_ONLY, None),
    "mfa_view_recovery_codes": (_ENROLLED_ONLY, None),
    "mfa_download_recovery_codes": (_ENROLLED_ONLY, None),
    "mfa_generate_recovery_codes": (_ASKS_PASSWORD_FIRST, None),
    "mfa_list_webauthn": (AUTH_SIGNED_IN, None),
    "mfa_add_webauthn": (_ASKS_PASSWORD_FIRST, None),
    "mfa_reauthenticate_webauthn": (_ASKS_PASSWORD_FIRST, None),
    # The password comes first here too, before allauth looks the key up (and finds none).
    "mfa_remove_webauthn": (_ASKS_PASSWORD_FIRST, _not_a_security_key),
    "mfa_edit_webauthn": (_ASKS_PASSWORD_FIRST, _not_a_security_key),
}

ENTRIES: dict[str, Any] = {
    **MFA_ENTRIES,
    # The page script's remaining-time check answers everyone in JSON: a visitor learns they are
    # signed out, never anything about anyone else.
    "accounts:session_status": (PUBLIC, None),
    # "Stay signed in" is a POST only.
    "accounts:session_stay": ((GONE,) * 8, None),
}
