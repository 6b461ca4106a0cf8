"""What a run is, before it trains: its config composed and checked (once), its identity and provenance,
the Hydra hooks that check before a folder is made, and a sweep's bookkeeping."""
