"""Code generation: Glue-style ETL scripts from a dataflow graph or a column mapping, and the
graph back from a script (parsed, never run). See dag.py for the node kinds."""
