"""Click callbacks that check options when they are parsed, before a command does any work.

``--out`` folders and files must be writable now, not after an hour of training: a
file-valued, blocked or read-only destination is refused with a one-line message naming the
option.
"""

from __future__ import annotations

import click


def writable_dir(ctx: click.Context, param: click.Parameter, value):
    """``callback=`` for an output-folder option: create it if needed and check it is
    writable (:func:`neurodecode._files.check_writable_dir`)."""
    if value is None:
        return value
    from neurodecode._files import check_writable_dir
    from neurodecode.errors import DataError

    try:
        check_writable_dir(value, param.opts[0])
    except DataError as err:
        raise click.BadParameter(str(err), ctx, param) from None
    return value


def writable_file(ctx: click.Context, param: click.Parameter, value):
    """``callback=`` for an output-file option: its folder must be writable."""
    if value is None:
        return value
    from neurodecode._files import check_writable_file
    from neurodecode.errors import DataError

    try:
        check_writable_file(value, param.opts[0])
    except DataError as err:
        raise click.BadParameter(str(err), ctx, param) from None
    return value
