import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;

/**
 * Drives the official ZooKeeper Java client against a server and prints what it sees.
 *
 * Usage: java RoostInterop HOST:PORT BASE SCENARIO...
 *
 * Each scenario runs with fresh sessions under BASE/SCENARIO and prints
 * "### SCENARIO", its lines, then "### end SCENARIO". A scenario that throws prints
 * "FAILED ..." and the exit status is 1; the others still run.
 */
public final class RoostInterop {
    interface Scenario {
        void run(Harness h) throws Exception;
    }

    private static Map<String, Scenario> scenarios() {
        Map<String, Scenario> all = new LinkedHashMap<>();
        all.put("crud", CoreScenarios::crud);
        all.put("seq_eph", CoreScenarios::seqEph);
        all.put("watches", CoreScenarios::watches);
        all.put("multi", CoreScenarios::multi);
        all.put("chroot", CoreScenarios::chroot);
        all.put("watch_acl", CoreScenarios::watchAcl);
        all.put("addwatch", ApiScenarios::addWatch);
        all.put("removewatches", ApiScenarios::removeWatches);
        all.put("ttl_container", ApiScenarios::ttlContainer);
        all.put("ephemerals", ApiScenarios::ephemerals);
        all.put("whoami", ApiScenarios::whoAmI);
        all.put("auth_acl", ApiScenarios::authAcl);
        all.put("sync", ApiScenarios::sync);
        all.put("system", ApiScenarios::system);
        all.put("sessions", ApiScenarios::sessions);
        all.put("limits", ApiScenarios::limits);
        all.put("reconnect", ReconnectScenario::run);
        return all;
    }

    public static void main(String[] args) throws Exception {
        Map<String, Scenario> all = scenarios();
        if (args.length < 3) {
            System.err.println("usage: RoostInterop HOST:PORT BASE SCENARIO... of " + all.keySet());
            System.exit(2);
        }
        String hosts = args[0];
        String base = args[1];
        ensureBase(hosts, base);
        int failures = 0;
        for (String name : Arrays.copyOfRange(args, 2, args.length)) {
            Scenario scenario = all.get(name);
            Harness.out("### " + name);
            try (Harness h = new Harness(hosts, base + "/" + name)) {
                if (scenario == null) {
                    throw new IllegalArgumentException("unknown scenario " + name);
                }
                ensureBase(hosts, h.base);
                scenario.run(h);
            } catch (Exception e) {
                failures++;
                Harness.out("FAILED " + e);
                e.printStackTrace();
            }
            Harness.out("### end " + name);
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    private static void ensureBase(String hosts, String base) throws Exception {
        try (Harness h = new Harness(hosts, base)) {
            ZooKeeper zk = h.connect(null);
            try {
                zk.create(base, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // another run already made it
            }
        }
    }
}
