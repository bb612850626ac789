"""The Spark Connect gateway: the plan wires it (sidecar, config, certificate, token, Service), and the rendered
nginx.conf, run by a real nginx on loopback in front of a stand-in Connect server, admits PySpark's own Connect
client with the token over TLS and nothing else."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import trustme
from pyspark.sql.connect.proto import base_pb2, base_pb2_grpc

from components.spark_connect import SERVER_LABELS
from components.spark_connect_gateway import (
    GATEWAY_CONTAINER,
    TOKEN_MAP_KEY,
    gateway_script,
    nginx_conf,
    service_dns_names,
    token_map_template,
)
from contracts.kubernetes import (
    SPARK_CONNECT_GATEWAY_PORT,
    SPARK_CONNECT_SERVICE,
    SPARK_CONNECT_SERVICE_PORT,
    SPARK_CONNECT_TOKEN_SECRET,
)
from spk.mocks import SECRET
from spk.plan import Plan

CONNECT = "kubernetes:sparkoperator.k8s.io/v1alpha1:SparkConnect"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TOKEN = "Q2xpZW50VG9rZW5Gb3JUZXN0czEyMzQ1Njc4OTBhYmNkZWZnaGlqa2xtbm9w"[:48]


# -- the plan ---------------------------------------------------------------------------------------------------


def test_gateway_exists_exactly_where_connect_runs(stack_plan: Plan) -> None:
    connect = bool(stack_plan.of_type(CONNECT))
    assert connect is (stack_plan.stack != "prod")
    services = [r for r in stack_plan.of_type("kubernetes:core/v1:Service")
                if r.inputs["metadata"]["name"] == SPARK_CONNECT_SERVICE]
    assert len(services) == int(connect)
    assert ("sparkConnect" in stack_plan.outputs) is connect


def test_server_pod_carries_the_gateway_and_its_volumes_exist(dev_plan: Plan) -> None:
    server = dev_plan.get(CONNECT, "spark-connect").inputs["spec"]["server"]["template"]
    assert server["metadata"]["labels"].items() >= SERVER_LABELS.items()
    [gateway] = [c for c in server["spec"]["containers"] if c["name"] == GATEWAY_CONTAINER]
    assert [p["containerPort"] for p in gateway["ports"]] == [SPARK_CONNECT_GATEWAY_PORT]
    assert gateway["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in server["spec"]["volumes"]}
    for mount in gateway["volumeMounts"]:
        assert mount["name"] in volumes
    config_maps = {r.inputs["metadata"]["name"]: r for r in dev_plan.of_type("kubernetes:core/v1:ConfigMap")}
    secrets = {r.inputs["metadata"]["name"]: r for r in dev_plan.of_type("kubernetes:core/v1:Secret")}
    config = config_maps[volumes["gateway-config"]["configMap"]["name"]]
    assert config.inputs["data"]["nginx.conf"] == nginx_conf()
    tls_secret = secrets[volumes["gateway-tls"]["secret"]["secretName"]]
    assert tls_secret.inputs["type"] == "kubernetes.io/tls"
    assert tls_secret.inputs["stringData"] == SECRET  # the private key never shows in a plan or a diff
    # The token's Secret is External Secrets' to write, with the nginx map rendered from the token.
    token_volume = volumes["gateway-auth"]["secret"]
    assert token_volume["secretName"] == SPARK_CONNECT_TOKEN_SECRET
    assert token_volume["items"] == [{"key": TOKEN_MAP_KEY, "path": TOKEN_MAP_KEY}]
    external = dev_plan.get(EXTERNAL_SECRET, f"{SPARK_CONNECT_TOKEN_SECRET}-external-secret")
    template = external.inputs["spec"]["target"]["template"]
    assert template["mergePolicy"] == "Merge" and template["data"] == {TOKEN_MAP_KEY: token_map_template()}
    # The server starts only once what its gateway mounts exists.
    connect = dev_plan.get(CONNECT, "spark-connect")
    assert {external.urn, tls_secret.urn, config.urn} <= set(connect.dependencies)


def test_service_reaches_only_the_server_through_the_gateway(dev_plan: Plan) -> None:
    service = dev_plan.get("kubernetes:core/v1:Service", "spark-connect-gateway-service").inputs
    assert service["spec"]["selector"] == SERVER_LABELS
    executor = dev_plan.get(CONNECT, "spark-connect").inputs["spec"]["executor"]["template"]["metadata"]["labels"]
    assert not executor.items() >= SERVER_LABELS.items()
    [port] = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (SPARK_CONNECT_SERVICE_PORT, SPARK_CONNECT_GATEWAY_PORT)


def test_certificate_names_the_service(dev_plan: Plan) -> None:
    request = dev_plan.get("tls:index/certRequest:CertRequest", "spark-connect-server-request").inputs
    assert f"{SPARK_CONNECT_SERVICE}.spark-jobs.svc" in request["dnsNames"]
    assert request["dnsNames"] == service_dns_names("spark-jobs")
    cert = dev_plan.get("tls:index/locallySignedCert:LocallySignedCert", "spark-connect-server-cert").inputs
    assert "server_auth" in cert["allowedUses"] and cert["earlyRenewalHours"] < cert["validityPeriodHours"]
    key = dev_plan.get("tls:index/privateKey:PrivateKey", "spark-connect-server-key")
    assert key.inputs["algorithm"] == "ECDSA"
    assert dev_plan.outputs["sparkConnect"]["caCertificate"].startswith("-----BEGIN CERTIFICATE-----")


# -- the gateway, run ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StandInServer(base_pb2_grpc.SparkConnectServiceServicer):
    """Answers Config like a Connect server would, and remembers the metadata each call arrived with."""

    seen: list[dict[str, str]] = field(default_factory=list)

    def Config(self, request: Any, context: grpc.ServicerContext) -> Any:  # the gRPC method's own name
        self.seen.append({key: str(value) for key, value in context.invocation_metadata()})
        return base_pb2.ConfigResponse(session_id=request.session_id)


@dataclass
class Gateway:
    port: int
    ca_file: Path
    upstream: StandInServer
    token_map: Path
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    assert Path(NGINX).exists(), "nginx is missing: `make setup` (scripts/setup.sh test) installs it"
    root = tmp_path_factory.mktemp("gateway")
    tls_dir, auth_dir, temp_dir = root / "tls", root / "auth", root / "tmp"
    for folder in (tls_dir, auth_dir, temp_dir):
        folder.mkdir()
    ca = trustme.CA()
    server_cert = ca.issue_cert("localhost")
    server_cert.cert_chain_pems[0].write_to_path(str(tls_dir / "tls.crt"))
    server_cert.private_key_pem.write_to_path(str(tls_dir / "tls.key"))
    ca.cert_pem.write_to_path(str(root / "ca.crt"))
    # What External Secrets renders from the template, with the token's value.
    (auth_dir / TOKEN_MAP_KEY).write_text(token_map_template().replace("{{ .token }}", TOKEN))

    upstream_port, listen_port = free_port(), free_port()
    upstream = StandInServer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    base_pb2_grpc.add_SparkConnectServiceServicer_to_server(upstream, server)
    server.add_insecure_port(f"127.0.0.1:{upstream_port}")
    server.start()
    config = root / "nginx.conf"
    config.write_text(nginx_conf(
        upstream_port=upstream_port, listen_port=listen_port,
        tls_dir=str(tls_dir), auth_dir=str(auth_dir), temp_dir=str(temp_dir),
    ))
    checked = subprocess.run([NGINX, "-t", "-c", str(config), "-e", "stderr"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    # The container's own command: nginx under the reloading shell (every second here, not every five minutes).
    nginx = subprocess.Popen(["/bin/sh", "-c", gateway_script(str(config), nginx=NGINX, reload_seconds=1)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", listen_port), timeout=1).close()
                break
            except OSError:
                assert nginx.poll() is None and time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield Gateway(listen_port, root / "ca.crt", upstream, auth_dir / TOKEN_MAP_KEY, nginx)
    finally:
        if nginx.poll() is None:
            nginx.terminate()
            nginx.wait(timeout=10)
        server.stop(grace=None)


CLIENT = """
import sys, grpc
from pyspark.sql.connect.client import ChannelBuilder
from pyspark.sql.connect.proto import base_pb2, base_pb2_grpc
stub = base_pb2_grpc.SparkConnectServiceStub(ChannelBuilder(sys.argv[1]).toChannel())
request = base_pb2.ConfigRequest(
    session_id="s-1", operation=base_pb2.ConfigRequest.Operation(get_all=base_pb2.ConfigRequest.GetAll()))
