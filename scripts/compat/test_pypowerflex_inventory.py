#!/usr/bin/env python3
"""Compatibility test: PyPowerFlex 2.x (from PyPI, unmodified) managing the system inventory
of pflex-sim: MDM cluster and gateway configuration, users, protection domains, storage pools,
SDTs, SDSs, devices, fault sets and snapshot policies.

Run by scripts/compat/pypowerflex.sh after test_pypowerflex.py, against the same simulator and
with the same environment (PFLEX_HOST, PFLEX_PORT, PFLEX_USER, PFLEX_PASSWORD, PFLEX_CA); the
connection helpers come from that file. Every call goes through the SDK's own objects
(client.system, .protection_domain, .storage_pool, .sdt, .sds, .device, .fault_set,
.snapshot_policy, .volume). PyPowerFlex has no User object, so `Users` below is one built the
way the SDK builds its own (an EntityRequest on the client's token and configuration), with
the request shapes goscaleio uses (System relationships/User, POST /api/types/User/instances,
setUserRole, removeUser).

Each class is one concept, its tests ordered and sharing what they create; each class removes
what it created. The default topology is assumed: protection domains pd1 and pd2, pools sp1
and sp2 in pd1, at least three SDSs with devices and a fault set per protection domain, and
a three-node MDM cluster. Expected error codes and messages are the gateway's
(shared/reference/powerflex-api.md §3.5).
"""

import sys
import unittest

from PyPowerFlex import base_client
from PyPowerFlex import exceptions as pfx
from PyPowerFlex.objects.gen1.volume import RemoveMode

from test_pypowerflex import HEX16, RUN, new_client_initialized, sdk_error

CLIENT = None


def client():
    global CLIENT
    if CLIENT is None:
        CLIENT = new_client_initialized()
    return CLIENT


def by_name(objects, name):
    found = [o for o in objects if o.get("name") == name]
    if len(found) != 1:
        raise AssertionError(f"expected one object named {name!r}, found {len(found)}")
    return found[0]


class Users(base_client.EntityRequest):
    """The User object PyPowerFlex lacks, built like its own objects. Users are listed as a
    relationship of the System (client.system.get_related(system_id, "User"))."""
    entity_name = "User"

    def create(self, name, role, password):
        return self._create_entity({"name": name, "userRole": role, "password": password})

    def set_role(self, user_id, role):
        return self._perform_entity_operation_based_on_action(
            user_id, "setUserRole", params={"userRole": role}, add_entity=False)

    def delete(self, user_id):
        return self._delete_entity(user_id)


class Inventory(unittest.TestCase):
    """Shared assertions, and `state`: what a class's tests hand to the next ones."""
    maxDiff = None
    state = {}

    def assertRefused(self, exc, code, message, where):
        err = sdk_error(exc)
        detail = f"{where}: expected errorCode {code} {message!r}, got {err}"
        self.assertEqual(err.get("errorCode"), code, detail)
        self.assertEqual(err.get("message"), message, detail)

    def need(self, key):
        """What an earlier test of the class created; a skip if that test failed."""
        value = type(self).state.get(key)
        if not value:
            raise unittest.SkipTest(f"prerequisite missing ({key}); see the earlier failure")
        return value

    def assertGone(self, sdk_object, entity_id):
        with self.assertRaises(pfx.PowerFlexFailQuerying, msg=f"{entity_id} still there"):
            sdk_object.get(entity_id=entity_id)

    @staticmethod
    def pd1():
        return by_name(client().protection_domain.get(), "pd1")


