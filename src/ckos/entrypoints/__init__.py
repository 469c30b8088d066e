"""The ways in: the gRPC server the Cloudkeeper core talks to, and the command line."""
