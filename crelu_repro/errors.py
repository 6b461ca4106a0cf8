"""User-facing errors: the entry points print their message alone (no traceback) and exit non-zero."""


class CreluError(Exception):
    """A problem the user can fix (bad config, missing or malformed data, a diverged run)."""

    exit_code = 2


class ConfigError(CreluError):
    """An invalid combination of configuration values."""


class DatasetError(CreluError):
    """Dataset files are missing, malformed or cannot be downloaded."""


class SymlinkError(CreluError):
    """A symbolic link where the project writes (or reads) one of its own files or folders: following it
    would write outside the folder it belongs to, so it is refused, naming the link."""


class StorageError(CreluError):
    """A file could not be written (disk full, quota, permissions); the previous version is intact."""

    exit_code = 4


class TrainingError(CreluError):
    """Training cannot go on (for example a non-finite loss); the last good checkpoint is kept."""

    exit_code = 3


class Preempted(CreluError):
    """SIGTERM (what SLURM sends before a time limit): the state was checkpointed; rerun to resume."""

    exit_code = 143
