"""TLS and credentials in front of the real Elasticsearch: nginx (Debian's package) as a proxy.

The integration-test distribution of Elasticsearch runs with security off, so what the security
suites prove against a real server is split: TLS (CA verification, hostname, verify off),
basic auth and API-key checking are nginx's, answering 401/403 the way Elasticsearch does;
everything behind them (bulk, templates, ``create`` conflicts) is the real Elasticsearch.

Two listeners, both TLS with a certificate for 127.0.0.1: one checks basic auth against an
htpasswd file ({SSHA} hashes), the other an ``Authorization: ApiKey <base64>`` header against
the keys given (known-but-forbidden keys answer 403).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme

from devtools import process
from devtools.errors import DevServerError
from devtools.home import free_port, pid_alive, port_open

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
user root;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {home}/access.log;
  client_body_temp_path {home}/tmp/body;
  proxy_temp_path {home}/tmp/proxy;
  fastcgi_temp_path {home}/tmp/fastcgi;
  uwsgi_temp_path {home}/tmp/uwsgi;
  scgi_temp_path {home}/tmp/scgi;
  client_max_body_size 200m;
  ssl_certificate {cert};
  ssl_certificate_key {key};
  map $http_authorization $api_key {{
    default "";
{keys}
  }}
  upstream elasticsearch {{ server {upstream}; keepalive 8; }}
  server {{
    listen 127.0.0.1:{basic_port} ssl;
    auth_basic "elasticsearch";
    auth_basic_user_file {htpasswd};
    location / {{
      proxy_pass http://elasticsearch;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
    }}
  }}
  server {{
    listen 127.0.0.1:{api_key_port} ssl;
    location / {{
      if ($api_key = "") {{ return 401; }}
      if ($api_key = "forbidden") {{ return 403; }}
      proxy_pass http://elasticsearch;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
    }}
  }}
}}
"""


@dataclass(frozen=True)
class SecuredElasticsearch:
    basic_url: str
    api_key_url: str
    ca_file: Path
    pid: int
    home: Path


def ssha(password: str) -> str:
    """An htpasswd {SSHA} entry: base64(sha1(password + salt) + salt)."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def start(
    home: Path,
    upstream_url: str,
    users: dict[str, str],
    api_keys: Sequence[str],
    forbidden_api_keys: Sequence[str] = (),
    timeout: float = 30.0,
) -> SecuredElasticsearch:
    """nginx in the foreground of its own process (stopped by pid), TLS with a fresh CA."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise DevServerError("nginx is missing: apt-get install nginx-light")
    shutil.rmtree(home, ignore_errors=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (home / "tmp" / sub).mkdir(parents=True)
    ca = trustme.CA(organization_name="logwax test CA")
    ca_file, cert, key = home / "ca.pem", home / "server.pem", home / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf = ca.issue_cert("127.0.0.1", common_name="elasticsearch-proxy")
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    htpasswd = home / "htpasswd"
    htpasswd.write_text("".join(f"{user}:{ssha(pw)}\n" for user, pw in users.items()))
    for path in (key, htpasswd):
        path.chmod(0o600)
    lines = [f'    "ApiKey {k}" "ok";' for k in api_keys]
    lines += [f'    "ApiKey {k}" "forbidden";' for k in forbidden_api_keys]
    basic_port, api_key_port = free_port(), free_port()
    config = home / "nginx.conf"
    config.write_text(
        NGINX_CONF.format(
            home=home,
            cert=cert,
            key=key,
            keys="\n".join(lines),
            upstream=upstream_url.removeprefix("http://").rstrip("/"),
            basic_port=basic_port,
            api_key_port=api_key_port,
            htpasswd=htpasswd,
        )
    )
    config.chmod(0o600)
    log = home / "nginx.out"
    pid = process.spawn([nginx, "-c", str(config), "-p", str(home)], log=log)
    try:
        process.wait_until(
            "nginx",
            lambda: port_open(basic_port) and port_open(api_key_port),
            timeout=timeout,
            alive=lambda: pid_alive(pid),
            log=home / "error.log",
        )
    except BaseException:
        process.terminate(pid, str(home))  # its command line holds its own home (-p)
        raise
    return SecuredElasticsearch(
        basic_url=f"https://127.0.0.1:{basic_port}",
        api_key_url=f"https://127.0.0.1:{api_key_port}",
        ca_file=ca_file,
        pid=pid,
        home=home,
    )


def stop(proxy: SecuredElasticsearch) -> None:
    process.terminate(proxy.pid, str(proxy.home), grace=10)
