#!/usr/bin/env python3
"""Checks deploy/k8s/*.yaml without a cluster: every document parses and is
a known kind with a name, the objects refer to each other consistently
(selectors, ports, volumes, ConfigMaps, the HPA target), the pod runs as the
Dockerfile's non-root user with a read-only root file system, and the
termination grace period covers preStop + drain_delay_ms +
request_deadline_ms as the ConfigMap's kgalign.conf sets them.

usage: check_k8s.py K8S_DIR DOCKERFILE
Needs PyYAML; exits 3 when it is missing (the caller then skips), 1 on a
problem, 0 when everything holds. Prints one line per problem."""
import glob
import os
import re
import sys

try:
    import yaml
except ImportError:
    print("check_k8s: PyYAML is not installed", file=sys.stderr)
    sys.exit(3)

KINDS = {
    ("v1", "ConfigMap"), ("v1", "Service"), ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"), ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
}

problems = []


def problem(msg):
    problems.append(msg)


def subset(a, b):
    return all(b.get(k) == v for k, v in (a or {}).items())


def conf_value(text, key):
    for line in text.splitlines():
        m = re.match(r"\s*%s\s*=\s*(.*?)\s*$" % re.escape(key), line)
        if m:
            return m.group(1)
    return None


def duration_s(value, unit):
    """A kgalign duration (bare number in the key's unit, or ms/s/m/h)."""
    m = re.fullmatch(r"([0-9.]+)\s*(ms|s|m|h)?", value or "")
    if not m:
        return None
    n = float(m.group(1))
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return n * scale[m.group(2) or unit]


