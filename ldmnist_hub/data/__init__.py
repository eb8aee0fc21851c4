"""Raw sources: the source table, the strict IDX reader, local folders and verified mirror downloads."""
