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


class UnipenError(ValueError):
    """The text is not a set of digits in the UNIPEN format."""


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
            current = _read_line(line, current, digits)
        except UnipenError as exc:
            raise UnipenError(f"line {number}: {exc}") from None
    if current is not None:
        digits.append(current.finish())
    return digits


class _Digit:
    """A digit being read: its label, writer and strokes so far."""

    def __init__(self, label: int) -> None:
        self.label = label
        self.writer: int | None = None
        self.strokes: list[list[tuple[int, int]]] = []
        self.pen_down = False
        self.points = 0

    def finish(self) -> PenDigit:
        if self.writer is None:
            raise UnipenError(f"the digit labelled {self.label} has no .COMMENT with its writer")
        strokes = tuple(np.array(s, dtype=np.float32) for s in self.strokes if s)
        if not strokes:
            raise UnipenError(f"the digit labelled {self.label} has no points")
        return PenDigit(label=self.label, writer=self.writer, strokes=strokes)


def _read_line(line: str, current: "_Digit | None", digits: list[PenDigit]) -> "_Digit | None":
    """Apply one non-empty line; returns the digit being read afterwards."""
    if line.startswith(".SEGMENT"):
        match = _SEGMENT.match(line)
        if match is None:
            raise UnipenError('a .SEGMENT that is not `.SEGMENT DIGIT ... "<label>"`')
        if current is not None:
            digits.append(current.finish())
        return _Digit(_label(match["label"]))
    if line.startswith("."):
        if current is not None:
            _read_keyword(line, current)
        return current
    if current is None or not current.pen_down:
        raise UnipenError("coordinates outside a .PEN_DOWN ... .PEN_UP stroke")
    current.strokes[-1].append(_point(line))
    current.points += 1
    if current.points > MAX_POINTS_PER_DIGIT:
        raise UnipenError(f"a digit with more than {MAX_POINTS_PER_DIGIT} points")
    return current


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
        digit.strokes.append([])
    elif keyword == ".PEN_UP":
        if not digit.pen_down:
            raise UnipenError(".PEN_UP without a .PEN_DOWN")
        digit.pen_down = False


def _label(text: str) -> int:
    if len(text) != 1 or text not in "0123456789":
        raise UnipenError(f"the label {text!r} is not a digit 0-9")
    return int(text)


def _point(line: str) -> tuple[int, int]:
    values = line.split()
    if len(values) != 2 or not all(_WHOLE.fullmatch(v) for v in values):
        raise UnipenError(f"{line!r} is not two whole numbers `x y`")
    return int(values[0]), int(values[1])
