#!/usr/bin/env python3
"""Deterministic generator of a platform-configuration tree for bench/backup-pipeline.

    gentree.py OUT_DIR [--scale S] [--seed N] [--bytes-factor F]

Writes, under OUT_DIR/tree, a monorepo-like project whose configuration (compose files,
Dockerfiles and docker/ trees with JSON dashboards, Kubernetes manifests per environment,
nginx, PostgreSQL, Django settings, project metadata, .env files, certificates and a
Let's Encrypt layout) amounts to about 105 MB per unit of scale, among noise the backup must
leave out (application source, templates, media, node_modules, .git, __pycache__, venv:
about 95 MB per unit of scale).

Also writes OUT_DIR/config-files.txt: the files the default collection rules pick up, one path
per line relative to the tree, sorted (the input of the pigz and Python lines), and
OUT_DIR/stats.json (counts and bytes of config and noise). The same seed and scale give the
same bytes, modes and mtimes on every run and machine.

--bytes-factor F makes every configuration file about F times larger (more generated lines of
the same kind appended as comments, more certificates in PEM files) while the file list stays
the same: a tree with F times the bytes but not more files.
"""

import argparse
import base64
import json
import os
import random
import shutil

MTIME = 1_790_000_000  # a fixed timestamp (2026-09) so tar headers are reproducible
UNITS_PER_SCALE = 6  # platforms per unit of scale; each holds about 18 MB of configuration

SERVICES = [
    "api", "web", "billing", "auth", "search", "notify", "reports", "ingest", "media",
    "gateway", "scheduler", "audit", "catalog", "orders", "payments", "profile", "inventory",
    "shipping", "chat", "analytics", "export", "importer", "mailer", "pdf", "thumbnails",
]
ENVS = ["dev", "staging", "prod", "prod-eu", "prod-us", "dr"]
WORDS = (
    "server listen proxy upstream location replicas image container value name port host "
    "database timeout worker cache enabled metadata labels app web celery postgres redis nginx "
    "limits requests memory cpu readiness liveness probe path backend frontend queue retry "
    "interval threshold secret volume mount config annotations selector strategy rolling "
    "update max surge unavailable affinity toleration node region zone bucket endpoint"
).split()


class Gen:
    """All randomness flows from one seeded generator, in a fixed call order."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def word(self):
        return self.r.choice(WORDS)

    def ident(self, parts=2):
        return "-".join(self.word() for _ in range(parts))

    def hexs(self, n):
        return "%0*x" % (n, self.r.getrandbits(4 * n))

    def b64(self, nbytes):
        return base64.b64encode(self.r.randbytes(nbytes)).decode()

    def num(self, lo, hi):
        return self.r.randint(lo, hi)


def pem(g, label, nbytes):
    body = g.b64(nbytes)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


# ----- configuration content ------------------------------------------------------------------

def k8s_deployment(g, svc, env):
    reps = g.num(1, 12)
    env_vars = "".join(
        f"            - name: {g.word().upper()}_{g.word().upper()}\n"
        f"              value: \"{g.ident()}\"\n" for _ in range(g.num(8, 30)))
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {svc}
  namespace: {env}
  labels:
    app.kubernetes.io/name: {svc}
    app.kubernetes.io/part-of: platform
    app.kubernetes.io/version: "1.{g.num(0, 40)}.{g.num(0, 9)}"
    environment: {env}
spec:
  replicas: {reps}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
      app.kubernetes.io/name: {svc}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {svc}
        environment: {env}
      annotations:
        checksum/config: {g.hexs(64)}
    spec:
      serviceAccountName: {svc}
      securityContext:
        runAsNonRoot: true
        runAsUser: {g.num(1000, 9999)}
      containers:
        - name: {svc}
          image: registry.example.com/platform/{svc}:{g.hexs(12)}
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: {g.num(3000, 9000)}
          env:
{env_vars}          resources:
            requests:
              cpu: {g.num(50, 900)}m
              memory: {g.num(64, 2048)}Mi
            limits:
              cpu: "{g.num(1, 4)}"
              memory: {g.num(256, 8192)}Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: {g.num(5, 30)}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: {g.num(10, 60)}
"""


