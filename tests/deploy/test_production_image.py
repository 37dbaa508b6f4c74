"""The image, as far as CI can build and run it without a Docker daemon (services pass only).

From the Dockerfile: the build context that .dockerignore leaves, the builder stage's pip install of the
same requirements file into a clean virtualenv (no dev packages, not the project's .venv), and the
runtime stage's collectstatic RUN line, run as written, as the image's uid. From deploy/k8s/base: the
ConfigMap as the environment, every Secret key as a file behind NAME_FILE, the migration Job's
configuration check (`check --deploy`) and the web container's command; then the web probes' requests
answer 200 on Postgres and Redis.

Faster than `docker build` on purpose: pip installs into the venv from outside it (no ensurepip, no pip
self-upgrade) and compiles no bytecode (the image does). Run as root (CI), every process runs as the
image's uid, which cannot write the code or the venv: the pods' read-only root file system.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import services
from tests.deploy import k8s
from tests.deploy.dockerfile import Ignore, Stage, stages, user_ids
from tests.deploy.env_example import ROOT

SECRETS_MOUNT = "/run/secrets/channelmgr"


@dataclass
class Image:
    root: Path
    app: Path
    venv: Path
    metrics: Path
    secrets: Path
    runtime: Stage
    run_as: list[str]

    def path(self, text: str) -> str:
        """An image path (or a command naming some) as the folder that stands in for it here."""
        for image_path, here in (
            ("/opt/venv", self.venv),
            ("/tmp/prometheus", self.metrics),
            (SECRETS_MOUNT, self.secrets),
            ("/app", self.app),
        ):
            text = re.sub(rf"(?<![\w.-]){re.escape(image_path)}(?=/|\b|$)", str(here), text)
        return text

    def env(self) -> dict[str, str]:
        """The runtime stage's ENV over a bare system PATH, as a container of the image starts with."""
        base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.app), "LANG": "C.UTF-8"}
        return {name: self.path(value) for name, value in self.runtime.env(base).items()}

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.run_as + [self.path(arg) for arg in argv],
            cwd=self.app,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _copy_context(app: Path) -> None:
    for relative in Ignore.read().context():
        target = app / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)


def _builder_install(builder: Stage, runtime: Stage) -> tuple[str, str]:
    """(venv path, requirements file) of the builder stage, and that the runtime stage uses that venv."""
    (venv_run,) = [run for run in builder.all("RUN") if run.startswith("python -m venv ")]
    venv = venv_run.split()[-1]
    (install,) = [run for run in builder.all("RUN") if "pip install -r " in run]
    installed = install.split("pip install -r ")[1].split()[0]
    (copied,) = [copy for copy in builder.all("COPY") if copy.split()[-1] == installed]
    assert f"--from=builder {venv} {venv}" in runtime.all("COPY")
    assert runtime.env({"PATH": ""})["PATH"].startswith(f"{venv}/bin:")
    return venv, copied.split()[0]


def _writable_folders(runtime: Stage) -> list[str]:
    """The folders the runtime stage makes and gives to the app user (``mkdir -p ... && chown ...``)."""
    (run,) = [run for run in runtime.all("RUN") if run.startswith("mkdir -p ")]
    return run.split("&&")[0].split()[2:]


@pytest.fixture(scope="module")
def image():
    services()
    started = time.monotonic()
    found = stages()
    builder, runtime = found["builder"], found["runtime"]
    uid, gid = user_ids(runtime)
    as_root = os.geteuid() == 0 and shutil.which("setpriv") is not None
    root = Path(tempfile.mkdtemp(prefix="channelmgr-image-"))
    root.chmod(0o755)  # the image's uid must reach into it
    built = Image(
        root=root,
        app=root / "app",
        venv=root / "venv",
        metrics=root / "prometheus",
        secrets=root / "secrets",
        runtime=runtime,
        run_as=[
            *("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"),
            # Only to reach this machine's Python under /root (mode 0700): it reads, it never writes.
            *("--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"),
        ]
        if as_root
        else [],
    )
    try:
        _copy_context(built.app)
        venv, requirements = _builder_install(builder, runtime)
        assert built.path(venv) == str(built.venv)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(built.venv)], check=True)
        pip_env = {**os.environ, **builder.env({})}
        pip = [sys.executable, "-m", "pip", "--python", str(built.venv / "bin" / "python"), "install"]
        installed = subprocess.run(
            [*pip, "--quiet", "--no-compile", "-r", str(built.app / requirements)],
            env=pip_env,
            capture_output=True,
            text=True,
        )
        assert installed.returncode == 0, installed.stderr[-3000:]
        venv_seconds = time.monotonic() - started
        for folder in [*_writable_folders(runtime), "/tmp/prometheus"]:
            here = Path(built.path(folder))
            here.mkdir(parents=True, exist_ok=True)
            if as_root:
                os.chown(here, uid, gid)
        # The runtime stage's build steps that run the project (collectstatic), as written, as USER.
        for run in runtime.all("RUN"):
            if "manage.py" in run:
                done = built.run(["sh", "-c", run], env=built.env())
                assert done.returncode == 0, f"RUN {run}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        assert (built.app / "staticfiles" / "staticfiles.json").exists(), "collectstatic wrote no manifest"
        print(f"\nimage built in {time.monotonic() - started:.1f} s (context and venv: {venv_seconds:.1f} s)")
        yield built
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def production(image):
    """The environment a pod of deploy/k8s/base gets: the image's, the ConfigMap, and every Secret key
    as a file (real values for the services, fresh random ones for the rest)."""
    from cryptography.fernet import Fernet

    docs = k8s.base()
    config = k8s.named(docs, "ConfigMap", "channelmgr-config")["data"]
    names = k8s.named(docs, "Secret", "channelmgr-secrets")["stringData"]
    values = {name: f"test-{secrets.token_urlsafe(16)}" for name in names}
    values.update(
        SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        # As the Secret ships it: empty, error tracking off (a random string is no DSN and stops start-up).
        SENTRY_DSN=names["SENTRY_DSN"],
    )
    image.secrets.mkdir(mode=0o750)
    for name, value in values.items():
        file = image.secrets / name
        file.write_text(value + "\n")
        file.chmod(0o440)
        if image.run_as:  # the group fsGroup gives a mounted Secret's files
            os.chown(file, 0, user_ids(image.runtime)[1])
    if image.run_as:
        os.chown(image.secrets, 0, user_ids(image.runtime)[1])
    web = k8s.named(docs, "Deployment", "channelmgr-web")["spec"]["template"]["spec"]["containers"][0]
    env = {**image.env(), **config, **{item["name"]: image.path(item["value"]) for item in web["env"]}}
    # Its own key space in the shared Redis; the values are the ConfigMap's kind of value all the same.
    env.update(CACHE_KEY_PREFIX=f"image-test-{os.getpid()}", DRAMATIQ_NAMESPACE=f"image-test-{os.getpid()}")
    env["PROMETHEUS_MULTIPROC_DIR"] = image.path(env["PROMETHEUS_MULTIPROC_DIR"])
    return env