# ------------------------------------------------------------------------------------------
class T1System(Inventory):
    """queryMdmCluster, /api/Configuration, renameMdm, setMdmPerformanceParameters,
    switchClusterMode, users."""
    state = {}

    def test_01_mdm_cluster_matches_system(self):
        c = client().system.get_mdm_cluster_details()
        system = client().system.get()[0]
        self.assertEqual(c["clusterMode"], "ThreeNodes", c)
        self.assertEqual(c["clusterState"], "ClusteredNormal", c)
        self.assertEqual(c["master"]["role"], "Manager", c)
        self.assertEqual(len(c["slaves"]), 1, c)
        self.assertEqual(len(c["tieBreakers"]), 1, c)
        for mdm in [c["master"]] + c["slaves"] + c["tieBreakers"]:
            self.assertTrue(HEX16.match(mdm["id"]), mdm)
            self.assertGreaterEqual(len(mdm["ips"]), 1, mdm)
        self.assertEqual(c["id"], system["id"])
        for role in ("master", "slaves", "tieBreakers"):
            self.assertEqual(system["mdmCluster"][role], c[role], f"System.mdmCluster.{role} and queryMdmCluster")
        T1System.state["cluster"] = c

    def test_02_gateway_configuration_lists_the_managers(self):
        conf = client().system.get_gateway_configuration_details()
        c = self.need("cluster")
        manager_ips = {ip for m in [c["master"]] + c["slaves"] for ip in m["ips"]}
        self.assertGreaterEqual(len(conf["mdmAddresses"]), 1, conf)
        self.assertLessEqual(set(conf["mdmAddresses"]), manager_ips, conf)

    def test_03_rename_mdm(self):
        c = self.need("cluster")
        secondary = c["slaves"][0]
        client().system.rename_mdm(secondary["id"], f"{RUN}-mdm2")
        renamed = client().system.get_mdm_cluster_details()["slaves"][0]
        self.assertEqual(renamed["name"], f"{RUN}-mdm2")
        self.assertEqual(client().system.get()[0]["mdmCluster"]["slaves"][0]["name"], f"{RUN}-mdm2")
        client().system.rename_mdm(secondary["id"], secondary["name"])
        self.assertEqual(client().system.get_mdm_cluster_details()["slaves"][0]["name"], secondary["name"])

    def test_04_mdm_performance_profile(self):
        before = client().system.get()[0]["perfProfile"]
        other = "Compact" if before == "HighPerformance" else "HighPerformance"
        client().system.set_cluster_mdm_performance_profile(other)
        self.assertEqual(client().system.get()[0]["perfProfile"], other)
        client().system.set_cluster_mdm_performance_profile(before)
        self.assertEqual(client().system.get()[0]["perfProfile"], before)

    def test_05_switch_to_one_node_and_back(self):
        c = self.need("cluster")
        secondary, tiebreaker = c["slaves"][0]["id"], c["tieBreakers"][0]["id"]
        client().system.switch_cluster_mode("OneNode", remove_secondary=[secondary], remove_tb=[tiebreaker])
        one = client().system.get_mdm_cluster_details()
        self.assertEqual(one["clusterMode"], "OneNode", one)
        self.assertEqual(one.get("slaves") or [], [], one)
        self.assertEqual(one.get("tieBreakers") or [], [], one)
        self.assertEqual(sorted(m["id"] for m in one["standbyMDMs"]), sorted([secondary, tiebreaker]), one)
        client().system.switch_cluster_mode("ThreeNodes", add_secondary=[secondary], add_tb=[tiebreaker])
        three = client().system.get_mdm_cluster_details()
        self.assertEqual(three["clusterMode"], "ThreeNodes", three)
        self.assertEqual([m["id"] for m in three["slaves"]], [secondary], three)
        self.assertEqual([m["id"] for m in three["tieBreakers"]], [tiebreaker], three)
        self.assertEqual(three.get("standbyMDMs") or [], [], three)

    def test_06_admin_user_is_listed(self):
        users = Users(client().token, client().configuration)
        system_id = client().system.get()[0]["id"]
        admin = by_name(client().system.get_related(system_id, "User"), "admin")
        self.assertTrue(HEX16.match(admin["id"]), admin)
        self.assertEqual(admin["userRole"], "SuperUser", admin)
        self.assertEqual(admin["systemId"], system_id, admin)
        self.assertIsInstance(admin["passwordChangeRequired"], bool, admin)
        self.assertIn({"rel": "self", "href": f"/api/instances/User::{admin['id']}"}, admin["links"])

    def test_07_create_change_role_and_remove_a_user(self):
        users = Users(client().token, client().configuration)
        system_id = client().system.get()[0]["id"]
        name = f"{RUN}-monitor"
        user = users.create(name, "Monitor", "Monitor123!")
        try:
            self.assertEqual(user["name"], name)
            self.assertEqual(user["userRole"], "Monitor")
            self.assertEqual(user["systemId"], system_id)
            self.assertIn(user["id"], [u["id"] for u in client().system.get_related(system_id, "User")])
            with self.assertRaises(pfx.PowerFlexFailCreating, msg="duplicate user name"):
                users.create(name, "Monitor", "Monitor123!")
            users.set_role(user["id"], "Configure")
            self.assertEqual(users.get(entity_id=user["id"])["userRole"], "Configure")
        finally:
            users.delete(user["id"])
        self.assertGone(users, user["id"])


