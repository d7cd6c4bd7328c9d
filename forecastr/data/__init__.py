"""Reading and writing data: sources (files, .gz, stdin, Parquet), CSV parsing, time
columns and the time grid, what a frequency implies, the panel every stage works on,
partial reading for chunks and shards, future times and values, and atomic writes."""
