import static org.apache.zookeeper.CreateMode.EPHEMERAL;
import static org.apache.zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL;
import static org.apache.zookeeper.CreateMode.PERSISTENT;
import static org.apache.zookeeper.CreateMode.PERSISTENT_SEQUENTIAL;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

/** CRUD, sequential/ephemeral nodes, one-shot watches, multi and chroot. */
final class CoreScenarios {
    private static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;

    private CoreScenarios() {
    }

    private static void out(String line) {
        Harness.out(line);
    }

    private static String mk(ZooKeeper zk, String path, String data, CreateMode mode)
            throws Exception {
        return zk.create(path, data == null ? null : Harness.bytes(data), OPEN, mode);
    }

    static void crud(Harness h) throws Exception {
        ZooKeeper zk = h.connect(null);
        String a = h.p("/a");
        String b = h.p("/a/b");
        h.show("create", () -> mk(zk, a, "alpha", PERSISTENT));
        Stat made = new Stat();
        h.show("create2", () -> {
            zk.create(b, Harness.bytes("beta"), OPEN, PERSISTENT, made);
            return made;
        });
        out("create2 czxid==mzxid==pzxid: "
            + (made.getCzxid() == made.getMzxid() && made.getMzxid() == made.getPzxid()));
        out("create2 ctime==mtime: " + (made.getCtime() == made.getMtime()));
        Stat parent = zk.exists(a, false);
        out("parent: " + h.stat(parent));
        out("parent pzxid==child czxid: " + (parent.getPzxid() == made.getCzxid()));
        out("parent mzxid<child czxid: " + (parent.getMzxid() < made.getCzxid()));
        Stat got = new Stat();
        h.show("get", () -> zk.getData(b, false, got));
        out("get stat equals create2 stat: " + got.equals(made));
        Stat set = zk.setData(b, Harness.bytes("gamma"), 0);
        out("set v0: " + h.stat(set));
        out("set mzxid>czxid: " + (set.getMzxid() > set.getCzxid()));
        out("set mtime>=ctime: " + (set.getMtime() >= set.getCtime()));
        out("set pzxid unchanged: " + (set.getPzxid() == made.getPzxid()));
        h.show("set stale version", () -> zk.setData(b, Harness.bytes("x"), 0));
        h.show("set same data any version", () -> zk.setData(b, Harness.bytes("gamma"), -1));
        h.show("get after sets", () -> zk.getData(b, false, null));
        errors(h, zk, a, b);
        data(h, zk, a);
        acls(h, zk, a);
        h.show("delete stale version", () -> delete(zk, b, 1));
        h.show("delete right version", () -> delete(zk, b, 2));
        h.show("parent after delete", () -> zk.exists(a, false));
    }

    private static String delete(ZooKeeper zk, String path, int version) throws Exception {
        zk.delete(path, version);
        return "deleted";
    }

    private static void errors(Harness h, ZooKeeper zk, String a, String b) {
        String none = h.p("/none");
        h.show("create existing", () -> mk(zk, b, "again", PERSISTENT));
        h.show("create under missing parent", () -> mk(zk, h.p("/none/x"), null, PERSISTENT));
        h.show("get missing", () -> zk.getData(none, false, null));
        h.show("exists missing", () -> zk.exists(none, false));
        h.show("set missing", () -> zk.setData(none, Harness.bytes("x"), -1));
        h.show("children missing", () -> zk.getChildren(none, false));
        h.show("acl missing", () -> zk.getACL(none, new Stat()));
        h.show("delete missing", () -> delete(zk, none, -1));
        h.show("delete non-empty", () -> delete(zk, a, -1));
    }