# ------------------------------------------------------------------------------------------
class T2ProtectionDomain(Inventory):
    """create, name rules, rename, setSdsNetworkLimits, RF cache, inactivate/activate,
    removal refused while it holds a pool, remove."""
    state = {}

    def test_01_create(self):
        pd = client().protection_domain.create(f"{RUN}-pd")
        T2ProtectionDomain.state["pd"] = pd
        self.assertTrue(HEX16.match(pd["id"]), pd)
        self.assertEqual(pd["name"], f"{RUN}-pd")
        self.assertEqual(pd["protectionDomainState"], "Active")
        self.assertEqual(pd["systemId"], client().system.get()[0]["id"])
        self.assertIn({"rel": "self", "href": f"/api/instances/ProtectionDomain::{pd['id']}"}, pd["links"])

    def test_02_name_rules(self):
        self.need("pd")
        with self.assertRaises(pfx.PowerFlexFailCreating) as cm:
            client().protection_domain.create(f"{RUN}-pd")
        self.assertRefused(cm.exception, 141, "Protection Domain name already in use. Please try a different name.",
                           "duplicate protection domain name")
        with self.assertRaises(pfx.PowerFlexFailCreating) as cm:
            client().protection_domain.create("x" * 32)
        self.assertRefused(cm.exception, 226, "The given name exceeds the allowed length of 31 characters.",
                           "32-character protection domain name")

    def test_03_rename_and_network_limits(self):
        pd_id = self.need("pd")["id"]
        client().protection_domain.rename(pd_id, f"{RUN}-pd-r")
        pd = client().protection_domain.network_limits(pd_id, rebuild_limit=10240, rebalance_limit=20480,
                                                       vtree_migration_limit=30720, overall_limit=40960)
        self.assertEqual(pd["name"], f"{RUN}-pd-r")
        self.assertEqual((pd["rebuildNetworkThrottlingInKbps"], pd["rebalanceNetworkThrottlingInKbps"],
                          pd["vtreeMigrationNetworkThrottlingInKbps"], pd["overallIoNetworkThrottlingInKbps"]),
                         (10240, 20480, 30720, 40960), pd)
        self.assertTrue(pd["rebuildNetworkThrottlingEnabled"] and pd["overallIoNetworkThrottlingEnabled"], pd)

    def test_04_rfcache(self):
        pd_id = self.need("pd")["id"]
        pd = client().protection_domain.set_rfcache_enabled(pd_id, False)
        self.assertFalse(pd["rfcacheEnabled"])
        pd = client().protection_domain.rfcache_parameters(pd_id, page_size=16, max_io_limit=64,
                                                           pass_through_mode="Read")
        self.assertEqual((pd["rfcachePageSizeKb"], pd["rfcacheMaxIoSizeKb"], pd["rfcacheOpertionalMode"]),
                         (16, 64, "Read"), pd)

    def test_05_inactivate_and_activate(self):
        pd_id = self.need("pd")["id"]
        client().protection_domain.inactivate(pd_id, force=True)
        self.assertEqual(client().protection_domain.get(entity_id=pd_id)["protectionDomainState"], "Inactive")
        client().protection_domain.activate(pd_id, force=True)
        self.assertEqual(client().protection_domain.get(entity_id=pd_id)["protectionDomainState"], "Active")

    def test_06_removal_refused_while_it_holds_a_pool(self):
        pd_id = self.need("pd")["id"]
        pool = client().storage_pool.create("HDD", pd_id, name=f"{RUN}-pdsp")
        try:
            with self.assertRaises(pfx.PowerFlexFailDeleting) as cm:
                client().protection_domain.delete(pd_id)
            self.assertRefused(cm.exception, 176, "Protection Domain has Storage Pools", "removeProtectionDomain")
            self.assertEqual(client().protection_domain.get(entity_id=pd_id)["id"], pd_id)
        finally:
            client().storage_pool.delete(pool["id"])

    def test_07_remove(self):
        pd_id = self.need("pd")["id"]
        client().protection_domain.delete(pd_id)
        self.assertGone(client().protection_domain, pd_id)
        with self.assertRaises(pfx.PowerFlexFailDeleting) as cm:
            client().protection_domain.delete(pd_id)
        self.assertEqual(sdk_error(cm.exception).get("errorCode"), 142, sdk_error(cm.exception))


