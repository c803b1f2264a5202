"""Plain-text tables of a model's metrics, for the `train` and `evaluate` commands."""


def per_class_table(per_class_accuracy: list[float]) -> str:
    digits = "  ".join(f"{digit:>6}" for digit in range(10))
    values = "  ".join(f"{value:>6.2%}" for value in per_class_accuracy)
    return f"Per-class accuracy\n  digit {digits}\n  acc   {values}\n"


def confusion_table(confusion_matrix: list[list[int]]) -> str:
    """Rows: the true digit; columns: the predicted digit."""
    header = "true\\pred " + " ".join(f"{digit:>5}" for digit in range(10))
    rows = [
        f"{digit:>9} " + " ".join(f"{count:>5}" for count in row)
        for digit, row in enumerate(confusion_matrix)
    ]
    return "Confusion matrix\n" + "\n".join([header, *rows]) + "\n"
