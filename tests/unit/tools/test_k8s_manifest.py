"""examples/k8s/testrun.yaml: the k6-operator TestRun with the fault proxy as a native
sidecar of each runner pod. There is no cluster here, so this checks what would break
it: the sidecar's options exist in mitmdump + this addon, the plan loads, the runner's
proxy URL is the sidecar's port, its CA path lies in a volume the sidecar writes, and
every mount names a declared volume."""

import asyncio
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from faults.plan import load_yaml

MANIFEST = Path(__file__).resolve().parents[3] / "examples" / "k8s" / "testrun.yaml"


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    out = {}
    for d in YAML(typ="safe").load_all(MANIFEST.read_text()):
        if d:
            out[f"{d['kind']}/{d['metadata']['name']}"] = d
    return out


@pytest.fixture(scope="module")
def option_names() -> set[str]:
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    from faults.addon import addons

    async def collect():
        m = DumpMaster(options.Options(), with_termlog=False, with_dumper=False)
        m.addons.add(*addons)
        return set(m.options.keys())
    return asyncio.run(collect())


def _testrun(docs):
    (tr,) = [d for k, d in docs.items() if k.startswith("TestRun/")]
    return tr


def _sidecar(docs):
    (sc,) = _testrun(docs)["spec"]["runner"]["initContainers"]
    return sc


def _args(sidecar) -> dict[str, str]:
    """--name=value and --set=name=value into one mapping (mitmdump's own and --set options)."""
    out = {}
    for a in sidecar["args"]:
        m = re.fullmatch(r"--set=([a-z_]+)=(.*)", a) or re.fullmatch(r"--([a-z-]+)=(.*)", a)
        assert m, f"unexpected argument form {a!r}"
        out[m[1].replace("-", "_")] = m[2]
    return out


def test_testrun_shape(docs):
    tr = _testrun(docs)
    assert tr["apiVersion"] == "k6.io/v1alpha1"
    assert tr["spec"]["parallelism"] >= 2
    cm = tr["spec"]["script"]["configMap"]
    assert cm["file"] in docs[f"ConfigMap/{cm['name']}"]["data"], "the TestRun's script is not in its ConfigMap"


def test_sidecar_is_native_and_runs_the_proxy(docs):
    sc = _sidecar(docs)
    assert sc["restartPolicy"] == "Always", "without it the init container blocks k6 instead of running beside it"
    assert sc["command"] == ["faults", "proxy"]
    dockerfile = (MANIFEST.parent / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["faults", "proxy"]' in dockerfile


def test_sidecar_options_exist(docs, option_names):
    unknown = set(_args(_sidecar(docs))) - option_names
    assert not unknown, f"options mitmdump with this addon does not have: {sorted(unknown)}"


def test_worker_id_is_the_pod_name(docs):
    sc = _sidecar(docs)
    args = _args(sc)
    env = {e["name"]: e for e in sc["env"]}
    assert args["fault_worker"] == "$(POD_NAME)"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert "$(POD_NAME)" in args["fault_report"], "runner pods would overwrite one another's report"


def test_plan_loads(docs):
    sc = _sidecar(docs)
    plan_path = Path(_args(sc)["fault_plan"])
    mount = next(m for m in sc["volumeMounts"] if plan_path.is_relative_to(m["mountPath"]))
    vol = next(v for v in _testrun(docs)["spec"]["runner"]["volumes"] if v["name"] == mount["name"])
    data = docs[f"ConfigMap/{vol['configMap']['name']}"]["data"]
    plan = load_yaml(data[plan_path.name], "k8s plan")
    assert len(plan.rules) == 2


def test_runner_goes_through_the_sidecar_and_trusts_its_ca(docs):
    runner = _testrun(docs)["spec"]["runner"]
    sc = _sidecar(docs)
    args = _args(sc)
    env = {e["name"]: e.get("value") for e in runner["env"]}
    for var in ("HTTPS_PROXY", "HTTP_PROXY"):
        assert env[var] == f"http://{args['listen_host']}:{args['listen_port']}"
    ca = Path(env["SSL_CERT_FILE"])
    assert ca.name == "mitmproxy-ca-cert.pem" and ca.parent == Path(args["confdir"])
    runner_vol = next(m["name"] for m in runner["volumeMounts"] if ca.is_relative_to(m["mountPath"]))
    sidecar_vol = next(m["name"] for m in sc["volumeMounts"] if m["mountPath"] == args["confdir"])
    assert runner_vol == sidecar_vol, "k6 would not see the CA the sidecar writes"


def test_every_mount_names_a_volume(docs):
    runner = _testrun(docs)["spec"]["runner"]
    names = {v["name"] for v in runner["volumes"]}
    mounts = runner["volumeMounts"] + _sidecar(docs)["volumeMounts"]
    assert {m["name"] for m in mounts} <= names
    claims = {v["persistentVolumeClaim"]["claimName"] for v in runner["volumes"] if "persistentVolumeClaim" in v}
    assert all(f"PersistentVolumeClaim/{c}" in docs for c in claims)
