"""The Spark Connect gateway: Spark 3.5's Connect server has no authentication and speaks plaintext gRPC, while its
role may read, write and delete the lakehouse. So clients never reach it directly: an nginx sidecar in the server
pod terminates TLS, admits only requests carrying the platform's bearer token (`spark-connect-token`, generated
in Secrets Manager and materialised by External Secrets) and forwards them to the server over the pod's loopback.
The NetworkPolicies (components/network_policies.py) admit clients on the gateway's port only.

A PySpark client connects with `sc://spark-connect.<jobs namespace>.svc:443/;use_ssl=true;token=<token>` and
trusts the platform's Spark Connect CA (stack output `sparkConnect.caCertificate`) through
`GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`; PySpark sends the token as `authorization: Bearer <token>` and only over TLS.

No Args model: the server's settings are `spark.connect` (components/spark_connect.py); the gateway has none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_tls as tls

from components.pod_security import container_security_context
from contracts.kubernetes import (
    SPARK_CONNECT_GATEWAY_PORT,
    SPARK_CONNECT_PORT,
    SPARK_CONNECT_SERVICE,
    SPARK_CONNECT_SERVICE_PORT,
    SPARK_CONNECT_TOKEN_SECRET,
)
from contracts.project import PROJECT

#: nginx, as the nginx project builds it to run without root (UID 101, everything it writes under /tmp).
GATEWAY_IMAGE = "nginxinc/nginx-unprivileged:1.29.4-alpine"
GATEWAY_UID = 101
GATEWAY_CONTAINER = "gateway"
#: Where the sidecar finds its files (one volume each).
CONFIG_DIR = "/etc/spark-connect-gateway"
TLS_DIR = "/etc/spark-connect-gateway/tls"
AUTH_DIR = "/etc/spark-connect-gateway/auth"
#: The key External Secrets adds to the token's Kubernetes Secret, rendered from the token by its template engine:
#: the token is in Pulumi's state only as the generated password (a secret), never in a resource's inputs.
TOKEN_MAP_KEY = "token.map"
#: nginx variable that is "1" only for a request with the exact bearer token.
AUTHORIZED_VARIABLE = "$spark_connect_authorized"
#: A server certificate is renewed by the first `pulumi up` in the last month of its year.
SERVER_CERT_VALIDITY_HOURS = 365 * 24
SERVER_CERT_RENEWAL_HOURS = 30 * 24
CA_VALIDITY_HOURS = 10 * 365 * 24
#: How often the gateway re-reads its certificate and token map.
RELOAD_SECONDS = 300


def token_map_template() -> str:
    """An nginx `map` from the request's Authorization header, as an External Secrets (engine v2) template over the
    Secrets Manager document's `token` key. A regular expression, anchored: nginx compares plain map keys without
    regard to case, which would shrink the token's strength. The token is alphanumeric (components/secrets.py), so
    it needs no escaping."""
    return (
        f"map $http_authorization {AUTHORIZED_VARIABLE} {{\n"
        "    default 0;\n"
        '    "~^Bearer {{ .token }}$" 1;\n'
        "}\n"
    )


def nginx_conf(*, upstream_port: int = SPARK_CONNECT_PORT, listen_port: int = SPARK_CONNECT_GATEWAY_PORT,
               tls_dir: str = TLS_DIR, auth_dir: str = AUTH_DIR, temp_dir: str = "/tmp") -> str:
    """The whole nginx.conf of the gateway. Paths are parameters so a test can run this exact file on loopback."""
    return f"""# Rendered by spark-platform (components/spark_connect_gateway.py). Do not edit in the cluster.
