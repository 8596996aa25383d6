from django.db import migrations

ADMIN_GROUP = "Administrators"


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=ADMIN_GROUP)
    # System > Administrators, role "Administrator": change everything in the GUI
    # (certauth.manage_pki) and read the CA's models in the Django admin.
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["certauth", "cmp", "scep"], codename__startswith="view_"
        )
        | Permission.objects.filter(content_type__app_label="certauth", codename="manage_pki")
    )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=ADMIN_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("certauth", "0008_log_params_alert_settings"),
        ("scep", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
