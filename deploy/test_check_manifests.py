#!/usr/bin/env python3
"""Proves that check_manifests.py fails on broken files: each case breaks one thing in a copy of
the real files and expects the checker to report a problem naming it. Run by deploy/check.sh.

    test_check_manifests.py COMPOSE_JSON    (the output of `docker compose config --format json`)
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import check_manifests as cm

DEPLOY = Path(__file__).resolve().parent
K8S = DEPLOY / "k8s"
OVERLAYS = DEPLOY / "overlays"

# (what breaks, file, text to replace, replacement, words the report must contain)
K8S_CASES = [
    ("selector does not match pod labels", "board.yaml",
     "  selector:\n    matchLabels:\n      app.kubernetes.io/name: board\n  strategy",
     "  selector:\n    matchLabels:\n      app.kubernetes.io/name: bord\n  strategy", "matchLabels"),
    ("Service targets a missing port", "account.yaml", "targetPort: grpc", "targetPort: grcp", "targetPort grcp"),
    ("HPA targets a missing Deployment", "timetable.yaml", "    kind: Deployment\n    name: timetable",
     "    kind: Deployment\n    name: timetables", "scaleTargetRef"),
    ("secretKeyRef names a missing key", "messaging.yaml", "key: messaging-database-url",
     "key: messaging-db-url", "no key messaging-db-url"),
    ("envFrom names a missing ConfigMap", "gateway.yaml", "name: campus-config", "name: campus-conf",
     "ConfigMap campus-conf does not exist"),
    ("no readiness probe", "gateway.yaml", "          readinessProbe:\n", "          readinessProbeX:\n", "schema"),
    ("readiness probe removed", "gateway.yaml",
     "          readinessProbe:\n            httpGet:\n              path: /readyz\n              port: http\n"
     "            periodSeconds: 5\n            timeoutSeconds: 2\n            failureThreshold: 2\n", "",
     "no readinessProbe"),
    ("no resource limits", "board.yaml",
     "            limits:\n              cpu: \"1\"\n              memory: 512Mi\n", "", "no resources.limits.cpu"),
    ("misspelt field", "account.yaml", "imagePullPolicy:", "imagePulPolicy:", "imagePulPolicy"),
    ("gRPC probe on a port the container does not open", "timetable.yaml",
     "          readinessProbe:\n            grpc:\n              port: 50054",
     "          readinessProbe:\n            grpc:\n              port: 50055", "port 50055"),
    ("HTTP probe instead of gRPC on a service", "account.yaml",
     "          livenessProbe:\n            grpc:\n              port: 50051",
     "          livenessProbe:\n            tcpSocket:\n              port: 50051", "not a gRPC health probe"),
    ("upstream address with a wrong port", "config.yaml", "board.campus.svc:50052", "board.campus.svc:50053",
     "has no port 50053"),
    ("upstream address naming no Service", "config.yaml", "http://timetable.campus", "http://timetables.campus",
     "no Service timetables"),
    ("kustomization misses a file", "kustomization.yaml", "  - board.yaml\n", "", "does not list board.yaml"),
    ("kustomization lists a missing file", "kustomization.yaml", "  - board.yaml\n",
     "  - board.yaml\n  - boards.yaml\n", "boards.yaml, which does not exist"),
    ("container may run as root", "gateway.yaml", "        runAsNonRoot: true\n", "", "may run as root"),
    ("a service without an HPA", "messaging.yaml", "    kind: Deployment\n    name: messaging",
     "    kind: Deployment\n    name: board", "Deployment messaging: no HorizontalPodAutoscaler"),
    ("secret volume names a missing Secret", "gateway.yaml", "secretName: campus-gateway-signing-key",
     "secretName: campus-signing-key", "Secret campus-signing-key does not exist"),
    ("kustomization image override names no container image", "kustomization.yaml",
     "  - name: campus-board\n", "  - name: campus-boards\n", "images names campus-boards"),
    ("Ingress backend names a missing Service port", "ingress.yaml",
     "                port:\n                  name: http\n", "                port:\n                  name: https\n",
     "has no port https"),
    ("TLS Secret that no Certificate issues", "ingress.yaml", "  secretName: campus-tls\n  dnsNames",
     "  secretName: campus-cert\n  dnsNames", "issued by no Certificate"),
    ("Certificate names a missing Issuer", "ingress.yaml", "    kind: Issuer\n    name: letsencrypt\n",
     "    kind: Issuer\n    name: letsencrypt-prod\n", "Issuer letsencrypt-prod does not exist"),
    ("TLS host missing from the Certificate", "ingress.yaml", "    - grpc.campus.example.com\n  privateKey",
     "  privateKey", "grpc.campus.example.com is not in Certificate"),
    ("misspelt Certificate field", "ingress.yaml", "  dnsNames:", "  dnsName:", "unknown field spec.dnsName"),
    ("collector pipeline uses an undefined exporter", "otel-collector.yaml", "exporters: [debug]",
     "exporters: [jaeger]", "exporter jaeger, which is not defined"),
]


def run_quietly(fn, *args) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = fn(*args)
    return code, out.getvalue()


def k8s_cases() -> tuple[int, list[str]]:
    caught, missed = 0, []
    for what, name, old, new, expect in K8S_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "k8s"
            shutil.copytree(K8S, folder)
            path = folder / name
            text = path.read_text()
            if old not in text:
                missed.append(f"{what}: the case no longer applies ({name} has no {old.strip()[:40]!r})")
                continue
            path.write_text(text.replace(old, new, 1))
            code, report = run_quietly(cm.check_k8s, folder)
            if code != 0 and expect in report:
                caught += 1
            else:
                missed.append(f"{what}: exit {code}, report:\n{report}")
    # A file in the folder that kustomization.yaml does not list.
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "k8s"
        shutil.copytree(K8S, folder)
        shutil.copy(folder / "namespace.yaml", folder / "extra.yaml")
        code, report = run_quietly(cm.check_k8s, folder)
        if code != 0 and "does not list extra.yaml" in report:
            caught += 1
        else:
            missed.append(f"unlisted file: exit {code}, report:\n{report}")
    return caught, missed


# (what breaks, file in deploy/overlays/aws, text, replacement, words the report must contain)
OVERLAY_CASES = [
    ("gRPC target group health checked over HTTP paths", "ingress-alb-grpc.yaml",
     "healthcheck-path: /grpc.health.v1.Health/Check", "healthcheck-path: /readyz", "not /grpc.health.v1.Health/Check"),
    ("gRPC health check expecting HTTP 200", "ingress-alb-grpc.yaml", 'success-codes: "0"', 'success-codes: "200"',
     "success code is '200'"),
    ("no redirect to HTTPS", "ingress-alb.yaml", '    alb.ingress.kubernetes.io/ssl-redirect: "443"\n', "",
     "not redirected to HTTPS"),
    ("no HTTPS listener", "ingress-alb.yaml", '[{"HTTP": 80}, {"HTTPS": 443}]', '[{"HTTP": 80}]', "no HTTPS:443 listener"),
    ("certificate that is not an ACM ARN", "ingress-alb.yaml",
     "arn:aws:acm:REGION:ACCOUNT_ID:certificate/ACM_CERTIFICATE_ARN", "campus-tls", "not an ACM certificate ARN"),
    ("placeholder Secrets applied", "kustomization.yaml", "        name: campus-secrets\n", "        name: campus-secretz\n",
     "Secret campus-secretz, which the base lacks"),
    ("nginx annotation left on the ALB", "ingress-alb.yaml", "    nginx.ingress.kubernetes.io/proxy-body-size: null\n", "",
     "ingress-nginx annotations left"),
]


def overlay_cases() -> tuple[int, list[str]]:
    caught, missed = 0, []
    for what, name, old, new, expect in OVERLAY_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(K8S, Path(tmp) / "k8s")
            shutil.copytree(OVERLAYS, Path(tmp) / "overlays")
            path = Path(tmp) / "overlays" / "aws" / name
            text = path.read_text()
            if old not in text:
                missed.append(f"{what}: the case no longer applies ({name} has no {old.strip()[:40]!r})")
                continue
            path.write_text(text.replace(old, new, 1))
            code, report = run_quietly(cm.check_overlay, Path(tmp) / "overlays" / "aws", Path(tmp) / "k8s")
            if code != 0 and expect in report:
                caught += 1
            else:
                missed.append(f"{what}: exit {code}, report:\n{report}")
    return caught, missed


def compose_cases(compose_json: Path) -> tuple[int, list[str]]:
    base = json.loads(compose_json.read_text())

    def drop_health(c):
        del c["services"]["board"]["healthcheck"]

    def weak_depends(c):
        c["services"]["messaging"]["depends_on"]["board"]["condition"] = "service_started"

    def wrong_role(c):
        env = c["services"]["timetable"]["environment"]
        env["TIMETABLE_DATABASE_URL"] = env["TIMETABLE_DATABASE_URL"].replace("//timetable:", "//account:")

    def wrong_addr(c):
        c["services"]["gateway"]["environment"]["BOARD_ADDR"] = "http://board:50053"

    def loopback_listen(c):
        c["services"]["account"]["environment"]["ACCOUNT_LISTEN_ADDR"] = "127.0.0.1:50051"

    def leaked_key(c):
        c["services"]["board"]["secrets"].append({"source": "jwt_private_key", "target": "/run/secrets/jwt_private_key"})

    def wrong_binary(c):
        c["services"]["messaging"]["build"]["args"]["BINARY"] = "campus-board"

    def public_service(c):
        c["services"]["board"]["ports"] = [{"target": 50052, "published": "50052", "protocol": "tcp"}]

    def wrong_password(c):
        c["services"]["postgres"]["environment"]["BOARD_DB_PASSWORD"] = "something-else"

    def no_otel(c):
        del c["services"]["timetable"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]

    def gateway_without_database(c):
        del c["services"]["gateway"]["environment"]["GATEWAY_DATABASE_URL"]

    cases = [
        ("service without a health check", drop_health, "no health check"),
        ("depends_on without service_healthy", weak_depends, "does not wait for it to be healthy"),
        ("service uses another service's role", wrong_role, "connects as account"),
        ("upstream address on a wrong port", wrong_addr, "BOARD_ADDR=http://board:50053"),
        ("service listens on loopback", loopback_listen, "ACCOUNT_LISTEN_ADDR must be 0.0.0.0"),
        ("signing key given to a service", leaked_key, "only the gateway may hold the signing key"),
        ("image builds the wrong binary", wrong_binary, "BINARY is 'campus-board'"),
        ("a service publishes a port", public_service, "publishes a port"),
        ("database password differs from the init script's", wrong_password, "database password differs"),
        ("no OTLP endpoint", no_otel, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ("gateway without its idempotency database", gateway_without_database, "GATEWAY_DATABASE_URL is not"),
    ]
    caught, missed = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for what, mutate, expect in cases:
            config = json.loads(json.dumps(base))
            mutate(config)
            path = Path(tmp) / "compose.json"
            path.write_text(json.dumps(config))
            code, report = run_quietly(cm.check_compose, path)
            if code != 0 and expect in report:
                caught += 1
            else:
                missed.append(f"{what}: exit {code}, report:\n{report}")
    return caught, missed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    code, report = run_quietly(cm.check_k8s, K8S)
    if code != 0:
        print(f"the unbroken manifests already fail:\n{report}")
        return 1
    code, report = run_quietly(cm.check_compose, Path(argv[1]))
    if code != 0:
        print(f"the unbroken compose file already fails:\n{report}")
        return 1
    code, report = run_quietly(cm.check_overlay, OVERLAYS / "aws", K8S)
    if code != 0:
        print(f"the unbroken AWS overlay already fails:\n{report}")
        return 1
    k_caught, k_missed = k8s_cases()
    o_caught, o_missed = overlay_cases()
    c_caught, c_missed = compose_cases(Path(argv[1]))
    for miss in k_missed + o_missed + c_missed:
        print(f"  NOT CAUGHT: {miss}")
    caught, missed = k_caught + o_caught + c_caught, len(k_missed) + len(o_missed) + len(c_missed)
    print(f"  broken copies: {caught} caught, {missed} missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
