#!/usr/bin/env python3
"""Compatibility test: Dell's PyPowerFlex SDK (from PyPI, unmodified) against pflex-sim.

Run through scripts/compat/pypowerflex.sh, which creates the virtualenv, starts a simulator
and exports:

    PFLEX_HOST, PFLEX_PORT      gateway address (loopback) and port
    PFLEX_USER, PFLEX_PASSWORD  credentials
    PFLEX_CA                    the simulator's CA certificate (DIR/tls/ca.pem), verified

The SDK is used exactly as a user would use it (PowerFlexClient(...).initialize(), then
client.system / protection_domain / storage_pool / sdt / volume / host / sdc). Nothing in the
SDK is patched, except in ONE clearly marked check (test_02), which forces the SDK's own
3.x code path the same way PyPowerFlex's unit tests do (utils.is_version_3 -> True) in order
to drive the /api/login-token-only flow through the SDK.

Every HTTP exchange is *observed* (requests.Session.send is wrapped, not altered), so the
tests can assert which login flow and which credential each call really used.

Assertions encode the behaviour of a real PowerFlex 4.x gateway as documented in
shared/reference/powerflex-api.md (section numbers cited in messages). A failure means the
simulator differs from that; the message names the request, the expectation and the actual
answer.
"""

import ast
import base64
import json
import logging
import os
import re
import sys
import time
import unittest
import uuid
from unittest import mock
from urllib.parse import urlsplit

import requests

import PyPowerFlex
from PyPowerFlex import PowerFlexClient
from PyPowerFlex import exceptions as pfx
from PyPowerFlex import utils as pf_utils
from PyPowerFlex.objects import gen1, gen2
from PyPowerFlex.objects.common.system import SnapshotDef
from PyPowerFlex.objects.gen1.volume import RemoveMode

HOST = os.environ.get("PFLEX_HOST", "127.0.0.1")
PORT = int(os.environ.get("PFLEX_PORT", "8443"))
USER = os.environ.get("PFLEX_USER", "admin")
PASSWORD = os.environ.get("PFLEX_PASSWORD", "Password123!")
CA = os.environ.get("PFLEX_CA", "")
BASE = f"https://{HOST}:{PORT}"
# The SDK logs every failed call at ERROR level to stdout, including the errors this test
# provokes on purpose; keep it quiet unless asked (PFLEX_SDK_LOG=ERROR or DEBUG).
SDK_LOG = getattr(logging, os.environ.get("PFLEX_SDK_LOG", "CRITICAL").upper(), logging.CRITICAL)

HEX16 = re.compile(r"^[0-9a-f]{16}$")
GIB_KB = 1024 * 1024
RUN = uuid.uuid4().hex[:6]  # keeps names unique if the same state dir is reused

MSG_NAME_IN_USE = "Volume name already in use. Please use a different name."


# --------------------------------------------------------------------------------------
# Traffic observer: records every HTTP exchange the SDK makes (does not change anything).
# --------------------------------------------------------------------------------------
class Traffic:
    def __init__(self):
        self.log = []
        self.api_login_tokens = set()    # tokens returned by GET /api/login
        self.access_tokens = set()       # access_token values from POST /rest/auth/login

    def clear(self):
        self.log = []

    def classify(self, headers):
        auth = headers.get("Authorization") or headers.get("authorization")
        if not auth:
            return "none"
        scheme, _, cred = auth.partition(" ")
        if scheme == "Bearer":
            return "Bearer:" + self.kind(cred)
        if scheme == "Basic":
            user, _, pw = base64.b64decode(cred).decode().partition(":")
            if pw == PASSWORD:
                return f"Basic:{user}:password"
            return f"Basic:{user}:" + self.kind(pw)
        return auth

    def kind(self, token):
        if token in self.api_login_tokens:
            return "api-login-token"
        if token in self.access_tokens:
            return "access-token"
        return "unknown-token"

    def record(self, request, response):
        path = urlsplit(request.url).path
        auth = self.classify(request.headers)
        body = None
        try:
            body = response.json()
        except ValueError:
            body = response.text[:200]
        if request.method == "GET" and path == "/api/login" and response.status_code == 200:
            if isinstance(body, str):
                self.api_login_tokens.add(body)
        if path == "/rest/auth/login" and response.status_code == 200 and isinstance(body, dict):
            if body.get("access_token"):
                self.access_tokens.add(body["access_token"])
        self.log.append({
            "method": request.method, "path": path, "auth": auth,
            "status": response.status_code, "body": body,
            "request_body": request.body,
        })

    def summary(self):
        return [(e["method"], e["path"], e["auth"], e["status"]) for e in self.log]


