"""deploy/'s Kubernetes manifests hang together: what the schemas cannot see.

`make k8s-validate` checks each object against the schemas of one Kubernetes version
(kubernetes-validate, offline). These tests check the references between objects and files: the
selectors, ports, Secret and ConfigMap keys, probes, NetworkPolicies, the images' Dockerfile
targets, and that Rasa's endpoints.yml in the ConfigMap keeps the repository's stores.
Standard library + PyYAML: no cluster, no network.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAMESPACE = "thai-eservice"
# Not applied with the rest: placeholders for the real Secret, and kustomize's own file.
NOT_RESOURCES = {"secrets.example.yaml", "kustomization.yaml"}
APP = "app.kubernetes.io/name"

Obj = dict[str, Any]


def _load(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _resources() -> list[Obj]:
    paths = [path for path in sorted(DEPLOY.glob("*.yaml")) if path.name not in NOT_RESOURCES]
    return [doc for path in paths for doc in _load(path)]


OBJECTS = _resources()
SECRET = _load(DEPLOY / "secrets.example.yaml")[0]


def _of(kind: str) -> list[Obj]:
    return [o for o in OBJECTS if o["kind"] == kind]


def _named(kind: str, name: str) -> Obj:
    (found,) = [o for o in _of(kind) if o["metadata"]["name"] == name]
    return found


DEPLOYMENTS = {d["metadata"]["name"]: d for d in _of("Deployment")}
SETTINGS = _named("ConfigMap", "eservice-settings")["data"]
RASA_CONFIG = _named("ConfigMap", "rasa-config")["data"]


def _pod(deployment: Obj) -> Obj:
    return deployment["spec"]["template"]["spec"]


def _containers(deployment: Obj, init: bool = True) -> Iterator[Obj]:
    pod = _pod(deployment)
    yield from pod["containers"]
    if init:
        yield from pod.get("initContainers", [])


def _pods_matching(selector: dict[str, str]) -> list[str]:
    return [
        name for name, d in DEPLOYMENTS.items()
        if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())
    ]


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text(encoding="utf-8"))["resources"]
    files = sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name not in NOT_RESOURCES)
    assert sorted(listed) == files
    assert "secrets.example.yaml" not in listed


def test_everything_is_in_the_namespace() -> None:
    for obj in [*OBJECTS, SECRET]:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == NAMESPACE
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_deployments_select_their_own_pods(name: str) -> None:
    spec = DEPLOYMENTS[name]["spec"]
    assert spec["selector"]["matchLabels"] == {APP: name}
    assert spec["template"]["metadata"]["labels"][APP] == name


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_every_container_has_probes_resources_and_no_privileges(name: str) -> None:
    deployment = DEPLOYMENTS[name]
    pod = _pod(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    for container in _containers(deployment):
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, container["name"])
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert security["readOnlyRootFilesystem"] is True
    for container in _containers(deployment, init=False):
        assert "readinessProbe" in container and "livenessProbe" in container, (name, container["name"])
        # With a read-only root, Python's temporary files and the caches under HOME (pythainlp's
        # data folder, matplotlib's) need writable folders of their own.
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", "/home/assistant"} <= mounts, (name, mounts)


def _python_probes() -> Iterator[tuple[str, str]]:
    for name, deployment in DEPLOYMENTS.items():
        for container in _containers(deployment):
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                command = container.get(probe, {}).get("exec", {}).get("command", [])
                if command[:2] == ["python", "-c"]:
                    yield f"{name}.{probe}", command[2]


@pytest.mark.parametrize(("where", "source"), list(_python_probes()))
def test_python_probes_compile(where: str, source: str) -> None:
    compile(source, where, "exec")


def test_services_reach_a_named_port_of_their_pods() -> None:
    for service in _of("Service"):
        (pod_name,) = _pods_matching(service["spec"]["selector"])
        containers = _containers(DEPLOYMENTS[pod_name])
        ports = {p["name"]: p["containerPort"] for c in containers for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (service["metadata"]["name"], port)


def test_the_urls_in_the_settings_name_services_and_their_ports() -> None:
    services = {s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]} for s in _of("Service")}
    for key in ("RASA_URL", "ACTION_ENDPOINT_URL", "CATALOG_URL", "MODEL_SERVER_URL"):
        host, port = re.match(r"http://([a-z-]+):(\d+)(/|$)", SETTINGS[key]).group(1, 2)
        assert int(port) in services[host], key


def test_the_ingress_sends_to_the_gateway_only() -> None:
    (ingress,) = _of("Ingress")
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    }
    assert backends == {"gateway"}
    assert ingress["spec"]["tls"]


def _env_refs(deployment: Obj, ref: str) -> Iterator[tuple[str, str]]:
    for container in _containers(deployment):
        for env in container.get("env", []):
            source = env.get("valueFrom", {}).get(ref)
            if source:
                yield source["name"], source["key"]


def test_secret_and_configmap_keys_exist() -> None:
    for name, deployment in DEPLOYMENTS.items():
        for secret, key in _env_refs(deployment, "secretKeyRef"):
            assert secret == SECRET["metadata"]["name"] and key in SECRET["stringData"], (name, key)
        for config, key in _env_refs(deployment, "configMapKeyRef"):
            assert key in _named("ConfigMap", config)["data"], (name, key)


def test_secrets_go_only_where_they_are_needed() -> None:
    def secrets_of(name: str) -> set[str]:
        return {key for _, key in _env_refs(DEPLOYMENTS[name], "secretKeyRef")}

    assert secrets_of("actions") == set()
    assert secrets_of("model-server") == set()
    assert secrets_of("catalog") == {"CATALOG_DATABASE_URL", "CATALOG_ADMIN_TOKEN"}
    assert {"LINE_CHANNEL_SECRET", "PII_KEY"} <= secrets_of("gateway")
    gateway_only = {"LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "PII_KEY", "CATALOG_ADMIN_TOKEN"}
    assert not secrets_of("rasa") & (gateway_only | {"STAFF_DB_URL"})
    # Nothing secret is handed over wholesale.
    for deployment in DEPLOYMENTS.values():
        for container in _containers(deployment):
            assert all("secretRef" not in source for source in container.get("envFrom", []))
    assert all(not re.search(r"(TOKEN|SECRET|PASSWORD)$", key) for key in SETTINGS)


def test_the_secret_example_holds_placeholders_only() -> None:
    for key, value in SECRET["stringData"].items():
        assert "CHANGE-ME" in value or key == "RABBITMQ_USER", key


def _environment_of(deployment: Obj, container: Obj) -> set[str]:
    names = {env["name"] for env in container.get("env", [])}
    for source in container.get("envFrom", []):
        names |= set(_named("ConfigMap", source["configMapRef"]["name"])["data"])
    return names


def test_rasa_gets_every_variable_its_yaml_files_name() -> None:
    (container,) = _containers(DEPLOYMENTS["rasa"])
    provided = _environment_of(DEPLOYMENTS["rasa"], container)
    for name in ("endpoints.yml", "credentials.yml"):
        wanted = set(re.findall(r"\$\{(\w+)\}", RASA_CONFIG[name]))
        assert wanted <= provided, (name, wanted - provided)
    # `--auth-token $(RASA_TOKEN)`: Kubernetes fills it in from the container's environment.
    assert "$(RASA_TOKEN)" in container["args"] and "RASA_TOKEN" in provided
    assert "--enable-api" in container["args"]


def test_rasa_config_keeps_the_repositorys_stores_and_channel() -> None:
    cluster = yaml.safe_load(RASA_CONFIG["endpoints.yml"])
    repository = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    # The same endpoints, stores and settings; the cluster's adds only the lock store's password
    # and TLS (a managed Redis).
    lock_store = {k: v for k, v in cluster["lock_store"].items() if k not in ("password", "use_ssl")}
    assert {**cluster, "lock_store": lock_store} == repository
    assert cluster["models"]["url"] == "${MODEL_SERVER_URL}"
    channels = yaml.safe_load(RASA_CONFIG["credentials.yml"])
    assert channels == yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))


def test_rasa_scales_on_cpu_with_a_worker_per_requested_core() -> None:
    hpa = _named("HorizontalPodAutoscaler", "rasa")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "rasa"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2
    (container,) = _containers(DEPLOYMENTS["rasa"])
    workers = {e["name"]: e.get("value") for e in container["env"]}["SANIC_WORKERS"]
    assert int(workers) == int(container["resources"]["requests"]["cpu"])
    assert "sessionAffinity" not in _named("Service", "rasa")["spec"]


def test_autoscalers_and_budgets_point_at_deployments() -> None:
    for hpa in _of("HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] in DEPLOYMENTS
    for pdb in _of("PodDisruptionBudget"):
        assert _pods_matching(pdb["spec"]["selector"]["matchLabels"]) == [pdb["metadata"]["name"]]
    # Every Deployment of more than one pod has a budget; the single ones (model server, trainer,
    # analytics) would block node drains with one.
    budgets = {p["metadata"]["name"] for p in _of("PodDisruptionBudget")}
    assert budgets == {name for name, d in DEPLOYMENTS.items() if d["spec"]["replicas"] > 1}


def _peers(rules: list[Obj], key: str) -> set[str]:
    names = set()
    for rule in rules:
        for peer in rule.get(key, []):
            if "podSelector" in peer and "namespaceSelector" not in peer:
                names.add(peer["podSelector"]["matchLabels"][APP])
    return names


def _policy(name: str) -> Obj:
    policy = _named("NetworkPolicy", name)
    assert policy["spec"]["podSelector"]["matchLabels"] == {APP: name}
    return policy


def test_network_policies_deny_by_default() -> None:
    deny = _named("NetworkPolicy", "default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]


def test_only_the_gateway_reaches_rasa_and_only_from_the_ingress_controller() -> None:
    assert _peers(_policy("rasa")["spec"]["ingress"], "from") == {"gateway"}
    (rule,) = _policy("gateway")["spec"]["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"namespaceSelector"}


def test_who_reaches_the_internal_services() -> None:
    assert _peers(_policy("actions")["spec"]["ingress"], "from") == {"rasa", "gateway"}
    assert _peers(_policy("catalog")["spec"]["ingress"], "from") == {"actions", "gateway", "trainer"}
    assert _peers(_policy("model-server")["spec"]["ingress"], "from") == {"rasa", "gateway"}
    # The analytics consumer and the trainer serve nothing: no policy lets anything in.
    for policy in _of("NetworkPolicy"):
        selected = _pods_matching(policy["spec"]["podSelector"].get("matchLabels", {}))
        if policy["spec"].get("ingress"):
            assert not {"analytics", "trainer"} & set(selected), policy["metadata"]["name"]


def test_every_egress_a_policy_allows_has_a_matching_ingress() -> None:
    for source in ("gateway", "rasa", "actions", "trainer"):
        for rule in _policy(source)["spec"].get("egress", []):
            for target in _peers([rule], "to"):
                ports = {p["port"] for p in rule["ports"]}
                allowed = [
                    r for r in _policy(target)["spec"]["ingress"]
                    if source in _peers([r], "from") and ports <= {p["port"] for p in r["ports"]}
                ]
                assert allowed, (source, target, ports)


def test_labels_the_policies_rely_on_are_on_the_pods_that_need_them() -> None:
    stores = set(_pods_matching({"eservice/data-stores": "true"}))
    assert stores == {"rasa", "gateway", "catalog", "analytics", "trainer"}
    assert _pods_matching({"eservice/internet-https": "true"}) == ["gateway"]


def test_images_are_targets_of_the_dockerfile() -> None:
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M))
    for name, deployment in DEPLOYMENTS.items():
        for container in _containers(deployment):
            image = container["image"].rsplit("/", 1)[-1].split(":")[0]
            assert image in targets, (name, image)


def test_the_shared_folder_is_mounted_where_run_dir_says() -> None:
    for name in ("gateway", "model-server", "trainer"):
        mounts = {
            m["mountPath"] for c in _containers(DEPLOYMENTS[name], init=False) for m in c["volumeMounts"]
        }
        assert SETTINGS["RUN_DIR"] in mounts, name
        claims = {v["persistentVolumeClaim"]["claimName"] for v in _pod(DEPLOYMENTS[name])["volumes"]
                  if "persistentVolumeClaim" in v}
        assert claims == {"eservice-run"}
    assert SETTINGS["SEED_MODEL"].startswith(SETTINGS["RUN_DIR"] + "/")
    (claim,) = _of("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