# ------------------------------------------------------------------------------------------
class T3StoragePool(Inventory):
    """create in pd1, name rules, rename and the settings clients change, removal refused
    while it holds volumes, remove."""
    state = {}

    def test_01_create(self):
        pd1 = self.pd1()
        pool = client().storage_pool.create("HDD", pd1["id"], name=f"{RUN}-sp", spare_percentage=15,
                                            zero_padding_enabled=True, use_rmcache=False)
        T3StoragePool.state["pool"] = pool
        self.assertTrue(HEX16.match(pool["id"]), pool)
        self.assertEqual((pool["name"], pool["protectionDomainId"], pool["mediaType"]),
                         (f"{RUN}-sp", pd1["id"], "HDD"), pool)
        self.assertEqual((pool["sparePercentage"], pool["zeroPaddingEnabled"], pool["useRmcache"]),
                         (15, True, False), pool)
        self.assertEqual(pool["dataLayout"], "MediumGranularity", pool)
        self.assertIn(pool["id"], [p["id"] for p in client().protection_domain.get_storage_pools(pd1["id"])])

    def test_02_name_rules(self):
        self.need("pool")
        with self.assertRaises(pfx.PowerFlexFailCreating) as cm:
            client().storage_pool.create("HDD", self.pd1()["id"], name=f"{RUN}-sp")
        self.assertRefused(cm.exception, 173, "Storage Pool name already exists", "duplicate storage pool name")

    def test_03_modify(self):
        sp = client().storage_pool
        pool_id = self.need("pool")["id"]
        sp.rename(pool_id, f"{RUN}-sp-r")
        sp.set_use_rmcache(pool_id, True)
        sp.set_zero_padding_policy(pool_id, False)
        sp.set_spare_percentage(pool_id, 20)
        sp.set_rebuild_enabled(pool_id, False)
        sp.set_rebalance_enabled(pool_id, False)
        sp.set_cap_alert_thresholds(pool_id, 70, 85)
        sp.set_rebuild_rebalance_parallelism_limit(pool_id, 4)
        pool = sp.get(entity_id=pool_id)
        got = {k: pool[k] for k in ("name", "useRmcache", "zeroPaddingEnabled", "sparePercentage",
                                    "rebuildEnabled", "rebalanceEnabled", "capacityAlertHighThreshold",
                                    "capacityAlertCriticalThreshold", "numOfParallelRebuildRebalanceJobsPerDevice")}
        self.assertEqual(got, {"name": f"{RUN}-sp-r", "useRmcache": True, "zeroPaddingEnabled": False,
                               "sparePercentage": 20, "rebuildEnabled": False, "rebalanceEnabled": False,
                               "capacityAlertHighThreshold": 70, "capacityAlertCriticalThreshold": 85,
                               "numOfParallelRebuildRebalanceJobsPerDevice": 4})

    def test_04_removal_refused_while_it_holds_a_volume(self):
        pool_id = self.need("pool")["id"]
        vol = client().volume.create(pool_id, 8, name=f"{RUN}-spvol")
        try:
            with self.assertRaises(pfx.PowerFlexFailDeleting) as cm:
                client().storage_pool.delete(pool_id)
            self.assertRefused(cm.exception, 196, "The Storage Pool has volumes. Please remove all the volumes "
                               "before removing the Storage Pool.", "removeStoragePool")
        finally:
            client().volume.delete(vol["id"], RemoveMode.only_me)

    def test_05_remove(self):
        pool_id = self.need("pool")["id"]
        client().storage_pool.delete(pool_id)
        self.assertGone(client().storage_pool, pool_id)


