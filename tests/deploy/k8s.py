"""deploy/k8s as documents: what each kustomization lists, what kustomize renders, and the pods in them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

from tests.deploy.env_example import ROOT

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def kustomization_dirs() -> list[Path]:
    return sorted(path.parent for path in K8S.rglob("kustomization.yaml"))


def kustomization(directory: Path) -> dict:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def listed_files(directory: Path) -> list[Path]:
    """Every manifest file the kustomization in ``directory`` lists under ``resources``, following the
    directories it lists (their own kustomizations) down to files."""
    files = []
    for entry in kustomization(directory).get("resources", []):
        path = (directory / entry).resolve()
        files.extend(listed_files(path) if path.is_dir() else [path])
    return files


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[dict] | None:
    """What ``kubectl kustomize`` builds from ``directory`` (patches and images applied); None without kubectl."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    built = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, f"kubectl kustomize {directory.relative_to(ROOT)}:\n{built.stderr}"
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def base() -> list[dict]:
    return [doc for path in listed_files(K8S / "base") for doc in load(path)]


def named(docs: list[dict], kind: str, name: str) -> dict:
    found = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def pods(docs: list[dict]) -> Iterator[tuple[str, dict]]:
    """(``Kind/name``, pod spec) of every workload."""
    for doc in docs:
        if doc["kind"] in POD_OWNERS:
            yield f"{doc['kind']}/{doc['metadata']['name']}", pod_spec(doc)


def containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def reads_settings(container: dict) -> bool:
    """A container that loads Django settings: it takes the ConfigMap whole."""
    return any("configMapRef" in source for source in container.get("envFrom", []))
