"""Inbound sync: webhook views, the booking importer, polling and the import actors."""
