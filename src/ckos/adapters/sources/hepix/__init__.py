"""HEPiX image lists (AppDB): S/MIME verification, the core's digests, list -> snapshot."""
