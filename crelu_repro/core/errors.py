"""User-facing errors: the entry points print their message alone (no traceback) and exit non-zero.

Every exit status the project's commands use is named here (README "What survives a crash" says when): 0 done,
FAILED some of the work failed (the rest is written), USAGE a problem the user can fix (CreluError), 3 a
diverged run, 4 a write that failed, 75 a run directory in use, INTERRUPTED a second Ctrl-C, 143 SIGTERM.
"""

FAILED = 1  # a sweep with failed runs, a figure that could not be drawn: what could be done is written
USAGE = 2  # a bad config, missing or malformed data: one line says what to do
INTERRUPTED = 130  # 128 + SIGINT: a second Ctrl-C, no checkpoint waited for (every file is still whole)


class CreluError(Exception):
    """A problem the user can fix (bad config, missing or malformed data, a diverged run)."""

    exit_code = USAGE


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


class RunDirBusy(CreluError):
    """Another live process trains into this run directory."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class Preempted(CreluError):
    """SIGTERM (what SLURM sends before a time limit): the state was checkpointed; rerun to resume."""

    exit_code = 143
