"""What every stage shares, and imports nothing of the project: the errors and exit codes, where runs go
(paths), the config schema and result.json's schema, files written atomically and JSON read with bounds,
the folders named on a command line, fault injection, and the torchrun process group."""