# ------------------------------------------------------------------------------------------
class T4Sdt(Inventory):
    """create with IPs and ports, rename, IP add / role / remove, ports, maintenance, remove."""
    state = {}

    def test_01_create(self):
        pd1 = self.pd1()
        sdt = client().sdt.create([{"ip": "127.0.0.31", "role": "StorageAndHost"}], f"{RUN}-sdt", pd1["id"],
                                  storage_port=12200, nvme_port=4421, discovery_port=8010)
        T4Sdt.state["sdt"] = sdt
        self.assertTrue(HEX16.match(sdt["id"]), sdt)
        self.assertEqual((sdt["name"], sdt["protectionDomainId"]), (f"{RUN}-sdt", pd1["id"]), sdt)
        self.assertEqual(sdt["ipList"], [{"ip": "127.0.0.31", "role": "StorageAndHost"}])
        self.assertEqual((sdt["storagePort"], sdt["nvmePort"], sdt["discoveryPort"]), (12200, 4421, 8010), sdt)
        self.assertEqual(sdt["maintenanceState"], "NoMaintenance", sdt)

    def test_02_rename_and_ips(self):
        s, sdt_id = client().sdt, self.need("sdt")["id"]
        s.rename(sdt_id, f"{RUN}-sdt-r")
        s.add_ip(sdt_id, "127.0.0.32", "HostOnly")
        self.assertIn({"ip": "127.0.0.32", "role": "HostOnly"}, s.get(entity_id=sdt_id)["ipList"])
        s.set_ip_role(sdt_id, "127.0.0.32", "StorageOnly")
        self.assertIn({"ip": "127.0.0.32", "role": "StorageOnly"}, s.get(entity_id=sdt_id)["ipList"])
        s.remove_ip(sdt_id, "127.0.0.32")
        sdt = s.get(entity_id=sdt_id)
        self.assertEqual((sdt["name"], sdt["ipList"]), (f"{RUN}-sdt-r", [{"ip": "127.0.0.31", "role": "StorageAndHost"}]))

    def test_03_ports_and_maintenance(self):
        s, sdt_id = client().sdt, self.need("sdt")["id"]
        s.set_nvme_port(sdt_id, 4422)
        s.set_discovery_port(sdt_id, 8011)
        s.set_storage_port(sdt_id, 12201)
        sdt = s.get(entity_id=sdt_id)
        self.assertEqual((sdt["storagePort"], sdt["nvmePort"], sdt["discoveryPort"]), (12201, 4422, 8011), sdt)
        s.enter_maintenance_mode(sdt_id)
        self.assertEqual(s.get(entity_id=sdt_id)["maintenanceState"], "InMaintenance")
        s.exit_maintenance_mode(sdt_id)
        self.assertEqual(s.get(entity_id=sdt_id)["maintenanceState"], "NoMaintenance")

    def test_04_remove(self):
        sdt_id = self.need("sdt")["id"]
        client().sdt.delete(sdt_id)
        self.assertGone(client().sdt, sdt_id)