TRAFFIC = Traffic()
_orig_send = requests.Session.send


def _observing_send(self, request, **kwargs):
    response = _orig_send(self, request, **kwargs)
    TRAFFIC.record(request, response)
    return response


requests.Session.send = _observing_send


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def new_client(password=PASSWORD):
    return PowerFlexClient(gateway_address=HOST, gateway_port=PORT, username=USER,
                           password=password, verify_certificate=True, certificate_path=CA,
                           log_level=SDK_LOG)


def sdk_error(exc):
    """The gateway error body carried by an SDK exception.

    PowerFlexFailCreating/Deleting/Querying/Renaming keep it in .response; the per-method
    PowerFlexClientException (add_mapped_sdc, extend, ...) only embeds it in the message as
    "... Error: {dict}", so parse that."""
    resp = getattr(exc, "response", None)
    if isinstance(resp, dict):
        return resp
    msg = str(exc)
    if "Error: " in msg:
        tail = msg.split("Error: ", 1)[1].rstrip(".")
        try:
            val = ast.literal_eval(tail)
            if isinstance(val, dict):
                return val
        except (ValueError, SyntaxError):
            pass
    return {"unparsed": msg}


def last_exchange(path_suffix):
    for e in reversed(TRAFFIC.log):
        if e["path"].endswith(path_suffix):
            return e
    return None


def describe(e):
    if not e:
        return "<no such request observed>"
    return (f"{e['method']} {e['path']} body={e['request_body']!r} -> HTTP {e['status']} "
            f"{json.dumps(e['body'])[:400]}")


class State:
    """Objects shared by the ordered tests below."""
    client = None
    system_id = None
    pd_ids = []
    pool_id = None
    vol_id = None
    vol_name = None
    snap_id = None
    host_id = None
    host_nqn = None


def need(*attrs):
    for a in attrs:
        if not getattr(State, a):
            raise unittest.SkipTest(f"prerequisite missing ({a}); see the earlier failure")