    private static void data(Harness h, ZooKeeper zk, String a) throws Exception {
        h.show("create null data", () -> mk(zk, h.p("/a/null"), null, PERSISTENT));
        h.show("get null data", () -> zk.getData(h.p("/a/null"), false, null));
        h.show("stat null data", () -> zk.exists(h.p("/a/null"), false));
        h.show("create empty data", () -> mk(zk, h.p("/a/empty"), "", PERSISTENT));
        h.show("get empty data", () -> zk.getData(h.p("/a/empty"), false, null));
        byte[] binary = new byte[256];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }
        zk.create(h.p("/a/bin"), binary, OPEN, PERSISTENT);
        out("binary round trip: " + Arrays.equals(binary, zk.getData(h.p("/a/bin"), false, null)));
        byte[] big = new byte[500_000];
        Arrays.fill(big, (byte) 'z');
        zk.create(h.p("/a/big"), big, OPEN, PERSISTENT);
        out("500 kB round trip: " + Arrays.equals(big, zk.getData(h.p("/a/big"), false, null)));
        String unicode = h.p("/a/\u00fcn\u00ef-\u2603");
        h.show("create unicode name", () -> mk(zk, unicode, "snow", PERSISTENT));
        Stat st = new Stat();
        h.show("children", () -> zk.getChildren(a, false, st));
        out("children stat: " + h.stat(st));
    }

    private static void acls(Harness h, ZooKeeper zk, String a) {
        String n = h.p("/a/null");
        h.show("acl", () -> zk.getACL(a, new Stat()));
        h.show("set acl", () -> zk.setACL(n, Ids.READ_ACL_UNSAFE, 0));
        h.show("set acl stale version", () -> zk.setACL(n, Ids.OPEN_ACL_UNSAFE, 0));
        h.show("acl after set", () -> zk.getACL(n, new Stat()));
        h.show("set data on read-only", () -> zk.setData(n, Harness.bytes("x"), -1));
        h.show("read read-only", () -> zk.getData(n, false, null));
    }

    static void seqEph(Harness h) throws Exception {
        ZooKeeper zk = h.connect(null);
        ZooKeeper other = h.connect(null);
        h.show("seq 1", () -> mk(zk, h.p("/s-"), null, PERSISTENT_SEQUENTIAL));
        h.show("seq 2", () -> mk(zk, h.p("/s-"), null, PERSISTENT_SEQUENTIAL));
        Stat st = new Stat();
        h.show("ephemeral", () -> {
            zk.create(h.p("/e"), Harness.bytes("eph"), OPEN, EPHEMERAL, st);
            return st;
        });
        h.show("ephemeral seq", () -> mk(zk, h.p("/es-"), null, EPHEMERAL_SEQUENTIAL));
        h.show("child of ephemeral", () -> mk(zk, h.p("/e/c"), null, PERSISTENT));
        h.show("delete seq 1", () -> delete(zk, h.p("/s-0000000000"), -1));
        h.show("seq after delete", () -> mk(zk, h.p("/s-"), null, PERSISTENT_SEQUENTIAL));
        h.show("parent for bare seq", () -> mk(zk, h.p("/e2"), null, PERSISTENT));
        h.show("seq with trailing slash", () -> mk(zk, h.p("/e2/"), null, PERSISTENT_SEQUENTIAL));
        h.show("other sees", () -> other.getChildren(h.base, false));
        h.show("other sees ephemeral", () -> other.exists(h.p("/e"), false));
        zk.close();
        h.show("after close", () -> other.getChildren(h.base, false));
        h.show("ephemeral after close", () -> other.exists(h.p("/e"), false));
    }

    static void watches(Harness h) throws Exception {
        Harness.Recorder rec = h.recorder();
        ZooKeeper zk = h.connect(rec);
        ZooKeeper other = h.connect(null);
        String node = h.p("/node");
        String fresh = h.p("/fresh");
        mk(zk, node, "x", PERSISTENT);
        zk.getData(node, rec.watcher("data"), null);
        other.setData(node, Harness.bytes("y"), -1);
        other.setData(node, Harness.bytes("z"), -1);
        h.showEvents("data watch, two sets", zk, rec);
        h.show("exists watch on missing", () -> zk.exists(fresh, rec.watcher("exists")));
        zk.getChildren(h.base, rec.watcher("child"));
        mk(other, fresh, "f", PERSISTENT);
        h.showEvents("create under watches", zk, rec);
        zk.getData(fresh, rec.watcher("data"), null);
        h.show("failed set", () -> other.setData(fresh, Harness.bytes("q"), 7));
        h.showEvents("after failed set", zk, rec);
        other.setData(fresh, Harness.bytes("q"), -1);
        h.showEvents("after set", zk, rec);
        zk.exists(node, rec.watcher("exists"));
        zk.getData(node, rec.watcher("data"), null);
        zk.getChildren(node, rec.watcher("child"));
        zk.getChildren(h.base, rec.watcher("parent"));
        other.delete(node, -1);
        h.showEventsSorted("delete with watches", zk, rec);
        zk.getData(fresh, true, null);
        other.setData(fresh, Harness.bytes("w"), -1);
        h.showEvents("default watcher", zk, rec);
        zk.getChildren(h.base, rec.watcher("child"));
        other.setData(fresh, Harness.bytes("v"), -1);
        h.showEvents("child watch ignores data change", zk, rec);
        mk(other, h.p("/fresh/kid"), null, PERSISTENT);
        h.showEvents("child watch ignores grandchild", zk, rec);
        other.delete(fresh + "/kid", -1);
        other.delete(fresh, -1);
        h.showEvents("delete child", zk, rec);
    }

    static void multi(Harness h) throws Exception {
        ZooKeeper zk = h.connect(null);
        String a = h.p("/a");
        String b = h.p("/b");
        List<OpResult> res = zk.multi(Arrays.asList(
            Op.create(a, Harness.bytes("1"), OPEN, PERSISTENT),
            Op.create(b, null, OPEN, PERSISTENT),
            Op.setData(a, Harness.bytes("2"), 0),
            Op.check(b, 0),
            Op.delete(b, 0),
            Op.create(h.p("/s-"), null, OPEN, PERSISTENT_SEQUENTIAL)));
        out("multi: " + results(h, res));
        h.show("a after multi", () -> zk.exists(a, false));
        h.show("b after multi", () -> zk.exists(b, false));
        failing(h, zk, "missing node", Arrays.asList(
            Op.create(h.p("/c"), null, OPEN, PERSISTENT),
            Op.setData(h.p("/missing"), Harness.bytes("x"), -1),
            Op.create(h.p("/d"), null, OPEN, PERSISTENT)));
        h.show("c after failed multi", () -> zk.exists(h.p("/c"), false));
        failing(h, zk, "check version", Arrays.asList(Op.check(a, 7), Op.delete(a, -1)));
        failing(h, zk, "create twice", Arrays.asList(
            Op.create(h.p("/e"), null, OPEN, PERSISTENT),
            Op.create(h.p("/e"), null, OPEN, PERSISTENT)));
        h.show("e after failed multi", () -> zk.exists(h.p("/e"), false));
        String t = h.p("/tree");
        res = zk.multi(Arrays.asList(
            Op.create(t, null, OPEN, PERSISTENT),
            Op.create(t + "/leaf", null, OPEN, PERSISTENT),
            Op.delete(t + "/leaf", 0),
            Op.create(t + "/q-", null, OPEN, PERSISTENT_SEQUENTIAL),
            Op.create(h.p("/ttl"), null, OPEN, CreateMode.PERSISTENT_WITH_TTL, 60000),
            Op.create(h.p("/box"), null, OPEN, CreateMode.CONTAINER)));
        out("multi building on itself: " + results(h, res));
        h.show("ttl made in multi", () -> zk.exists(h.p("/ttl"), false));
        h.show("container made in multi", () -> zk.exists(h.p("/box"), false));
        h.show("transaction", () -> results(h, zk.transaction().check(a, 1)
            .setData(a, Harness.bytes("3"), 1).commit()));
        try {
            res = zk.multi(Arrays.asList(Op.getData(a), Op.getChildren(h.base),
                Op.getData(h.p("/missing"))));
            out("read multi: " + results(h, res));
        } catch (KeeperException e) {
            out("read multi: err " + e.code() + " " + results(h, e.getResults()));
        }
    }

    private static void failing(Harness h, ZooKeeper zk, String label, List<Op> ops)
            throws InterruptedException {
        try {
            zk.multi(ops);
            out("failing multi " + label + ": no exception");
        } catch (KeeperException e) {
            out("failing multi " + label + ": err " + e.code() + " path " + e.getPath());
            out("failing multi " + label + " results: " + results(h, e.getResults()));
        }
    }

    static List<String> results(Harness h, List<OpResult> res) {
        List<String> items = new ArrayList<>();
        for (OpResult r : res) {
            if (r instanceof OpResult.CreateResult) {
                items.add("create " + h.rel(((OpResult.CreateResult) r).getPath()));
            } else if (r instanceof OpResult.SetDataResult) {
                items.add("setData " + h.stat(((OpResult.SetDataResult) r).getStat()));
            } else if (r instanceof OpResult.CheckResult) {
                items.add("check");
            } else if (r instanceof OpResult.DeleteResult) {
                items.add("delete");
            } else if (r instanceof OpResult.ErrorResult) {
                int err = ((OpResult.ErrorResult) r).getErr();
                items.add("error " + KeeperException.Code.get(err));
            } else if (r instanceof OpResult.GetDataResult) {
                OpResult.GetDataResult g = (OpResult.GetDataResult) r;
                items.add("getData " + h.fmt(g.getData()) + " " + h.stat(g.getStat()));
            } else if (r instanceof OpResult.GetChildrenResult) {
                items.add("getChildren " + h.fmt(((OpResult.GetChildrenResult) r).getChildren()));
            } else {
                items.add("other " + r.getClass().getSimpleName());
            }
        }
        return items;
    }

    static void chroot(Harness h) throws Exception {
        ZooKeeper root = h.connect(null);
        Harness.Recorder rec = h.recorder();
        ZooKeeper zk = h.connect(h.hosts + h.base, rec);
        h.show("create", () -> mk(zk, "/a", "1", PERSISTENT));
        h.show("create seq", () -> mk(zk, "/s-", null, PERSISTENT_SEQUENTIAL));
        h.show("unchrooted view", () -> root.getData(h.p("/a"), false, null));
        h.show("children of /", () -> zk.getChildren("/", false));
        h.show("stat of /", () -> zk.exists("/", false));
        zk.exists("/w", rec.watcher("exists"));
        zk.getChildren("/", rec.watcher("child"));
        mk(root, h.p("/w"), null, PERSISTENT);
        h.showEvents("events", zk, rec);
        h.show("multi", () -> results(h, zk.multi(Arrays.asList(
            Op.create("/m", null, OPEN, PERSISTENT),
            Op.create("/m/s-", null, OPEN, PERSISTENT_SEQUENTIAL)))));
        h.show("ephemeral", () -> mk(zk, "/e", null, EPHEMERAL));
        h.show("getEphemerals /", () -> zk.getEphemerals("/"));
        h.show("getEphemerals /e", () -> zk.getEphemerals("/e"));
        h.show("all children number /", () -> zk.getAllChildrenNumber("/"));
        h.show("sync", () -> h.sync(zk, "/a"));
    }

    static void watchAcl(Harness h) throws Exception {
        Harness.Recorder rec = h.recorder();
        ZooKeeper anon = h.connect(rec);
        ZooKeeper alice = h.connect(null);
        alice.addAuthInfo("digest", Harness.bytes("alice:secret"));
        String n = h.p("/n");
        mk(alice, n, "open", PERSISTENT);
        mk(alice, n + "/kid", null, PERSISTENT);
        anon.getData(n, rec.watcher("data"), null);
        anon.getChildren(n, rec.watcher("child"));
        h.show("lock the node", () -> alice.setACL(n, Ids.CREATOR_ALL_ACL, -1));
        h.showEvents("after setACL", anon, rec);
        alice.setData(n, Harness.bytes("closed"), -1);
        mk(alice, n + "/kid2", null, PERSISTENT);
        h.showEvents("changes the watcher may not read", anon, rec);
        alice.setACL(n, OPEN, -1);
        alice.setData(n, Harness.bytes("open again"), -1);
        h.showEvents("were the watches used up", anon, rec);
        alice.delete(n + "/kid", -1);
        alice.delete(n + "/kid2", -1);
        alice.delete(n, -1);
        h.showEvents("after delete", anon, rec);
    }
}
