"""The Data Catalog domain: databases, tables and versions, partitions, connections, UDFs."""
