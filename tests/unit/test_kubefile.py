"""Kubefile parsing: the seed page's text, the project's own Kubefile, Dockerfile quoting rules, errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealos_provider.image.kubefile import KubefileError, parse_kubefile

ROOTFS = Path(__file__).resolve().parents[2] / "rootfs"

# The Kubefile shown on the seed page ("Using docker-rootfs"), as written there.
SEED = r"""FROM scratch
MAINTAINER sealyun
LABEL init="init.sh"
LABEL version="v0.0.0"
LABEL image="__lvscare__"
LABEL clean="clean.sh \$criData \$criDockerdData"
LABEL check="check.sh \$registryData"
LABEL init-registry="init-registry.sh \$registryData \$registryConfig"
LABEL clean-registry="clean-registry.sh \$registryData \$registryConfig"
LABEL auth="auth.sh \$registryDomain \$registryPort \$registryUsername \$registryPassword"
LABEL sealos.io.type="rootfs"
ENV criData=/var/lib/docker
ENV criDockerdData=/var/lib/cri-dockerd
ENV registryData=/var/lib/registry
ENV registryConfig=/etc/registry
ENV registryDomain=sealos.hub
ENV registryPort=5000
ENV registryUsername=admin
ENV registryPassword=passw0rd
COPY . .
"""


def test_seed_kubefile() -> None:
    kf = parse_kubefile(SEED)
    assert kf.labels == {
        "init": "init.sh",
        "version": "v0.0.0",
        "image": "__lvscare__",
        "clean": "clean.sh $criData $criDockerdData",
        "check": "check.sh $registryData",
        "init-registry": "init-registry.sh $registryData $registryConfig",
        "clean-registry": "clean-registry.sh $registryData $registryConfig",
        "auth": "auth.sh $registryDomain $registryPort $registryUsername $registryPassword",
        "sealos.io.type": "rootfs",
    }
    assert list(kf.env.items()) == [
        ("criData", "/var/lib/docker"),
        ("criDockerdData", "/var/lib/cri-dockerd"),
        ("registryData", "/var/lib/registry"),
        ("registryConfig", "/etc/registry"),
        ("registryDomain", "sealos.hub"),
        ("registryPort", "5000"),
        ("registryUsername", "admin"),
        ("registryPassword", "passw0rd"),
    ]
    assert kf.version == "v0.0.0"
    assert [i.keyword for i in kf.instructions] == ["FROM", "MAINTAINER"] + ["LABEL"] * 9 + ["ENV"] * 8 + ["COPY"]
    assert kf.instructions[-1].args == ". ." and kf.instructions[-1].line == 20
    assert kf.hook("check") == "bash check.sh $registryData"
    assert kf.hook("clean") == "bash clean.sh $criData $criDockerdData"
    assert kf.hook("auth").startswith("bash auth.sh $registryDomain")


def test_project_kubefile_passes_no_secret_as_an_argument() -> None:
    kf = parse_kubefile((ROOTFS / "Kubefile").read_text(), "rootfs/Kubefile")
    assert kf.labels["sealos.io.type"] == "rootfs"
    assert kf.version and kf.version.startswith("v1.")
    for name in ("check", "init", "clean", "init-registry", "clean-registry", "auth"):
        assert "registryPassword" not in (kf.hook(name) or "")
    assert kf.env["registryPassword"] == "passw0rd"


def test_hook_fallbacks() -> None:
    kf = parse_kubefile("FROM scratch\nLABEL init-cri=\"init-cri.sh\"\n")
    assert kf.hook("init") == "bash init.sh"
    assert kf.hook("clean-registry") == "bash clean-registry.sh"
    assert kf.hook("init-cri") == "bash init-cri.sh"
    assert kf.hook("clean-cri") is None
    assert kf.hook("auth") is None
    with pytest.raises(ValueError, match="unknown hook"):
        kf.hook("deploy")


def test_label_forms() -> None:
    text = (
        "FROM scratch\n"
        "# a comment\n"
        "ARG tag=v1\n"
        "ENV base=/opt\n"
        'LABEL a=1 b="two words" c=\'$base single\' \\\n'
        "      d=$base/x e=${base}/y f=\\$base \\\n"
        "  # a comment inside a continuation\n"
        '      g="q\\"uote" h=${tag} i=${unset:-fallback} j=${base:+set}\n'
        'label "quoted key"=v\n'
        'LABEL init="init-cri.sh && bash init.sh"\n'
    )
    kf = parse_kubefile(text)
    assert kf.labels == {
        "a": "1", "b": "two words", "c": "$base single", "d": "/opt/x", "e": "/opt/y", "f": "$base",
        "g": 'q"uote', "h": "v1", "i": "fallback", "j": "set", "quoted key": "v",
        "init": "init-cri.sh && bash init.sh",
    }
    assert kf.hook("init") == "bash init-cri.sh && bash init.sh"
    assert [i.line for i in kf.instructions] == [1, 3, 4, 5, 9, 10]


def test_env_forms() -> None:
    kf = parse_kubefile(
        "FROM scratch\nENV a=0\nENV a=1 b=\"x y\" c=$a\nENV legacy  some  value $a\nENV BIN_DIR=/usr/local/bin\n"
        "ENV empty=\nCMD [\"echo\"]\n"
    )
    # As in Docker, one ENV instruction substitutes the values from before it (c sees a=0, not a=1).
    assert kf.env == {"a": "1", "b": "x y", "c": "0", "legacy": "some  value 1", "BIN_DIR": "/usr/local/bin",
                      "empty": ""}


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("FROM scratch\nFOO bar\n", 2, "unknown instruction 'FOO'"),
        ("LABEL a=b\n", 1, "before FROM"),
        ("# only a comment\nENV a=1\n", 2, "before FROM"),
        ("FROM scratch\n\nLABEL novalue\n", 3, "has no '='"),
        ('FROM scratch\nLABEL a="unterminated\n', 2, "unterminated double quote"),
        ("FROM scratch\nLABEL a='x\n", 2, "unterminated single quote"),
        ("FROM scratch\nENV 1bad=x\n", 2, "not a valid variable name"),
        ("FROM scratch\nENV lonely\n", 2, "has no value"),
        ("FROM scratch\nLABEL a=${b\n", 2, "unterminated ${...}"),
        ("FROM scratch\nLABEL a=1 \\\n", 2, "ends inside"),
        ("", 1, "no FROM"),
        ("FROM scratch\nCOPY\n", 2, "COPY needs an argument"),
    ],
)
def test_errors_name_source_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(KubefileError) as err:
        parse_kubefile(text, "rootfs/Kubefile")
    assert err.value.line == line
    assert str(err.value).startswith(f"rootfs/Kubefile:{line}: ")
    assert message in str(err.value)
