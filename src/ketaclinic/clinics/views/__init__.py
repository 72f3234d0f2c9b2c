"""Clinic settings pages, one module per page group: ``safety`` (the settings hub, the safety
settings, their history and the proposed changes a second physician decides on, gate 9),
``locations`` (locations and chairs), ``staff`` (the team, invitations and the join page) and
``protocols`` (protocol templates) and ``brand`` (the clinic's name, logo and colour, with the
public logo and stylesheet), sharing ``common``.

Thin views: parse, authorize, call a service or selector, render. Every page is gated to clinic
admins (404 for anyone else; the services check again), except the proposals, which physicians
see and decide on, the invitee's join page, and the brand's logo and stylesheet (public).
"""
