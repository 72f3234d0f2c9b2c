"""Background job of the progress letters, run by ``ketaclinic worker``.

It wraps ``letters.generation``; ``letters.services`` enqueues it by name
(``lib.tasks.LETTER_GENERATE``) and imports nothing from here.
"""

from __future__ import annotations

from django_tasks import task

from ketaclinic.outcomes.letters.generation import letter_generate_now


@task()
def letter_generate(letter_id: int) -> str:
    """Draw one progress letter as a PDF."""
    return str(letter_generate_now(letter_id=letter_id))
