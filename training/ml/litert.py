"""The compiled (LiteRT) model for one image at a time. No Django: the site's
web processes use it (recognizer/predictor.py), and so do the benchmark's
other servers, so that all of them run the same model the same way."""

import threading

import numpy as np


class SingleImageRunner:
    """The compiled (LiteRT) model, for one image at a time, on the calling
    thread: a fraction of what the traced TensorFlow function takes in a web
    request, most of which is waking TensorFlow's own threads
    (docs/benchmarks.md). An
    interpreter is not thread-safe, so each thread gets its own."""

    def __init__(self, flatbuffer: bytes) -> None:
        self._flatbuffer = flatbuffer
        self._local = threading.local()
        self(np.zeros((1, 28, 28), dtype=np.float32))  # fail here, not on a request

    def __call__(self, images: np.ndarray) -> np.ndarray:
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            interpreter = self._local.interpreter = self._new_interpreter()
        input_index, output_index = self._local.indexes
        interpreter.set_tensor(input_index, images[..., None].astype(np.float32, copy=False))
        interpreter.invoke()
        return interpreter.get_tensor(output_index).copy()

    def _new_interpreter(self):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_content=self._flatbuffer, num_threads=1)
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [1, 28, 28, 1])
        interpreter.allocate_tensors()
        self._local.indexes = (
            interpreter.get_input_details()[0]["index"],
            interpreter.get_output_details()[0]["index"],
        )
        return interpreter
