"""Glance: how an appliance is written into an image record, and read back from it."""
