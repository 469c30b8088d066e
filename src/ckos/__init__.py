"""ckos: the OpenStack (Glance) backend of Cloudkeeper."""

__version__ = "0.1.0"
