"""The errors a user can fix: each message names the file or folder and the fix."""


class WorkbookError(Exception):
    """A problem in the user's input; the command line prints it without a traceback."""


class LayoutError(WorkbookError):
    """A data folder that matches no known layout."""


class LabelMismatchError(WorkbookError):
    """A file whose folder label disagrees with the label in its name."""


class DataProblemError(WorkbookError):
    """Strict mode found a problem in the data."""


class SplitError(WorkbookError):
    """The data cannot be split as asked (too few patients, a missing class)."""
