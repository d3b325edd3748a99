"""Small domain exceptions. The CLI turns each into one clear message (exit code 1)."""


class QcodeError(Exception):
    """Base class: the message says what is wrong, where, and what to do."""


class IngestError(QcodeError):
    """A document could not be read. Names the file."""

    def __init__(self, path, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class CodebookError(QcodeError):
    """The codebook is invalid. Holds every problem found, each with file, line and code id."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid codebook:\n  " + "\n  ".join(problems))


class ManifestError(QcodeError):
    """The corpus manifest is invalid."""


class ModelError(QcodeError):
    """A saved model cannot be used (missing, or trained for another codebook)."""


class BuildLockedError(QcodeError):
    """Another build is running on the same database."""
