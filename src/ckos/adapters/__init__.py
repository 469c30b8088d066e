"""Adapters: the outside world (Glance, files, HTTP, the mapping file) behind the domain's ports."""
