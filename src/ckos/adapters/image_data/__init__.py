"""Reading the file the core offers: a local path on a shared disk, or an HTTP download."""