worker_processes 1;
pid {temp_dir}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 1024;
}}
http {{
    client_body_temp_path {temp_dir}/client_temp;
    proxy_temp_path {temp_dir}/proxy_temp;
    fastcgi_temp_path {temp_dir}/fastcgi_temp;
    uwsgi_temp_path {temp_dir}/uwsgi_temp;
    scgi_temp_path {temp_dir}/scgi_temp;
    # The default format logs no request header, so the token never reaches a log.
    access_log /dev/stdout;
    server_tokens off;
    include {auth_dir}/{TOKEN_MAP_KEY};
    server {{
        # `listen ... http2` rather than the `http2` directive: accepted by every nginx from 1.9.5 on.
        listen {listen_port} ssl http2;
        ssl_certificate {tls_dir}/tls.crt;
        ssl_certificate_key {tls_dir}/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        # One gRPC call streams a whole query's results or artifacts: Spark bounds each message, not the stream.
        client_max_body_size 0;
        client_body_timeout 1h;
        grpc_read_timeout 1h;
        grpc_send_timeout 1h;
        location / {{
            if ({AUTHORIZED_VARIABLE} = 0) {{
                # gRPC clients read HTTP 401 as UNAUTHENTICATED.
                return 401;
            }}
            # The server has no use for the token; keep it out of its logs.
            grpc_set_header Authorization "";
            grpc_pass grpc://127.0.0.1:{upstream_port};
        }}
    }}
}}
"""


def gateway_script(config: str, *, nginx: str = "nginx", reload_seconds: int = RELOAD_SECONDS) -> str:
    """nginx in the foreground, reloaded every `reload_seconds`; the shell (PID 1) passes SIGTERM on as a graceful
    quit and exits when nginx does, so the container never outlives its server."""
    return (
        f"{nginx} -c {config} -g 'daemon off;' & pid=$!; "
        "trap 'kill -QUIT $pid; wait $pid; exit 0' TERM INT; "
        f"while kill -0 $pid 2>/dev/null; do sleep {reload_seconds} & wait $!; "
        f"kill -0 $pid 2>/dev/null && {nginx} -c {config} -s reload; done; "
        "wait $pid"
    )


def gateway_container() -> dict[str, Any]:
    """The sidecar, for the server pod template (restricted Pod Security: non-root, read-only root filesystem)."""
    return {
        "name": GATEWAY_CONTAINER,
        "image": GATEWAY_IMAGE,
        # `command` skips the image's entrypoint scripts, which would try to rewrite files under /etc/nginx. nginx
        # reads its certificate and the token map at start: a reload every few minutes picks up a renewed
        # certificate or a rotated token (Kubernetes updates the mounted Secrets in place).
        "command": ["/bin/sh", "-c", gateway_script(f"{CONFIG_DIR}/nginx.conf")],
        "ports": [{"name": "connect-tls", "containerPort": SPARK_CONNECT_GATEWAY_PORT, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": SPARK_CONNECT_GATEWAY_PORT}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        # The platform's restricted container context, as the image's own user, on a read-only root.
        "securityContext": {**container_security_context(), "runAsUser": GATEWAY_UID, "readOnlyRootFilesystem": True},
        "volumeMounts": [
            {"name": "gateway-config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "gateway-tls", "mountPath": TLS_DIR, "readOnly": True},
            {"name": "gateway-auth", "mountPath": AUTH_DIR, "readOnly": True},
            {"name": "gateway-tmp", "mountPath": "/tmp"},
        ],
    }


def gateway_volumes(*, config_map: str, tls_secret: str) -> list[dict[str, Any]]:
    # 0444: the gateway runs as its own UID, not the pod's fsGroup owner; the Secrets are readable by the pod only.
    return [
        {"name": "gateway-config", "configMap": {"name": config_map, "defaultMode": 0o444}},
        {"name": "gateway-tls", "secret": {"secretName": tls_secret, "defaultMode": 0o444}},
        {
            "name": "gateway-auth",
            "secret": {
                "secretName": SPARK_CONNECT_TOKEN_SECRET,
                "items": [{"key": TOKEN_MAP_KEY, "path": TOKEN_MAP_KEY}],
                "defaultMode": 0o444,
            },
        },
        {"name": "gateway-tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]


def service_dns_names(namespace: str) -> list[str]:
    return [
        SPARK_CONNECT_SERVICE,
        f"{SPARK_CONNECT_SERVICE}.{namespace}",
        f"{SPARK_CONNECT_SERVICE}.{namespace}.svc",
        f"{SPARK_CONNECT_SERVICE}.{namespace}.svc.cluster.local",
    ]


class SparkConnectGateway(pulumi.ComponentResource):
    """The gateway's CA and server certificate, its nginx.conf, and the Service clients use. The sidecar and its
    volumes go into the server's pod template (`container`, `volumes`). Exposes `ca_certificate` (public) and
    `endpoint`."""

    def __init__(
        self,
        name: str,
        *,
        namespace: str,
        server_selector: dict[str, str],
        provider: pulumi.ProviderResource,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:spark_connect_gateway:SparkConnectGateway", name, None, opts)
        tls_child = pulumi.ResourceOptions(parent=self)
        kube_child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        labels = {"app.kubernetes.io/name": SPARK_CONNECT_SERVICE, "app.kubernetes.io/part-of": PROJECT}

        # A CA of the platform's own: clients trust it for this endpoint only. Keys live in the state as secrets.
        ca_key = tls.PrivateKey("spark-connect-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=tls_child)
        ca = tls.SelfSignedCert(
            "spark-connect-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=CA_VALIDITY_HOURS,
            allowed_uses=["cert_signing", "crl_signing"],
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{PROJECT} Spark Connect CA", organization=PROJECT),
            opts=tls_child,
        )
        server_key = tls.PrivateKey("spark-connect-server-key", algorithm="ECDSA", ecdsa_curve="P256", opts=tls_child)
        request = tls.CertRequest(
            "spark-connect-server-request",
            private_key_pem=server_key.private_key_pem,
            dns_names=service_dns_names(namespace),
            subject=tls.CertRequestSubjectArgs(common_name=f"{SPARK_CONNECT_SERVICE}.{namespace}.svc"),
            opts=tls_child,
        )
        server_cert = tls.LocallySignedCert(
            "spark-connect-server-cert",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=SERVER_CERT_VALIDITY_HOURS,
            early_renewal_hours=SERVER_CERT_RENEWAL_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            opts=tls_child,
        )
        self.tls_secret = kubernetes.core.v1.Secret(
            "spark-connect-gateway-tls",
            metadata={"name": "spark-connect-gateway-tls", "namespace": namespace, "labels": labels},
            type="kubernetes.io/tls",
            string_data={
                "tls.crt": server_cert.cert_pem,
                "tls.key": pulumi.Output.secret(server_key.private_key_pem),
                "ca.crt": ca.cert_pem,
            },
            opts=kube_child,
        )
        self.config_map = kubernetes.core.v1.ConfigMap(
            "spark-connect-gateway-config",
            metadata={"name": "spark-connect-gateway", "namespace": namespace, "labels": labels},
            data={"nginx.conf": nginx_conf()},
            opts=kube_child,
        )
        # The operator's own Service also exposes the server's plaintext port; clients use this one.
        self.service = kubernetes.core.v1.Service(
            "spark-connect-gateway-service",
            metadata={"name": SPARK_CONNECT_SERVICE, "namespace": namespace, "labels": labels},
            spec=kubernetes.core.v1.ServiceSpecArgs(
                selector=server_selector,
                ports=[kubernetes.core.v1.ServicePortArgs(
                    name="connect-tls",
                    port=SPARK_CONNECT_SERVICE_PORT,
                    target_port=SPARK_CONNECT_GATEWAY_PORT,
                    protocol="TCP",
                    app_protocol="grpc",
                )],
            ),
            opts=kube_child,
        )
        self.container = gateway_container()
        self.volumes = gateway_volumes(config_map="spark-connect-gateway", tls_secret="spark-connect-gateway-tls")
        self.resources: list[pulumi.Resource] = [self.tls_secret, self.config_map]
        self.ca_certificate: pulumi.Output[str] = ca.cert_pem
        self.endpoint = (
            f"sc://{SPARK_CONNECT_SERVICE}.{namespace}.svc:{SPARK_CONNECT_SERVICE_PORT}/;use_ssl=true;token=<token>"
        )
        self.register_outputs({"caCertificate": self.ca_certificate, "endpoint": self.endpoint})