def main():
    k8s_dir, dockerfile = sys.argv[1], sys.argv[2]
    objs = {}
    files = sorted(glob.glob(os.path.join(k8s_dir, "*.yaml")))
    if not files:
        problem("no manifests in %s" % k8s_dir)
    for path in files:
        name = os.path.basename(path)
        with open(path) as f:
            text = f.read()
        if "\t" in text:
            problem("%s: contains a tab" % name)
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            problem("%s: %s" % (name, e))
            continue
        for d in docs:
            key = (d.get("apiVersion"), d.get("kind"))
            if key not in KINDS:
                problem("%s: unexpected apiVersion/kind %s" % (name, key))
                continue
            if d["kind"] == "Kustomization":
                for r in d.get("resources", []):
                    if not os.path.exists(os.path.join(k8s_dir, r)):
                        problem("%s: resource %s does not exist" % (name, r))
                listed = set(d.get("resources", []))
                for other in files:
                    o = os.path.basename(other)
                    if o != name and o not in listed:
                        problem("%s: %s is not listed" % (name, o))
                continue
            meta = d.get("metadata") or {}
            if not meta.get("name"):
                problem("%s: a %s without metadata.name" % (name, d["kind"]))
                continue
            objs[(d["kind"], meta["name"])] = d

    deps = [o for (k, _), o in objs.items() if k == "Deployment"]
    if len(deps) != 1:
        problem("expected one Deployment, found %d" % len(deps))
        return
    dep = deps[0]
    spec = dep["spec"]
    pod = spec["template"]
    labels = pod["metadata"].get("labels") or {}
    if not subset(spec["selector"].get("matchLabels"), labels):
        problem("Deployment: selector does not match the pod labels")
    if spec.get("replicas") != 3:
        problem("Deployment: replicas is %s, not 3" % spec.get("replicas"))
    pspec = pod["spec"]
    containers = pspec["containers"]
    c = containers[0]
    port_names = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}

    def probe_port_ok(probe, what):
        if not probe:
            problem("container: no %s" % what)
            return None
        get = probe.get("httpGet") or {}
        port = get.get("port")
        if port not in port_names and port not in port_names.values():
            problem("%s: port %s is not a container port" % (what, port))
        return get.get("path")

    if probe_port_ok(c.get("livenessProbe"), "livenessProbe") != "/healthz":
        problem("livenessProbe: not GET /healthz")
    if probe_port_ok(c.get("readinessProbe"), "readinessProbe") != "/readyz":
        problem("readinessProbe: not GET /readyz")

    # Non-root, read-only root file system, and the Dockerfile's user.
    psc = pspec.get("securityContext") or {}
    csc = c.get("securityContext") or {}
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
        problem("securityContext: runAsNonRoot is not set")
    if not csc.get("readOnlyRootFilesystem"):
        problem("securityContext: readOnlyRootFilesystem is not set")
    if csc.get("allowPrivilegeEscalation") is not False:
        problem("securityContext: allowPrivilegeEscalation is not false")
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    with open(dockerfile) as f:
        m = re.search(r"^USER\s+(\d+)", f.read(), re.M)
    if m and uid is not None and int(m.group(1)) != uid:
        problem("runAsUser %s differs from the Dockerfile's USER %s"
                % (uid, m.group(1)))

    # Volumes, ConfigMaps and the claim exist.
    vols = {v["name"]: v for v in pspec.get("volumes", [])}
    for vm in c.get("volumeMounts", []):
        if vm["name"] not in vols:
            problem("volumeMount %s: no such volume" % vm["name"])
        if vm.get("mountPath") == "/data" and not vm.get("readOnly"):
            problem("volumeMount /data: not read-only")
    for v in vols.values():
        if "configMap" in v and ("ConfigMap", v["configMap"]["name"]) not in objs:
            problem("volume %s: no ConfigMap %s" % (v["name"], v["configMap"]["name"]))
        pvc = v.get("persistentVolumeClaim")
        if pvc and ("PersistentVolumeClaim", pvc["claimName"]) not in objs:
            problem("volume %s: no PersistentVolumeClaim %s" % (v["name"], pvc["claimName"]))
    for ef in c.get("envFrom", []):
        ref = (ef.get("configMapRef") or {}).get("name")
        if ref and ("ConfigMap", ref) not in objs:
            problem("envFrom: no ConfigMap %s" % ref)

    # Service, PDB, HPA point at the Deployment's pods.
    for (kind, name), o in objs.items():
        if kind == "Service":
            if not subset(o["spec"].get("selector"), labels) or not o["spec"].get("selector"):
                problem("Service %s: selector does not match the pods" % name)
            for p in o["spec"]["ports"]:
                t = p.get("targetPort")
                if t not in port_names and t not in port_names.values():
                    problem("Service %s: targetPort %s is not a container port" % (name, t))
        elif kind == "PodDisruptionBudget":
            if not subset(o["spec"]["selector"].get("matchLabels"), labels):
                problem("PodDisruptionBudget %s: selector does not match the pods" % name)
            if "minAvailable" not in o["spec"] and "maxUnavailable" not in o["spec"]:
                problem("PodDisruptionBudget %s: neither minAvailable nor maxUnavailable" % name)
        elif kind == "HorizontalPodAutoscaler":
            t = o["spec"]["scaleTargetRef"]
            if (t.get("kind"), t.get("name")) != ("Deployment", dep["metadata"]["name"]):
                problem("HorizontalPodAutoscaler %s: does not target the Deployment" % name)
            if o["spec"].get("minReplicas", 1) < 2:
                problem("HorizontalPodAutoscaler %s: minReplicas below 2" % name)

    # The grace period covers preStop + drain + the last request's deadline.
    conf = None
    for v in vols.values():
        if "configMap" in v:
            cm = objs.get(("ConfigMap", v["configMap"]["name"]))
            if cm and "kgalign.conf" in (cm.get("data") or {}):
                conf = cm["data"]["kgalign.conf"]
    if conf is None:
        problem("no ConfigMap with kgalign.conf is mounted")
        return
    drain = duration_s(conf_value(conf, "drain_delay_ms"), "ms")
    deadline = duration_s(conf_value(conf, "request_deadline_ms"), "ms")
    if drain is None or deadline is None:
        problem("kgalign.conf: drain_delay_ms or request_deadline_ms missing")
        return
    pre = 0.0
    cmd = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command")
    if cmd and cmd[0] == "sleep":
        pre = float(cmd[1])
    elif ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep"):
        pre = float(c["lifecycle"]["preStop"]["sleep"]["seconds"])
    else:
        problem("container: no preStop sleep")
    grace = pspec.get("terminationGracePeriodSeconds", 30)
    need = pre + drain + deadline
    if grace <= need:
        problem("terminationGracePeriodSeconds %s <= preStop %g + drain %g + deadline %g"
                % (grace, pre, drain, deadline))
    port = conf_value(conf, "port")
    if port is not None and int(port) not in port_names.values():
        problem("kgalign.conf port %s is not a container port" % port)


main()
for p in problems:
    print("check_k8s: %s" % p)
sys.exit(1 if problems else 0)
