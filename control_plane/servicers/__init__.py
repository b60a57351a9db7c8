"""gRPC servicers: thin adapters from the API to the stores."""
