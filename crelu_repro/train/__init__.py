"""Training a run: where it executes (runtime), what it trains with (build), where it is (state), its
checkpoint and its directory, and the one trainer (`trainer.train(cfg)`)."""