class PyPowerFlexCompat(unittest.TestCase):
    maxDiff = None

    def assertGatewayError(self, exc, code, where, http=500, message=None):
        err = sdk_error(exc)
        detail = f"{where}: expected errorCode {code} (HTTP {http}), got {err}"
        self.assertEqual(err.get("errorCode"), code, detail)
        self.assertEqual(err.get("httpStatusCode"), http, detail)
        if message is not None:
            self.assertEqual(err.get("message"), message, detail)

    # ---------------------------------------------------------------- authentication
    def test_01_bearer_flow_via_sdk(self):
        """Flow A (PyPowerFlex 2.x default on 4.x): /api/login -> /api/version ->
        /rest/auth/login -> Bearer access token -> /rest/auth/logout (204), per request."""
        c = new_client()
        c.initialize()
        State.client = c
        self.assertEqual(c.system.api_version(), "4.5", "GET /api/version (§1.4)")
        self.assertIsInstance(c.volume, gen1.Volume, "4.x must be driven with gen1 objects")

        TRAFFIC.clear()
        systems = c.system.get()
        got = TRAFFIC.summary()
        want = [
            ("GET", "/api/login", f"Basic:{USER}:password", 200),
            ("GET", "/api/version", f"Basic:{USER}:api-login-token", 200),
            ("POST", "/rest/auth/login", "none", 200),
            ("GET", "/api/types/System/instances", "Bearer:access-token", 200),
            ("POST", "/rest/auth/logout", "Bearer:access-token", 204),
        ]
        self.assertEqual(got, want, "SDK per-request 4.x login sequence (§1.2)")
        login = TRAFFIC.log[2]["body"]
        self.assertIn("access_token", login)
        self.assertIn("refresh_token", login)
        self.assertEqual(json.loads(TRAFFIC.log[4]["request_body"]),
                         {"refresh_token": login["refresh_token"]})
        self.assertIsInstance(systems, list)

    def test_02_login_token_flow_via_sdk_forced_3x_path(self):
        """Flow B through the SDK: the /api/login token as the Basic password (what cinder,
        CloudStack and PyPowerFlex's 3.x path do). PyPowerFlex only takes this path when the
        gateway reports a version < 4.0, so this ONE test forces it exactly like
        PyPowerFlex's own unit tests do: utils.is_version_3 -> True. Everything else, and the
        simulator (which still reports 4.5), is untouched."""
        if not State.pool_id:
            self._find_pool()
        with mock.patch.object(pf_utils, "is_version_3", return_value=True):
            c = new_client()
            c.initialize()
            TRAFFIC.clear()
            c.system.get()
            want = [
                ("GET", "/api/login", f"Basic:{USER}:password", 200),
                ("GET", "/api/version", f"Basic:{USER}:api-login-token", 200),
                ("GET", "/api/login", f"Basic:{USER}:password", 200),
                ("GET", "/api/types/System/instances", f"Basic:{USER}:api-login-token", 200),
                ("GET", "/api/logout", f"Basic:{USER}:api-login-token", 200),
            ]
            self.assertEqual(TRAFFIC.summary(), want, "SDK 3.x-path sequence (§1.1)")

            # A small volume lifecycle with POSTs authenticated by Basic user:token.
            name = f"compat-b-{RUN}"
            TRAFFIC.clear()
            vol = c.volume.create(State.pool_id, 8, name=name)
            create = last_exchange("/api/types/Volume/instances")
            self.assertEqual(create["auth"], f"Basic:{USER}:api-login-token", describe(create))
            self.assertTrue(HEX16.match(vol["id"]), vol["id"])
            self.assertEqual(vol["sizeInKb"], 8 * GIB_KB)
            c.volume.rename(vol["id"], name + "-r")
            self.assertEqual(c.volume.get(entity_id=vol["id"])["name"], name + "-r")
            c.volume.delete(vol["id"], RemoveMode.only_me)
            with self.assertRaises(pfx.PowerFlexFailQuerying):
                c.volume.get(entity_id=vol["id"])
            bad = [e for e in TRAFFIC.log if e["auth"].startswith("Bearer")]
            self.assertEqual(bad, [], "3.x path must not use Bearer")

    def _find_pool(self):
        State.pool_id = new_client_initialized().storage_pool.get()[0]["id"]

    def test_03_login_token_flow_direct_requests(self):
        """Flow B without the SDK (documented 4.x clients): token from GET /api/login used as
        Basic password with an empty user (goscaleio < 4.0), with the real user (cinder,
        CloudStack), as Bearer (goscaleio >= 4.0); plus the Keycloak access token as a Basic
        password (PyPowerFlex 1.9 and its 2.x send_mdm_cluster_post_request). §1.2: the
        gateway accepts any live token either way."""
        # Per-call verify=CA: a Session's .verify is overridden by REQUESTS_CA_BUNDLE.
        class s:  # noqa: N801 - tiny namespace
            get = staticmethod(lambda url, **kw: requests.get(url, verify=CA, **kw))
            post = staticmethod(lambda url, **kw: requests.post(url, verify=CA, **kw))
        r = s.get(f"{BASE}/api/login", auth=(USER, PASSWORD))
        self.assertEqual(r.status_code, 200, r.text)
        token = r.json()
        self.assertIsInstance(token, str, "token is a quoted JSON string (§1.1)")
        url = f"{BASE}/api/types/System/instances"
        for label, kw in [("Basic '':token", {"auth": ("", token)}),
                          ("Basic user:token", {"auth": (USER, token)}),
                          ("Bearer token", {"headers": {"Authorization": f"Bearer {token}"}})]:
            r = s.get(url, **kw)
            self.assertEqual(r.status_code, 200, f"GET {url} with {label}: {r.status_code} {r.text[:200]}")
            self.assertIsInstance(r.json(), list)
        r = s.post(f"{BASE}/rest/auth/login", json={"username": USER, "password": PASSWORD})
        self.assertEqual(r.status_code, 200, r.text)
        access = r.json()["access_token"]
        r = s.get(url, auth=(USER, access))
        self.assertEqual(r.status_code, 200, f"GET {url} Basic user:access_token: {r.status_code} {r.text[:200]}")
        # /api/logout invalidates the /api/login token (§1.1)
        r = s.get(f"{BASE}/api/logout", auth=(USER, token))
        self.assertEqual(r.status_code, 200, r.text)
        r = s.get(url, auth=(USER, token))
        self.assertEqual(r.status_code, 401, f"token used after /api/logout: {r.status_code} {r.text[:200]}")
        # 4.x ingress answers rejected tokens with a non-JSON (HTML) 401 (§1.3)
        self.assertIn("html", r.headers.get("Content-Type", ""), r.headers)
        r = s.get(url, headers={"Authorization": "Bearer not-a-token"})
        self.assertEqual(r.status_code, 401, f"bogus Bearer token: {r.status_code} {r.text[:200]}")

    def test_04_bad_credentials(self):
        """Wrong password: /api/login -> 401 JSON (§1.1); the SDK's initialize() raises."""
        r = requests.get(f"{BASE}/api/login", auth=(USER, "wrong"), verify=CA)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.json(), {"message": "Unauthorized", "httpStatusCode": 401, "errorCode": 0})
        with self.assertRaises(Exception) as cm:
            new_client("wrong").initialize()
        self.assertIn("Login failed", str(cm.exception))

    # ---------------------------------------------------------------- inventory
    def test_10_system(self):
        need("client")
        systems = State.client.system.get()
        self.assertEqual(len(systems), 1, systems)
        s = systems[0]
        self.assertTrue(HEX16.match(s["id"]), s["id"])
        self.assertTrue(str(s.get("systemNqn", "")).startswith("nqn."), s.get("systemNqn"))
        State.system_id = s["id"]
        # PFMP version, 4.x only: GET /api/v1/corelcm/status (§1.4)
        pfmp = State.client.system.pfmp_version()
        self.assertTrue(re.match(r"^4\.\d+", str(pfmp)), f"pfmp_version() = {pfmp!r}")

    def test_11_protection_domains(self):
        need("client", "system_id")
        pds = State.client.protection_domain.get()
        self.assertGreaterEqual(len(pds), 1)
        for pd in pds:
            self.assertTrue(HEX16.match(pd["id"]), pd["id"])
            self.assertEqual(pd["systemId"], State.system_id)
            self.assertEqual(pd["protectionDomainState"], "Active")
        State.pd_ids = [pd["id"] for pd in pds]
        one = State.client.protection_domain.get(entity_id=pds[0]["id"])
        self.assertEqual(one["id"], pds[0]["id"])
        self.assertEqual(one["name"], pds[0]["name"])

    def test_12_storage_pools(self):
        need("client", "pd_ids")
        pools = State.client.storage_pool.get()
        self.assertGreaterEqual(len(pools), 1)
        for p in pools:
            self.assertTrue(HEX16.match(p["id"]), p["id"])
            self.assertIn(p["protectionDomainId"], State.pd_ids)
        pool = pools[0]
        State.pool_id = pool["id"]
        related = State.client.protection_domain.get_storage_pools(pool["protectionDomainId"])
        self.assertIn(pool["id"], [p["id"] for p in related])
        self.assertEqual(State.client.storage_pool.get(entity_id=pool["id"])["name"], pool["name"])

    def test_13_sdts(self):
        need("client", "pd_ids")
        sdts = State.client.sdt.get()
        self.assertGreaterEqual(len(sdts), 1)
        for t in sdts:
            self.assertTrue(HEX16.match(t["id"]), t["id"])
            self.assertIn(t["protectionDomainId"], State.pd_ids)
            self.assertGreaterEqual(len(t["ipList"]), 1)
            for ip in t["ipList"]:
                self.assertIn(ip["role"], ("StorageOnly", "HostOnly", "StorageAndHost"))
            self.assertIsInstance(t["nvmePort"], int)
        self.assertEqual(State.client.sdt.get(entity_id=sdts[0]["id"])["id"], sdts[0]["id"])

    # ---------------------------------------------------------------- volumes
    def test_20_create_volume_rounds_to_8gib(self):
        need("client", "pool_id")
        State.vol_name = f"compat-{RUN}"
        v = State.client.volume.create(State.pool_id, 9, name=State.vol_name)
        self.assertTrue(HEX16.match(v["id"]), v["id"])
        State.vol_id = v["id"]
        self.assertEqual(v["name"], State.vol_name)
        self.assertEqual(v["sizeInKb"], 16 * GIB_KB, "9 GiB rounds up to 16 GiB (§2.4, §3.2)")
        self.assertEqual(v["storagePoolId"], State.pool_id)
        self.assertEqual(v["volumeType"], "ThinProvisioned")
        self.assertIsNone(v["ancestorVolumeId"])
        self.assertIsNone(v["mappedSdcInfo"], "unmapped volume: mappedSdcInfo null (§2.4)")
        self.assertTrue(HEX16.match(v["vtreeId"]), v["vtreeId"])
        links = {l["rel"]: l["href"] for l in v["links"]}
        self.assertEqual(links.get("self"), f"/api/instances/Volume::{v['id']}", links)
        self.assertEqual(links.get("/api/parent/relationship/vtreeId"),
                         f"/api/instances/VTree::{v['vtreeId']}", links)

    def test_20b_create_thick_volume(self):
        need("client", "pool_id")
        v = State.client.volume.create(State.pool_id, 8, name=f"compat-thick-{RUN}",
                                       volume_type=gen1.volume.VolumeType.thick)
        try:
            self.assertEqual(v["volumeType"], "ThickProvisioned")
            self.assertEqual(v["sizeInKb"], 8 * GIB_KB)
        finally:
            State.client.volume.delete(v["id"], RemoveMode.only_me)

    def test_21_get_volume(self):
        need("client", "vol_id")
        v = State.client.volume.get(entity_id=State.vol_id)
        self.assertEqual((v["id"], v["name"], v["sizeInKb"]), (State.vol_id, State.vol_name, 16 * GIB_KB))
        found = State.client.volume.get(filter_fields={"name": State.vol_name})
        self.assertEqual([x["id"] for x in found], [State.vol_id])
        in_pool = State.client.storage_pool.get_volumes(State.pool_id)
        self.assertIn(State.vol_id, [x["id"] for x in in_pool])

    def test_22_duplicate_name_is_error_99(self):
        need("client", "vol_id")
        with self.assertRaises(pfx.PowerFlexFailCreating) as cm:
            State.client.volume.create(State.pool_id, 8, name=State.vol_name)
        self.assertGatewayError(cm.exception, 99, "create with a duplicate name (§3.1)",
                                message=MSG_NAME_IN_USE)

    def test_23_name_too_long_is_error_226(self):
        need("client", "pool_id")
        with self.assertRaises(pfx.PowerFlexFailCreating) as cm:
            State.client.volume.create(State.pool_id, 8, name="x" * 32)
        self.assertGatewayError(cm.exception, 226, "create with a 32-char name (§3.1)")

    def test_24_rename(self):
        need("client", "vol_id")
        new = State.vol_name + "-ren"
        State.client.volume.rename(State.vol_id, new)
        self.assertEqual(State.client.volume.get(entity_id=State.vol_id)["name"], new)
        self.assertEqual(State.client.volume.get(filter_fields={"name": State.vol_name}), [])
        State.vol_name = new

    def test_25_extend_and_no_shrink(self):
        need("client", "vol_id")
        v = State.client.volume.extend(State.vol_id, 17)
        self.assertEqual(v["sizeInKb"], 24 * GIB_KB, "extend to 17 GiB -> 24 GiB (§2.4)")
        self.assertEqual(State.client.volume.get(entity_id=State.vol_id)["sizeInKb"], 24 * GIB_KB)
        with self.assertRaises(pfx.PowerFlexClientException) as cm:
            State.client.volume.extend(State.vol_id, 8)
        self.assertGatewayError(cm.exception, 133, "setVolumeSize smaller (§2.4)")

    def test_26_snapshot(self):
        need("client", "vol_id", "system_id")
        snap_name = f"compat-snap-{RUN}"
        resp = State.client.system.snapshot_volumes(
            State.system_id, [SnapshotDef(State.vol_id, snap_name)])
        self.assertEqual(len(resp["volumeIdList"]), 1, resp)
        self.assertTrue(HEX16.match(resp["snapshotGroupId"]), resp)
        State.snap_id = resp["volumeIdList"][0]
        self.assertTrue(HEX16.match(State.snap_id), State.snap_id)
        parent = State.client.volume.get(entity_id=State.vol_id)
        s = State.client.volume.get(entity_id=State.snap_id)
        self.assertEqual(s["name"], snap_name)
        self.assertEqual(s["ancestorVolumeId"], State.vol_id)
        self.assertEqual(s["volumeType"], "Snapshot")
        self.assertEqual(s["sizeInKb"], parent["sizeInKb"])
        self.assertEqual(s["vtreeId"], parent["vtreeId"])
        self.assertEqual(s["consistencyGroupId"], resp["snapshotGroupId"])
        listed = State.client.volume.get(filter_fields={"ancestorVolumeId": State.vol_id})
        self.assertEqual([x["id"] for x in listed], [State.snap_id],
                         "GET /api/types/Volume/instances lists snapshots too (§2.4)")
        stats = State.client.volume.get_statistics(State.vol_id)
        self.assertIn(State.snap_id, stats.get("childVolumeIds", []), stats)

    # ---------------------------------------------------------------- NVMe host and mapping
    def test_30_create_nvme_host(self):
        need("client")
        State.host_nqn = f"nqn.2014-08.org.nvmexpress:uuid:{uuid.uuid4()}"
        h = State.client.host.create(State.host_nqn, name=f"compat-h-{RUN}",
                                     max_num_paths=4, max_num_sys_ports=10)
        self.assertTrue(HEX16.match(h["id"]), h["id"])
        State.host_id = h["id"]
        self.assertEqual(h["hostType"], "NVMeHost")
        self.assertEqual(h["nqn"], State.host_nqn)
        self.assertEqual(h["name"], f"compat-h-{RUN}")
        self.assertEqual((h["maxNumPaths"], h["maxNumSysPorts"]), (4, 10))
        self.assertEqual(State.client.host.get(entity_id=h["id"])["nqn"], State.host_nqn)
        # NVMe hosts share the Sdc id space and list (§2.7, §2.8)
        sdcs = State.client.sdc.get(filter_fields={"id": h["id"]})
        self.assertEqual([x["hostType"] for x in sdcs], ["NVMeHost"])

    def _assert_mapped(self, v, how):
        info = v.get("mappedSdcInfo")
        self.assertIsInstance(info, list, f"{how}: mappedSdcInfo {info!r}")
        self.assertEqual(len(info), 1, info)
        self.assertEqual(info[0]["sdcId"], State.host_id, info)
        self.assertEqual(info[0]["hostType"], "NVMeHost", info)
        self.assertEqual(info[0]["nqn"], State.host_nqn, info)
        self.assertIsNone(info[0].get("sdcIp"), info)
        self.assertEqual(info[0].get("accessMode"), "ReadWrite", info)

    def test_31_map_with_add_mapped_sdc(self):
        """gen1 (the 4.x object set) maps via addMappedSdc {sdcId: <host id>} (§2.4)."""
        need("client", "vol_id", "host_id")
        v = State.client.volume.add_mapped_sdc(State.vol_id, sdc_id=State.host_id,
                                               allow_multiple_mappings=True)
        self._assert_mapped(v, "addMappedSdc")
        mapped = State.client.sdc.get_mapped_volumes(State.host_id)
        self.assertEqual([x["id"] for x in mapped], [State.vol_id])

    def test_32_map_twice_is_error_81(self):
        need("client", "vol_id", "host_id")
        with self.assertRaises(pfx.PowerFlexClientException) as cm:
            State.client.volume.add_mapped_sdc(State.vol_id, sdc_id=State.host_id,
                                               allow_multiple_mappings=True)
        self.assertGatewayError(cm.exception, 81, "addMappedSdc again (§2.4)")

    def test_33_delete_mapped_is_error_104(self):
        need("client", "vol_id", "host_id")
        with self.assertRaises(pfx.PowerFlexFailDeleting) as cm:
            State.client.volume.delete(State.vol_id, RemoveMode.only_me)
        self.assertGatewayError(cm.exception, 104, "removeVolume while mapped (§2.4)")

    def test_34_unmap_with_remove_mapped_sdc(self):
        need("client", "vol_id", "host_id")
        v = State.client.volume.remove_mapped_sdc(State.vol_id, sdc_id=State.host_id)
        self.assertIsNone(v["mappedSdcInfo"], "after unmapping, mappedSdcInfo is null (§2.4)")
        self.assertEqual(State.client.sdc.get_mapped_volumes(State.host_id), [])
        with self.assertRaises(pfx.PowerFlexClientException) as cm:
            State.client.volume.remove_mapped_sdc(State.vol_id, sdc_id=State.host_id)
        self.assertGatewayError(cm.exception, 84, "removeMappedSdc when not mapped (§2.4)")

    def test_35_map_with_add_mapped_host(self):
        """addMappedHost/removeMappedHost {hostId}: the 4.x NVMe actions (§2.4). PyPowerFlex
        exposes them on its gen2 Volume class only, so that public class is instantiated on
        the client's own token and configuration."""
        need("client", "vol_id", "host_id")
        vol2 = gen2.Volume(State.client.token, State.client.configuration)
        vol2.add_mapped_host(State.vol_id, host_id=State.host_id, allow_multiple_mappings=True)
        self._assert_mapped(State.client.volume.get(entity_id=State.vol_id), "addMappedHost")
        vol2.remove_mapped_host(State.vol_id, host_id=State.host_id)
        self.assertIsNone(State.client.volume.get(entity_id=State.vol_id)["mappedSdcInfo"])
        with self.assertRaises(pfx.PowerFlexClientException) as cm:
            vol2.remove_mapped_host(State.vol_id, host_id=State.host_id)
        self.assertGatewayError(cm.exception, 4039, "removeMappedHost when not mapped (§2.4)")

    def test_36_many_sdk_calls_leak_no_session_limit(self):
        """PyPowerFlex never logs out the /api/login token on 4.x: one leaked token per SDK
        call. A real 4.x gateway keeps working (§1.2, "do not enforce a session limit on
        /api/login tokens in 4.x mode"); drive it past the 128-session system limit."""
        need("client")
        target = 140
        start = len(TRAFFIC.api_login_tokens)
        calls = 0
        while len(TRAFFIC.api_login_tokens) - start < target and calls < 2 * target:
            State.client.system.api_version(cached=False)
            calls += 1
        self.assertGreaterEqual(len(TRAFFIC.api_login_tokens) - start, target)
        self.assertEqual(State.client.system.api_version(cached=False), "4.5")

    # ---------------------------------------------------------------- statistics
    def test_37_statistics_for_all_storage_pools(self):
        """utility.get_statistics_for_all_storagepools(): querySelectedStatistics with allIds
        and the 216 properties PyPowerFlex asks by default (§2.3); every one is answered, with
        values that follow the volumes."""
        need("client", "pool_id", "vol_id", "snap_id")
        wanted = (PyPowerFlex.constants.StoragePoolConstants.DEFAULT_STATISTICS_PROPERTIES
                  + PyPowerFlex.constants.StoragePoolConstants.DEFAULT_STATISTICS_PROPERTIES_ABOVE_3_5)
        all_pools = State.client.utility.get_statistics_for_all_storagepools()
        self.assertEqual(sorted(all_pools), sorted(p["id"] for p in State.client.storage_pool.get()))
        for pool_id, stats in all_pools.items():
            missing = [p for p in wanted if p not in stats]
            self.assertEqual(missing, [], f"pool {pool_id} lacks statistics")
        mine = all_pools[State.pool_id]
        in_pool = State.client.storage_pool.get_volumes(State.pool_id)
        self.assertEqual(mine["numOfVolumes"], len(in_pool))
        self.assertEqual(sorted(mine["volumeIds"]), sorted(v["id"] for v in in_pool))
        vtree = State.client.volume.get(entity_id=State.vol_id)["vtreeId"]
        self.assertIn(vtree, mine["vtreeIds"])
        self.assertEqual(mine["thinAndSnapshotRatio"], "Infinity", "nothing written yet (§2.3)")
        # A new 8 GiB thin volume: one more volume, 8 GiB more address space, nothing written.
        v = State.client.volume.create(State.pool_id, 8, name=f"compat-stat-{RUN}")
        try:
            after = State.client.utility.get_statistics_for_all_storagepools(
                ids=[State.pool_id], properties=["numOfVolumes", "volumeAddressSpaceInKb",
                                                 "netProvisionedAddressesInKb"])
            self.assertEqual(after[State.pool_id]["numOfVolumes"], mine["numOfVolumes"] + 1)
            self.assertEqual(after[State.pool_id]["volumeAddressSpaceInKb"],
                             mine["volumeAddressSpaceInKb"] + 8 * GIB_KB)
            self.assertEqual(after[State.pool_id]["netProvisionedAddressesInKb"],
                             mine["netProvisionedAddressesInKb"], "an unwritten thin volume holds nothing")
            stats = State.client.volume.get_statistics(v["id"])
            self.assertEqual(stats["netProvisionedAddressesInKb"], 0,
                             "CloudStack reads this as the physical size (§2.4)")
            self.assertEqual(stats["volumeAddressSpaceInKb"], 8 * GIB_KB)
        finally:
            State.client.volume.delete(v["id"], RemoveMode.only_me)

    def test_38_statistics_for_all_volumes(self):
        need("client", "vol_id", "snap_id")
        wanted = PyPowerFlex.constants.VolumeConstants.DEFAULT_STATISTICS_PROPERTIES
        every = State.client.utility.get_statistics_for_all_volumes()
        self.assertIn(State.vol_id, every)
        self.assertIn(State.snap_id, every)
        for vol_id, stats in every.items():
            missing = [p for p in wanted if p not in stats]
            self.assertEqual(missing, [], f"volume {vol_id} lacks statistics")
        self.assertEqual(every[State.vol_id]["numOfChildVolumes"], 1)
        self.assertEqual(every[State.vol_id]["childVolumeIds"], [State.snap_id])
        one = State.client.utility.get_statistics_for_all_volumes(ids=[State.snap_id])
        self.assertEqual(list(one), [State.snap_id])
        self.assertEqual(one[State.snap_id]["numOfDescendantVolumes"], 0)

    def test_39_statistics_for_sdcs_domains_and_system(self):
        need("client", "host_id", "pd_ids", "system_id")
        sdcs = State.client.sdc.query_selected_statistics(["numOfMappedVolumes", "volumeIds"])
        self.assertEqual(sdcs[State.host_id], {"numOfMappedVolumes": 0, "volumeIds": []})
        pd = State.pd_ids[0]
        pds = State.client.protection_domain.query_selected_statistics(
            ["numOfStoragePools", "numOfVolumes"], ids=[pd])
        pools = State.client.protection_domain.get_storage_pools(pd)
        self.assertEqual(pds[pd]["numOfStoragePools"], len(pools))
        self.assertEqual(pds[pd]["numOfVolumes"],
                         sum(len(State.client.storage_pool.get_volumes(p["id"])) for p in pools))
        system = State.client.system.query_selected_statistics(
            ["numOfProtectionDomains", "numOfStoragePools", "numOfVolumes"])
        self.assertEqual(system["numOfProtectionDomains"], len(State.pd_ids))
        self.assertEqual(system["numOfStoragePools"], len(State.client.storage_pool.get()))
        self.assertEqual(system["numOfVolumes"], len(State.client.volume.get()))
        # The gateway configuration CloudStack and PyPowerFlex read (§1).
        config = State.client.system.get_gateway_configuration_details()
        self.assertEqual(config["systemId"], State.system_id)
        self.assertTrue(config["mdmAddresses"], config)

    # ---------------------------------------------------------------- deletes
    def test_40_delete_snapshot(self):
        need("client", "snap_id")
        State.client.volume.delete(State.snap_id, RemoveMode.only_me)
        with self.assertRaises(pfx.PowerFlexFailQuerying):
            State.client.volume.get(entity_id=State.snap_id)

    def test_41_delete_volume(self):
        need("client", "vol_id")
        State.client.volume.delete(State.vol_id, RemoveMode.only_me)
        with self.assertRaises(pfx.PowerFlexFailQuerying):
            State.client.volume.get(entity_id=State.vol_id)
        with self.assertRaises(pfx.PowerFlexFailDeleting) as cm:
            State.client.volume.delete(State.vol_id, RemoveMode.only_me)
        self.assertGatewayError(cm.exception, 79, "removeVolume of a deleted volume (§2.4)",
                                message="Could not find the volume")

    def test_42_delete_nvme_host(self):
        need("client", "host_id")
        State.client.sdc.delete(State.host_id)
        with self.assertRaises(pfx.PowerFlexFailQuerying):
            State.client.host.get(entity_id=State.host_id)


def new_client_initialized():
    c = new_client()
    c.initialize()
    return c


def main():
    from importlib.metadata import version
    print(f"PyPowerFlex {version('PyPowerFlex')} from {os.path.dirname(PyPowerFlex.__file__)}")
    print(f"gateway {BASE}, CA {CA}")
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(PyPowerFlexCompat)
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    print()
    for t, _ in res.failures + res.errors:
        print(f"FAILED: {t.id().rsplit('.', 1)[-1]}")
    for t, why in res.skipped:
        print(f"SKIPPED: {t.id().rsplit('.', 1)[-1]} ({why})")
    print(f"pypowerflex: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
