"""What a client sends -> the 28x28 image the model sees. No Django here.

One path, walked once, in the order of these modules:

- `containers`: a batch upload (JSON list, .npy/.npz array, ZIP of PNGs) ->
  its items, one at a time; the container is checked and counted up front.
- `inputs`: one item or one prediction request (image bytes, base64, a data
  URL or a 28x28 pixel array) -> a `DigitInput`: the 28x28 and what to store.
- `decoding`: bytes -> a decoded Pillow image, bounded by `ImageLimits`.
- `mnist`: the decoded image -> its ink -> the MNIST-style 28x28.
- `shown`: what a person sees of an upload (kept copies, admin thumbnails).

Errors are `decoding.PreprocessingError` (one item or one request) and
`containers.BatchInputError` (the whole batch), each with a machine-readable
code that the API turns into a 400.
"""
