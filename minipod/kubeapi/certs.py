"""The instance's certificates, made at its first start with `cryptography`.

Steps of ensure_pki(), in order (each file only when it is missing, so a
restarted daemon, even a SIGKILLed one, keeps the same CA and kubectl
keeps working with the same kubeconfig):
    1. ETC/pki/ca.key, ca.crt        a self-signed CA ("minipod-ca", 10 years);
    2. ETC/pki/apiserver.key, .crt   the server's certificate, signed by the
       CA, for 127.0.0.1, localhost, the node's name, the bridge gateway
       and `kubernetes.default.svc`;
    3. ETC/pki/admin.key, admin.crt  the admin's client certificate
       (CN=minipod-admin, O=system:masters, as kubeadm's admin.conf);
    4. ETC/pki/sa.key                the key that signs ServiceAccount tokens.
Keys are 0600 and written atomically (tmp + fsync + rename).
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minipod.fsutil import write_atomic

YEARS = 10


class Pki:
    def __init__(self, etc: str):
        self.dir = os.path.join(etc, "pki")

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    @property
    def ca_crt(self) -> str:
        return self.path("ca.crt")

    def read(self, name: str) -> bytes:
        with open(self.path(name), "rb") as f:
            return f.read()


def _write(path: str, data: bytes) -> None:
    write_atomic(path, data, mode=0o600)  # keys among them: never readable by others


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_key(pki: Pki, name: str):
    return serialization.load_pem_private_key(pki.read(name), None)


def _new_key():
    return ec.generate_private_key(ec.SECP256R1())  # fast to make, accepted by every client


def _cert(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, ca=False, usages=(), sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365 * YEARS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        b = b.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def server_names(node: str, addresses: list[str]) -> list:
    names = ["localhost", node, "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    names.append("kubernetes.default.svc.cluster.local")
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(names)]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in dict.fromkeys(["127.0.0.1", *addresses])]
    return sans


def ensure_pki(etc: str, node: str, addresses: list[str]) -> Pki:
    pki = Pki(etc)
    os.makedirs(pki.dir, mode=0o700, exist_ok=True)
    if not os.path.exists(pki.ca_crt):
        key = _new_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minipod-ca")])
        _write(pki.path("ca.key"), _key_pem(key))
        _write(pki.ca_crt, _cert(name, key, name, key, ca=True).public_bytes(serialization.Encoding.PEM))
    ca_key = _load_key(pki, "ca.key")
    ca = x509.load_pem_x509_certificate(pki.read("ca.crt"))
    if not os.path.exists(pki.path("apiserver.crt")) or _missing_names(pki, addresses):
        key = _new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
        cert = _cert(
            subject,
            key,
            ca.subject,
            ca_key,
            usages=[ExtendedKeyUsageOID.SERVER_AUTH],
            sans=server_names(node, addresses),
        )
        _write(pki.path("apiserver.key"), _key_pem(key))
        _write(pki.path("apiserver.crt"), cert.public_bytes(serialization.Encoding.PEM))
    if not os.path.exists(pki.path("admin.crt")):
        key = _new_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                x509.NameAttribute(NameOID.COMMON_NAME, "minipod-admin"),
            ]
        )
        cert = _cert(subject, key, ca.subject, ca_key, usages=[ExtendedKeyUsageOID.CLIENT_AUTH])
        _write(pki.path("admin.key"), _key_pem(key))
        _write(pki.path("admin.crt"), cert.public_bytes(serialization.Encoding.PEM))
    if not os.path.exists(pki.path("sa.key")):
        _write(pki.path("sa.key"), _key_pem(_new_key()))
    return pki


def _missing_names(pki: Pki, addresses: list[str]) -> bool:
    """The server certificate must name every address pods may use (a
    bridge gateway that changed): if not, it is made again (same CA)."""
    cert = x509.load_pem_x509_certificate(pki.read("apiserver.crt"))
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    have = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return not set(addresses) <= have


def new_client_cert(pki: Pki, user: str, groups: list[str]) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) for another user, signed by the instance's CA (tests use it)."""
    ca_key = _load_key(pki, "ca.key")
    ca = x509.load_pem_x509_certificate(pki.read("ca.crt"))
    key = _new_key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    subject = x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, user)])
    cert = _cert(subject, key, ca.subject, ca_key, usages=[ExtendedKeyUsageOID.CLIENT_AUTH])
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)
