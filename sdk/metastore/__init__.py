"""A Hive metastore (Thrift) door onto the Sluice catalog API.

Needs the `metastore` extra (thrift and hmsclient's generated Hive 2.3 bindings); the rest of the
SDK never imports this package.
"""
