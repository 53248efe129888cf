from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

PASSWORD_USERS = {
    "alice@example.com": "alice-Secret-1",
    "bob@example.com": "bob-Secret-2",
}
SSO_USERS = ["sso.user@example.com"]


class Command(BaseCommand):
    help = "Create the deployment's users (idempotent)."

    def handle(self, *args, **options):
        User = get_user_model()
        for email, password in PASSWORD_USERS.items():
            user, created = User.objects.get_or_create(username=email, defaults={"email": email})
            if created:
                user.set_password(password)
                user.save()
        for email in SSO_USERS:
            # Signs in through SSO: no password usable here.
            user, created = User.objects.get_or_create(username=email, defaults={"email": email})
            if created:
                user.set_unusable_password()
                user.save()
        if options["verbosity"]:
            self.stdout.write(f"{User.objects.count()} users")
