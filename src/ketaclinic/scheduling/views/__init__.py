"""The scheduling pages, one module per audience: ``booking`` (public online booking), ``portal``
(the patient's own appointments and the emailed links), ``desk`` (front desk bookings), ``admin``
(clinic admin setup) and ``schedule`` (the staff schedule and induction series)."""
