"""Training a run: where it executes (session), what it trains with (build), where it is (state), its
checkpoint and its directory, and the one trainer (`trainer.train(cfg)`)."""
