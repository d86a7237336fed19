"""UI streams are paced: the first update at once, the last always, and Stop still reaches the model."""

import time

from ui.streaming import paced, throttled


def test_first_and_last_updates_pass_and_fast_ones_in_between_are_merged():
    def tokens():
        text = ""
        for word in ["a", "b", "c", "d", "e"]:
            text += word
            yield text

    assert list(throttled(tokens(), interval=10)) == ["a", "abcde"]
    assert list(throttled(tokens(), interval=0)) == ["a", "ab", "abc", "abcd", "abcde"]


def test_slow_updates_all_pass():
    def slow():
        for i in range(3):
            time.sleep(0.03)
            yield i

    assert list(throttled(slow(), interval=0.01)) == [0, 1, 2]


def test_closing_the_paced_stream_closes_the_model_stream():
    closed = []

    def model_stream():
        try:
            for i in range(1000):
                yield i
        finally:
            closed.append(True)

    @paced
    def handler():
        yield from model_stream()

    stream = handler()
    assert next(stream) == 0
    stream.close()  # what Gradio does when the user presses Stop
    assert closed == [True]