def _command(spec: dict, name: str) -> list[str]:
    (container,) = [c for c in k8s.containers(spec) if c["name"] == name]
    return container["command"] + container.get("args", [])


def test_the_migration_job_checks_the_production_configuration_before_it_migrates(image, production):
    """The Job's command up to its migrate, run as written (the migrations themselves are the suite's)."""
    job = _command(k8s.pod_spec(k8s.named(k8s.base(), "Job", "channelmgr-migrate")), "migrate")
    assert job[:2] == ["sh", "-c"]
    steps = [step.strip() for step in job[2].split("&&")]
    assert steps[-1] == "python manage.py migrate --noinput", "the Job migrates last, after its checks"
    for step in steps[:-1]:
        checked = image.run(["sh", "-c", step], env=production)
        assert checked.returncode == 0, f"{step}\n{checked.stdout[-2000:]}\n{checked.stderr[-3000:]}"
        assert "System check identified no issues" in checked.stdout + checked.stderr


def test_gunicorn_from_the_web_container_answers_the_probes_on_postgres_and_redis(image, production):
    from testkit.stack import free_port

    spec = k8s.pod_spec(k8s.named(k8s.base(), "Deployment", "channelmgr-web"))
    app = spec["containers"][0]
    port = free_port()
    log = image.root / "web.log"
    web = _start(image, _command(spec, "app"), {**production, "GUNICORN_BIND": f"127.0.0.1:{port}"}, log)
    base = f"http://127.0.0.1:{port}"
    try:
        answers = {}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = app[probe]["httpGet"]
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}
            answers[probe] = _get(f"{base}{get['path']}", headers, web, log)
        for probe, answer in answers.items():
            assert answer.status_code == 200, f"{probe}: {answer.status_code} {answer.text[:500]}\n{_tail(log)}"
        assert answers["readinessProbe"].json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}
        # Static files collected at build time, served by whitenoise from the manifest (behind TLS).
        manifest = json.loads((image.app / "staticfiles" / "staticfiles.json").read_text())["paths"]
        behind_tls = {"Host": "localhost", "X-Forwarded-Proto": "https"}
        css = _get(f"{base}/static/{manifest['admin/css/base.css']}", behind_tls, web, log)
        assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
        # The API docs load Swagger UI from these collected files (drf-spectacular-sidecar), never a CDN.
        docs = _get(f"{base}/api/docs/", behind_tls, web, log)
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.text)
        assert docs.status_code == 200 and any("swagger-ui-bundle" in a for a in assets), docs.text[:1000]
        for asset in assets:
            assert _get(f"{base}{asset}", behind_tls, web, log).status_code == 200, asset
        _check_metrics_container(image, spec, production["PROMETHEUS_MULTIPROC_DIR"])
    finally:
        _stop(web)
    assert web.returncode == 0, _tail(log)
    assert "[ERROR]" not in log.read_text(), _tail(log)


def _check_metrics_container(image: Image, spec: dict, folder: str) -> None:
    """The pod's metrics container serves what gunicorn's workers wrote (on a free port here, not :9100)."""
    from testkit.stack import free_port

    port = free_port()
    argv = [arg.replace("9100", str(port)) for arg in _command(spec, "metrics")]
    log = image.root / "metrics.log"
    metrics = _start(image, argv, {**image.env(), "PROMETHEUS_MULTIPROC_DIR": folder}, log)
    try:
        scrape = _get(f"http://127.0.0.1:{port}/metrics", {}, metrics, log)
        assert scrape.status_code == 200
        assert 'django_http_responses_total_by_status_total{status="200"}' in scrape.text, scrape.text[:2000]
    finally:
        _stop(metrics)
    assert metrics.returncode == 0, _tail(log)


def _start(image: Image, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            image.run_as + [image.path(arg) for arg in argv],
            cwd=image.app,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _get(url: str, headers: dict[str, str], process: subprocess.Popen, log: Path) -> requests.Response:
    """GET once the server answers: gunicorn's workers import the app on their first start (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(url, headers=headers, timeout=15, allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no answer from {url}:\n{_tail(log)}")
            time.sleep(0.2)


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]
