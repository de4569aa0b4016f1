#!/usr/bin/env python3
"""Offline SPID/CIE OpenID Federation peers for Varco's end-to-end tests.

Run with the peers' virtualenv python (see setup.sh):

  peers.py start --workdir DIR --port-base 8900 \
      --rp-entity-id http://127.0.0.1:PORT/ --rp-jwks FILE.json \
      [--rp-federation-jwks FILE.json] [--users users.json] [--timeout 60]
  peers.py stop --workdir DIR
  peers.py selfcheck [--workdir DIR] [--port-base 8900] [--users users.json]

`start` migrates and seeds a trust anchor (port-base), a SPID-profile OP
(port-base+1) and a CIE-profile OP (port-base+2), starts them, waits until each
serves its entity configuration, prints ONE JSON line on stdout, then stays in
the foreground until SIGTERM/SIGINT (or `stop`), stopping its children.
Everything else goes to stderr and to DIR/<role>.log.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_USERS = HERE / "users.json"
STATE_FILE = "peers.state.json"
FISCAL = "https://attributes.eid.gov.it/fiscal_number"
ROLES = {  # role -> (settings module, port offset, seed kind)
    "ta": ("peerproj.ta", 0, "ta"),
    "op_spid": ("peerproj.op_spid", 1, "op"),
    "op_cie": ("peerproj.op_cie", 2, "op"),
    "rp": ("peerproj.rp", 3, "rp"),
}
LOGIN_FORM = {
    # The OP's login page is the authorization endpoint itself (GET shows the
    # form, POST submits it); the consent page follows.
    "login_path": "/oidc/op/authorization",
    "username_field": "username",
    "password_field": "password",
    "hidden_fields": ["csrfmiddlewaretoken", "authz_request_object"],
    "submit_selector": "button#submit",
    "consent_path": "/oidc/op/consent",
    "consent_hidden_fields": ["csrfmiddlewaretoken", "agree"],
    "consent_submit_selector": "button#agree",
    "consent_reject_selector": "a#do_not_agree",
}


class PeerError(Exception):
    """A failure the launcher reports in one line and exits non-zero for."""


def log(msg: str) -> None:
    print(f"peers: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- tax codes

_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                [1, 0, 5, 7, 9, 13, 15, 17, 19, 21] +
                [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8,
                 12, 14, 16, 10, 22, 25, 24, 23]))
_EVEN = {c: (int(c) if c.isdigit() else ord(c) - ord("A"))
         for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_CF_SHAPE = re.compile(r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}"
                       r"[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$")


def tax_code_ok(cf: str) -> bool:
    """Italian codice fiscale (persons): shape, omocodia letters, check character."""
    if not _CF_SHAPE.match(cf):
        return False
    total = sum((_ODD if i % 2 == 0 else _EVEN)[c] for i, c in enumerate(cf[:15]))
    return chr(ord("A") + total % 26) == cf[15]


def load_users(path: Path) -> list:
    try:
        users = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise PeerError(f"cannot read users file {path}: {e}")
    if not isinstance(users, list) or not users:
        raise PeerError(f"{path}: expected a non-empty JSON list of users")
    need = ("username", "password", "tax_code", "given_name", "family_name", "email")
    for u in users:
        missing = [k for k in need if not u.get(k)]
        if missing:
            raise PeerError(f"{path}: user {u.get('username')!r} lacks {missing}")
        u["tax_code"] = u["tax_code"].upper()
        if not tax_code_ok(u["tax_code"]):
            raise PeerError(f"{path}: {u['tax_code']} is not a valid tax code")
    return users


# --------------------------------------------------------------------- keys

def new_key(use: str = None) -> dict:
    """A fresh private RSA-2048 JWK, kid = RFC 7638 thumbprint."""
    from cryptojwt.jwk.rsa import new_rsa_key

    k = new_rsa_key(key_size=2048)
    d = k.to_dict()
    d["kid"] = k.thumbprint("SHA-256").decode()
    if use:
        d["use"] = use
    return d


def public(jwk: dict) -> dict:
    from cryptojwt.jwk.jwk import key_from_jwk_dict

    p = key_from_jwk_dict(jwk).serialize(private=False)
    p["kid"] = jwk["kid"]
    if jwk.get("use"):
        p["use"] = jwk["use"]
    return p


def load_jwks(path: str, what: str) -> list:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise PeerError(f"cannot read {what} {path}: {e}")
    keys = data.get("keys") if isinstance(data, dict) else data
    if not isinstance(keys, list) or not keys:
        raise PeerError(f"{path}: {what} must be a JWKS ({{\"keys\": [...]}}) or a list")
    for k in keys:
        if not k.get("kid"):
            raise PeerError(f"{path}: every key needs a kid")
        if any(p in k for p in ("d", "p", "q")):
            raise PeerError(f"{path}: {what} must hold public keys only")
    return keys


# ------------------------------------------------------------- subprocesses

def venv_python() -> str:
    return sys.executable


def role_env(role: str, workdir: Path, ta: str, extra: dict) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": ROLES[role][0],
        "VARCO_SPID_ROLE": role,
        "VARCO_SPID_DB": str(workdir / f"{role}.sqlite3"),
        "VARCO_SPID_TA": ta,
        "VARCO_SPID_WORKDIR": str(workdir),
        "PYTHONPATH": str(HERE) + os.pathsep + env.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def _die_with_parent() -> None:
    """Children get SIGTERM if the launcher dies without cleaning up (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def run_checked(args: list, env: dict, what: str, timeout: float, stdin: str = None,
                log_path: Path = None) -> str:
    with open(log_path, "a") if log_path else open(os.devnull, "w") as errf:
        try:
            p = subprocess.run(args, env=env, cwd=HERE, input=stdin, text=True,
                               stdout=subprocess.PIPE, stderr=errf, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PeerError(f"{what}: timed out after {timeout:.0f} s (see {log_path})")
    if p.returncode != 0:
        tail = ""
        if log_path and log_path.exists():
            tail = "\n".join(log_path.read_text().splitlines()[-15:])
        raise PeerError(f"{what}: exit {p.returncode}; {log_path}:\n{tail}")
    return p.stdout


def template_dir() -> Path:
    """Migrated empty databases, cached beside the venv (same pins, same schema)."""
    return Path(sys.prefix) / "varco-spid-db-templates"


def template_name(role: str) -> str:
    """Template file name: settings module plus a hash of the settings sources,
    so an edited INSTALLED_APPS never reuses a stale schema."""
    import hashlib

    module = ROLES[role][0]
    h = hashlib.sha256()
    for f in ("common.py", module.split(".")[1] + ".py"):
        h.update((HERE / "peerproj" / f).read_bytes())
    return f"{module}-{h.hexdigest()[:12]}.sqlite3"


def migrate_all(roles: list, workdir: Path, envs: dict, timeout: float) -> None:
    """Fresh, migrated SQLite file per role: a copy of the cached template when
    there is one, else `migrate` (in parallel) and the result becomes the template."""
    tdir = template_dir()
    procs = {}
    for role in roles:
        db = workdir / f"{role}.sqlite3"
        if db.exists():
            db.unlink()
        tpl = tdir / template_name(role)
        if tpl.exists():
            shutil.copyfile(tpl, db)
            continue
        logf = open(workdir / f"{role}.log", "a")
        procs[role] = (subprocess.Popen(
            [venv_python(), "-m", "django", "migrate", "--noinput"],
            env=envs[role], cwd=HERE, stdout=logf, stderr=logf), logf)
    deadline = time.monotonic() + timeout
    failed = []
    for role, (p, logf) in procs.items():
        try:
            rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "timeout"
        logf.close()
        if rc != 0:
            failed.append(f"{role} ({rc})")
            continue
        tdir.mkdir(exist_ok=True)
        tmp = tdir / f".{role}.{os.getpid()}.tmp"
        shutil.copyfile(workdir / f"{role}.sqlite3", tmp)
        os.replace(tmp, tdir / template_name(role))
    if failed:
        raise PeerError(f"migrate failed for {', '.join(failed)}; see {workdir}/<role>.log")


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(urls: dict, procs: dict, deadline: float) -> None:
    import requests

    pending = dict(urls)
    while pending:
        for role, url in list(pending.items()):
            if procs[role].poll() is not None:
                raise PeerError(f"{role} exited with {procs[role].returncode} before serving {url}")
            try:
                r = requests.get(url, timeout=2)
                if r.status_code == 200 and r.headers.get("Content-Type", "").startswith(
                        "application/entity-statement+jwt"):
                    del pending[role]
            except requests.RequestException:
                pass
        if pending and time.monotonic() > deadline:
            raise PeerError(f"not serving in time: {', '.join(f'{r} {u}' for r, u in pending.items())}")
        if pending:
            time.sleep(0.3)


# -------------------------------------------------------------------- peers

class Peers:
    """Brings the peers up (migrate, seed, serve) and down."""

    def __init__(self, workdir: Path, port_base: int, users: list, rp_entity_id: str,
                 rp_fed_jwks: list, rp_core_jwks: list, timeout: float,
                 selfcheck_rp: dict = None):
        self.workdir = workdir
        self.users = users
        self.timeout = timeout
        self.selfcheck_rp = selfcheck_rp  # private keys of the throwaway RP
        self.ports = {r: port_base + off for r, (_, off, _) in ROLES.items()}
        self.ta = f"http://127.0.0.1:{self.ports['ta']}"
        self.ops = {r: f"http://127.0.0.1:{self.ports[r]}/oidc/op" for r in ("op_spid", "op_cie")}
        self.rp = rp_entity_id
        self.rp_fed_jwks = rp_fed_jwks
        self.rp_core_jwks = rp_core_jwks
        self.rp_tm_id = f"{self.ta}/openid_relying_party/public"
        self.op_tm_id = f"{self.ta}/openid_provider/public"
        self.roles = ["ta", "op_spid", "op_cie"] + (["rp"] if selfcheck_rp else [])
        self.procs = {}
        self.envs = {
            r: role_env(r, workdir, self.ta, {
                "VARCO_SPID_REQUIRED_TRUST_MARKS": json.dumps(
                    [self.rp_tm_id] if r.startswith("op_") else []),
                "VARCO_SPID_OP_SPID": self.ops["op_spid"],
                "VARCO_SPID_OP_CIE": self.ops["op_cie"],
            }) for r in self.roles
        }

    def seed(self, role: str, kind: str, plan: dict) -> dict:
        out = run_checked([venv_python(), "seed.py", kind], self.envs[role], f"seed {role}",
                          self.timeout, stdin=json.dumps(plan),
                          log_path=self.workdir / f"{role}.log")
        return json.loads(out)

    def up(self) -> dict:
        t0 = time.monotonic()
        busy = [f"{r}:{p}" for r, p in self.ports.items() if r in self.roles and not port_free(p)]
        if busy:
            raise PeerError(f"ports already in use on 127.0.0.1: {', '.join(busy)}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for r in self.roles:
            (self.workdir / f"{r}.log").write_text("")
        log(f"migrating {', '.join(self.roles)} in {self.workdir}")
        migrate_all(self.roles, self.workdir, self.envs, self.timeout)

        keys = {r: {"fed": new_key(), "core": new_key("sig")} for r in ("ta", "op_spid", "op_cie")}
        descendants = [
            {"sub": self.ops[r], "name": f"Varco test {r[3:].upper()} OP", "type": "openid_provider",
             "jwks": [public(keys[r]["fed"])]} for r in ("op_spid", "op_cie")
        ] + [{"sub": self.rp, "name": "Varco relying party", "type": "openid_relying_party",
              "jwks": self.rp_fed_jwks}]
        log("seeding the trust anchor")
        ta_out = self.seed("ta", "ta", {
            "ta": {"entity_id": self.ta, "fed_key": keys["ta"]["fed"], "core_key": keys["ta"]["core"]},
            "rp_trust_mark_id": self.rp_tm_id,
            "op_trust_mark_id": self.op_tm_id,
            "descendants": descendants,
        })
        tms = ta_out["trust_marks"]
        log("seeding the OPs")
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            jobs = [pool.submit(self.seed, r, "op", {
                "ta_entity_id": self.ta,
                "op": {"entity_id": self.ops[r], "fed_key": keys[r]["fed"],
                       "core_key": keys[r]["core"], "core_public": [public(keys[r]["core"])],
                       "trust_marks": [tms[self.ops[r]]]},
                "users": self.users,
            }) for r in ("op_spid", "op_cie")]
            for j in jobs:
                j.result()
        if self.selfcheck_rp:
            log("seeding the self-check RP")
            k = self.selfcheck_rp
            self.seed("rp", "rp", {
                "ta_entity_id": self.ta,
                "rp": {"entity_id": self.rp, "fed_key": k["fed"], "core_keys": k["core"],
                       "core_public": [public(x) for x in k["core"]],
                       "trust_marks": [tms[self.rp]]},
            })

        log("starting servers")
        for r in self.roles:
            logf = open(self.workdir / f"{r}.log", "a")
            self.procs[r] = subprocess.Popen(
                [venv_python(), "-m", "django", "runserver", f"127.0.0.1:{self.ports[r]}",
                 "--noreload", "--skip-checks"],
                env=self.envs[r], cwd=HERE, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                preexec_fn=_die_with_parent)
        self.write_state()
        urls = {"ta": f"{self.ta}/.well-known/openid-federation"}
        urls.update({r: f"{u}/.well-known/openid-federation" for r, u in self.ops.items()})
        if self.selfcheck_rp:
            urls["rp"] = f"{self.rp.rstrip('/')}/.well-known/openid-federation"
        wait_for(urls, self.procs, time.monotonic() + self.timeout)
        log(f"all peers up in {time.monotonic() - t0:.1f} s")
        return self.summary(ta_out, tms)

    def op_info(self, role: str) -> dict:
        e = self.ops[role]
        return {
            "entity_id": e,
            "profile": role[3:],
            "entity_configuration": f"{e}/.well-known/openid-federation",
            "authorization_endpoint": f"{e}/authorization",
            "token_endpoint": f"{e}/token",
            "userinfo_endpoint": f"{e}/userinfo",
            "revocation_endpoint": f"{e}/revocation",
            "introspection_endpoint": f"{e}/introspection",
            "consent_url": f"{e}/consent",
            "port": self.ports[role],
        }

    def summary(self, ta_out: dict, tms: dict) -> dict:
        rp_tm = tms[self.rp]
        return {
            "trust_anchor": {
                "entity_id": self.ta,
                "entity_configuration": f"{self.ta}/.well-known/openid-federation",
                "fetch_endpoint": f"{self.ta}/fetch",
                "list_endpoint": f"{self.ta}/list",
                "trust_mark_status_endpoint": f"{self.ta}/trust_mark_status",
                "jwks": {"keys": ta_out["public_jwks"]},
                "port": self.ports["ta"],
            },
            "op_spid": self.op_info("op_spid"),
            "op_cie": self.op_info("op_cie"),
            "rp": {"entity_id": self.rp, "trust_marks": [rp_tm]},
            "trust_mark_id": self.rp_tm_id,
            "trust_mark": rp_tm["trust_mark"],
            "op_trust_mark_id": self.op_tm_id,
            "login_form": LOGIN_FORM,
            "users": [{"username": u["username"], "password": u["password"],
                       "fiscal_number": f"TINIT-{u['tax_code']}", "given_name": u["given_name"],
                       "family_name": u["family_name"], "email": u["email"]} for u in self.users],
            "cookie_names": {r: {"session": f"varco_{r}_sessionid", "csrf": f"varco_{r}_csrftoken"}
                             for r in self.roles},
            "acr_values_supported": ["https://www.spid.gov.it/SpidL1",
                                     "https://www.spid.gov.it/SpidL2",
                                     "https://www.spid.gov.it/SpidL3"],
            "userinfo_jwe": {"alg": "RSA-OAEP", "enc": "A256CBC-HS512", "cty": "JWT",
                             "content_type": "application/jwt"},
            "id_token_alg": "RS256",
            "pids": {"launcher": os.getpid(), **{r: p.pid for r, p in self.procs.items()}},
            "workdir": str(self.workdir),
        }

    def write_state(self) -> None:
        state = {"launcher": os.getpid(), "children": {r: p.pid for r, p in self.procs.items()}}
        (self.workdir / STATE_FILE).write_text(json.dumps(state))

    def down(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 10
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        state = self.workdir / STATE_FILE
        try:
            if json.loads(state.read_text()).get("launcher") == os.getpid():
                state.unlink()
        except (OSError, ValueError):
            pass

    def watch(self) -> int:
        """Foreground until a signal or a child's death; returns the exit code."""
        stop = {"sig": None}

        def on_signal(signum, _frame):
            stop["sig"] = signum

        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, on_signal)
        while stop["sig"] is None:
            dead = [r for r, p in self.procs.items() if p.poll() is not None]
            if dead:
                log(f"{', '.join(dead)} exited unexpectedly; stopping the others")
                return 1
            time.sleep(0.5)
        log(f"signal {stop['sig']}: stopping")
        return 0


# ------------------------------------------------------------------ commands

def cmd_start(a) -> int:
    users = load_users(Path(a.users))
    rp_core = load_jwks(a.rp_jwks, "--rp-jwks")
    rp_fed = load_jwks(a.rp_federation_jwks, "--rp-federation-jwks") if a.rp_federation_jwks else rp_core
    no_use = [k["kid"] for k in rp_core if k.get("use") not in ("sig", "enc")]
    if no_use:
        log(f"warning: RP keys without use=sig/enc ({', '.join(no_use)}): the OP's userinfo "
            "answers 500 unless the RP metadata keys carry `use`")
    if not re.match(r"^https?://", a.rp_entity_id):
        raise PeerError("--rp-entity-id must be an http(s) URL")
    peers = Peers(Path(a.workdir).resolve(), a.port_base, users, a.rp_entity_id, rp_fed, rp_core,
                  a.timeout)
    try:
        info = peers.up()
        print(json.dumps(info), flush=True)
        return peers.watch()
    finally:
        peers.down()


def _ours(pid: int, workdir: Path) -> bool:
    """True if pid is alive and is one of this workdir's processes: a server
    (VARCO_SPID_WORKDIR in its environment) or the launcher (peers.py with
    the workdir's name in its argv). Guards against reused pids."""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return (f"VARCO_SPID_WORKDIR={workdir}".encode() in env
            or (b"peers.py" in argv and workdir.name.encode() in argv))


def cmd_stop(a) -> int:
    workdir = Path(a.workdir).resolve()
    try:
        state = json.loads((workdir / STATE_FILE).read_text())
    except (OSError, ValueError):
        log(f"no running peers recorded in {workdir}")
        return 0
    launcher = state.get("launcher")
    if launcher and _ours(launcher, workdir):
        os.kill(launcher, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _ours(launcher, workdir) and time.monotonic() < deadline:
            time.sleep(0.2)
    for role, pid in state.get("children", {}).items():
        if _ours(pid, workdir):
            log(f"stopping leftover {role} (pid {pid})")
            os.kill(pid, signal.SIGTERM)
    (workdir / STATE_FILE).unlink(missing_ok=True)
    log("stopped")
    return 0


# ----------------------------------------------------------------- selfcheck

def _b64json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _field(html: str, name: str) -> str:
    m = re.search(r'<input[^>]*name="%s"[^>]*value="([^"]*)"' % re.escape(name), html)
    if not m:
        m = re.search(r'<input[^>]*value="([^"]*)"[^>]*name="%s"' % re.escape(name), html)
    if not m:
        raise PeerError(f"no input {name!r} in the page")
    return m.group(1).replace("&quot;", '"').replace("&amp;", "&")


def _sign(payload: dict, jwk: dict) -> str:
    from cryptojwt.jwk.jwk import key_from_jwk_dict
    from cryptojwt.jws.jws import JWS

    key = key_from_jwk_dict(jwk)
    return JWS(json.dumps(payload), alg="RS256", kid=jwk["kid"]).sign_compact([key])


def one_login(info: dict, op_role: str, user: dict, rp_keys: dict) -> dict:
    """Drives one login through the self-check RP; returns what was observed."""
    import requests
    from urllib.parse import parse_qs, urlparse

    op = info[op_role]
    rp = info["rp"]["entity_id"].rstrip("/")
    s = requests.Session()
    got = {"op": op["entity_id"], "profile": op["profile"]}

    r = s.get(f"{rp}/oidc/rp/authorization",
              params={"provider": op["entity_id"], "profile": op["profile"]},
              allow_redirects=False, timeout=30)
    if r.status_code != 302 or not r.headers["Location"].startswith(op["authorization_endpoint"]):
        raise PeerError(f"RP begin: {r.status_code} {r.text[:300]}")
    authz_url = r.headers["Location"]
    ro = _b64json(parse_qs(urlparse(authz_url).query)["request"][0].split(".")[1])
    got["request_object"] = {k: ro.get(k) for k in ("acr_values", "prompt", "aud", "scope",
                                                    "code_challenge_method")}

    r = s.get(authz_url, timeout=30)
    if r.status_code != 200 or 'name="username"' not in r.text:
        raise PeerError(f"OP login page: {r.status_code} {r.url} {r.text[:300]}")
    r = s.post(op["authorization_endpoint"], data={
        "csrfmiddlewaretoken": _field(r.text, "csrfmiddlewaretoken"),
        "authz_request_object": _field(r.text, "authz_request_object"),
        "username": user["username"], "password": user["password"],
    }, allow_redirects=False, timeout=30)
    if r.status_code != 302 or not r.headers["Location"].endswith("/consent"):
        raise PeerError(f"OP login POST: {r.status_code} {r.text[:300]}")

    r = s.get(op["consent_url"], timeout=30)
    if r.status_code != 200:
        raise PeerError(f"OP consent page: {r.status_code} {r.text[:300]}")
    r = s.post(op["consent_url"], data={
        "csrfmiddlewaretoken": _field(r.text, "csrfmiddlewaretoken"), "agree": "True",
    }, allow_redirects=False, timeout=30)
    cb = r.headers.get("Location", "")
    if r.status_code != 302 or not cb.startswith(f"{rp}/oidc/rp/callback"):
        raise PeerError(f"OP consent POST: {r.status_code} {cb} {r.text[:300]}")
    q = parse_qs(urlparse(cb).query)
    got["callback_params"] = sorted(q)
    if q.get("iss") != [op["entity_id"]]:
        raise PeerError(f"callback iss {q.get('iss')} != {op['entity_id']}")

    r = s.get(cb, timeout=60)
    if r.status_code != 200 or not r.headers.get("Content-Type", "").startswith("application/json"):
        raise PeerError(f"RP callback: {r.status_code} {r.url} {r.text[:500]}")
    attrs = r.json()
    if not attrs.get("authenticated"):
        raise PeerError(f"RP did not log the user in: {attrs}")
    got["rp_attributes"] = attrs["attributes"]
    want = f"TINIT-{user['tax_code']}"
    if attrs["attributes"].get("fiscal_number") != want:
        raise PeerError(f"fiscal_number {attrs['attributes'].get('fiscal_number')} != {want}")
    got["fiscal_number"] = want

    # Look at the raw tokens the RP stored, then at userinfo and revocation.
    import sqlite3

    db = sqlite3.connect(Path(info["workdir"]) / "rp.sqlite3")
    at, idt = db.execute(
        "SELECT access_token, id_token FROM spid_cie_oidc_relying_party_oidcauthenticationtoken "
        "WHERE access_token IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    db.close()
    idt_head, idt_body = _b64json(idt.split(".")[0]), _b64json(idt.split(".")[1])
    got["id_token"] = {"alg": idt_head.get("alg"), "acr": idt_body.get("acr"),
                       "claims": sorted(idt_body)}
    r = s.get(op["userinfo_endpoint"], headers={"Authorization": f"Bearer {at}"}, timeout=30)
    if r.status_code != 200:
        raise PeerError(f"userinfo: {r.status_code}")
    jwe_head = _b64json(r.text.split(".")[0])
    got["userinfo"] = {"content_type": r.headers.get("Content-Type"), "alg": jwe_head.get("alg"),
                       "enc": jwe_head.get("enc"), "cty": jwe_head.get("cty"),
                       "kid_is_rp_enc_key": jwe_head.get("kid") == rp_keys["core"][1]["kid"]}
    sig = rp_keys["core"][0]
    now = int(time.time())
    assertion = _sign({"iss": info["rp"]["entity_id"], "sub": info["rp"]["entity_id"],
                       "aud": [op["revocation_endpoint"]], "iat": now, "exp": now + 60,
                       "jti": str(uuid.uuid4())}, sig)
    r = s.post(op["revocation_endpoint"], data={
        "client_id": info["rp"]["entity_id"], "token": at,
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }, timeout=30)
    if r.status_code != 200:
        raise PeerError(f"revocation: {r.status_code} {r.text[:300]}")
    r = s.get(op["userinfo_endpoint"], headers={"Authorization": f"Bearer {at}"}, timeout=30)
    got["userinfo_after_revocation"] = r.status_code
    if r.status_code != 403:
        raise PeerError(f"userinfo after revocation answered {r.status_code}, wanted 403")
    return got


def cmd_selfcheck(a) -> int:
    users = load_users(Path(a.users))
    tmp = None
    if a.workdir:
        workdir = Path(a.workdir).resolve()
    else:
        tmp = tempfile.mkdtemp(prefix="varco-spid-selfcheck-")
        workdir = Path(tmp)
    rp_port = a.port_base + ROLES["rp"][1]
    rp_keys = {"fed": new_key(), "core": [new_key("sig"), new_key("enc")]}
    peers = Peers(workdir, a.port_base, users, f"http://127.0.0.1:{rp_port}/",
                  [public(rp_keys["fed"])], [public(k) for k in rp_keys["core"]], a.timeout,
                  selfcheck_rp=rp_keys)
    ok = False
    try:
        info = peers.up()
        results = []
        for op_role in ("op_spid", "op_cie"):
            t = time.monotonic()
            got = one_login(info, op_role, users[0], rp_keys)
            got["seconds"] = round(time.monotonic() - t, 2)
            results.append(got)
            log(f"{op_role}: login OK, {got['fiscal_number']}")
        print(json.dumps({"ok": True, "logins": results}, indent=2))
        ok = True
    except PeerError as e:
        log(f"SELFCHECK FAILED: {e}")
        log(f"logs: {workdir}/<role>.log")
    finally:
        peers.down()
        if tmp and ok:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="run the TA and the two OPs until stopped")
    st.add_argument("--workdir", required=True)
    st.add_argument("--port-base", type=int, default=8900)
    st.add_argument("--rp-entity-id", required=True)
    st.add_argument("--rp-jwks", required=True, help="the RP's public JWKS")
    st.add_argument("--rp-federation-jwks", help="the RP's public federation JWKS "
                    "(default: --rp-jwks)")
    st.add_argument("--users", default=str(DEFAULT_USERS))
    st.add_argument("--timeout", type=float, default=60)
    sp = sub.add_parser("stop", help="stop the peers started with this workdir")
    sp.add_argument("--workdir", required=True)
    sc = sub.add_parser("selfcheck", help="full SPID and CIE login with a throwaway RP")
    sc.add_argument("--workdir")
    sc.add_argument("--port-base", type=int, default=8900)
    sc.add_argument("--users", default=str(DEFAULT_USERS))
    sc.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    try:
        return {"start": cmd_start, "stop": cmd_stop, "selfcheck": cmd_selfcheck}[a.cmd](a)
    except PeerError as e:
        log(f"error: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
