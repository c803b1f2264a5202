"""The UNIPEN text format of the UCI pen-drawn digits: pen trajectories with a
label and a writer per digit. No Django.

    .SEGMENT DIGIT    0 ? "8"      a digit starts; its label is the quoted text
    .COMMENT 8 12  224             label, writer id, sample number
    .PEN_DOWN                      a stroke starts
     267  333                      x y in tablet units; y grows UPWARD
    .PEN_UP                        the stroke ends
    .DT 100                        pen-up time; another .PEN_DOWN may follow

Other keywords (.INCLUDE, .LEXICON, .HIERARCHY, ...) say nothing about the
digits and are skipped. Anything malformed raises UnipenError naming the line.
"""

import re
from dataclasses import dataclass

import numpy as np

# A digit of the UCI set has at most a few hundred points; far more is not a
# digit, and is refused before it costs memory.
MAX_POINTS_PER_DIGIT = 10_000

_SEGMENT = re.compile(r'^\.SEGMENT\s+DIGIT\b.*"(?P<label>[^"]*)"\s*$')
_WHOLE = re.compile(r"-?[0-9]+")  # ASCII only: str.isdigit() also takes "²"
_WHOLE_NUMBERS = re.compile(r"-?[0-9]+(?: -?[0-9]+)*")


class UnipenError(ValueError):
    """The text is not a set of digits in the UNIPEN format."""


class _BadLine(UnipenError):
    """A malformed line found after its own number has passed."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number


@dataclass(frozen=True, eq=False)
class PenDigit:
    label: int
    writer: int
    # One (n, 2) float32 array of (x, y) per stroke, in tablet units as
    # recorded: y grows upward.
    strokes: tuple[np.ndarray, ...]


def parse_unipen(text: str) -> list[PenDigit]:
    """Every digit in `text`, in file order."""
    digits: list[PenDigit] = []
    current: _Digit | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            if line[0] != ".":
                if current is None or not current.pen_down:
                    raise UnipenError("coordinates outside a .PEN_DOWN ... .PEN_UP stroke")
                current.add_point(line, number)
            elif line.startswith(".SEGMENT"):
                if current is not None:
                    digits.append(current.finish())
                current = _Digit(_segment_label(line))
            elif current is not None:
                _read_keyword(line, current)
        except UnipenError as exc:
            at = exc.number if isinstance(exc, _BadLine) else number
            raise UnipenError(f"line {at}: {exc}") from None
    if current is not None:
        try:
            digits.append(current.finish())
        except _BadLine as exc:
            raise UnipenError(f"line {exc.number}: {exc}") from None
    return digits


class _Digit:
    """A digit being read: its label, writer and strokes so far. A stroke's
    lines are kept as text and converted in one go when it ends (a digit has
    dozens of points, the file hundreds of thousands)."""

    def __init__(self, label: int) -> None:
        self.label = label
        self.writer: int | None = None
        self.strokes: list[np.ndarray] = []
        self.lines: list[str] = []  # of the stroke being drawn
        self.first_line = 0  # its first line's number
        self.pen_down = False
        self.points = 0

    def add_point(self, line: str, number: int) -> None:
        if not self.lines:
            self.first_line = number
        self.lines.append(line)
        self.points += 1
        if self.points > MAX_POINTS_PER_DIGIT:
            raise UnipenError(f"a digit with more than {MAX_POINTS_PER_DIGIT} points")

    def end_stroke(self) -> None:
        if self.lines:
            self.strokes.append(_points(self.lines, self.first_line))
        self.lines = []

    def finish(self) -> PenDigit:
        self.end_stroke()
        if self.writer is None:
            raise UnipenError(f"the digit labelled {self.label} has no .COMMENT with its writer")
        if not self.strokes:
            raise UnipenError(f"the digit labelled {self.label} has no points")
        return PenDigit(label=self.label, writer=self.writer, strokes=tuple(self.strokes))


def _segment_label(line: str) -> int:
    match = _SEGMENT.match(line)
    if match is None:
        raise UnipenError('a .SEGMENT that is not `.SEGMENT DIGIT ... "<label>"`')
    return _label(match["label"])


def _points(lines: list[str], first_line: int) -> np.ndarray:
    """A stroke's `x y` lines -> (n, 2) float32; a bad one raises _BadLine."""
    values = " ".join(lines).split()
    if len(values) == 2 * len(lines) and _WHOLE_NUMBERS.fullmatch(" ".join(values)):
        return np.array(values, dtype=np.float32).reshape(-1, 2)
    for offset, line in enumerate(lines):
        parts = line.split()
        if len(parts) != 2 or not all(_WHOLE.fullmatch(v) for v in parts):
            raise _BadLine(first_line + offset, f"{line!r} is not two whole numbers `x y`")
    raise AssertionError("unreachable: some line must be malformed")


def _read_keyword(line: str, digit: _Digit) -> None:
    keyword, *values = line.split()
    if keyword == ".COMMENT":
        if len(values) < 2 or not all(_WHOLE.fullmatch(v) for v in values[:2]):
            raise UnipenError("a .COMMENT that is not `.COMMENT <label> <writer> ...`")
        if _label(values[0]) != digit.label:
            raise UnipenError(f".COMMENT says {values[0]}, its .SEGMENT says {digit.label}")
        digit.writer = int(values[1])
    elif keyword == ".PEN_DOWN":
        if digit.pen_down:
            raise UnipenError(".PEN_DOWN while the pen is already down")
        digit.pen_down = True
    elif keyword == ".PEN_UP":
        if not digit.pen_down:
            raise UnipenError(".PEN_UP without a .PEN_DOWN")
        digit.pen_down = False
        digit.end_stroke()


def _label(text: str) -> int:
    if len(text) != 1 or text not in "0123456789":
        raise UnipenError(f"the label {text!r} is not a digit 0-9")
    return int(text)