# ------------------------------------------------------------------------------------------
class T5SdsAndDevices(Inventory):
    """The seeded SDSs with their devices and fault sets; an SDS added, changed and removed;
    a device added, renamed and removed."""
    state = {}

    def test_01_seeded_sdss(self):
        pds = {pd["id"] for pd in client().protection_domain.get()}
        fault_sets = {fs["id"]: fs for fs in client().fault_set.get()}
        sdss = client().sds.get()
        self.assertGreaterEqual(len(sdss), 3, "a real system has at least three SDSs")
        for sds in sdss:
            self.assertTrue(HEX16.match(sds["id"]), sds)
            self.assertIn(sds["protectionDomainId"], pds, sds)
            self.assertEqual((sds["sdsState"], sds["membershipState"], sds["mdmConnectionState"]),
                             ("Normal", "Joined", "Connected"), sds)
            self.assertGreaterEqual(len(sds["ipList"]), 1, sds)
            for ip in sds["ipList"]:
                self.assertIn(ip["role"], ("all", "sdsOnly", "sdcOnly"), sds)
            self.assertIsInstance(sds["port"], int, sds)
            # the seeded fault sets are empty (FIDELITY.md); an SDS in one is in its own domain's
            if sds["faultSetId"] is not None:
                fs = fault_sets.get(sds["faultSetId"])
                self.assertIsNotNone(fs, f"SDS {sds['name']} in no known fault set: {sds['faultSetId']}")
                self.assertEqual(fs["protectionDomainId"], sds["protectionDomainId"], sds)
            devices = client().sds.get_devices(sds["id"])
            self.assertGreaterEqual(len(devices), 1, f"SDS {sds['name']} has no device")
        T5SdsAndDevices.state["pd1_sds"] = [s for s in sdss if s["protectionDomainId"] == self.pd1()["id"]]

    def test_02_seeded_devices(self):
        pools = {p["id"] for p in client().storage_pool.get()}
        sds_ids = {s["id"] for s in client().sds.get()}
        devices = client().device.get()
        self.assertGreaterEqual(len(devices), 3)
        for dev in devices:
            self.assertTrue(HEX16.match(dev["id"]), dev)
            self.assertIn(dev["sdsId"], sds_ids, dev)
            self.assertIn(dev["storagePoolId"], pools, dev)
            self.assertTrue(dev["deviceCurrentPathName"].startswith("/dev/"), dev)
            self.assertEqual(dev["deviceState"], "Normal", dev)
            self.assertGreater(dev["maxCapacityInKb"], 0, dev)
        paths = [(d["sdsId"], d["deviceCurrentPathName"]) for d in devices]
        self.assertEqual(len(paths), len(set(paths)), "a path is used once per SDS")

    def test_03_add_an_sds(self):
        pd1 = self.pd1()
        fs = next(f for f in client().fault_set.get() if f["protectionDomainId"] == pd1["id"])
        # the gateway's create body wraps each address: "sdsIpList": [{"SdsIp": {"ip", "role"}}]
        sds = client().sds.create(pd1["id"], [{"SdsIp": {"ip": "127.0.1.1", "role": "all"}}], name=f"{RUN}-sds",
                                  fault_set_id=fs["id"])
        T5SdsAndDevices.state["sds"] = sds
        self.assertTrue(HEX16.match(sds["id"]), sds)
        self.assertEqual((sds["name"], sds["protectionDomainId"], sds["faultSetId"]),
                         (f"{RUN}-sds", pd1["id"], fs["id"]), sds)
        self.assertEqual(sds["ipList"], [{"ip": "127.0.1.1", "role": "all"}])
        self.assertIn(sds["id"], [s["id"] for s in client().fault_set.get_sdss(fs["id"])])
        self.assertIn(sds["id"], [s["id"] for s in client().protection_domain.get_sdss(pd1["id"])])

    def test_04_change_the_sds(self):
        s, sds_id = client().sds, self.need("sds")["id"]
        s.rename(sds_id, f"{RUN}-sds-r")
        s.add_ip(sds_id, {"ip": "127.0.1.2", "role": "sdcOnly"})
        s.set_ip_role(sds_id, "127.0.1.2", "sdsOnly")
        self.assertIn({"ip": "127.0.1.2", "role": "sdsOnly"}, s.get(entity_id=sds_id)["ipList"])
        s.remove_ip(sds_id, "127.0.1.2")
        s.set_rmcache_enabled(sds_id, True)
        s.set_rmcache_size(sds_id, 256)  # MiB (rmcacheSizeInMB)
        s.set_performance_parameters(sds_id, "Compact")
        sds = s.get(entity_id=sds_id)
        self.assertEqual({k: sds[k] for k in ("name", "ipList", "rmcacheEnabled", "rmcacheSizeInKb", "perfProfile")},
                         {"name": f"{RUN}-sds-r", "ipList": [{"ip": "127.0.1.1", "role": "all"}],
                          "rmcacheEnabled": True, "rmcacheSizeInKb": 256 * 1024, "perfProfile": "Compact"})

    def test_05_add_rename_remove_a_device(self):
        sds = self.need("pd1_sds")[0]
        sp1 = by_name(client().storage_pool.get(), "sp1")
        path = f"/dev/disk/by-id/{RUN}-compat"
        dev = client().device.create(path, sds["id"], media_type="SSD", name=f"{RUN}-dev", storage_pool_id=sp1["id"])
        try:
            self.assertTrue(HEX16.match(dev["id"]), dev)
            self.assertEqual((dev["name"], dev["deviceCurrentPathName"], dev["sdsId"], dev["storagePoolId"],
                              dev["mediaType"]), (f"{RUN}-dev", path, sds["id"], sp1["id"], "SSD"), dev)
            self.assertIn(dev["id"], [d["id"] for d in client().sds.get_devices(sds["id"])])
            self.assertIn(dev["id"], [d["id"] for d in client().storage_pool.get_devices(sp1["id"])])
            with self.assertRaises(pfx.PowerFlexFailCreating) as cm:
                client().device.create(path, sds["id"], media_type="SSD", storage_pool_id=sp1["id"])
            self.assertEqual(sdk_error(cm.exception).get("errorCode"), 206, sdk_error(cm.exception))
            client().device.rename(dev["id"], f"{RUN}-dev-r")
            self.assertEqual(client().device.get(entity_id=dev["id"])["name"], f"{RUN}-dev-r")
        finally:
            client().device.delete(dev["id"])
        self.assertGone(client().device, dev["id"])

    def test_06_remove_the_sds(self):
        sds_id = self.need("sds")["id"]
        client().sds.delete(sds_id)
        self.assertGone(client().sds, sds_id)


