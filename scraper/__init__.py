"""Finding, fetching and reading SEND inspection letters (scrape, extract, parse)."""
