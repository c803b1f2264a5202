from django.db import migrations, models
from django.utils import timezone


def fail_all_but_the_newest_running_job(apps, schema_editor):
    """Only several training workers could have left two jobs running; keep
    the one that beat last, so the constraint below can be added."""
    TrainingJob = apps.get_model("training", "TrainingJob")
    running = TrainingJob.objects.filter(status="running").order_by("-heartbeat_at", "-pk")
    extra = list(running.values_list("pk", flat=True)[1:])
    TrainingJob.objects.filter(pk__in=extra).update(
        status="failed",
        finished_at=timezone.now(),
        error="Failed on upgrade: only one training job may run at a time.",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0003_job_trigger_watermark_log"),
    ]

    operations = [
        migrations.RunPython(fail_all_but_the_newest_running_job, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="trainingjob",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "running")),
                fields=("status",),
                name="one_running_training_job",
            ),
        ),
    ]
