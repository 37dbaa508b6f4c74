"""deploy/k8s: every manifest is valid Kubernetes 1.30 (offline, kubernetes-validate's bundled schemas),
configures exactly the variables of .env.example, and runs what the image has, as its non-root user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import kubernetes_validate
import pytest

from tests.conftest import need_service
from tests.deploy import commands, k8s
from tests.deploy.dockerfile import stages, user_ids
from tests.deploy.env_example import ROOT, env_example_names, is_secret, variable_of

KUSTOMIZATIONS = k8s.kustomization_dirs()
IDS = [str(path.relative_to(k8s.K8S)) for path in KUSTOMIZATIONS]


def _validate(doc: dict, where: str) -> None:
    try:
        kubernetes_validate.validate(doc, k8s.KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(part) for part in exc.path)
        pytest.fail(f"{where}: {doc['kind']}/{doc['metadata']['name']} at {path}: {exc.message}")
    except kubernetes_validate.SchemaNotFoundError as exc:
        pytest.fail(f"{where}: {exc.message}")


def test_there_is_a_production_base_and_a_staging_overlay():
    assert IDS == ["base", "staging"]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=IDS)
def test_every_manifest_the_kustomization_lists_is_valid_kubernetes(directory):
    files = k8s.listed_files(directory)
    assert files, f"{directory} lists no resources"
    for path in files:
        docs = k8s.load(path)
        assert docs, f"{path} holds no manifest"
        for doc in docs:
            _validate(doc, str(path.relative_to(k8s.K8S)))


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=IDS)
def test_what_kustomize_builds_is_valid_kubernetes(directory):
    """The patches and images applied, as `kubectl apply -k` would send them."""
    if shutil.which("kubectl") is None:
        need_service("kubectl (its built-in kustomize renders the overlays)")
    rendered = k8s.render(directory)
    for doc in rendered:
        _validate(doc, f"kubectl kustomize {directory.relative_to(k8s.K8S)}")
    assert len(rendered) == sum(len(k8s.load(path)) for path in k8s.listed_files(directory))


def _config_and_secret(docs):
    return k8s.named(docs, "ConfigMap", "channelmgr-config"), k8s.named(docs, "Secret", "channelmgr-secrets")


def test_the_config_map_and_the_secret_hold_exactly_the_variables_of_env_example():
    config, secret = _config_and_secret(k8s.base())
    in_config, in_secret = set(config["data"]), set(secret["stringData"])
    expected = env_example_names()
    assert not in_config & in_secret, f"in both the ConfigMap and the Secret: {sorted(in_config & in_secret)}"
    missing, unknown = expected - in_config - in_secret, (in_config | in_secret) - expected
    assert not missing, f"in .env.example, in neither the ConfigMap nor the Secret: {sorted(missing)}"
    assert not unknown, f"in the ConfigMap or the Secret, not in .env.example: {sorted(unknown)}"


def test_secrets_are_in_the_secret_and_nothing_else_is():
    config, secret = _config_and_secret(k8s.base())
    assert not [name for name in config["data"] if is_secret(name)], "a secret in the ConfigMap"
    assert not [name for name in secret["stringData"] if not is_secret(name)], "a plain setting in the Secret"


def _variables_named(doc: dict) -> set[str]:
    """The settings variables a manifest names: ConfigMap and Secret keys, container env names (``NAME_FILE``
    configures NAME) and the ConfigMap keys a container reads one by one."""
    if doc["kind"] in ("ConfigMap", "Secret"):
        return set(doc.get("data", {})) | set(doc.get("stringData", {}))
    names = set()
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    for container in spec.get("initContainers", []) + spec.get("containers", []):
        for env in container.get("env", []):
            names.add(variable_of(env["name"]))
            if "configMapKeyRef" in env.get("valueFrom", {}):
                names.add(env["valueFrom"]["configMapKeyRef"]["key"])
    return names


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=IDS)
def test_no_manifest_or_patch_names_a_variable_that_is_not_in_env_example(directory):
    known = env_example_names()
    patches = [directory / patch["path"] for patch in k8s.kustomization(directory).get("patches", [])]
    for path in k8s.listed_files(directory) + patches:
        for doc in k8s.load(path):
            unknown = _variables_named(doc) - known
            assert not unknown, f"{path.relative_to(k8s.K8S)}: not in .env.example: {sorted(unknown)}"


def test_every_container_that_loads_the_settings_reads_every_secret_from_its_file():
    docs = k8s.base()
    _, secret = _config_and_secret(docs)
    mount = "/run/secrets/channelmgr"
    expected = {f"{name}_FILE": f"{mount}/{name}" for name in secret["stringData"]}
    checked = 0
    for where, spec in k8s.pods(docs):
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for container in filter(k8s.reads_settings, k8s.containers(spec)):
            env = {item["name"]: item.get("value") for item in container.get("env", [])}
            assert {name: env.get(name) for name in expected} == expected, f"{where} {container['name']}"
            inline = [name for name in env if is_secret(name) and not name.endswith("_FILE")]
            assert not inline, f"{where}: secrets in the environment instead of files: {inline}"
            mounted = {m["mountPath"]: m for m in container["volumeMounts"]}[mount]
            assert mounted.get("readOnly") is True
            source = volumes[mounted["name"]]["secret"]
            assert source["secretName"] == "channelmgr-secrets"
            # The app's uid reads the files through the group fsGroup gives them.
            assert source["defaultMode"] == 0o440 and spec["securityContext"]["fsGroup"] == user_ids(_runtime())[1]
            checked += 1
    assert checked >= 7  # web, worker, scheduler, their init containers, the migration Job


def _runtime():
    return stages()["runtime"]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=IDS)
def test_every_pod_runs_as_the_image_user_without_privileges_on_a_read_only_root(directory):
    uid, gid = user_ids(_runtime())
    for where, spec in k8s.pods([doc for path in k8s.listed_files(directory) for doc in k8s.load(path)]):
        pod = spec["securityContext"]
        assert (pod["runAsNonRoot"], pod["runAsUser"], pod["runAsGroup"]) == (True, uid, gid), where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        for container in k8s.containers(spec):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, f"{where} {container['name']}"
            assert security["allowPrivilegeEscalation"] is False, f"{where} {container['name']}"
            assert security["capabilities"]["drop"] == ["ALL"], f"{where} {container['name']}"
            assert "memory" in container["resources"]["limits"], f"{where} {container['name']}"
            # The one writable place a read-only root leaves: /tmp (the metrics reader only reads).
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts or container["name"] == "metrics", f"{where} {container['name']}"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=IDS)
def test_every_container_command_is_one_the_image_can_run(directory):
    for where, spec in k8s.pods([doc for path in k8s.listed_files(directory) for doc in k8s.load(path)]):
        for container in k8s.containers(spec):
            argv = container.get("command", []) + container.get("args", [])
            assert argv, f"{where} {container['name']}: no command (the image's CMD is gunicorn)"
            try:
                commands.check(argv)
            except commands.NotRunnable as exc:
                pytest.fail(f"{where} {container['name']}: {exc}")
            pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
            if pre_stop:
                commands.check(pre_stop)


def test_the_web_container_runs_the_image_command():
    """The Dockerfile's CMD, exec'd after the metrics folder is emptied (as docker-compose.yml's web does)."""
    web = k8s.named(k8s.base(), "Deployment", "channelmgr-web")["spec"]["template"]["spec"]["containers"][0]
    script = web["command"][-1]
    assert script.split(" && exec ")[-1].split() == stages()["runtime"].cmd()


def test_the_web_probes_are_liveness_on_healthz_and_readiness_on_readyz_with_an_allowed_host():
    docs = k8s.base()
    config, _ = _config_and_secret(docs)
    allowed = config["data"]["ALLOWED_HOSTS"].split(",")
    app = k8s.named(docs, "Deployment", "channelmgr-web")["spec"]["template"]["spec"]["containers"][0]
    probes = {kind: app[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz" and probes["startupProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for probe in probes.values():
        hosts = [h["value"] for h in probe.get("httpHeaders", []) if h["name"].lower() == "host"]
        assert hosts and hosts[0] in allowed, "the kubelet probes by pod IP, which ALLOWED_HOSTS refuses"


def test_a_worker_stops_gracefully_for_longer_than_the_longest_actor_may_run():
    import dramatiq
    from dramatiq.middleware import TimeLimit

    import channelmgr.tasks  # noqa: F401  (declares every actor)

    broker = dramatiq.get_broker()
    default = next(m for m in broker.middleware if isinstance(m, TimeLimit)).time_limit
    longest = max(broker.get_actor(name).options.get("time_limit", default) for name in broker.get_declared_actors())
    worker = k8s.named(k8s.base(), "Deployment", "channelmgr-worker")["spec"]["template"]["spec"]
    script = worker["containers"][0]["command"][-1].split()
    shutdown_ms = int(script[script.index("--worker-shutdown-timeout") + 1])
    assert shutdown_ms >= longest, f"a worker stops after {shutdown_ms} ms, an actor may run {longest} ms"
    assert worker["terminationGracePeriodSeconds"] * 1000 > shutdown_ms


def test_the_scheduler_runs_two_replicas_only_with_the_lease():
    from django.conf import settings

    scheduler = k8s.named(k8s.base(), "Deployment", "channelmgr-scheduler")
    replicas = scheduler["spec"]["replicas"]
    if not hasattr(settings, "SCHEDULER_LEASE_SECONDS"):
        assert replicas == 1 and scheduler["spec"]["strategy"]["type"] == "Recreate"
    else:
        assert replicas == 2, "the scheduler's lease makes a standby safe: run two"


def test_the_worker_autoscaler_reads_the_queue_size_metric():
    from channelmgr import metrics

    docs = k8s.base()
    hpa = k8s.named(docs, "HorizontalPodAutoscaler", "channelmgr-worker")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "channelmgr-worker"}
    (metric,) = hpa["spec"]["metrics"]
    assert metric["external"]["metric"]["name"] == metrics.QUEUE_SIZE._name
    (queues,) = metric["external"]["metric"]["selector"]["matchExpressions"]
    assert set(queues["values"]) == {"outbox", "push", "inbound"}


def test_every_disruption_budget_and_service_selects_pods_that_exist():
    docs = k8s.base()
    labels = [doc["spec"]["template"]["metadata"]["labels"] for doc in docs if doc["kind"] == "Deployment"]
    selectors = [doc["spec"]["selector"]["matchLabels"] for doc in docs if doc["kind"] == "PodDisruptionBudget"]
    selectors += [doc["spec"]["selector"] for doc in docs if doc["kind"] == "Service"]
    assert len(selectors) == 4  # three budgets, the web Service
    for selector in selectors:
        assert any(selector.items() <= pod.items() for pod in labels), selector


def test_the_placeholder_secret_stops_a_release_at_the_migration_jobs_check(tmp_path):
    """Applied as committed, the Job's `check --deploy` fails, so nothing migrates and no new pod starts."""
    docs = k8s.base()
    config, secret = _config_and_secret(docs)
    for name, value in secret["stringData"].items():
        (tmp_path / name).write_text(value)
    job = k8s.pod_spec(k8s.named(docs, "Job", "channelmgr-migrate"))["containers"][0]
    check = job["args"][0].split(" && ")[0]
    assert check.startswith("python manage.py check --deploy")
    env = {**config["data"], **{f"{name}_FILE": str(tmp_path / name) for name in secret["stringData"]}}
    # An empty PROMETHEUS_MULTIPROC_DIR would put prometheus_client's gauge files in the working tree.
    (tmp_path / "metrics").mkdir()
    env.update(
        PATH=os.environ["PATH"],
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    refused = subprocess.run(
        [sys.executable, *check.split()[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0 and "security.W009" in refused.stderr, refused.stdout + refused.stderr
