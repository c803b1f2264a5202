"""The UNIPEN reader: labels, writers, strokes as recorded, and refusals that
name the line."""

import numpy as np
import pytest

from training.ml.unipen import MAX_POINTS_PER_DIGIT, UnipenError, parse_unipen

TWO_DIGITS = """\
.INCLUDE        dene.doc

.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"
.HIERARCHY      DIGIT

.SEGMENT DIGIT    0 ? "7"
.COMMENT 7 12  224
.PEN_DOWN
 100  400
 300  400
 150  100
.PEN_UP
.DT 100
.PEN_DOWN
 120  250
 260  250
.PEN_UP
.DT 0

.SEGMENT DIGIT    1 ? "1"
.COMMENT 1 3  225
.PEN_DOWN
 250  420
 250   80
.PEN_UP
"""


def test_digits_come_with_label_writer_and_strokes_in_file_order():
    seven, one = parse_unipen(TWO_DIGITS)

    assert (seven.label, seven.writer, len(seven.strokes)) == (7, 12, 2)
    assert (one.label, one.writer, len(one.strokes)) == (1, 3, 1)
    assert seven.strokes[1].tolist() == [[120, 250], [260, 250]]


def test_coordinates_are_kept_as_recorded_with_y_growing_upward():
    seven, _ = parse_unipen(TWO_DIGITS)

    bar, stem_end = seven.strokes[0][0], seven.strokes[0][-1]
    assert bar.tolist() == [100, 400]  # the top of a 7: the larger y
    assert stem_end[1] < bar[1]
    assert seven.strokes[0].dtype == np.float32


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (" 1 2\n", r"line 1: coordinates outside"),
        ('.SEGMENT DIGIT 0 ? "x"\n.COMMENT 1 1 1\n', r"line 1: the label 'x' is not a digit"),
        ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 1 1 1\n', r"line 2: .COMMENT says 1, its .SEGMENT"),
        ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7\n', r"line 2: a .COMMENT that is not"),
        ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 1\n.PEN_DOWN\n 1 2 3\n', r"^line 4: '1 2 3' is not"),
        (
            '.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 1\n.PEN_DOWN\n 1 2\n 1 ²\n.PEN_UP\n',
            r"^line 5: '1",
        ),
        ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 1\n.PEN_UP\n', r"line 3: .PEN_UP without"),
        ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 1\n.PEN_DOWN\n.PEN_DOWN\n', r"line 4: .PEN_DOWN wh"),
        ('.SEGMENT DIGIT 0 ? "7"\n.PEN_DOWN\n 1 2\n.PEN_UP\n', r"has no .COMMENT"),
        ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 1\n', r"has no points"),
        (".SEGMENT WORD\n", r"line 1: a .SEGMENT that is not"),
    ],
)
def test_malformed_input_is_refused_naming_the_line(text, message):
    with pytest.raises(UnipenError, match=message):
        parse_unipen(text)


def test_a_digit_with_too_many_points_is_refused_before_it_costs_memory():
    points = "".join(" 1 1\n" for _ in range(MAX_POINTS_PER_DIGIT + 1))
    text = f'.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 1\n.PEN_DOWN\n{points}.PEN_UP\n'

    with pytest.raises(UnipenError, match=f"more than {MAX_POINTS_PER_DIGIT} points"):
        parse_unipen(text)
