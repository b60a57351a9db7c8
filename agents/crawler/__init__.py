"""The crawl engine: list a target, sample its files, infer schemas and partitions, group them
into tables (formats, engine, jdbc), and write them to the catalog through the public API as
the crawler's role (writer, worker). Pure Python over pyarrow: testable without Ray or a server."""
