"""Command-line tools: lexicon export, benchmarks, checks for agencies' training data."""
