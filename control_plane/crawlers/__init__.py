"""Crawlers and classifiers: their store, the crawls' records, and the runner that runs each
crawl in a worker process with the crawler role's scoped token."""
