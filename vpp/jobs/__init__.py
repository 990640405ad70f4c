"""Scheduled work: the day-ahead pipeline, the dispatch outbox and the APScheduler wiring.

``pipeline`` advances each park's delivery days through their stages and records every step;
``outbox`` delivers setpoints until devices confirm them; ``alerts`` tells people when a deadline
is at risk or a device stays silent; ``scheduler`` runs all of it on APScheduler with its job
store in the service database.
"""