try:
    print("OK", stub.Config(request, timeout=10).session_id)
except grpc.RpcError as error:
    print("ERROR", error.code().name)
"""


def connect(gateway: Gateway, parameters: str) -> str:
    """PySpark's own Connect client, in a process of its own, trusting the CA the way the docs tell users to."""
    url = f"sc://localhost:{gateway.port}/{parameters}"
    env = {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(gateway.ca_file), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", CLIENT, url], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_token_over_tls_is_admitted_and_not_passed_on(gateway: Gateway) -> None:
    before = len(gateway.upstream.seen)
    assert connect(gateway, f";use_ssl=true;token={TOKEN}") == "OK s-1"
    [metadata] = gateway.upstream.seen[before:]
    assert "authorization" not in metadata  # the server never sees the token


@pytest.mark.parametrize(
    "parameters",
    [
        ";use_ssl=true",  # no token
        f";use_ssl=true;token={TOKEN[:-1]}",  # one character short
        f";use_ssl=true;token={TOKEN}x",  # one character more
        f";use_ssl=true;token={TOKEN.lower()}",
    ],
)
def test_anything_but_the_token_is_unauthenticated(gateway: Gateway, parameters: str) -> None:
    before = len(gateway.upstream.seen)
    assert connect(gateway, parameters) == "ERROR UNAUTHENTICATED"
    assert len(gateway.upstream.seen) == before


def test_plaintext_is_refused(gateway: Gateway) -> None:
    before = len(gateway.upstream.seen)
    assert connect(gateway, "").startswith("ERROR")
    assert len(gateway.upstream.seen) == before


def test_a_rotated_token_is_picked_up_without_a_restart(gateway: Gateway) -> None:
    rotated = "Rotated" + TOKEN[7:]
    original = gateway.token_map.read_text()
    gateway.token_map.write_text(token_map_template().replace("{{ .token }}", rotated))
    try:
        deadline = time.monotonic() + 15
        while connect(gateway, f";use_ssl=true;token={rotated}") != "OK s-1":
            assert time.monotonic() < deadline, "the gateway never reloaded the token map"
            time.sleep(0.5)
        assert connect(gateway, f";use_ssl=true;token={TOKEN}") == "ERROR UNAUTHENTICATED"
    finally:
        gateway.token_map.write_text(original)
        time.sleep(2.5)


def test_sigterm_stops_the_gateway_gracefully(gateway: Gateway) -> None:
    """Runs last in this module: the container's PID 1 (the shell) quits nginx and exits 0 on SIGTERM."""
    gateway.process.terminate()
    assert gateway.process.wait(timeout=10) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", gateway.port), timeout=1).close()
