"""os-brick's ScaleIO connector, unmodified, attaching volumes through pflex-sdc.

Two of os-brick's routines, chosen by PFLEX_OS_BRICK_ROUTINES (comma-separated, default both):

driver-side  cinder's PowerFlex driver maps the volume by the SDC's GUID (the connection
             properties carry `sdc_guid`); os-brick only finds and gives up the device.
os-brick     the legacy routine: os-brick asks the GUID with an ioctl on /dev/scini (through
             oslo.privsep's daemon, as in a deployment), looks the volume up by name, maps it
             itself with addMappedSdc and its IOPS limit with setMappedSdcLimits (re-logging in
             on the expired token it was given), waits for the device, and unmaps it on
             disconnect. Needs pflex-sdc serving /dev/scini (CUSE).

The bytes written through the device are checked against the gateway's /sim/ data surface.
Run by scripts/compat/os-brick.sh.
"""

import os
import subprocess
import sys
import time

import os_brick
import requests
from oslo_config import cfg
from os_brick.initiator import connector as brick
from os_brick.initiator.connectors import scaleio
import os_brick.privileged  # noqa: F401  (registers the privsep_osbrick options)

PORT = os.environ["PFLEX_PORT"]
CA = os.environ["PFLEX_CA"]
BASE = f"https://127.0.0.1:{PORT}"
USER, PASSWORD = "admin", "Password123!"


def check(cond, what):
    print(("ok   " if cond else "FAILED ") + what, flush=True)
    if not cond:
        sys.exit(1)


class Gateway:
    """Cinder's side of the conversation, and the checks, over the REST and /sim/ APIs."""

    def __init__(self):
        self.token = requests.get(f"{BASE}/api/login", auth=(USER, PASSWORD), verify=CA).json()

    def get(self, path):
        r = requests.get(BASE + path, auth=(USER, self.token), verify=CA)
        check(r.status_code == 200, f"GET {path} -> {r.status_code}")
        return r.json()

    def post(self, path, body):
        r = requests.post(BASE + path, json=body, auth=(USER, self.token), verify=CA)
        check(r.status_code == 200, f"POST {path} -> {r.status_code} {r.text[:200]}")
        return r.json()

    def create_volume(self, name):
        pool = next(p for p in self.get("/api/types/StoragePool/instances") if p["name"] == "sp1")
        return self.post("/api/types/Volume/instances",
                         {"storagePoolId": pool["id"], "name": name, "volumeSizeInGb": "8"})["id"]

    def mappings(self, vol):
        return self.get(f"/api/instances/Volume::{vol}").get("mappedSdcInfo") or []

    def data(self, vol, host, offset, length):
        return requests.get(f"{BASE}/sim/volumes/{vol}/data", auth=(USER, PASSWORD), verify=CA,
                            params={"host": host, "offset": offset, "length": length}).content


def write_through(path, offset, data):
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def wait_gone(path):
    deadline = time.monotonic() + 15
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not os.path.exists(path)


def base_props(gw, name, vol):
    props = {
        "scaleIO_volname": name, "hostIP": "127.0.0.1", "serverIP": "127.0.0.1", "serverPort": PORT,
        "serverUsername": USER, "serverPassword": PASSWORD, "serverToken": gw.token,
        "iopsLimit": None, "bandwidthLimit": None, "verify_certificate": True, "certificate_path": CA,
    }
    if vol:
        props["scaleIO_volume_id"] = vol
    return props


