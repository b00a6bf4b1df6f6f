#!/usr/bin/env python3
"""Checks of the deploy files that a schema alone does not catch. Run by deploy/check.sh.

    check_manifests.py k8s DIR            every manifest in DIR and its kustomization.yaml
    check_manifests.py overlay DIR BASE   a kustomize overlay of BASE, rendered, with the same checks
    check_manifests.py compose FILE.json  `docker compose config --format json` output
    check_manifests.py compose-tls FILE.json  the same with docker-compose.tls.yml on top
    check_manifests.py otel FILE.yaml     an OpenTelemetry collector configuration
    check_manifests.py dockerfile FILE    the Dockerfile (BuildKit's own parser), against the workspace

k8s: each document against the Kubernetes JSON schemas (kubernetes-validate, strict: an unknown
or misspelt field fails) for the oldest and the newest Kubernetes version we target, then the
cross-references: selectors match pod labels, Services and probes name real container ports,
HPAs and PDBs point at real Deployments, every ConfigMap, Secret and key referenced exists,
upstream addresses in the ConfigMap name real Services and ports, and kustomization.yaml lists
exactly the files in the folder.

Prints every problem found and exits 1 if there was any.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

# preStop `sleep` needs 1.30 (beta, on by default); the newest is what the schemas package has.
OLDEST_KUBERNETES = "1.30"
CAMPUS_SERVICES = {"account": 50051, "board": 50052, "messaging": 50053, "timetable": 50054}
GATEWAY_PORT = 8080
# Everything with its own PostgreSQL role and database: the services, and the gateway (its
# idempotency records).
WITH_DATABASE = [*CAMPUS_SERVICES, "gateway"]


class Problems:
    """Collects problems so that one run reports all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def check(self, condition: object, where: str, message: str) -> bool:
        if not condition:
            self.add(where, message)
        return bool(condition)

    def report(self, what: str) -> int:
        for item in self.items:
            print(f"  {item}")
        if self.items:
            print(f"{what}: {len(self.items)} problem(s)")
            return 1
        return 0


# --- Kubernetes -------------------------------------------------------------------------------