# ------------------------------------------------------------------------------------------
class T6FaultSet(Inventory):
    """One per protection domain (empty, as seeded); create, rename, remove; removal of one
    that holds SDSs refused."""

    def test_01_seeded_fault_sets(self):
        pds = {pd["id"] for pd in client().protection_domain.get()}
        fault_sets = client().fault_set.get()
        self.assertEqual({fs["protectionDomainId"] for fs in fault_sets}, pds)
        for fs in fault_sets:
            self.assertTrue(HEX16.match(fs["id"]), fs)
            members = client().fault_set.get_sdss(fs["id"])
            self.assertTrue(all(s["faultSetId"] == fs["id"] for s in members), members)

    def test_02_create_rename_remove(self):
        pd1 = self.pd1()
        fs = client().fault_set.create(pd1["id"], name=f"{RUN}-fs")
        self.assertTrue(HEX16.match(fs["id"]), fs)
        self.assertEqual((fs["name"], fs["protectionDomainId"]), (f"{RUN}-fs", pd1["id"]), fs)
        self.assertEqual(client().fault_set.get_sdss(fs["id"]), [])
        client().fault_set.rename(fs["id"], f"{RUN}-fs-r")
        self.assertEqual(client().fault_set.get(entity_id=fs["id"])["name"], f"{RUN}-fs-r")
        client().fault_set.delete(fs["id"])
        self.assertGone(client().fault_set, fs["id"])

    def test_03_removal_refused_while_it_holds_sdss(self):
        # the seeded fault sets are empty, so this one gets an SDS of its own
        fs = client().fault_set.create(self.pd1()["id"], name=f"{RUN}-fs-held")
        sds = client().sds.create(self.pd1()["id"], [{"SdsIp": {"ip": "127.0.1.3", "role": "all"}}],
                                  name=f"{RUN}-fs-sds", fault_set_id=fs["id"])
        try:
            with self.assertRaises(pfx.PowerFlexFailDeleting):
                client().fault_set.delete(fs["id"])
            self.assertEqual(client().fault_set.get(entity_id=fs["id"])["id"], fs["id"])
            self.assertEqual([s["id"] for s in client().fault_set.get_sdss(fs["id"])], [sds["id"]])
        finally:
            client().sds.delete(sds["id"])
        client().fault_set.delete(fs["id"])
        self.assertGone(client().fault_set, fs["id"])