def k8s_configmap(g, svc, env):
    lines = []
    for _ in range(g.num(40, 400)):
        lines.append(f"    {g.word()}.{g.word()}.{g.word()} = {g.ident(g.num(1, 3))}")
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {svc}-config\n"
            f"  namespace: {env}\ndata:\n  app.properties: |\n" + "\n".join(lines) + "\n")


def k8s_small(g, svc, env, kind):
    if kind == "service":
        return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\n  namespace: {env}\n"
                f"spec:\n  selector:\n    app.kubernetes.io/name: {svc}\n  ports:\n"
                f"    - port: 80\n      targetPort: http\n")
    if kind == "hpa":
        return (f"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n"
                f"  name: {svc}\n  namespace: {env}\nspec:\n  minReplicas: {g.num(1, 3)}\n"
                f"  maxReplicas: {g.num(4, 40)}\n  metrics:\n    - type: Resource\n"
                f"      resource:\n        name: cpu\n        target:\n"
                f"          type: Utilization\n          averageUtilization: {g.num(50, 90)}\n")
    rules = "".join(
        f"    - host: {g.word()}.{env}.example.com\n      http:\n        paths:\n"
        f"          - path: /{g.word()}\n            pathType: Prefix\n            backend:\n"
        f"              service:\n                name: {svc}\n                port:\n"
        f"                  number: 80\n" for _ in range(g.num(1, 6)))
    return (f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {svc}\n"
            f"  namespace: {env}\n  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\n"
            f"spec:\n  ingressClassName: nginx\n  rules:\n{rules}")


def dashboard_json(g, svc, target):
    panels = []
    size = 0
    while size < target:
        panel = {
            "id": len(panels) + 1,
            "type": g.r.choice(["timeseries", "stat", "table", "heatmap", "gauge"]),
            "title": f"{svc} {g.word()} {g.word()}",
            "gridPos": {"h": g.num(4, 12), "w": g.num(6, 24), "x": g.num(0, 18), "y": g.num(0, 200)},
            "datasource": {"type": "prometheus", "uid": g.hexs(9)},
            "targets": [{
                "expr": f'sum(rate({svc}_{g.word()}_{g.word()}_total{{env="$env",{g.word()}="{g.word()}"}}[5m])) by ({g.word()})',
                "legendFormat": "{{" + g.word() + "}}",
                "refId": chr(65 + i),
            } for i in range(g.num(1, 4))],
            "fieldConfig": {"defaults": {"unit": g.r.choice(["s", "ms", "bytes", "percent", "reqps"]),
                                         "thresholds": {"mode": "absolute", "steps": [
                                             {"color": "green", "value": None},
                                             {"color": "red", "value": g.num(1, 1000)}]}}},
        }
        text = json.dumps(panel, indent=2)
        size += len(text)
        panels.append(panel)
    return json.dumps({"title": f"{svc} overview", "uid": g.hexs(12), "schemaVersion": 39,
                       "panels": panels}, indent=2) + "\n"


def compose(g, svcs):
    out = ["version: \"3.9\"", "services:"]
    for svc in svcs:
        out += [f"  {svc}:", f"    image: registry.example.com/platform/{svc}:{g.hexs(12)}",
                f"    restart: unless-stopped", f"    env_file: [.env]", "    environment:"]
        out += [f"      {g.word().upper()}_{g.word().upper()}: \"{g.ident()}\"" for _ in range(g.num(4, 16))]
        out += ["    depends_on: [postgres, redis]", "    healthcheck:",
                f"      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:{g.num(3000, 9000)}/healthz\"]",
                f"      interval: {g.num(5, 60)}s"]
    return "\n".join(out) + "\n"


def dockerfile(g, svc):
    pkgs = " ".join(g.word() for _ in range(g.num(3, 10)))
    return (f"FROM python:3.11-slim AS base\nENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\n"
            f"RUN apt-get update && apt-get install -y --no-install-recommends {pkgs} \\\n"
            f"    && rm -rf /var/lib/apt/lists/*\nWORKDIR /srv/{svc}\nCOPY requirements.txt .\n"
            f"RUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n"
            f"EXPOSE {g.num(3000, 9000)}\nUSER {g.num(1000, 9999)}\n"
            f"CMD [\"gunicorn\", \"{svc}.wsgi\", \"-w\", \"{g.num(2, 8)}\"]\n")


