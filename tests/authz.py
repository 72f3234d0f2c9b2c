"""Authorization-matrix vocabulary: expected answers per persona, in PERSONAS order."""

OK, LOGIN, DENY, REDIRECT, GONE = 200, "login", 404, 302, 405
# A dependency's route for a feature the settings turn off: allauth answers PermissionDenied.
OFF = 403

# Private pages: anonymous -> log-in page. Order of columns is PERSONAS.
#               anon   alice  bob    desk   nurse  phys   admin  other_phys
STAFF_PAGE = (LOGIN, DENY, DENY, OK, OK, OK, OK, OK)
REGISTRAR_PAGE = (LOGIN, DENY, DENY, OK, DENY, OK, OK, OK)
ADMIN_PAGE = (LOGIN, DENY, DENY, DENY, DENY, DENY, OK, DENY)
PATIENT_PAGE = (LOGIN, OK, OK, DENY, DENY, DENY, DENY, DENY)
ANY_SIGNED_IN = (LOGIN, OK, OK, OK, OK, OK, OK, OK)
PUBLIC = (OK,) * 8
# A record of our clinic: other clinics' staff get a 404 like any stranger.
OUR_PATIENT_STAFF = (LOGIN, DENY, DENY, OK, OK, OK, OK, DENY)
OUR_PATIENT_REGISTRAR = (LOGIN, DENY, DENY, OK, DENY, OK, OK, DENY)
# allauth's own pages: public forms for visitors; signed-in users are sent on.
AUTH_FORM = (OK, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT)
AUTH_PUBLIC = PUBLIC
AUTH_SIGNED_IN = (LOGIN, OK, OK, OK, OK, OK, OK, OK)
AUTH_SIGNED_IN_OFF = (LOGIN,) + (OFF,) * 7
