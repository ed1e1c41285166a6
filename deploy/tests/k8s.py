"""Checks of Kubernetes and Knative objects that need no cluster: schemas, required fields, references.

The Knative kinds are validated against the JSON schemas of their CRDs (deploy/schemas, strict: an
unknown field is an error). The core kinds we use (Namespace, ConfigMap, Secret, PersistentVolumeClaim,
Deployment) have no schema here, so their required fields and pod templates are checked by hand, and
every container of every workload is validated against Knative's container schema, a strict subset
of the core Container, which catches misspelt fields.
"""

import base64
import json
import os
import re

import jsonschema

SCHEMA_FILES = {
    ("sources.knative.dev/v1", "ContainerSource"): "sources.knative.dev/containersource_v1.json",
    ("sources.knative.dev/v1", "SinkBinding"): "sources.knative.dev/sinkbinding_v1.json",
    ("serving.knative.dev/v1", "Service"): "serving.knative.dev/service_v1.json",
    ("eventing.knative.dev/v1", "Broker"): "eventing.knative.dev/broker_v1.json",
    ("eventing.knative.dev/v1", "Trigger"): "eventing.knative.dev/trigger_v1.json",
    ("eventing.knative.dev/v1alpha1", "EventPolicy"): "eventing.knative.dev/eventpolicy_v1alpha1.json",
}
CORE_KINDS = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "PersistentVolumeClaim"),
              ("apps/v1", "Deployment")}
# Fields of a core PodSpec that our workloads may use (a typo elsewhere is an error).
POD_SPEC_FIELDS = {
    "affinity", "automountServiceAccountToken", "containers", "dnsConfig", "dnsPolicy", "enableServiceLinks",
    "hostAliases", "imagePullSecrets", "initContainers", "nodeSelector", "priorityClassName",
    "runtimeClassName", "schedulerName", "securityContext", "serviceAccountName", "terminationGracePeriodSeconds",
    "tolerations", "topologySpreadConstraints", "volumes",
}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class Schemas:
    """The Knative CRD schemas, loaded once."""

    def __init__(self, directory):
        self.by_kind = {}
        for key, rel in SCHEMA_FILES.items():
            with open(os.path.join(directory, rel)) as f:
                self.by_kind[key] = jsonschema.Draft7Validator(json.load(f))
        service = self.by_kind[("serving.knative.dev/v1", "Service")].schema
        container = service["properties"]["spec"]["properties"]["template"]["properties"]["spec"][
            "properties"]["containers"]["items"]
        self.container = jsonschema.Draft7Validator(container)

    def knows(self, doc):
        return (doc.get("apiVersion"), doc.get("kind")) in self.by_kind


def ident(doc):
    meta = doc.get("metadata") or {}
    return f"{doc.get('kind')}/{meta.get('name')}"


def _errors(validator, value, where):
    out = []
    for e in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in e.absolute_path)
        out.append(f"{where}: {path or '(top)'}: {e.message}")
    return out


def pod_spec(doc):
    """The pod spec of a workload (Deployment, ContainerSource, Knative Service), else None."""
    spec = doc.get("spec") or {}
    if doc.get("kind") in ("Deployment", "ContainerSource") or (
            doc.get("kind") == "Service" and doc.get("apiVersion", "").startswith("serving.knative.dev/")):
        return ((spec.get("template") or {}).get("spec")) or {}
    return None


def containers(doc):
    spec = pod_spec(doc)
    if spec is None:
        return []
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


def validate(doc, schemas, where):
    """Errors of one object: schema (Knative) or required fields (core kinds)."""
    errors = []
    meta = doc.get("metadata")
    key = (doc.get("apiVersion"), doc.get("kind"))
    if not isinstance(meta, dict) or not meta.get("name"):
        return [f"{where}: {ident(doc)} has no metadata.name"]
    if not NAME_RE.match(meta["name"]) or len(meta["name"]) > 63:
        errors.append(f"{where}: {ident(doc)}: name is not a DNS label (lower case, digits, '-')")
    if schemas.knows(doc):
        errors += _errors(schemas.by_kind[key], doc, f"{where}: {ident(doc)}")
    elif key in CORE_KINDS:
        errors += _core(doc, f"{where}: {ident(doc)}")
    else:
        errors.append(f"{where}: {ident(doc)}: unknown apiVersion/kind {key}; add its schema or a check")
    spec = pod_spec(doc)
    if spec is not None:
        if doc.get("kind") != "Service":
            unknown = set(spec) - POD_SPEC_FIELDS
            if unknown:
                errors.append(f"{where}: {ident(doc)}: unknown pod spec fields {sorted(unknown)}")
        if not spec.get("containers"):
            errors.append(f"{where}: {ident(doc)}: the pod template has no containers")
        for c in containers(doc):
            cw = f"{where}: {ident(doc)} container {c.get('name')}"
            errors += _errors(schemas.container, c, cw)
            if not c.get("name") or not c.get("image"):
                errors.append(f"{cw}: every container needs a name and an image")
        mounts = {m.get("name") for c in containers(doc) for m in c.get("volumeMounts") or []}
        volumes = {v.get("name") for v in spec.get("volumes") or []}
        if mounts - volumes:
            errors.append(f"{where}: {ident(doc)}: volumeMounts without a volume: {sorted(mounts - volumes)}")
    return errors


