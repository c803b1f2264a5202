"""Helpers the recognizer's admin pages share."""

from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.utils.html import format_html

EMPTY = "-"  # as the admin shows an empty value


def _image(src: str, *, width: int, height: int, alt: str, css: str) -> str:
    return format_html(
        '<img src="{}" width="{}" height="{}" alt="{}" class="{}" loading="lazy" decoding="async">',
        src, width, height, alt, css,
    )  # fmt: skip


def _search_ids(queryset: QuerySet, search_term: str) -> QuerySet:
    """Rows whose id is one of the numbers searched for; none for other text."""
    if not search_term.strip():
        return queryset
    ids = [int(bit) for bit in search_term.replace(",", " ").split() if bit.isdigit()]
    return queryset.filter(pk__in=ids)


def _integer(value: str) -> int:
    """A filter's value; anything else is the admin's "invalid filter" (?e=1)."""
    try:
        return int(value)
    except ValueError:
        raise IncorrectLookupParameters(f"not a number: {value!r}") from None


def _percent(value: float | None) -> str:
    return EMPTY if value is None else f"{value:.1%}"
