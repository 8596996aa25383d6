import sys

from django.core.management.base import CommandParser

from certauth import profiles, services
from certauth.management.base import FacCommand, comma_list
from certauth.models import Certificate, Enrollment


class Command(FacCommand):
    help = (
        "Create an enrollment request: for CMP the reference (senderKID) a client uses, its "
        "password and profile; for SCEP (--protocol scep) the subject the device requests, or "
        "a wildcard with a subject pattern, and its challenge password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference", help="enrollment (profile) ID, the CMP reference")
        parser.add_argument(
            "--protocol",
            choices=Enrollment.Protocol.values,
            default=Enrollment.Protocol.CMP,
            help="the enrollment protocol (default cmp)",
        )
        parser.add_argument(
            "--password",
            help="enrollment password (SCEP: the challenge password); '-' reads it from stdin",
        )
        parser.add_argument("--ca", required=True, help="certificate ID of the signing local CA")
        parser.add_argument("--subject", default="", help="required subject DN (exact match)")
        parser.add_argument(
            "--wildcard",
            action="store_true",
            help="SCEP: any subject (matching --subject-pattern) with the shared challenge password",
        )
        parser.add_argument(
            "--subject-pattern",
            default="",
            help="SCEP wildcard: e.g. 'CN=*.branch.example.net' (* and ? within a value)",
        )
        parser.add_argument(
            "--key-usage",
            type=comma_list,
            default=list(profiles.DEFAULT_ENROLLMENT_KEY_USAGE),
            help="comma-separated: digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,"
            "keyAgreement,keyCertSign,cRLSign,encipherOnly,decipherOnly",
        )
        parser.add_argument(
            "--ext-key-usage",
            type=comma_list,
            default=[],
            help="comma-separated: serverAuth,clientAuth,codeSigning,emailProtection,"
            "timeStamping,OCSPSigning,ipsecIKE",
        )
        parser.add_argument(
            "--san",
            action="append",
            default=[],
            help="allowed SAN, e.g. DNS:fw.example.com (repeatable)",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=profiles.DEFAULT_CERTIFICATE_DAYS,
            help="certificate validity in days",
        )
        parser.add_argument(
            "--renewable-days", type=int, default=0, help="renewable before expiry (days)"
        )
        parser.add_argument(
            "--type", choices=Enrollment.Type.values, default=Enrollment.Type.REGULAR
        )
        parser.add_argument(
            "--manual",
            action="store_true",
            help="certificates wait for an administrator's approval",
        )
        parser.add_argument(
            "--category",
            choices=Certificate.Kind.values,
            default=Certificate.Kind.LOCAL_SERVICE,
            help="where issued certificates are listed",
        )
        parser.add_argument("--allow-reenrollment", action="store_true")
        parser.add_argument(
            "--allow-mac-kur", action="store_true", help="accept password-protected renewal"
        )
        parser.add_argument(
            "--trusted-ca", help="device enrollments: trusted CA of the vendor certificates"
        )
        parser.add_argument("--disabled", action="store_true")

    def handle(self, *args, **options) -> None:
        password = options["password"] or ""
        if password == "-":
            password = sys.stdin.readline().rstrip("\n")
        enrollment = services.create_enrollment(
            reference=options["reference"],
            password=password,
            ca=self.get_ca(options["ca"], local=True),
            protocol=options["protocol"],
            wildcard=options["wildcard"],
            subject_pattern=options["subject_pattern"],
            subject=options["subject"],
            key_usage=options["key_usage"],
            ext_key_usage=options["ext_key_usage"],
            allowed_sans=options["san"],
            validity_days=options["days"],
            renewable_days=options["renewable_days"],
            type=options["type"],
            method=Enrollment.Method.MANUAL if options["manual"] else Enrollment.Method.AUTOMATIC,
            kind=options["category"],
            allow_reenrollment=options["allow_reenrollment"],
            allow_mac_kur=options["allow_mac_kur"],
            trusted_ca=self.get_ca(options["trusted_ca"]) if options["trusted_ca"] else None,
            enabled=not options["disabled"],
            actor=services.Actor(user="cli"),
        )
        kind = "SCEP " if enrollment.protocol == Enrollment.Protocol.SCEP else ""
        self.stdout.write(
            f"Created {kind}enrollment {enrollment.reference} (CA {enrollment.ca.name})"
        )
