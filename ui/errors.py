"""The one place where FinTune's user-facing errors become Gradio errors."""

from __future__ import annotations

import functools
import inspect

import gradio as gr

from fintune.errors import FinTuneError


def user_errors(fn):
    """Show FinTuneError messages in the browser as gr.Error (no traceback); works for generators too."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except FinTuneError as exc:
                raise gr.Error(str(exc)) from exc

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FinTuneError as exc:
            raise gr.Error(str(exc)) from exc

    return wrapper
