"""The standard-library helpers of scripts/devcloud (it runs Keystone and Glance locally).

Everything here runs in devcloud's own interpreter, which need not be the OpenStack venv:
only the standard library is used. The OpenStack tools run as child processes.
"""