def driver_side(gw, guid, sdc, system):
    vol = gw.create_volume("os-brick-vol")
    gw.post(f"/api/instances/Volume::{vol}/action/addMappedSdc", {"guid": guid, "allowMultipleMappings": "TRUE"})
    conn = brick.InitiatorConnector.factory("SCALEIO", None, device_scan_attempts=5)
    props = dict(base_props(gw, "os-brick-vol", vol), sdc_guid=guid)
    info = conn.connect_volume(props)
    path = info["path"]
    check(path == f"/dev/disk/by-id/emc-vol-{system}-{vol}", f"os-brick found {path}")
    check(os.path.realpath(path).startswith("/dev/loop"), f"a block device: {os.path.realpath(path)}")
    check(conn.get_volume_paths(props) == [path], "get_volume_paths lists it")
    data = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
    write_through(path, 2 << 30, data)
    check(gw.data(vol, sdc["id"], 2 << 30, len(data)) == data, "the gateway holds the bytes written through the device")
    gw.post(f"/api/instances/Volume::{vol}/action/removeMappedSdc", {"guid": guid})
    conn.disconnect_volume(props, info)
    check(wait_gone(path), "the device went with the mapping")
    gw.post(f"/api/instances/Volume::{vol}/action/removeVolume", {"removeMode": "ONLY_ME"})


def os_brick_side(gw, guid, sdc, system):
    check(os.path.exists("/dev/scini"), "/dev/scini is served (pflex-sdc --scini)")
    # The privsep daemon as a deployment without sudo starts it: this interpreter's helper.
    cfg.CONF.set_override("helper_command", os.path.join(sys.prefix, "bin", "privsep-helper"),
                          group="privsep_osbrick")
    props = scaleio.ScaleIOConnector.get_connector_properties(None)
    # os-brick formats the GUID in lower case; the gateway matches GUIDs without case.
    check(str(props.get("sdc_guid", "")).upper() == guid, f"the connector properties carry the GUID from /dev/scini: {props}")

    vol = gw.create_volume("os-brick-legacy")
    conn = brick.InitiatorConnector.factory("SCALEIO", None, device_scan_attempts=5)
    # No volume id (looked up by name), no GUID (asked by ioctl), and a token that has expired.
    props = dict(base_props(gw, "os-brick-legacy", None), serverToken="expired-token", iopsLimit="1000")
    info = conn.connect_volume(props)
    path = info["path"]
    check(conn.server_token not in (None, "expired-token"), "os-brick logged in again after the expired token's 401")
    check(path == f"/dev/disk/by-id/emc-vol-{system}-{vol}", f"os-brick mapped and found {path}")
    mapped = gw.mappings(vol)
    check([m.get("sdcId") for m in mapped] == [sdc["id"]], f"mapped to this SDC by os-brick: {mapped}")
    check(mapped[0].get("limitIops") == 1000, f"with the IOPS limit os-brick set: {mapped[0]}")
    data = bytes((i * 13 + 5) % 253 for i in range(1 << 20))
    write_through(path, 5 << 30, data)
    check(gw.data(vol, sdc["id"], 5 << 30, len(data)) == data, "the gateway holds the bytes written through the device")

    conn.disconnect_volume(props, info)
    check(gw.mappings(vol) == [], "os-brick unmapped it")
    check(wait_gone(path), "the device went with the mapping")
    # A second disconnect finds it unmapped and says nothing (error 84 is ignored).
    conn.disconnect_volume(props, info)
    gw.post(f"/api/instances/Volume::{vol}/action/removeVolume", {"removeMode": "ONLY_ME"})


ROUTINES = {"driver-side": driver_side, "os-brick": os_brick_side}


def main():
    # As a service does: its configuration first, then os-brick's.
    cfg.CONF([], project="pflex-compat")
    os_brick.setup(cfg.CONF)
    gw = Gateway()
    guid = subprocess.check_output([os.environ["PFLEX_DRV_CFG"], "--query_guid"], text=True).strip()
    sdc = next(s for s in gw.get("/api/types/Sdc/instances") if s.get("sdcGuid") == guid)
    check(sdc["mdmConnectionState"] == "Connected", f"the SDC {sdc['id']} is listed and connected")
    system = gw.get("/api/types/System/instances")[0]["id"]
    for name in os.environ.get("PFLEX_OS_BRICK_ROUTINES", "driver-side,os-brick").split(","):
        print(f"-- os-brick routine: {name}", flush=True)
        ROUTINES[name](gw, guid, sdc, system)
    print("os-brick: all checks passed")


if __name__ == "__main__":
    main()
