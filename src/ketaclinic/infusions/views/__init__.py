"""The infusion pages, one module a page group: ``board`` (the chair board and the check-in from
it), ``chart`` (a session's chart and a patient's list of sessions) and ``actions`` (every form
posted from the chart, dispatched through one table), sharing ``common``. Thin views: parse,
authorize (role gate plus the session's access helper), call one service or selector, render."""