def _core(doc, where):
    kind, spec, errors = doc["kind"], doc.get("spec") or {}, []
    if kind in ("ConfigMap", "Secret"):
        for field in ("data", "stringData"):
            values = doc.get(field) or {}
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                errors.append(f"{where}: {field} must map names to strings")
        for k in doc.get("data") or {}:
            if kind == "Secret":
                try:
                    base64.b64decode("".join(str(doc["data"][k]).split()), validate=True)
                except ValueError:
                    errors.append(f"{where}: data.{k} is not base64")
    elif kind == "PersistentVolumeClaim":
        if not spec.get("accessModes"):
            errors.append(f"{where}: spec.accessModes is required")
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            errors.append(f"{where}: spec.resources.requests.storage is required")
    elif kind == "Deployment":
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector:
            errors.append(f"{where}: spec.selector.matchLabels is required")
        elif any(labels.get(k) != v for k, v in selector.items()):
            errors.append(f"{where}: spec.selector {selector} does not match the template labels {labels}")
    return errors


def references(docs, where):
    """Errors for references to objects that the same set of documents does not contain."""
    have = {(d.get("kind"), (d.get("metadata") or {}).get("name")) for d in docs}
    data = {(d.get("kind"), (d.get("metadata") or {}).get("name")): set((d.get("data") or {}))
            | set(d.get("stringData") or {}) for d in docs if d.get("kind") in ("ConfigMap", "Secret")}
    errors = []

    def need(kind, name, by, key=None):
        if (kind, name) not in have:
            errors.append(f"{where}: {by} refers to {kind}/{name}, which is not in the manifests")
        elif key is not None and key not in data.get((kind, name), set()):
            errors.append(f"{where}: {by} refers to key {key!r} of {kind}/{name}, which it does not have")

    def need_dest(dest, by):
        ref = (dest or {}).get("ref")
        if ref:
            need(ref.get("kind"), ref.get("name"), by)

    for d in docs:
        by = ident(d)
        spec = d.get("spec") or {}
        for c in containers(d):
            for src in c.get("envFrom") or []:
                if "configMapRef" in src:
                    need("ConfigMap", src["configMapRef"].get("name"), by)
                if "secretRef" in src:
                    need("Secret", src["secretRef"].get("name"), by)
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                if "configMapKeyRef" in vf:
                    need("ConfigMap", vf["configMapKeyRef"].get("name"), by, vf["configMapKeyRef"].get("key"))
                if "secretKeyRef" in vf:
                    need("Secret", vf["secretKeyRef"].get("name"), by, vf["secretKeyRef"].get("key"))
        for v in (pod_spec(d) or {}).get("volumes") or []:
            if "configMap" in v:
                need("ConfigMap", v["configMap"].get("name"), by)
            if "secret" in v:
                need("Secret", v["secret"].get("secretName"), by)
            if "persistentVolumeClaim" in v:
                need("PersistentVolumeClaim", v["persistentVolumeClaim"].get("claimName"), by)
        if d.get("kind") in ("ContainerSource", "SinkBinding"):
            need_dest(spec.get("sink"), by)
        if d.get("kind") == "SinkBinding":
            subject = spec.get("subject") or {}
            if subject.get("name"):
                need(subject.get("kind"), subject.get("name"), by)
        if d.get("kind") == "Trigger":
            need("Broker", spec.get("broker"), by)
            need_dest(spec.get("subscriber"), by)
        if d.get("kind") in ("Trigger", "Broker"):
            need_dest((spec.get("delivery") or {}).get("deadLetterSink"), by)
        if d.get("kind") == "EventPolicy":
            for entry in (spec.get("to") or []) + (spec.get("from") or []):
                if entry.get("ref"):
                    need(entry["ref"].get("kind"), entry["ref"].get("name"), by)
    return errors
