"""Warnings that point at the caller's line, not at entembed's internals.

A hand-counted ``stacklevel`` breaks whenever a call path gains or loses a frame
(Python 3.12 inlines list comprehensions, for one). :func:`warn` walks the stack
to the first frame outside the package instead, as pandas' ``find_stack_level``
does.
"""

from __future__ import annotations

import inspect
import os
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# scikit-learn wraps our transform and fit_transform (set_output): its frame
# between the user and entembed belongs to our method, not to the caller.
_WRAPPERS = (os.path.join("sklearn", "utils", "_set_output.py"),)


def _is_ours(filename: str) -> bool:
    filename = os.path.abspath(filename)
    return filename.startswith(_PACKAGE_DIR + os.sep) or filename.endswith(_WRAPPERS)


def find_stack_level() -> int:
    """``stacklevel`` of the first frame outside entembed, for ``warnings.warn``."""
    frame = inspect.currentframe()
    level = 0
    try:
        while frame is not None:
            if not _is_ours(frame.f_code.co_filename):
                break
            frame = frame.f_back
            level += 1
    finally:
        del frame  # break the reference cycle through the frame
    # warnings.warn counts its caller as level 1; find_stack_level's own frame
    # was counted above and warn() is inside the package, so level is exact.
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the first caller outside entembed."""
    warnings.warn(message, category, stacklevel=find_stack_level())
