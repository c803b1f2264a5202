"""Submissions in the admin: thumbnails (served by views of this admin, never
inlined: an upload may be megabytes), filters, relabel and exclude actions."""

import contextlib
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from recognizer.admin.common import _image, _integer, _percent, _search_ids
from recognizer.admin.thumbnails import seen_enlarged_png, thumbnail_png
from recognizer.imaging.decoding import PreprocessingError
from recognizer.models import Submission
from recognizer.selectors import submission_images, submissions_filtered
from recognizer.services import submissions_exclude_from_training, submissions_relabel
from recognizer.services.submission_images import image_bytes, seen_image
from recognizer.submission_store import SubmissionImageMissing, SubmissionStoreUnavailable

THUMBNAIL = 96  # px, the largest side of a drawing's thumbnail
LARGE = 280  # px, the drawing on the detail page (the size of the drawing canvas)
CACHE_CONTROL = "private, max-age=3600"
PREVIEW = 24  # thumbnails on the relabel page


class DigitFilter(admin.SimpleListFilter):
    """0-9 without a DISTINCT over the whole table (AllValuesFieldListFilter's)."""

    field = "digit"

    def lookups(self, request, model_admin):
        return [(str(digit), str(digit)) for digit in range(10)]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{self.field: _integer(self.value())})


class PredictedDigitFilter(DigitFilter):
    title = "predicted digit"
    parameter_name = "digit"


class FeedbackLabelFilter(DigitFilter):
    title = "labelled as"
    parameter_name = "label"
    field = "feedback_label"


class CorrectnessFilter(admin.SimpleListFilter):
    title = "right or wrong"
    parameter_name = "feedback"

    def lookups(self, request, model_admin):
        return [("right", "Right"), ("wrong", "Wrong"), ("none", "Unknown (no feedback)")]

    def queryset(self, request, queryset):
        if self.value() not in {"right", "wrong", "none"}:
            return queryset
        return submissions_filtered(queryset, feedback=self.value())


