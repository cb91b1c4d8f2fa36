"""Incident analyses (hendelsesanalyse) after the IS-0583 guide: the use cases."""
