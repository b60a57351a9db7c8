"""Job bookmarks (Glue's): per job, what its runs' sources have processed."""
