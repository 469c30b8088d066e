"""The Communicator gRPC service: generated messages, wire mapping, servicer and server."""