NAMESPACED = {
    "ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler",
    "PodDisruptionBudget", "PersistentVolumeClaim", "StatefulSet", "Job", "CronJob",
    "ServiceAccount", "NetworkPolicy", "Ingress", "Role", "RoleBinding", "Issuer", "Certificate",
}
# The fields each cert-manager kind must have (its CRDs are not in the Kubernetes schemas).
CERT_MANAGER_FIELDS = {
    "Issuer": {"metadata", "spec", "apiVersion", "kind"},
    "Certificate": {"metadata", "spec", "apiVersion", "kind"},
}
CERT_MANAGER_SPEC = {
    "Issuer": {"acme", "ca", "selfSigned", "vault", "venafi"},
    "Certificate": {"secretName", "dnsNames", "issuerRef", "privateKey", "duration", "renewBefore",
                    "commonName", "ipAddresses", "usages", "subject", "secretTemplate", "isCA",
                    "revisionHistoryLimit", "uris", "emailAddresses"},
}
ACM_ARN = re.compile(r"^arn:aws:acm:[a-z0-9-]+:[0-9A-Z_]+:certificate/[0-9A-Za-z_-]+$")
QUANTITY = re.compile(r"^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
UNITS = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
         "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: object) -> float | None:
    match = QUANTITY.match(str(value))
    return float(match.group(1)) * UNITS[match.group(2)] if match else None


def load_documents(path: Path, problems: Problems) -> list[dict]:
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as e:
        problems.add(path.name, f"not YAML: {e}")
        return []
    out = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            problems.add(f"{path.name}[{i}]", "document is not a mapping")
            continue
        doc["__file__"] = f"{path.name}[{i}]"
        out.append(doc)
    return out


def strip(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if not k.startswith("__")}


def validate_schemas(docs: list[dict], problems: Problems) -> None:
    import kubernetes_validate.utils as kv

    versions = [OLDEST_KUBERNETES, kv.latest_version()]
    for doc in docs:
        if str(doc.get("apiVersion", "")).startswith("cert-manager.io/"):
            continue
        for version in versions:
            try:
                kv.validate(strip(doc), version, strict=True)
            except kv.ValidationError as e:
                path = "/".join(str(p) for p in e.path) or "(root)"
                problems.add(doc["__file__"], f"schema {version}: at {path}: {e.message}")
            except kv.SchemaNotFoundError:
                problems.add(doc["__file__"], f"schema {version}: no {doc.get('apiVersion')} {doc.get('kind')}")
    print(f"  schemas: {len(docs)} documents against Kubernetes {' and '.join(versions)} (strict)")


def labels_match(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(container: dict, port: object) -> dict | None:
    for p in container.get("ports") or []:
        if port == p.get("name") or port == p.get("containerPort"):
            return p
    return None


def check_k8s(folder: Path) -> int:
    problems = Problems()
    kustomization_path = folder / "kustomization.yaml"
    kustomization = yaml.safe_load(kustomization_path.read_text()) if kustomization_path.exists() else None
    problems.check(kustomization, "kustomization.yaml", "missing")
    kustomization = kustomization or {}
    namespace = kustomization.get("namespace")

    files = sorted(p for p in folder.glob("*.y*ml") if p.name != "kustomization.yaml")
    listed = kustomization.get("resources") or []
    for name in sorted(set(p.name for p in files) - set(listed)):
        problems.add("kustomization.yaml", f"does not list {name}")
    for name in listed:
        problems.check((folder / name).is_file(), "kustomization.yaml", f"lists {name}, which does not exist")
    problems.check(len(listed) == len(set(listed)), "kustomization.yaml", "lists a file twice")

    docs = [doc for path in files for doc in load_documents(path, problems)]
    problems.check(docs, str(folder), "no manifests")
    check_documents(docs, kustomization, str(folder), problems)
    print(f"  manifests: {len(files)} files")
    return problems.report("kubernetes manifests")


def check_documents(docs: list[dict], kustomization: dict, where_images: str, problems: Problems,
                    external: list[dict] = ()) -> None:
    """The checks of a set of manifests: the folder's files, or an overlay as kustomize renders it.
    `external` holds objects created out of band (an overlay's Secrets): references may name them."""
    namespace = kustomization.get("namespace")
    seen: set[tuple] = set()
    for doc in docs:
        where = doc["__file__"]
        for field in ("apiVersion", "kind"):
            problems.check(isinstance(doc.get(field), str) and doc[field], where, f"no {field}")
        meta = doc.get("metadata") or {}
        if not problems.check(meta.get("name"), where, "no metadata.name"):
            continue
        key = (doc.get("kind"), meta.get("namespace"), meta["name"])
        problems.check(key not in seen, where, f"duplicate {key[0]} {key[2]}")
        seen.add(key)
        if doc.get("kind") in NAMESPACED and namespace:
            problems.check(meta.get("namespace") in (None, namespace), where,
                           f"namespace {meta.get('namespace')!r}, kustomization sets {namespace!r}")
        doc["__where__"] = f"{where} {doc.get('kind')} {meta['name']}"

    validate_schemas(docs, problems)

    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        if (doc.get("metadata") or {}).get("name"):
            by_kind.setdefault(doc.get("kind"), {})[doc["metadata"]["name"]] = doc
    configmaps = by_kind.get("ConfigMap", {})
    secrets = {**{d["metadata"]["name"]: d for d in external if d.get("kind") == "Secret"}, **by_kind.get("Secret", {})}
    deployments = by_kind.get("Deployment", {})
    claims = by_kind.get("PersistentVolumeClaim", {})
    hpas = by_kind.get("HorizontalPodAutoscaler", {})

    def keys_of(kind: str, name: str) -> set[str] | None:
        obj = (configmaps if kind == "ConfigMap" else secrets).get(name)
        if obj is None:
            return None
        return set(obj.get("data") or {}) | set(obj.get("stringData") or {}) | set(obj.get("binaryData") or {})

    def check_ref(where: str, kind: str, name: str, key: str | None, optional: bool) -> None:
        keys = keys_of(kind, name)
        if keys is None:
            problems.check(optional, where, f"{kind} {name} does not exist")
        elif key is not None and key not in keys:
            problems.check(optional, where, f"{kind} {name} has no key {key}")

    for name, dep in deployments.items():
        where = dep["__where__"]
        spec = dep.get("spec") or {}
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        problems.check(labels_match(selector, labels), where, "spec.selector.matchLabels does not match the pod labels")
        pod = template.get("spec") or {}
        containers = pod.get("containers") or []
        problems.check(containers, where, "no containers")
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        pod_security = pod.get("securityContext") or {}
        component = labels.get("app.kubernetes.io/component")
        for volume in volumes.values():
            if "configMap" in volume or "secret" in volume:
                kind = "ConfigMap" if "configMap" in volume else "Secret"
                source = volume.get("configMap") or volume.get("secret") or {}
                ref = source.get("name") or source.get("secretName")
                optional = bool(source.get("optional"))
                check_ref(where, kind, ref, None, optional)
                for item in source.get("items") or []:
                    check_ref(where, kind, ref, item.get("key"), optional)
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"].get("claimName")
                problems.check(claim in claims, where, f"PersistentVolumeClaim {claim} does not exist")
        for c in containers:
            cw = f"{where} container {c.get('name')}"
            problems.check(c.get("image"), cw, "no image")
            problems.check(c.get("ports"), cw, "no ports")
            resources = c.get("resources") or {}
            for part in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    problems.check((resources.get(part) or {}).get(res), cw, f"no resources.{part}.{res}")
            for res in ("cpu", "memory"):
                req = quantity((resources.get("requests") or {}).get(res))
                lim = quantity((resources.get("limits") or {}).get(res))
                if req is not None and lim is not None:
                    problems.check(req <= lim, cw, f"{res} request above its limit")
            for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = c.get(probe_name)
                if probe is None:
                    problems.check(probe_name == "startupProbe", cw, f"no {probe_name}")
                    continue
                if component == "service":
                    problems.check("grpc" in probe, cw, f"{probe_name} is not a gRPC health probe")
                for action in ("grpc", "httpGet", "tcpSocket"):
                    if action in probe:
                        port = probe[action].get("port")
                        problems.check(container_port(c, port), cw, f"{probe_name} port {port} is not a container port")
            security = c.get("securityContext") or {}
            problems.check(security.get("runAsNonRoot", pod_security.get("runAsNonRoot")), cw, "may run as root")
            problems.check(security.get("allowPrivilegeEscalation") is False, cw, "allowPrivilegeEscalation is not false")
            for source in c.get("envFrom") or []:
                if "configMapRef" in source:
                    ref = source["configMapRef"]
                    check_ref(cw, "ConfigMap", ref.get("name"), None, bool(ref.get("optional")))
                if "secretRef" in source:
                    ref = source["secretRef"]
                    check_ref(cw, "Secret", ref.get("name"), None, bool(ref.get("optional")))
            names = [e.get("name") for e in c.get("env") or []]
            for dup in sorted({n for n in names if names.count(n) > 1}):
                problems.add(cw, f"env {dup} set twice")
            for env in c.get("env") or []:
                value_from = env.get("valueFrom") or {}
                for ref_field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if ref_field in value_from:
                        ref = value_from[ref_field]
                        check_ref(f"{cw} env {env.get('name')}", kind, ref.get("name"), ref.get("key"),
                                  bool(ref.get("optional")))
            for mount in c.get("volumeMounts") or []:
                problems.check(mount.get("name") in volumes, cw, f"volumeMount {mount.get('name')} has no volume")
            for env in c.get("env") or []:
                if env.get("name", "").endswith("_FILE") and "value" in env:
                    path = env["value"]
                    problems.check(any(path.startswith(m.get("mountPath", "") + "/") for m in c.get("volumeMounts") or []),
                                   cw, f"{env['name']}={path} is not under a volume mount")
        if labels.get("app.kubernetes.io/part-of") == "campus" and component in ("service", "gateway"):
            problems.check(any(((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == name
                               for h in hpas.values()), where, "no HorizontalPodAutoscaler")

    def pod_templates() -> list[tuple[str, dict, list[dict]]]:
        out = []
        for name, dep in deployments.items():
            template = (dep.get("spec") or {}).get("template") or {}
            out.append((name, (template.get("metadata") or {}).get("labels") or {},
                        (template.get("spec") or {}).get("containers") or []))
        return out

    services = by_kind.get("Service", {})
    for name, svc in services.items():
        where = svc["__where__"]
        spec = svc.get("spec") or {}
        selector = spec.get("selector") or {}
        targets = [t for t in pod_templates() if labels_match(selector, t[1])]
        if not problems.check(targets, where, f"selector {selector} matches no Deployment"):
            continue
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for dep_name, _, containers in targets:
                problems.check(any(container_port(c, target) for c in containers), where,
                               f"targetPort {target} is not a port of Deployment {dep_name}")

    for kind in ("HorizontalPodAutoscaler",):
        for name, hpa in by_kind.get(kind, {}).items():
            where = hpa["__where__"]
            spec = hpa.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            target = deployments.get(ref.get("name")) if ref.get("kind") == "Deployment" else None
            problems.check(target, where, f"scaleTargetRef {ref.get('kind')} {ref.get('name')} does not exist")
            problems.check(spec.get("minReplicas", 1) <= spec.get("maxReplicas", 0), where, "minReplicas above maxReplicas")
            if target:
                containers = ((target["spec"].get("template") or {}).get("spec") or {}).get("containers") or []
                for metric in spec.get("metrics") or []:
                    resource = (metric.get("resource") or {}).get("name")
                    if resource:
                        problems.check(all(((c.get("resources") or {}).get("requests") or {}).get(resource)
                                           for c in containers), where,
                                       f"scales on {resource} utilisation but a container has no {resource} request")

    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        selector = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        problems.check(any(labels_match(selector, t[1]) for t in pod_templates()), pdb["__where__"],
                       f"selector {selector} matches no Deployment")

    # Upstream URLs in ConfigMaps must name a Service of this folder and one of its ports.
    for cm in configmaps.values():
        for key, value in (cm.get("data") or {}).items():
            if not (key.endswith("_ADDR") or key == "OTEL_EXPORTER_OTLP_ENDPOINT"):
                continue
            url = urlparse(str(value))
            host = (url.hostname or "").split(".")
            svc = services.get(host[0])
            where = f"{cm['__where__']} {key}"
            if not problems.check(svc, where, f"{value}: no Service {host[0]}"):
                continue
            if len(host) > 1:
                problems.check(host[1] == (svc["metadata"].get("namespace") or namespace), where,
                               f"{value}: Service {host[0]} is in another namespace")
            problems.check(any(p.get("port") == url.port for p in svc["spec"].get("ports") or []), where,
                           f"{value}: Service {host[0]} has no port {url.port}")

    # A collector configuration embedded in a ConfigMap gets the same check as the compose one.
    for cm in configmaps.values():
        for key, value in (cm.get("data") or {}).items():
            if "otel" in cm["metadata"]["name"] and key.endswith((".yaml", ".yml")):
                check_otel_config(yaml.safe_load(value), f"{cm['__where__']} {key}", problems)

    # kustomization's `images` must name images the containers use, and cover every campus image,
    # so that `kustomize edit set image` reaches them all.
    used_images = {str(c.get("image", "")).rsplit(":", 1)[0]
                   for dep in deployments.values()
                   for c in ((dep["spec"].get("template") or {}).get("spec") or {}).get("containers") or []}
    overridden = {i.get("name") for i in kustomization.get("images") or []}
    for name in sorted(overridden - used_images):
        problems.add("kustomization.yaml", f"images names {name}, which no container uses")
    for name in sorted(i for i in used_images if i.startswith("campus-") and i not in overridden):
        problems.add("kustomization.yaml", f"images does not cover {name}")
    # Each campus image is the Dockerfile built with BINARY=<image name>.
    binaries = workspace_binaries(Path(__file__).resolve().parent.parent)
    for name in sorted(i for i in used_images if i.startswith("campus-") and i not in binaries):
        problems.add(where_images, f"image {name}: the workspace has no binary {name}")

    check_ingresses(by_kind, namespace, problems)
    counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(by_kind.items()))
    print(f"  objects: {counts}")


def check_ingresses(by_kind: dict[str, dict[str, dict]], namespace: str | None, problems: Problems) -> None:
    """Ingress backends name real Service ports; TLS Secrets come from a Certificate whose Issuer
    exists; cert-manager objects carry the fields they need; ALB Ingresses are complete."""
    services = by_kind.get("Service", {})
    certificates = by_kind.get("Certificate", {})
    issuers = by_kind.get("Issuer", {})
    for kind in ("Issuer", "Certificate"):
        for name, obj in by_kind.get(kind, {}).items():
            where = obj["__where__"]
            problems.check(obj.get("apiVersion") == "cert-manager.io/v1", where, "apiVersion is not cert-manager.io/v1")
            for field in sorted(set(obj) - CERT_MANAGER_FIELDS[kind] - {k for k in obj if k.startswith("__")}):
                problems.add(where, f"unknown field {field}")
            spec = obj.get("spec") or {}
            for field in sorted(set(spec) - CERT_MANAGER_SPEC[kind]):
                problems.add(where, f"unknown field spec.{field}")
            if kind == "Issuer":
                acme = spec.get("acme")
                problems.check(len([k for k in spec if k in CERT_MANAGER_SPEC["Issuer"]]) == 1, where,
                               "needs exactly one issuer type (acme, ca, selfSigned, ...)")
                if acme is not None:
                    problems.check(str(acme.get("server", "")).startswith("https://"), where, "acme.server is not https://")
                    problems.check((acme.get("privateKeySecretRef") or {}).get("name"), where,
                                   "acme.privateKeySecretRef.name missing")
                    problems.check(acme.get("solvers"), where, "acme.solvers missing")
            else:
                problems.check(spec.get("secretName"), where, "no spec.secretName")
                problems.check(spec.get("dnsNames") or spec.get("commonName"), where, "no spec.dnsNames")
                ref = spec.get("issuerRef") or {}
                if ref.get("kind", "Issuer") == "Issuer":
                    problems.check(ref.get("name") in issuers, where, f"issuerRef Issuer {ref.get('name')} does not exist")
    issued = {(c.get("spec") or {}).get("secretName"): c for c in certificates.values()}
    for name, ingress in by_kind.get("Ingress", {}).items():
        where = ingress["__where__"]
        spec = ingress.get("spec") or {}
        annotations = (ingress.get("metadata") or {}).get("annotations") or {}
        problems.check(spec.get("ingressClassName"), where, "no spec.ingressClassName")
        hosts = [r.get("host") for r in spec.get("rules") or []]
        backends = [p.get("backend") or {} for r in spec.get("rules") or [] for p in (r.get("http") or {}).get("paths") or []]
        if spec.get("defaultBackend"):
            backends.append(spec["defaultBackend"])
        problems.check(backends, where, "no backends")
        for backend in backends:
            ref = backend.get("service") or {}
            svc = services.get(ref.get("name"))
            if not problems.check(svc, where, f"backend Service {ref.get('name')} does not exist"):
                continue
            port = ref.get("port") or {}
            problems.check(any(port.get("name") == p.get("name") or port.get("number") == p.get("port")
                               for p in (svc.get("spec") or {}).get("ports") or []), where,
                           f"backend Service {ref.get('name')} has no port {port.get('name') or port.get('number')}")
        alb = spec.get("ingressClassName") == "alb"
        if alb:
            arn = annotations.get("alb.ingress.kubernetes.io/certificate-arn", "")
            problems.check(ACM_ARN.match(arn) or "ACM_CERTIFICATE_ARN" in arn, where,
                           f"certificate-arn {arn!r} is not an ACM certificate ARN")
            listen = json.loads(annotations.get("alb.ingress.kubernetes.io/listen-ports", "[]"))
            problems.check({"HTTPS": 443} in listen, where, "no HTTPS:443 listener")
            problems.check(annotations.get("alb.ingress.kubernetes.io/ssl-redirect") == "443", where,
                           "HTTP is not redirected to HTTPS (ssl-redirect)")
            version = annotations.get("alb.ingress.kubernetes.io/backend-protocol-version", "HTTP1")
            health = annotations.get("alb.ingress.kubernetes.io/healthcheck-path", "")
            codes = annotations.get("alb.ingress.kubernetes.io/success-codes", "")
            if version == "GRPC":
                problems.check(health == "/grpc.health.v1.Health/Check", where,
                               f"gRPC target group health check is {health!r}, not /grpc.health.v1.Health/Check")
                problems.check(codes == "0", where, f"gRPC health check success code is {codes!r}, not 0 (OK)")
            else:
                problems.check(health in ("/readyz", "/healthz"), where, f"health check path {health!r}")
            problems.check(not spec.get("tls"), where, "spec.tls on an ALB Ingress (the certificate is ACM's)")
            problems.check(annotations.get("alb.ingress.kubernetes.io/group.name"), where,
                           "no group.name: each Ingress would get an ALB of its own")
            problems.check(not any(k.startswith("nginx.ingress") for k in annotations), where,
                           "ingress-nginx annotations left on an ALB Ingress")
            continue
        tls = spec.get("tls") or []
        problems.check(tls, where, "no TLS")
        for entry in tls:
            cert = issued.get(entry.get("secretName"))
            if not problems.check(cert, where, f"TLS Secret {entry.get('secretName')} is issued by no Certificate"):
                continue
            names = set((cert.get("spec") or {}).get("dnsNames") or [])
            for host in entry.get("hosts") or []:
                problems.check(host in names, where, f"TLS host {host} is not in Certificate {cert['metadata']['name']}")
        for host in hosts:
            problems.check(any(host in (t.get("hosts") or []) for t in tls), where, f"host {host} is served without TLS")


# --- kustomize overlays -----------------------------------------------------------------------

def merge_patch(target: dict, patch: dict) -> dict:
    """A strategic merge patch, as far as campus' overlays use it: maps merge, null removes a
    key, lists of named items (containers, env, ports, volumes) merge by name, other lists replace."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        elif (isinstance(value, list) and isinstance(target.get(key), list)
              and all(isinstance(v, dict) and "name" in v for v in value + target[key])):
            by_name = {item["name"]: item for item in target[key]}
            for item in value:
                if item["name"] in by_name:
                    merge_patch(by_name[item["name"]], item)
                else:
                    target[key].append(item)
        else:
            target[key] = value
    return target


def render_kustomization(folder: Path, problems: Problems) -> list[dict]:
    """Renders a kustomization like `kubectl kustomize` for the features campus uses: resources
    (files and folders), namespace, images, and patches (strategic merge, `$patch: delete`)."""
    path = folder / "kustomization.yaml"
    if not problems.check(path.is_file(), str(folder), "no kustomization.yaml"):
        return []
    k = yaml.safe_load(path.read_text()) or {}
    docs: list[dict] = []
    for resource in k.get("resources") or []:
        target = (folder / resource).resolve()
        if target.is_dir():
            docs += render_kustomization(target, problems)
        elif problems.check(target.is_file(), str(path), f"resource {resource} does not exist"):
            docs += load_documents(target, problems)
    for entry in k.get("patches") or []:
        if "path" in entry:
            patch_path = folder / entry["path"]
            if not problems.check(patch_path.is_file(), str(path), f"patch {entry['path']} does not exist"):
                continue
            patches = [p for p in yaml.safe_load_all(patch_path.read_text()) if p]
        else:
            patches = [p for p in yaml.safe_load_all(entry.get("patch", "")) if p]
        for patch in patches:
            meta = patch.get("metadata") or {}
            matches = [d for d in docs if d.get("kind") == patch.get("kind")
                       and (d.get("metadata") or {}).get("name") == meta.get("name")]
            if not problems.check(matches, str(path), f"patch targets {patch.get('kind')} {meta.get('name')}, which the base lacks"):
                continue
            if patch.get("$patch") == "delete":
                docs = [d for d in docs if d not in matches]
            else:
                for d in matches:
                    merge_patch(d, {k2: v for k2, v in patch.items() if k2 not in ("apiVersion", "kind")})
    if k.get("namespace"):
        for d in docs:
            if d.get("kind") in NAMESPACED:
                d.setdefault("metadata", {})["namespace"] = k["namespace"]
    for image in k.get("images") or []:
        for d in docs:
            pod = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
            for c in pod.get("containers") or []:
                name = str(c.get("image", "")).split("@")[0].rsplit(":", 1)[0]
                if name == image.get("name"):
                    tag = str(c["image"])[len(name):]
                    new = image.get("newName", name)
                    if image.get("digest"):
                        c["image"] = f"{new}@{image['digest']}"
                    else:
                        c["image"] = f"{new}:{image['newTag']}" if image.get("newTag") else new + tag
    return docs


def check_overlay(overlay: Path, base: Path) -> int:
    """An overlay as kustomize renders it gets the base's checks; `kubectl kustomize` must agree
    on the objects where kubectl is installed."""
    problems = Problems()
    docs = render_kustomization(overlay, problems)
    for doc in docs:
        doc["__file__"] = f"{overlay.name}:{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
    base_kustomization = yaml.safe_load((base / "kustomization.yaml").read_text()) or {}
    overlay_kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text()) or {}
    # Images the overlay pins replace the base's (the deploy workflow sets digests there).
    rendered = {(d.get("kind"), d["metadata"]["name"]) for d in docs}
    dropped = [d for path in sorted(base.glob("*.y*ml")) if path.name != "kustomization.yaml"
               for d in load_documents(path, Problems()) if (d.get("kind"), d["metadata"]["name"]) not in rendered]
    check_documents(docs, base_kustomization, str(overlay), problems, external=dropped)
    problems.check(not any(d.get("kind") == "Secret" and "REPLACE" in json.dumps(d.get("stringData") or {})
                           for d in docs), str(overlay), "renders placeholder Secrets, which would overwrite the real ones")
    problems.check(overlay_kustomization.get("resources"), str(overlay), "no resources")
    import shutil

    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True)
        if problems.check(out.returncode == 0, str(overlay), f"kubectl kustomize fails: {out.stderr.strip()}"):
            theirs = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(out.stdout) if d)
            ours = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
            problems.check(theirs == ours, str(overlay), f"kubectl kustomize renders {theirs}, this checker {ours}")
            print("  kubectl kustomize renders the same objects")
    print(f"  overlay {overlay.name}: {len(docs)} objects rendered")
    return problems.report(f"overlay {overlay.name}")


# --- OpenTelemetry collector ------------------------------------------------------------------

def check_otel_config(config: dict, where: str, problems: Problems) -> None:
    if not problems.check(isinstance(config, dict), where, "not a mapping"):
        return
    service = config.get("service") or {}
    pipelines = service.get("pipelines") or {}
    problems.check(pipelines, where, "no service.pipelines")
    problems.check("traces" in pipelines and "metrics" in pipelines, where,
                   "needs a traces and a metrics pipeline (campus exports both)")
    used: dict[str, set] = {"receivers": set(), "processors": set(), "exporters": set()}
    for pipeline_name, pipeline in pipelines.items():
        pipeline = pipeline or {}
        for part in ("receivers", "exporters"):
            problems.check(pipeline.get(part), where, f"pipeline {pipeline_name} has no {part}")
        for part in used:
            for component in pipeline.get(part) or []:
                used[part].add(component)
                problems.check(component in (config.get(part) or {}), where,
                               f"pipeline {pipeline_name} uses {part[:-1]} {component}, which is not defined")
        processors = pipeline.get("processors") or []
        if "memory_limiter" in processors:
            problems.check(processors[0] == "memory_limiter", where,
                           f"pipeline {pipeline_name}: memory_limiter must come first")
    for part, names in used.items():
        for name in config.get(part) or {}:
            problems.check(name in names, where, f"{part[:-1]} {name} is defined but no pipeline uses it")
    for extension in service.get("extensions") or []:
        problems.check(extension in (config.get("extensions") or {}), where, f"extension {extension} is not defined")
    otlp = ((config.get("receivers") or {}).get("otlp") or {}).get("protocols") or {}
    problems.check(str((otlp.get("grpc") or {}).get("endpoint", "")).endswith(":4317"), where,
                   "the OTLP receiver must take gRPC on :4317 (OTEL_EXPORTER_OTLP_ENDPOINT)")


def check_otel(path: Path) -> int:
    problems = Problems()
    check_otel_config(yaml.safe_load(path.read_text()), path.name, problems)
    return problems.report("otel collector config")


# --- docker-compose ---------------------------------------------------------------------------

def check_compose(json_path: Path) -> int:
    problems = Problems()
    config = json.loads(json_path.read_text())
    services = config.get("services") or {}
    secrets = config.get("secrets") or {}
    campus = ["account", "board", "messaging", "timetable", "gateway"]
    for name in campus + ["postgres", "otel-collector", "jaeger"]:
        problems.check(name in services, "compose", f"no service {name}")

    def listen_port(svc: str) -> int | None:
        env = (services.get(svc) or {}).get("environment") or {}
        value = env.get(f"{svc.upper()}_LISTEN_ADDR") or ""
        host, _, port = value.rpartition(":")
        return int(port) if port.isdigit() and host == "0.0.0.0" else None

    postgres_env = (services.get("postgres") or {}).get("environment") or {}
    for name in campus:
        svc = services.get(name)
        if svc is None:
            continue
        where = f"compose {name}"
        env = svc.get("environment") or {}
        build = svc.get("build") or {}
        args = build.get("args") or {}
        expected_port = CAMPUS_SERVICES.get(name, GATEWAY_PORT)
        problems.check(args.get("BINARY") == f"campus-{name}", where, f"build arg BINARY is {args.get('BINARY')!r}")
        problems.check(str(args.get("PORT")) == str(expected_port), where, f"build arg PORT is {args.get('PORT')!r}")
        problems.check(Path(build.get("context", ""), build.get("dockerfile", "Dockerfile")).is_file(), where,
                       "build context has no Dockerfile")
        problems.check(svc.get("image"), where, "no image name")
        problems.check(listen_port(name) == expected_port, where,
                       f"{name.upper()}_LISTEN_ADDR must be 0.0.0.0:{expected_port} (reachable from other containers)")
        health = svc.get("healthcheck") or {}
        test = health.get("test") or []
        problems.check(test and not health.get("disable") and test[0] != "NONE", where, "no health check")
        problems.check(any(str(t).endswith(f":{expected_port}") for t in test), where,
                       f"health check does not probe port {expected_port}: {test}")
        depends = svc.get("depends_on") or {}
        # Configuration comes from the environment only: named volumes for data, no bind mounts.
        for volume in svc.get("volumes") or []:
            problems.check(volume.get("type") == "volume", where, f"mounts {volume.get('source')} from the host")
        if name in WITH_DATABASE:
            url = urlparse(env.get(f"{name.upper()}_DATABASE_URL", ""))
            if problems.check(url.scheme == "postgres" and url.hostname == "postgres", where,
                              f"{name.upper()}_DATABASE_URL is not postgres://…@postgres"):
                problems.check(url.username == name and url.path == f"/{name}", where,
                               f"connects as {url.username} to {url.path}, not as {name} to /{name}")
                problems.check(url.password == postgres_env.get(f"{name.upper()}_DB_PASSWORD"), where,
                               f"database password differs from postgres' {name.upper()}_DB_PASSWORD")
            problems.check((depends.get("postgres") or {}).get("condition") == "service_healthy", where,
                           "does not wait for postgres to be healthy")
        for key, value in env.items():
            if key.endswith("_ADDR") and not key.endswith(("LISTEN_ADDR", "REDIRECT_ADDR")):
                url = urlparse(str(value))
                upstream = url.hostname
                problems.check(upstream in services and listen_port(upstream) == url.port, where,
                               f"{key}={value} does not name a service's listen port")
                problems.check((depends.get(upstream) or {}).get("condition") == "service_healthy", where,
                               f"calls {upstream} but does not wait for it to be healthy")
        problems.check(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://otel-collector:4317", where,
                       "OTEL_EXPORTER_OTLP_ENDPOINT is not the collector")
        mounted = {s.get("target") or f"/run/secrets/{s.get('source')}": s.get("source") for s in svc.get("secrets") or []}
        for key in ("CAMPUS_JWT_PUBLIC_KEY_FILE", "CAMPUS_JWT_PRIVATE_KEY_FILE"):
            if env.get(key):
                problems.check(env[key] in mounted, where, f"{key}={env[key]} is not a mounted secret")
        problems.check(env.get("CAMPUS_SERVICE_TOKEN"), where, "no CAMPUS_SERVICE_TOKEN")
        if name != "gateway":
            problems.check(env.get("CAMPUS_JWT_PUBLIC_KEY_FILE") or env.get("CAMPUS_JWT_PUBLIC_KEY"), where,
                           "no JWT public key")
        has_private = "jwt_private_key" in mounted.values()
        problems.check(has_private == (name == "gateway"), where,
                       "only the gateway may hold the signing key" if has_private else "the gateway needs the signing key")

    gateway = services.get("gateway") or {}
    problems.check(any(str(p.get("target")) == str(GATEWAY_PORT) and p.get("published")
                       for p in gateway.get("ports") or []), "compose gateway", "port 8080 is not published")
    problems.check(all(not (services.get(n) or {}).get("ports") for n in CAMPUS_SERVICES), "compose",
                   "only the gateway is public; a service publishes a port")

    postgres = services.get("postgres") or {}
    problems.check(str(postgres.get("image", "")).startswith("postgres:16"), "compose postgres", "not PostgreSQL 16")
    problems.check(postgres.get("healthcheck", {}).get("test"), "compose postgres", "no health check")
    init = [v for v in postgres.get("volumes") or [] if v.get("target") == "/docker-entrypoint-initdb.d"]
    if problems.check(init, "compose postgres", "no init scripts mounted at /docker-entrypoint-initdb.d"):
        scripts = sorted(Path(init[0]["source"]).glob("*.sh"))
        problems.check(scripts, "compose postgres", f"no *.sh in {init[0]['source']}")
        created = re.search(r'CAMPUS_DATABASES:-([^}"]*)', "".join(s.read_text() for s in scripts))
        for name in WITH_DATABASE:
            problems.check(created and name in created.group(1).split(), "compose postgres",
                           f"the init scripts do not create the {name} database")
    for name in WITH_DATABASE:
        problems.check(postgres_env.get(f"{name.upper()}_DB_PASSWORD"), "compose postgres",
                       f"no {name.upper()}_DB_PASSWORD for the init script")

    collector = services.get("otel-collector") or {}
    config_mounts = [v for v in collector.get("volumes") or [] if v.get("type") == "bind"]
    if problems.check(config_mounts, "compose otel-collector", "no configuration mounted"):
        source = Path(config_mounts[0]["source"])
        if problems.check(source.is_file(), "compose otel-collector", f"{source} does not exist"):
            collector_config = yaml.safe_load(source.read_text())
            check_otel_config(collector_config, source.name, problems)
            for exporter in (collector_config.get("exporters") or {}).values():
                endpoint = str((exporter or {}).get("endpoint", ""))
                host = endpoint.split("://")[-1].split(":")[0]
                if host and host not in ("0.0.0.0", "localhost"):
                    problems.check(host in services, "compose otel-collector", f"exports to {endpoint}: no such service")
    jaeger = services.get("jaeger") or {}
    problems.check(any(str(p.get("target")) == "16686" for p in jaeger.get("ports") or []), "compose jaeger",
                   "trace UI port 16686 is not published")

    # The key pair must be a pair: the public key derived from the private one.
    files = {name: Path(s.get("file", "")) for name, s in secrets.items()}
    for name in ("jwt_private_key", "jwt_public_key"):
        problems.check(name in files and files[name].is_file(), "compose secrets", f"{name}: file missing")
    if all(name in files and files[name].is_file() for name in ("jwt_private_key", "jwt_public_key")):
        derived = subprocess.run(["openssl", "pkey", "-in", str(files["jwt_private_key"]), "-pubout"],
                                 capture_output=True, text=True)
        problems.check(derived.returncode == 0 and "ED25519" in subprocess.run(
            ["openssl", "pkey", "-in", str(files["jwt_private_key"]), "-noout", "-text"],
            capture_output=True, text=True).stdout.upper(), "compose secrets", "jwt_private_key is not an Ed25519 key")
        problems.check(derived.stdout.strip() == files["jwt_public_key"].read_text().strip(), "compose secrets",
                       "jwt_public_key is not the public half of jwt_private_key")

    print(f"  compose: {len(services)} services, {len(secrets)} secrets")
    return problems.report("docker compose")


def check_compose_tls(json_path: Path) -> int:
    """docker-compose.yml with docker-compose.tls.yml on top: the base checks, then the gateway's
    certificate: mounted as secrets, a key pair, signed by the CA it names, valid for localhost,
    and the health check and the redirect listener in place."""
    problems = Problems()
    config = json.loads(json_path.read_text())
    gateway = (config.get("services") or {}).get("gateway") or {}
    env = gateway.get("environment") or {}
    where = "compose tls gateway"
    mounted = {s.get("target") or f"/run/secrets/{s.get('source')}": s.get("source") for s in gateway.get("secrets") or []}
    files = {name: Path(s.get("file", "")) for name, s in (config.get("secrets") or {}).items()}
    paths = {}
    for key in ("GATEWAY_TLS_CERT_FILE", "GATEWAY_TLS_KEY_FILE", "CAMPUS_TLS_CA_FILE"):
        value = env.get(key)
        if problems.check(value in mounted, where, f"{key}={value} is not a mounted secret"):
            path = files.get(mounted[value])
            if problems.check(path and path.is_file(), where, f"{key}: {path} does not exist"):
                paths[key] = path
    if len(paths) == 3:
        cert, key, ca = (str(paths[k]) for k in ("GATEWAY_TLS_CERT_FILE", "GATEWAY_TLS_KEY_FILE", "CAMPUS_TLS_CA_FILE"))

        def openssl(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["openssl", *args], capture_output=True, text=True)

        from_cert = openssl("x509", "-in", cert, "-noout", "-pubkey").stdout.strip()
        from_key = openssl("pkey", "-in", key, "-pubout").stdout.strip()
        problems.check(from_cert and from_cert == from_key, where, "the certificate and the key are not a pair")
        verified = openssl("verify", "-CAfile", ca, cert)
        problems.check(verified.returncode == 0, where, f"the certificate does not verify against the CA: {verified.stdout.strip()}")
        problems.check(openssl("x509", "-in", cert, "-noout", "-checkhost", "localhost").stdout.find("does match") >= 0,
                       where, "the certificate is not valid for localhost (the health check's name)")
        problems.check(openssl("x509", "-in", cert, "-noout", "-checkend", str(30 * 86400)).returncode == 0, where,
                       "the certificate expires within 30 days: bash deploy/gen-dev-certs.sh --force deploy/dev-certs")
    test = (gateway.get("healthcheck") or {}).get("test") or []
    problems.check(any(str(t).startswith("https://") for t in test), where, f"the health check does not use TLS: {test}")
    redirect = env.get("GATEWAY_HTTP_REDIRECT_ADDR", "")
    port = redirect.rpartition(":")[2]
    problems.check(redirect.startswith("0.0.0.0:") and any(str(p.get("target")) == port and p.get("published")
                                                           for p in gateway.get("ports") or []),
                   where, f"redirect listener {redirect!r} is not on 0.0.0.0 with its port published")
    problems.check(all(o.strip().startswith("https://") for o in str(env.get("CAMPUS_ALLOWED_ORIGINS", "")).split(",")),
                   where, "CAMPUS_ALLOWED_ORIGINS names a plain-HTTP origin")
    return problems.report("docker compose tls")


# --- Dockerfile -------------------------------------------------------------------------------

def workspace_binaries(root: Path) -> set[str]:
    """Binary names the workspace builds: each package's own name (src/main.rs) and src/bin/*.rs."""
    import tomllib

    manifest = tomllib.loads((root / "Cargo.toml").read_text())
    names = set()
    for member in manifest.get("workspace", {}).get("members", []):
        package_dir = root / member
        package = tomllib.loads((package_dir / "Cargo.toml").read_text())
        name = package.get("package", {}).get("name")
        if name and (package_dir / "src" / "main.rs").is_file():
            names.add(name)
        names.update(p.stem for p in (package_dir / "src" / "bin").glob("*.rs"))
        names.update(b["name"] for b in package.get("bin", []) if "name" in b)
    return names


def check_dockerfile(path: Path) -> int:
    import dockerfile

    problems = Problems()
    where = path.name
    try:
        commands = dockerfile.parse_file(str(path))
    except dockerfile.GoParseError as e:
        problems.add(where, f"does not parse: {e}")
        return problems.report("Dockerfile")
    stages: list[dict] = []
    for c in commands:
        if c.cmd == "FROM":
            alias = c.value[2].lower() if len(c.value) >= 3 and c.value[1].upper() == "AS" else None
            stages.append({"base": c.value[0], "alias": alias, "commands": []})
        elif stages:
            stages[-1]["commands"].append(c)
    aliases = [s["alias"] for s in stages]
    problems.check(len(stages) >= 2, where, "not multi-stage")
    for i, stage in enumerate(stages):
        for c in stage["commands"]:
            for flag in c.flags:
                if flag.startswith("--from="):
                    source = flag.split("=", 1)[1].lower()
                    problems.check(source in aliases[:i], where,
                                   f"stage {stage['alias']}: COPY --from={source} is not an earlier stage")
        # The compile must not depend on BINARY, or each image would compile the workspace again.
        text = " ".join(" ".join(c.value) for c in stage["commands"])
        if "cargo build" in text or "cargo chef cook" in text:
            problems.check("BINARY" not in text and not any(c.cmd == "ARG" and "BINARY" in c.value[0]
                                                            for c in stage["commands"]),
                           where, f"stage {stage['alias']} compiles and depends on BINARY")
    compiled = " ".join(" ".join(c.value) for s in stages for c in s["commands"])
    problems.check("cargo chef cook" in compiled and compiled.index("cargo chef cook") < compiled.index("cargo build"),
                   where, "no cached dependency layer (cargo chef cook before cargo build)")
    final = stages[-1] if stages else {"commands": [], "base": ""}
    cmds = {c.cmd: c for c in final["commands"]}
    user = cmds.get("USER")
    problems.check(user and user.value[0].split(":")[0] not in ("root", "0"), where, "the runtime stage runs as root")
    problems.check(user and user.value[0].split(":")[0].isdigit(), where,
                   "USER should be numeric so Kubernetes can verify runAsNonRoot")
    problems.check("ENTRYPOINT" in cmds, where, "no ENTRYPOINT")
    problems.check("EXPOSE" in cmds, where, "no EXPOSE")
    problems.check(not final["base"].startswith("rust"), where, "the runtime stage is the Rust toolchain image")

    root = path.resolve().parent
    binaries = workspace_binaries(root)
    problems.check("campus-healthcheck" in binaries, where, "the workspace builds no campus-healthcheck")
    default = next((c.value[0].split("=", 1)[1] for s in stages for c in s["commands"]
                    if c.cmd == "ARG" and c.value[0].startswith("BINARY=")), None)
    problems.check(default in binaries, where, f"default BINARY {default} is not a workspace binary")
    print(f"  dockerfile: {len(stages)} stages; workspace binaries: {', '.join(sorted(binaries))}")

    ignore = root / ".dockerignore"
    entries = set(ignore.read_text().split()) if ignore.is_file() else set()
    for needed in ("target", ".git"):
        problems.check(needed in entries, ".dockerignore", f"does not exclude {needed}")
    return problems.report("Dockerfile")


def check_images_buildable(compose_json: Path) -> int:
    """Every BINARY that compose builds exists in the workspace."""
    problems = Problems()
    config = json.loads(compose_json.read_text())
    root = Path(__file__).resolve().parent.parent
    binaries = workspace_binaries(root)
    for name, svc in (config.get("services") or {}).items():
        binary = ((svc.get("build") or {}).get("args") or {}).get("BINARY")
        if binary:
            problems.check(binary in binaries, f"compose {name}", f"builds {binary}, which the workspace does not have")
    return problems.report("compose images")


def main(argv: list[str]) -> int:
    if argv[1:2] == ["overlay"] and len(argv) == 4:
        return check_overlay(Path(argv[2]), Path(argv[3]))
    if len(argv) != 3 or argv[1] not in ("k8s", "compose", "compose-tls", "otel", "dockerfile"):
        print(__doc__)
        return 2
    mode, path = argv[1], Path(argv[2])
    if mode == "k8s":
        return check_k8s(path)
    if mode == "compose":
        return check_compose(path) | check_images_buildable(path)
    if mode == "compose-tls":
        return check_compose(path) | check_compose_tls(path)
    if mode == "dockerfile":
        return check_dockerfile(path)
    return check_otel(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