# ------------------------------------------------------------------------------------------
class T7SnapshotPolicy(Inventory):
    """create, modify, rename, source volumes, pause / resume, statistics, remove."""
    state = {}

    def test_01_create(self):
        p = client().snapshot_policy.create(60, [4, 2], name=f"{RUN}-pol", paused=False,
                                            snapshot_access_mode="ReadOnly", secure_snapshots=False)
        T7SnapshotPolicy.state["policy"] = p
        self.assertTrue(HEX16.match(p["id"]), p)
        self.assertEqual({k: p[k] for k in ("name", "autoSnapshotCreationCadenceInMin", "numOfRetainedSnapshotsPerLevel",
                                            "snapshotAccessMode", "secureSnapshots", "snapshotPolicyState",
                                            "numOfSourceVolumes", "systemId")},
                         {"name": f"{RUN}-pol", "autoSnapshotCreationCadenceInMin": 60,
                          "numOfRetainedSnapshotsPerLevel": [4, 2], "snapshotAccessMode": "ReadOnly",
                          "secureSnapshots": False, "snapshotPolicyState": "Active", "numOfSourceVolumes": 0,
                          "systemId": client().system.get()[0]["id"]})

    def test_02_modify_and_rename(self):
        sp, pid = client().snapshot_policy, self.need("policy")["id"]
        p = sp.modify(pid, 120, [6])
        self.assertEqual((p["autoSnapshotCreationCadenceInMin"], p["numOfRetainedSnapshotsPerLevel"]), (120, [6]), p)
        sp.rename(pid, f"{RUN}-pol-r")
        self.assertEqual(sp.get(entity_id=pid)["name"], f"{RUN}-pol-r")

    def test_03_source_volume_pause_resume(self):
        sp, pid = client().snapshot_policy, self.need("policy")["id"]
        sp1 = by_name(client().storage_pool.get(), "sp1")
        vol = client().volume.create(sp1["id"], 8, name=f"{RUN}-polvol")
        try:
            self.assertEqual(vol["snplIdOfSourceVolume"], None, vol)
            p = sp.add_source_volume(pid, vol["id"])
            self.assertEqual(p["numOfSourceVolumes"], 1, p)
            self.assertEqual(client().volume.get(entity_id=vol["id"])["snplIdOfSourceVolume"], pid)
            self.assertEqual([v["id"] for v in sp.get_related(pid, "SourceVolume")], [vol["id"]])
            stats = sp.get_statistics(pid)
            self.assertIsInstance(stats, dict, stats)
            self.assertEqual(sp.pause(pid)["snapshotPolicyState"], "Paused")
            self.assertEqual(sp.resume(pid)["snapshotPolicyState"], "Active")
            p = sp.remove_source_volume(pid, vol["id"], "Remove")
            self.assertEqual(p["numOfSourceVolumes"], 0, p)
            self.assertIsNone(client().volume.get(entity_id=vol["id"])["snplIdOfSourceVolume"])
        finally:
            client().volume.delete(vol["id"], RemoveMode.only_me)

    def test_04_remove(self):
        pid = self.need("policy")["id"]
        client().snapshot_policy.delete(pid)
        self.assertGone(client().snapshot_policy, pid)


CLASSES = [T1System, T2ProtectionDomain, T3StoragePool, T4Sdt, T5SdsAndDevices, T6FaultSet, T7SnapshotPolicy]


def main():
    suite = unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in CLASSES)
    order = [test.id() for tests in suite for test in tests]  # the suite empties itself as it runs
    res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = {t.id() for t, _ in res.failures + res.errors}
    skipped = {t.id() for t, _ in res.skipped}
    print()
    for test_id in order:
        if test_id in failed or test_id in skipped:
            print(f"{'FAILED' if test_id in failed else 'SKIPPED'}: {test_id.removeprefix('__main__.')}")
    print(f"pypowerflex-inventory: {res.testsRun - len(failed) - len(skipped)} passed, "
          f"{len(failed)} failed, {len(skipped)} skipped")
    return 0 if not failed and not skipped else 1


if __name__ == "__main__":
    sys.exit(main())
