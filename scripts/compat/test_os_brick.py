"""os-brick's ScaleIO connector, unmodified, attaching a volume through pflex-sdc.

Plays cinder's part over the REST API (create the volume, map it to the SDC by GUID, unmap it)
and lets os-brick find and give up the device; checks the bytes through the device against the
gateway's /sim/ data surface. Run by scripts/compat/os-brick.sh.
"""

import os
import subprocess
import sys
import time

import requests
from os_brick.initiator import connector as brick

PORT = os.environ["PFLEX_PORT"]
CA = os.environ["PFLEX_CA"]
BASE = f"https://127.0.0.1:{PORT}"
USER, PASSWORD = "admin", "Password123!"


def check(cond, what):
    print(("ok   " if cond else "FAILED ") + what)
    if not cond:
        sys.exit(1)


def main():
    token = requests.get(f"{BASE}/api/login", auth=(USER, PASSWORD), verify=CA).json()
    auth = (USER, token)

    def get(path):
        r = requests.get(BASE + path, auth=auth, verify=CA)
        check(r.status_code == 200, f"GET {path} -> {r.status_code}")
        return r.json()

    def post(path, body):
        r = requests.post(BASE + path, json=body, auth=auth, verify=CA)
        check(r.status_code == 200, f"POST {path} -> {r.status_code} {r.text[:200]}")
        return r.json()

    guid = subprocess.check_output([os.environ["PFLEX_DRV_CFG"], "--query_guid"], text=True).strip()
    sdc = next(s for s in get("/api/types/Sdc/instances") if s.get("sdcGuid") == guid)
    check(sdc["mdmConnectionState"] == "Connected", f"the SDC {sdc['id']} is listed and connected")
    system = get("/api/types/System/instances")[0]["id"]
    pool = next(p for p in get("/api/types/StoragePool/instances") if p["name"] == "sp1")
    vol = post("/api/types/Volume/instances",
               {"storagePoolId": pool["id"], "name": "os-brick-vol", "volumeSizeInGb": "8"})["id"]
    post(f"/api/instances/Volume::{vol}/action/addMappedSdc", {"guid": guid, "allowMultipleMappings": "TRUE"})

    conn = brick.InitiatorConnector.factory("SCALEIO", None, device_scan_attempts=5)
    props = {
        "scaleIO_volname": "os-brick-vol", "scaleIO_volume_id": vol, "sdc_guid": guid,
        "hostIP": "127.0.0.1", "serverIP": "127.0.0.1", "serverPort": PORT, "serverUsername": USER,
        "serverPassword": PASSWORD, "serverToken": token, "iopsLimit": None, "bandwidthLimit": None,
        "verify_certificate": True, "certificate_path": CA,
    }
    info = conn.connect_volume(props)
    path = info["path"]
    check(path == f"/dev/disk/by-id/emc-vol-{system}-{vol}", f"os-brick found {path}")
    check(os.path.realpath(path).startswith("/dev/loop"), f"a block device: {os.path.realpath(path)}")
    check(conn.get_volume_paths(props) == [path], "get_volume_paths lists it")

    data = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, data, 2 << 30)
        os.fsync(fd)
    finally:
        os.close(fd)
    seen = requests.get(f"{BASE}/sim/volumes/{vol}/data", auth=(USER, PASSWORD), verify=CA,
                        params={"host": sdc["id"], "offset": 2 << 30, "length": len(data)}).content
    check(seen == data, "the gateway holds the bytes written through the device")

    post(f"/api/instances/Volume::{vol}/action/removeMappedSdc", {"guid": guid})
    conn.disconnect_volume(props, info)
    deadline = time.monotonic() + 15
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    check(not os.path.exists(path), "the device went with the mapping")
    post(f"/api/instances/Volume::{vol}/action/removeVolume", {"removeMode": "ONLY_ME"})
    print("os-brick: all checks passed")


if __name__ == "__main__":
    main()
