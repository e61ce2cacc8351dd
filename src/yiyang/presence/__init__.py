"""Presence: an elder away or back, said in the app (the elder, their family, staff), and
planned absences ("at my daughter's until Sunday"). The alarm engine hears of them as ``away`` /
``home`` messages of the app (``pipeline/transports/app.py``), so the silence rules hold while
the elder is out and "not back as planned" becomes a check-in (docs/adr/0014 §3)."""