def nginx_site(g, svc):
    locs = "".join(
        f"    location /{g.word()}/{g.word()} {{\n        proxy_pass http://{svc}_upstream;\n"
        f"        proxy_set_header Host $host;\n        proxy_set_header X-Real-IP $remote_addr;\n"
        f"        proxy_read_timeout {g.num(5, 300)}s;\n        client_max_body_size {g.num(1, 200)}m;\n"
        f"    }}\n" for _ in range(g.num(5, 40)))
    ups = "".join(f"    server 10.{g.num(0, 255)}.{g.num(0, 255)}.{g.num(1, 254)}:{g.num(3000, 9000)};\n"
                  for _ in range(g.num(2, 8)))
    return (f"upstream {svc}_upstream {{\n{ups}}}\n\nserver {{\n    listen 443 ssl http2;\n"
            f"    server_name {svc}.example.com;\n"
            f"    ssl_certificate /etc/letsencrypt/live/{svc}.example.com/fullchain.pem;\n"
            f"    ssl_certificate_key /etc/letsencrypt/live/{svc}.example.com/privkey.pem;\n{locs}}}\n")


def settings_py(g, svc, flavour):
    lines = [f'"""Django settings for {svc} ({flavour})."""', "from pathlib import Path", "",
             "BASE_DIR = Path(__file__).resolve().parent.parent", f"DEBUG = {flavour == 'dev'}",
             f"ALLOWED_HOSTS = [\"{svc}.example.com\", \"localhost\"]", "INSTALLED_APPS = ["]
    lines += [f"    \"{svc}.{g.word()}\"," for _ in range(g.num(10, 40))] + ["]", "LOGGING = {"]
    for _ in range(g.num(10, 60)):
        lines.append(f"    \"{g.word()}_{g.word()}\": {{\"level\": \"{g.r.choice(['INFO', 'DEBUG', 'WARNING'])}\", "
                     f"\"handlers\": [\"{g.word()}\"], \"propagate\": {g.r.choice(['True', 'False'])}}},")
    lines += ["}", f"CELERY_TASK_DEFAULT_QUEUE = \"{svc}\""]
    lines += [f"{g.word().upper()}_{g.word().upper()}_{g.word().upper()} = {g.num(0, 100000)}"
              for _ in range(g.num(20, 120))]
    return "\n".join(lines) + "\n"


def env_file(g, svc, real):
    keys = ["DEBUG", "ALLOWED_HOSTS", "TIME_ZONE", "DJANGO_PORT", "SECRET_KEY", "DATABASE_URL",
            "REDIS_URL", "AWS_SECRET_ACCESS_KEY", "SENTRY_DSN", "EMAIL_HOST_PASSWORD"]
    keys += [f"{svc.upper()}_{g.word().upper()}_{g.word().upper()}" for _ in range(g.num(10, 40))]
    val = (lambda: g.b64(24)) if real else (lambda: "change-me")
    return "".join(f"{k}={val()}\n" for k in keys)


def postgresql_conf(g):
    return "".join(f"{g.word()}_{g.word()} = {g.num(0, 10000)}\t# {' '.join(g.word() for _ in range(g.num(3, 12)))}\n"
                   for _ in range(g.num(200, 700)))


# ----- noise (must be left out) -----------------------------------------------------------------

