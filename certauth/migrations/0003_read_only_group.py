from django.db import migrations

READ_ONLY_GROUP = "Read-only administrators"


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=READ_ONLY_GROUP)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["certauth", "cmp"], codename__startswith="view_"
        )
    )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=READ_ONLY_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("certauth", "0002_manage_permission"),
        ("cmp", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
