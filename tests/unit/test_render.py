"""Rendering of the real rootfs templates and of whole trees: every value parses back exactly, hostile or not."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from sealos_provider.image.env import RootfsEnv
from sealos_provider.image.kubefile import parse_kubefile
from sealos_provider.image.render import RenderError, render_template, render_tree

ROOTFS = Path(__file__).resolve().parents[2] / "rootfs"

HOSTILE_PASSWORDS = [
    "p\"a's:s #w\\d $x {{ .a }} ü",
    "*leading-star",
    "&leading-amp",
    "!leading-bang",
    "with spaces  and # hash",
    "$(touch /tmp/pwned)`id`;echo",
    "ünïcödé 中文 🙂",
    "{{ .registryPassword }}",
    "a: b",
    "- list",
    "null",
]


def _kubefile():
    return parse_kubefile((ROOTFS / "Kubefile").read_text())


def _render(name: str, env: dict[str, str]) -> str:
    path = ROOTFS / "etc" / name
    return render_template(path.read_text(), env, f"etc/{name}")


def _env(**overrides) -> RootfsEnv:
    return RootfsEnv.from_kubefile(_kubefile(), overrides).validate()


@pytest.mark.parametrize("password", ["passw0rd", *HOSTILE_PASSWORDS])
def test_registry_settings_parse_back(password: str) -> None:
    env = _env(registry_password=password, registry_username="ädmin'\"#", registry_data="/srv/my registry",
               registry_port=5443.0)
    data = yaml.safe_load(_render("registry.yml.tmpl", env.to_env()))
    assert data == {"domain": "sealos.hub", "port": "5443", "username": "ädmin'\"#", "password": password,
                    "data": "/srv/my registry"}


@pytest.mark.parametrize("password", ["passw0rd", *HOSTILE_PASSWORDS])
def test_image_cri_shim_config_parses_back(password: str) -> None:
    env = _env(registry_password=password, registry_domain="reg.example.internal", registry_port=5001)
    data = yaml.safe_load(_render("image-cri-shim.yaml.tmpl", env.to_env()))
    assert data["auth"] == f"admin:{password}"
    assert data["address"] == "http://reg.example.internal:5001"
    assert data["shim"] == "/var/run/image-cri-shim.sock"
    assert data["cri"] == "/var/run/cri-dockerd.sock"
    assert data["version"] == "v1"


def test_image_cri_shim_api_version_follows_kube_version() -> None:
    old = _env(kube_version="v1.25.16").to_env()
    assert yaml.safe_load(_render("image-cri-shim.yaml.tmpl", old))["version"] == "v1alpha2"
    unset = {k: v for k, v in _env().to_env().items() if k != "SEALOS_SYS_KUBE_VERSION"}
    assert yaml.safe_load(_render("image-cri-shim.yaml.tmpl", unset))["version"] == "v1"


@pytest.mark.parametrize("cri_data", ["/var/lib/docker", "/data/dock er", "/data/\"quoted\"/$(x)", "/data/ü\\back"])
def test_daemon_json_parses_back(cri_data: str) -> None:
    env = _env(cri_data=cri_data, registry_domain="my-reg.local", registry_port=5000)
    data = json.loads(_render("daemon.json.tmpl", env.to_env()))
    assert data["data-root"] == cri_data
    assert data["insecure-registries"] == ["my-reg.local:5000"]
    assert data["exec-opts"] == ["native.cgroupdriver=systemd"]


def test_crictl_yaml_follows_endpoints() -> None:
    env = _env(cri_endpoint="/run/custom/cri.sock", image_endpoint="/run/custom/shim.sock")
    data = yaml.safe_load(_render("crictl.yaml.tmpl", env.to_env()))
    assert data["runtime-endpoint"] == "unix:///run/custom/cri.sock"
    assert data["image-endpoint"] == "unix:///run/custom/shim.sock"


def test_registry_config_listens_on_the_port() -> None:
    data = yaml.safe_load(_render("registry_config.yml.tmpl", _env(registry_port=5443).to_env()))
    assert data["http"]["addr"] == ":5443"
    assert "debug" not in data["http"]
    with_debug = dict(_env().to_env(), registryDebugAddr="127.0.0.1:5001")
    assert yaml.safe_load(_render("registry_config.yml.tmpl", with_debug))["http"]["debug"]["addr"] == "127.0.0.1:5001"


@pytest.mark.parametrize(
    "version, legacy_flags",
    [("v1.28.15", False), ("v1.27.0", False), ("1.30.2", False), ("v1.26.15", True), ("v1.23.10", True),
     ("", True), (None, True)],
)
def test_kubelet_flags_added_only_before_1_27_or_when_version_unset(version, legacy_flags: bool) -> None:
    env = _env(sandbox_image="pause:3.9").to_env()
    if version is None:
        env.pop("SEALOS_SYS_KUBE_VERSION")
    else:
        env["SEALOS_SYS_KUBE_VERSION"] = version
    out = _render("kubelet-flags.env.tmpl", env)
    assert out.count("\n") <= 1 and out.startswith('SEALOS_KUBELET_ARGS="')
    assert ("--container-runtime=remote" in out) is legacy_flags
    assert ("--pod-infra-container-image=sealos.hub:5000/pause:3.9" in out) is legacy_flags
    assert "--container-runtime-endpoint=unix:///var/run/cri-dockerd.sock" in out


def test_cri_docker_unit_carries_the_values() -> None:
    env = _env(cri_dockerd_data="/data/cri dockerd", sandbox_image="pause:3.9").to_env()
    env["BIN_DIR"] = "/opt/bin"
    out = _render("cri-docker.service.tmpl", env)
    exec_line = next(line for line in out.splitlines() if line.startswith("ExecStart="))
    assert exec_line.startswith("ExecStart=/opt/bin/cri-dockerd ")
    assert '"--pod-infra-container-image=sealos.hub:5000/pause:3.9"' in exec_line
    assert '"--cri-dockerd-root-directory=/data/cri dockerd"' in exec_line


def test_every_rootfs_template_renders_with_defaults_and_leaves_no_action() -> None:
    env = _env().to_env()
    templates = sorted(p for d in ("etc", "scripts", "manifests") for p in (ROOTFS / d).rglob("*.tmpl"))
    assert templates, "the rootfs has templates"
    for template in templates:
        out = render_template(template.read_text(), env, str(template))
        assert "{{" not in out and "<no value>" not in out, template


# -- render_template errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("{{ if .a }}x", "has no {{end}}"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ range .a }}x{{ end }}", "not supported"),
        ("{{ $x := .a }}", "not supported"),
        ("{{ .a.b }}", "the env is flat"),
        ("{{ nosuchfunc .a }}", "'nosuchfunc' is not supported"),
        ("{{ .a", "unclosed action"),
        ("{{ }}", "missing value"),
        ('{{ semverCompare "^1.27.0" .a }}', "Invalid Semantic Version"),
        ("{{ .a | .b }}", "must be a function"),
    ],
)
def test_bad_templates_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(RenderError) as err:
        render_template("line one\n" + text, {"a": "x", "b": "y"}, "etc/bad.tmpl")
    assert str(err.value).startswith("etc/bad.tmpl:2: ")
    assert message in str(err.value)


def test_missing_key_error_names_key_not_values() -> None:
    with pytest.raises(RenderError) as err:
        render_template("a: {{ .registryPassword }}\nb: {{ .nope }}\n", {"registryPassword": "s3cr3t"}, "f.tmpl")
    assert err.value.key == "nope" and err.value.line == 2
    assert "s3cr3t" not in str(err.value)


# -- render_tree ---------------------------------------------------------------------------------------------------


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def test_render_tree_renders_templates_in_the_three_dirs_only(tmp_path: Path) -> None:
    _write(tmp_path, "etc/a.conf.tmpl", "port={{ .registryPort }}\n", 0o600)
    _write(tmp_path, "etc/a.conf", "stale static copy\n")
    _write(tmp_path, "etc/sub/dir/b.yaml.tmpl", "x: {{ .x | quote }}\n")
    _write(tmp_path, "scripts/run.sh.tmpl", "echo {{ .x }}\n", 0o755)
    _write(tmp_path, "scripts/plain.sh", "echo {{ .x }}\n", 0o755)
    _write(tmp_path, "manifests/m.yaml.tmpl", "m: {{ .x }}\n")
    _write(tmp_path, "statics/keep.tmpl", "{{ .x }}\n")
    _write(tmp_path, "Kubefile", "FROM scratch\n")
    tree = {e.path: e for e in render_tree(tmp_path, {"registryPort": "5000", "x": "v\"1"})}
    assert sorted(tree) == ["Kubefile", "etc/a.conf", "etc/sub/dir/b.yaml", "manifests/m.yaml", "scripts/plain.sh",
                            "scripts/run.sh", "statics/keep.tmpl"]
    assert tree["etc/a.conf"].read() == b"port=5000\n" and tree["etc/a.conf"].mode == 0o600
    assert tree["etc/sub/dir/b.yaml"].read() == b'x: "v\\"1"\n'
    assert tree["scripts/run.sh"].read() == b'echo v"1\n' and tree["scripts/run.sh"].mode == 0o755
    assert tree["scripts/plain.sh"].read() == b"echo {{ .x }}\n"  # not a template: left as is
    assert tree["statics/keep.tmpl"].read() == b"{{ .x }}\n"  # outside etc/scripts/manifests: left as is
    assert tree["manifests/m.yaml"].read() == b"m: v\"1\n"


def test_render_tree_excludes_and_reports_the_failing_file(tmp_path: Path) -> None:
    _write(tmp_path, "etc/ok.tmpl", "{{ .x }}")
    _write(tmp_path, "registry/docker/registry/v2/blob", "data")
    paths = [e.path for e in render_tree(tmp_path, {"x": "1"}, exclude=["registry"])]
    assert paths == ["etc/ok"]
    _write(tmp_path, "etc/broken.conf.tmpl", "a\n{{ .undefinedKey }}\n")
    with pytest.raises(RenderError) as err:
        render_tree(tmp_path, {"x": "1"})
    assert str(err.value).startswith("etc/broken.conf.tmpl:2: key 'undefinedKey'")


def test_render_tree_of_the_real_rootfs_has_no_templates_left() -> None:
    tree = render_tree(ROOTFS, _env().to_env(), exclude=["registry"])
    paths = {e.path for e in tree}
    assert not any(p.endswith(".tmpl") and p.split("/")[0] in ("etc", "scripts", "manifests") for p in paths)
    assert "etc/daemon.json" in paths and "etc/image-cri-shim.yaml" in paths