def source_py(g, lines):
    out = []
    for _ in range(lines // 4):
        out += [f"def {g.word()}_{g.word()}(self, {g.word()}):",
                f"    return self.{g.word()}.{g.word()}({g.word()}, {g.num(0, 999)})", "", ""]
    return "\n".join(out)


def js_module(g, lines):
    return "\n".join(f"export function {g.word()}{g.num(0, 99)}(a, b) {{ return a.{g.word()}(b, {g.num(0, 9)}); }}"
                     for _ in range(lines))


# ----- tree -------------------------------------------------------------------------------------

class Tree:
    def __init__(self, root, g=None, factor=1):
        self.root = root
        self.files = {}  # path -> (bytes, mode)
        self.links = {}  # path -> target
        self.g = g
        self.factor = factor

    def put(self, path, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        if self.factor > 1:
            data = self.grow(path, data)
        self.files[path] = (data, mode)

    def grow(self, path, data):
        """About (factor - 1) x len(data) more bytes of the same kind of text."""
        want = len(data) * self.factor
        parts = [data]
        size = len(data)
        pem_file = path.endswith((".pem", ".crt", ".key", ".cert"))
        while size < want:
            if pem_file:
                extra = pem(self.g, "CERTIFICATE", 1200).encode()
            else:
                extra = ("# " + " ".join(f"{self.g.word()}={self.g.ident()}" for _ in range(8)) + "\n").encode()
            parts.append(extra)
            size += len(extra)
        return b"".join(parts)

    def link(self, path, target):
        self.links[path] = target

    def write(self):
        for path, (data, mode) in sorted(self.files.items()):
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
            os.chmod(full, mode)
            os.utime(full, (MTIME, MTIME))
        for path, target in sorted(self.links.items()):
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            os.symlink(target, full)
            os.utime(full, (MTIME, MTIME), follow_symlinks=False)
        for dirpath, _, _ in os.walk(self.root):
            os.utime(dirpath, (MTIME, MTIME))


def config_part(g, t, unit, secret_paths):
    """One platform: about 18 MB of configuration."""
    pre = f"platform-{unit:02d}"
    for svc in SERVICES:
        base = f"{pre}/services/{svc}"
        t.put(f"{base}/Dockerfile", dockerfile(g, svc))
        t.put(f"{base}/.dockerignore", "\n".join(["*.pyc", "__pycache__", ".git", "media", "node_modules"]) + "\n")
        t.put(f"{base}/requirements.txt", "".join(f"{g.word()}-{g.word()}=={g.num(0, 9)}.{g.num(0, 30)}.{g.num(0, 9)}\n" for _ in range(g.num(10, 60))))
        t.put(f"{base}/pyproject.toml", f"[project]\nname = \"{svc}\"\nversion = \"1.{g.num(0, 40)}.0\"\n\n[tool.ruff]\nline-length = 100\n")
        t.put(f"{base}/Makefile", "".join(f"{g.word()}:\n\t{g.word()} --{g.word()} {g.word()}\n\n" for _ in range(g.num(5, 20))))
        for flavour in ("base", "dev", "prod"):
            t.put(f"{base}/{svc}/settings/{flavour}.py", settings_py(g, svc, flavour))
        t.put(f"{base}/.env.example", env_file(g, svc, real=False))
        t.put(f"{base}/.env", env_file(g, svc, real=True), 0o600)
        secret_paths.add(f"{base}/.env")
        t.put(f"{base}/docker-compose.yml", compose(g, [svc, f"{svc}-worker"]))
        for i in range(4):
            t.put(f"{base}/docker/grafana/dashboards/{svc}-{i}.json", dashboard_json(g, svc, g.num(40_000, 160_000)))
        t.put(f"{base}/docker/entrypoint.sh", "#!/bin/sh\nset -e\n" + "".join(f"{g.word()} --{g.word()}={g.ident()}\n" for _ in range(g.num(5, 30))), 0o755)
        for env in ENVS:
            k = f"{pre}/deploy/k8s/{env}/{svc}"
            t.put(f"{k}/deployment.yaml", k8s_deployment(g, svc, env))
            t.put(f"{k}/configmap.yaml", k8s_configmap(g, svc, env))
            for kind in ("service", "hpa", "ingress"):
                t.put(f"{k}/{kind}.yaml", k8s_small(g, svc, env, kind))
            t.put(f"{pre}/nginx/sites-available/{svc}-{env}.conf", nginx_site(g, svc))
        # certificates: text PEM (base64 of random bytes, barely compressible)
        t.put(f"{pre}/ssl/{svc}/fullchain.crt", pem(g, "CERTIFICATE", 1400) + pem(g, "CERTIFICATE", 1100))
        t.put(f"{pre}/ssl/{svc}/ca-bundle.pem", "".join(pem(g, "CERTIFICATE", g.num(900, 1500)) for _ in range(g.num(20, 120))))
        t.put(f"{pre}/ssl/{svc}/server.key", pem(g, "PRIVATE KEY", 1190), 0o600)
        secret_paths.add(f"{pre}/ssl/{svc}/server.key")
    t.put(f"{pre}/docker-compose.yml", compose(g, SERVICES))
    t.put(f"{pre}/docker-compose.prod.yml", compose(g, SERVICES))
    t.put(f"{pre}/docker/postgres/postgresql.conf", postgresql_conf(g))
    t.put(f"{pre}/docker/postgres/init-db.sh", "#!/bin/sh\npsql -v ON_ERROR_STOP=1 <<SQL\n" + "".join(f"CREATE DATABASE {s};\n" for s in SERVICES) + "SQL\n", 0o755)
    t.put(f"{pre}/nginx/nginx.conf", "worker_processes auto;\nevents { worker_connections 4096; }\nhttp {\n    include /etc/nginx/sites-enabled/*;\n}\n")
    le = f"{pre}/letsencrypt"
    for svc in SERVICES[:6]:
        dom = f"{svc}.example.com"
        for part in ("cert", "chain", "fullchain", "privkey"):
            t.put(f"{le}/archive/{dom}/{part}1.pem", pem(g, "PRIVATE KEY" if part == "privkey" else "CERTIFICATE", 1200), 0o600 if part == "privkey" else 0o644)
            t.link(f"{le}/live/{dom}/{part}.pem", f"../../archive/{dom}/{part}1.pem")
        t.put(f"{le}/renewal/{dom}.conf", f"version = 2.7.4\narchive_dir = /etc/letsencrypt/archive/{dom}\n")


def noise_part(g, t, unit):
    """Source, media and node_modules that the default excludes and rules leave out (~16 MB)."""
    pre = f"platform-{unit:02d}"
    for svc in SERVICES:
        base = f"{pre}/services/{svc}"
        for i in range(3):
            t.put(f"{base}/{svc}/{g.word()}_{i}.py", source_py(g, g.num(100, 900)))
        t.put(f"{base}/{svc}/templates/index.html", "<html>" + "<div class=\"row\"></div>" * g.num(100, 2000) + "</html>")
        t.put(f"{base}/{svc}/__pycache__/models.cpython-311.pyc", g.r.randbytes(g.num(2000, 20000)))
        t.put(f"{base}/media/uploads/{g.hexs(8)}.jpg", g.r.randbytes(g.num(100_000, 400_000)))
        t.put(f"{base}/.git/objects/pack/pack-{g.hexs(40)}.pack", g.r.randbytes(g.num(20_000, 100_000)))
        t.put(f"{base}/venv/lib/python3.11/site-packages/{g.word()}/settings.py", source_py(g, 400))
        for pkg in range(4):
            nm = f"{base}/frontend/node_modules/{g.word()}-{pkg}"
            t.put(f"{nm}/package.json", json.dumps({"name": g.word(), "version": "1.0.0"}))
            t.put(f"{nm}/index.js", js_module(g, g.num(200, 2000)))
            t.put(f"{nm}/docker-compose.yml", "services: {}\n")  # must stay out
            t.put(f"{nm}/k8s/deploy.yaml", "kind: Pod\n")        # must stay out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--bytes-factor", type=int, default=1)
    args = ap.parse_args()
    root = os.path.join(args.out, "tree")
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(root)
    g = Gen(args.seed)
    config, secrets = Tree(root, g, args.bytes_factor), set()
    noise = Tree(root)
    for unit in range(UNITS_PER_SCALE * args.scale):
        config_part(g, config, unit, secrets)
        noise_part(g, noise, unit)
    config.write()
    noise.write()
    listed = sorted(list(config.files) + list(config.links))
    with open(os.path.join(args.out, "config-files.txt"), "w") as f:
        f.write("".join(p + "\n" for p in listed))
    stats = {
        "seed": args.seed, "scale": args.scale, "bytes_factor": args.bytes_factor,
        "config_files": len(config.files), "config_symlinks": len(config.links),
        "config_bytes": sum(len(d) for d, _ in config.files.values()),
        "secret_files": len(secrets),
        "noise_files": len(noise.files),
        "noise_bytes": sum(len(d) for d, _ in noise.files.values()),
    }
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=2)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