class RelabelForm(forms.Form):
    label = forms.TypedChoiceField(
        label="True digit",
        choices=[(digit, str(digit)) for digit in range(10)],
        coerce=int,
        help_text="Recorded as the feedback of every selected submission, with your name, "
        "and handed to training.",
    )


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = [
        "id", "drawing", "seen", "digit", "confidence_percent", "feedback_label", "is_correct",
        "in_training", "version", "source", "created_at",
    ]  # fmt: skip
    list_display_links = ["id", "drawing"]
    list_filter = [
        "model_version", CorrectnessFilter, PredictedDigitFilter, FeedbackLabelFilter,
        "source", "created_at",
    ]  # fmt: skip
    list_select_related = ["model_version", "labelled_sample"]
    list_per_page = 50
    show_full_result_count = False
    date_hierarchy = "created_at"
    search_fields = ["id"]
    search_help_text = "Submission ids, separated by spaces."
    actions = ["relabel_selected", "exclude_from_training", "include_in_training"]
    fieldsets = [
        (None, {"fields": [("drawing_large", "seen_large"), "probability_table"]}),
        ("Prediction", {"fields": [
            "digit", "confidence_percent", "version", "latency_ms", "source", "image_format",
            "created_at", "user",
        ]}),
        ("Feedback", {"fields": [
            "feedback_label", "is_correct", "feedback_at", "feedback_by", "labelled_sample",
            "in_training",
        ]}),
    ]  # fmt: skip
    readonly_fields = [
        "drawing_large", "seen_large", "probability_table", "digit", "confidence_percent",
        "version", "latency_ms", "source", "image_format", "created_at", "user",
        "feedback_label", "is_correct", "feedback_at", "feedback_by", "labelled_sample",
        "in_training",
    ]  # fmt: skip

    class Media:
        css = {"all": ["admin-extras/recognizer.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Submission]:
        return super().get_queryset(request).defer("labelled_sample__image")

    def get_search_results(self, request, queryset, search_term):
        """By id only, as an indexed equality (the default would compare text)."""
        return _search_ids(queryset, search_term), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # submissions are predictions people made

    def has_change_permission(self, request: HttpRequest, obj: Submission | None = None) -> bool:
        # The model-level permission runs the actions; a submission's page is read-only.
        return obj is None and super().has_change_permission(request)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view  # staff only; cacheable: the views set their own
        return [
            path(
                "<int:object_id>/image/original.png",
                view(self.drawing_view, cacheable=True),
                name="{}_{}_image_original".format(*info),
            ),
            path(
                "<int:object_id>/image/seen.png",
                view(self.seen_view, cacheable=True),
                name="{}_{}_image_seen".format(*info),
            ),
            *super().get_urls(),
        ]

    def drawing_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The upload as a small PNG (`?size=large`: as large as the canvas);
        for a pixel array, which has no upload, or an upload past its
        retention, the 28x28 it was."""
        submission = self._images_or_404(request, object_id)
        size = LARGE if request.GET.get("size") == "large" else THUMBNAIL
        return self._png_or_error(lambda: _drawing_png(submission, size))

    def seen_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        submission = self._images_or_404(request, object_id)
        return self._png_or_error(lambda: _seen_png(submission))

    def _png_or_error(self, render: Callable[[], bytes]) -> HttpResponse:
        """The PNG `render` makes from the stored files; 404 when they are not
        there or cannot be read, 503 while the store does not answer."""
        try:
            return self._png_response(render())
        except PreprocessingError as exc:  # stored before today's limits
            raise Http404(exc.message) from exc
        except SubmissionImageMissing as exc:
            raise Http404("The image is not in the store.") from exc
        except SubmissionStoreUnavailable:
            response = HttpResponse("The image store is not answering.", status=503)
            response["Retry-After"] = "5"
            return response

    def _images_or_404(self, request: HttpRequest, object_id: int) -> Submission:
        if not self.has_view_permission(request):
            raise PermissionDenied
        submission = submission_images(submission_id=object_id)
        if submission is None:
            raise Http404("No such submission.")
        return submission

    @staticmethod
    def _png_response(png: bytes) -> HttpResponse:
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = CACHE_CONTROL
        return response

    def _image_url(self, pk: int, which: str) -> str:
        name = f"admin:recognizer_submission_image_{which}"
        return reverse(name, args=[pk], current_app=self.admin_site.name)

    @admin.display(description="drawing")
    def drawing(self, obj: Submission) -> str:
        return _image(
            self._image_url(obj.pk, "original"), width=48, height=48,
            alt=f"Drawing of submission {obj.pk}", css="digit-thumbnail",
        )  # fmt: skip

    @admin.display(description="seen (28x28)")
    def seen(self, obj: Submission) -> str:
        return _image(
            self._image_url(obj.pk, "seen"), width=28, height=28,
            alt=f"The 28x28 the model saw for submission {obj.pk}", css="digit-seen",
        )  # fmt: skip

    @admin.display(description="drawing")
    def drawing_large(self, obj: Submission) -> str:
        return _image(
            f"{self._image_url(obj.pk, 'original')}?size=large", width=LARGE, height=LARGE,
            alt=f"Drawing of submission {obj.pk}", css="digit-large",
        )  # fmt: skip

    @admin.display(description="seen by the model")
    def seen_large(self, obj: Submission) -> str:
        return _image(
            self._image_url(obj.pk, "seen"), width=168, height=168,
            alt=f"The 28x28 the model saw for submission {obj.pk}", css="digit-large digit-seen",
        )  # fmt: skip

    @admin.display(description="probabilities")
    def probability_table(self, obj: Submission) -> str:
        rows = format_html_join(
            "",
            '<tr class="{}"><th scope="row">{}</th><td><meter min="0" max="1" value="{}">'
            "</meter></td><td>{}</td></tr>",
            (
                ("predicted" if digit == obj.digit else "", digit, value, _percent(value))
                for digit, value in enumerate(obj.probabilities)
            ),
        )
        return format_html('<table class="digit-probabilities">{}</table>', rows)

    @admin.display(description="confidence", ordering="confidence")
    def confidence_percent(self, obj: Submission) -> str:
        return _percent(obj.confidence)

    @admin.display(description="right", boolean=True)
    def is_correct(self, obj: Submission) -> bool | None:
        return obj.is_correct

    @admin.display(description="in training", boolean=True)
    def in_training(self, obj: Submission) -> bool | None:
        """Unknown while there is no training sample (no feedback yet)."""
        sample = obj.labelled_sample
        return None if sample is None else not sample.excluded

    @admin.display(description="model", ordering="model_version__version")
    def version(self, obj: Submission) -> str:
        return f"v{obj.model_version.version}"

    @admin.action(description="Relabel the selected submissions…", permissions=["change"])
    def relabel_selected(
        self, request: HttpRequest, queryset: QuerySet[Submission]
    ) -> TemplateResponse | None:
        """An intermediate page (as the delete confirmation): choose the digit, apply."""
        ids = list(queryset.values_list("pk", flat=True))
        form = RelabelForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            label = form.cleaned_data["label"]
            try:
                count = submissions_relabel(submission_ids=ids, label=label, by=request.user)
            except SubmissionStoreUnavailable:
                message = "The image store is not answering, so nothing was labelled; try again."
                self.message_user(request, message, messages.ERROR)
                return None
            self.message_user(
                request, f"Labelled {count} submission(s) as {label}.", messages.SUCCESS
            )
            return None  # back to the changelist, its filters kept
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": "Relabel submissions",
            "opts": self.opts,
            "form": form,
            "selected_ids": ids,
            "preview": [(pk, self._image_url(pk, "original")) for pk in ids[:PREVIEW]],
            "more": max(0, len(ids) - PREVIEW),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "relabel_selected",
            "media": self.media,
        }
        return TemplateResponse(request, "admin/recognizer/submission/relabel.html", context)

    @admin.action(description="Exclude from training", permissions=["change"])
    def exclude_from_training(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        self._set_excluded(request, queryset, excluded=True)

    @admin.action(description="Include in training again", permissions=["change"])
    def include_in_training(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        self._set_excluded(request, queryset, excluded=False)

    def _set_excluded(
        self, request: HttpRequest, queryset: QuerySet[Submission], *, excluded: bool
    ) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        changed = submissions_exclude_from_training(submission_ids=ids, excluded=excluded)
        without = queryset.filter(labelled_sample__isnull=True).count()
        verb = "excluded from" if excluded else "included in"
        message = f"{changed} training sample(s) {verb} training."
        if without:
            message += f" {without} selected submission(s) have no feedback, so no sample."
        self.message_user(request, message, messages.SUCCESS)


def _drawing_png(submission: Submission, size: int) -> bytes:
    if submission.image:
        with contextlib.suppress(SubmissionImageMissing):  # deleted by retention
            return thumbnail_png(image_bytes(submission.image.name), size=size)
    return _seen_png(submission)


def _seen_png(submission: Submission) -> bytes:
    return seen_enlarged_png(seen_image(submission.preprocessed.name))
