import static org.apache.zookeeper.CreateMode.CONTAINER;
import static org.apache.zookeeper.CreateMode.EPHEMERAL;
import static org.apache.zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL;
import static org.apache.zookeeper.CreateMode.PERSISTENT;
import static org.apache.zookeeper.CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
import static org.apache.zookeeper.CreateMode.PERSISTENT_WITH_TTL;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.WatcherType;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/** Persistent watches, watch removal, TTL/containers, newer read APIs, auth and sync. */
final class ApiScenarios {
    private static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;

    private ApiScenarios() {
    }

    private static void out(String line) {
        Harness.out(line);
    }

    private static String mk(ZooKeeper zk, String path, CreateMode mode) throws Exception {
        return zk.create(path, null, OPEN, mode);
    }

    private static void set(ZooKeeper zk, String path, String data) throws Exception {
        zk.setData(path, Harness.bytes(data), -1);
    }

    static void addWatch(Harness h) throws Exception {
        Harness.Recorder rec = h.recorder();
        ZooKeeper zk = h.connect(rec);
        ZooKeeper other = h.connect(null);
        String p = h.p("/p");
        String r = h.p("/r");
        mk(zk, p, PERSISTENT);
        mk(zk, r, PERSISTENT);
        Watcher pers = rec.watcher("persistent");
        zk.addWatch(p, pers, AddWatchMode.PERSISTENT);
        set(other, p, "1");
        set(other, p, "2");
        mk(other, p + "/c", PERSISTENT);
        set(other, p + "/c", "c");
        other.delete(p + "/c", -1);
        h.showEvents("persistent", zk, rec);
        zk.addWatch(r, rec.watcher("recursive"), AddWatchMode.PERSISTENT_RECURSIVE);
        mk(other, r + "/a", PERSISTENT);
        mk(other, r + "/a/b", PERSISTENT);
        set(other, r + "/a/b", "b");
        other.delete(r + "/a/b", -1);
        set(other, r, "r");
        other.delete(r + "/a", -1);
        h.showEvents("recursive", zk, rec);
        String later = h.p("/later");
        zk.addWatch(later, rec.watcher("later"), AddWatchMode.PERSISTENT);
        mk(other, later, PERSISTENT);
        set(other, later, "l");
        other.delete(later, -1);
        mk(other, later, PERSISTENT);
        h.showEvents("on a missing path", zk, rec);
        zk.addWatch(h.p("/d"), AddWatchMode.PERSISTENT_RECURSIVE);
        mk(other, h.p("/d"), PERSISTENT);
        mk(other, h.p("/d/e"), PERSISTENT);
        h.showEvents("default watcher", zk, rec);
        h.show("remove persistent", () -> {
            zk.removeWatches(p, pers, WatcherType.Any, false);
            return "removed";
        });
        set(other, p, "3");
        h.showEvents("after remove persistent", zk, rec);
        h.show("remove all on recursive", () -> {
            zk.removeAllWatches(r, WatcherType.Any, false);
            return "removed";
        });
        mk(other, r + "/z", PERSISTENT);
        h.showEvents("after remove all", zk, rec);
        // A one-shot watch on the path of a recursive one: both fire. Nothing after this is
        // checked: ZooKeeper 3.8 keeps one watch mode per (session, path), so there the
        // one-shot watch replaces the recursive one (ZOOKEEPER-4466, fixed in 3.9).
        String both = h.p("/both");
        mk(zk, both, PERSISTENT);
        zk.addWatch(both, rec.watcher("recursive"), AddWatchMode.PERSISTENT_RECURSIVE);
        zk.getData(both, rec.watcher("oneshot"), null);
        set(other, both, "1");
        h.showEventsSorted("one-shot and recursive on one path", zk, rec);
    }

    static void removeWatches(Harness h) throws Exception {
        Harness.Recorder rec = h.recorder();
        ZooKeeper zk = h.connect(rec);
        ZooKeeper other = h.connect(null);
        String n = h.p("/n");
        String n2 = h.p("/n2");
        mk(zk, n, PERSISTENT);
        mk(zk, n2, PERSISTENT);
        Watcher dw = rec.watcher("data");
        Watcher cw = rec.watcher("child");
        zk.getData(n, dw, null);
        zk.getChildren(n, cw);
        h.show("remove data watch", () -> remove(zk, n, dw, WatcherType.Data));
        h.showEvents("after remove", zk, rec);
        set(other, n, "x");
        mk(other, n + "/c", PERSISTENT);
        h.showEvents("after changes", zk, rec);
        h.show("remove data watch again", () -> remove(zk, n, dw, WatcherType.Data));
        h.show("remove fired child watch", () -> remove(zk, n, cw, WatcherType.Children));
        Watcher w1 = rec.watcher("w1");
        zk.getData(n2, w1, null);
        zk.getData(n2, rec.watcher("w2"), null);
        h.show("remove one of two", () -> remove(zk, n2, w1, WatcherType.Data));
        set(other, n2, "y");
        h.showEvents("the other still fires", zk, rec);
        zk.getData(n, rec.watcher("d2"), null);
        zk.getChildren(n, rec.watcher("c2"));
        zk.exists(n, rec.watcher("e2"));
        h.show("remove all", () -> removeAll(zk, n, WatcherType.Any));
        h.showEventsSorted("after remove all", zk, rec);
        set(other, n, "z");
        other.delete(n + "/c", -1);
        h.showEvents("after changes", zk, rec);
        h.show("remove all again", () -> removeAll(zk, n, WatcherType.Any));
        zk.getData(n, rec.watcher("d3"), null);
        zk.getChildren(n, rec.watcher("c3"));
        h.show("remove all children watches", () -> removeAll(zk, n, WatcherType.Children));
        h.showEvents("after remove children", zk, rec);
        mk(other, n + "/c", PERSISTENT);
        set(other, n, "w");
        h.showEvents("data watch kept", zk, rec);
        h.show("remove on missing path", () -> removeAll(zk, h.p("/none"), WatcherType.Any));
    }

    private static String remove(ZooKeeper zk, String path, Watcher w, WatcherType type)
            throws Exception {
        zk.removeWatches(path, w, type, false);
        return "removed";
    }

    private static String removeAll(ZooKeeper zk, String path, WatcherType type)
            throws Exception {
        zk.removeAllWatches(path, type, false);
        return "removed";
    }

    static void ttlContainer(Harness h) throws Exception {
        ZooKeeper zk = h.connect(null);
        String keep = h.p("/keep");
        zk.create(keep, null, OPEN, PERSISTENT_WITH_TTL, null, 200);
        mk(zk, keep + "/child", PERSISTENT);
        Stat st = new Stat();
        h.show("ttl create", () -> {
            zk.create(h.p("/ttl"), Harness.bytes("t"), OPEN, PERSISTENT_WITH_TTL, st, 500);
            return st;
        });
        h.show("ttl stat", () -> zk.exists(h.p("/ttl"), false));
        h.show("ttl sequential", () ->
            zk.create(h.p("/ttls-"), null, OPEN, PERSISTENT_SEQUENTIAL_WITH_TTL, null, 500));
        mk(zk, h.p("/unused"), CONTAINER);
        Stat box = new Stat();
        h.show("container create", () -> {
            zk.create(h.p("/box"), null, OPEN, CONTAINER, box);
            return box;
        });
        mk(zk, h.p("/box/item"), PERSISTENT);
        h.show("container with child", () -> zk.exists(h.p("/box"), false));
        zk.delete(h.p("/box/item"), -1);
        String[] reaped = {h.p("/ttl"), h.p("/ttls-0000000002"), h.p("/box")};
        long deadline = System.currentTimeMillis() + Harness.WAIT_MS;
        List<String> left = existing(zk, reaped);
        while (!left.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
            left = existing(zk, reaped);
        }
        out("not reaped: " + h.fmt(left));
        h.show("ttl node with a child", () -> zk.exists(keep, false) != null);
        h.show("never-used container", () -> zk.exists(h.p("/unused"), false) != null);
        h.show("children left", () -> zk.getChildren(h.base, false));
    }

    private static List<String> existing(ZooKeeper zk, String[] paths) throws Exception {
        List<String> found = new ArrayList<>();
        for (String path : paths) {
            if (zk.exists(path, false) != null) {
                found.add(path);
            }
        }
        return found;
    }

    static void ephemerals(Harness h) throws Exception {
        ZooKeeper zk = h.connect(null);
        ZooKeeper other = h.connect(null);
        mk(zk, h.p("/x"), PERSISTENT);
        mk(zk, h.p("/x/e1"), EPHEMERAL);
        mk(zk, h.p("/e2"), EPHEMERAL);
        mk(zk, h.p("/s-"), EPHEMERAL_SEQUENTIAL);
        mk(other, h.p("/other"), EPHEMERAL);
        h.show("getEphemerals base", () -> zk.getEphemerals(h.base));
        h.show("getEphemerals x", () -> zk.getEphemerals(h.p("/x")));
        h.show("getEphemerals string prefix", () -> zk.getEphemerals(h.p("/e")));
        h.show("getEphemerals no prefix", () -> zk.getEphemerals());
        h.show("getEphemerals /", () -> zk.getEphemerals("/"));
        h.show("getEphemerals other session", () -> other.getEphemerals());
        h.show("getEphemerals nothing", () -> zk.getEphemerals(h.p("/nothing")));
        h.show("all children number base", () -> zk.getAllChildrenNumber(h.base));
        h.show("all children number x", () -> zk.getAllChildrenNumber(h.p("/x")));
        h.show("all children number leaf", () -> zk.getAllChildrenNumber(h.p("/e2")));
        h.show("all children number missing", () -> zk.getAllChildrenNumber(h.p("/nothing")));
    }

    static void whoAmI(Harness h) throws Exception {
        ZooKeeper zk = h.connect(null);
        h.show("anonymous", zk::whoAmI);
        zk.addAuthInfo("digest", Harness.bytes("alice:secret"));
        h.show("digest", zk::whoAmI);
        zk.addAuthInfo("digest", Harness.bytes("bob:pw"));
        h.show("two digests", zk::whoAmI);
        ZooKeeper sup = h.connect(null);
        sup.addAuthInfo("digest", Harness.bytes("super:test"));
        h.show("super", sup::whoAmI);
    }

    static void authAcl(Harness h) throws Exception {
        ZooKeeper alice = h.connect(null);
        alice.addAuthInfo("digest", Harness.bytes("alice:secret"));
        ZooKeeper anon = h.connect(null);
        ZooKeeper nobody = h.connect(null);
        ZooKeeper sup = h.connect(null);
        sup.addAuthInfo("digest", Harness.bytes("super:test"));
        String priv = h.p("/priv");
        h.show("create creator-all", () ->
            alice.create(priv, Harness.bytes("p"), Ids.CREATOR_ALL_ACL, PERSISTENT));
        h.show("acl of creator-all", () -> alice.getACL(priv, new Stat()));
        h.show("anon get", () -> anon.getData(priv, false, null));
        h.show("anon set", () -> anon.setData(priv, Harness.bytes("x"), -1));
        h.show("anon children", () -> anon.getChildren(priv, false));
        h.show("anon exists", () -> anon.exists(priv, false));
        h.show("anon get acl", () -> anon.getACL(priv, new Stat()));
        h.show("anon create child", () -> mk(anon, priv + "/c", PERSISTENT));
        anon.addAuthInfo("digest", Harness.bytes("alice:wrong"));
        h.show("wrong password get", () -> anon.getData(priv, false, null));
        ZooKeeper alice2 = h.connect(null);
        alice2.addAuthInfo("digest", Harness.bytes("alice:secret"));
        h.show("second alice session get", () -> alice2.getData(priv, false, null));
        h.show("super get", () -> sup.getData(priv, false, null));
        h.show("creator-all without auth", () ->
            nobody.create(h.p("/x"), null, Ids.CREATOR_ALL_ACL, PERSISTENT));
        h.show("empty acl", () ->
            nobody.create(h.p("/y"), null, Collections.emptyList(), PERSISTENT));
        h.show("unknown scheme acl", () -> nobody.create(h.p("/z"), null,
            acl(Perms.ALL, "nosuch", "x"), PERSISTENT));
        h.show("bad ip acl", () -> nobody.create(h.p("/z"), null,
            acl(Perms.ALL, "ip", "not-an-ip"), PERSISTENT));
        readOnly(h, alice, nobody, sup);
        ipAndDigest(h, alice, nobody);
        Harness.Recorder rec = h.recorder();
        ZooKeeper bad = h.connect(rec);
        bad.addAuthInfo("nosuch", Harness.bytes("x"));
        Harness.awaitState(rec, "AuthFailed");
        out("unknown auth scheme: AuthFailed");
        h.show("request after auth failure", () -> bad.exists(h.base, false));
        h.show("anon delete (parent is open)", () -> {
            anon.delete(priv, -1);
            return "deleted";
        });
    }

    private static List<ACL> acl(int perms, String scheme, String id) {
        return Collections.singletonList(new ACL(perms, new Id(scheme, id)));
    }

    private static void readOnly(Harness h, ZooKeeper alice, ZooKeeper nobody, ZooKeeper sup) {
        String ro = h.p("/ro");
        h.show("create read-only", () ->
            alice.create(ro, Harness.bytes("r"), Ids.READ_ACL_UNSAFE, PERSISTENT));
        h.show("nobody reads read-only", () -> nobody.getData(ro, false, null));
        h.show("nobody writes read-only", () -> nobody.setData(ro, Harness.bytes("w"), -1));
        h.show("alice sets acl on read-only", () -> alice.setACL(ro, OPEN, 0));
        h.show("super sets acl on read-only", () -> sup.setACL(ro, OPEN, 0));
        h.show("super sets acl stale version", () -> sup.setACL(ro, OPEN, 0));
        h.show("nobody writes after", () -> nobody.setData(ro, Harness.bytes("w"), -1));
    }

    private static void ipAndDigest(Harness h, ZooKeeper alice, ZooKeeper nobody)
            throws Exception {
        alice.create(h.p("/iplocal"), Harness.bytes("l"), acl(Perms.ALL, "ip", "127.0.0.1"),
            PERSISTENT);
        alice.create(h.p("/ipnet"), Harness.bytes("n"), acl(Perms.ALL, "ip", "127.0.0.0/8"),
            PERSISTENT);
        alice.create(h.p("/ipother"), Harness.bytes("o"), acl(Perms.ALL, "ip", "10.0.0.0/8"),
            PERSISTENT);
        h.show("ip 127.0.0.1 read", () -> nobody.getData(h.p("/iplocal"), false, null));
        h.show("ip 127.0.0.0/8 read", () -> nobody.getData(h.p("/ipnet"), false, null));
        h.show("ip 10.0.0.0/8 read", () -> nobody.getData(h.p("/ipother"), false, null));
        String bobId = DigestAuthenticationProvider.generateDigest("bob:pw");
        String bobNode = h.p("/bob");
        alice.create(bobNode, Harness.bytes("b"), acl(Perms.READ, "digest", bobId), PERSISTENT);
        ZooKeeper bob = h.connect(null);
        bob.addAuthInfo("digest", Harness.bytes("bob:pw"));
        h.show("bob reads", () -> bob.getData(bobNode, false, null));
        h.show("bob writes", () -> bob.setData(bobNode, Harness.bytes("x"), -1));
        h.show("alice reads bob's", () -> alice.getData(bobNode, false, null));
    }

    static void sync(Harness h) throws Exception {
        ZooKeeper zk = h.connect(null);
        ZooKeeper other = h.connect(null);
        String s = h.p("/s");
        zk.create(s, Harness.bytes("1"), OPEN, PERSISTENT);
        h.show("sync existing", () -> h.sync(zk, s));
        h.show("sync missing", () -> h.sync(zk, h.p("/missing")));
        h.show("sync root", () -> h.sync(zk, "/"));
        set(other, s, "2");
        h.sync(zk, s);
        h.show("read after sync", () -> zk.getData(s, false, null));
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(4);
        zk.setData(s, Harness.bytes("3"), -1, (rc, path, ctx, stat) -> {
            order.add("setData");
            done.countDown();
        }, null);
        zk.sync(s, (rc, path, ctx) -> {
            order.add("sync");
            done.countDown();
        }, null);
        zk.getData(s, false, (rc, path, ctx, data, stat) -> {
            order.add("getData " + h.fmt(data));
            done.countDown();
        }, null);
        zk.sync(h.p("/missing"), (rc, path, ctx) -> {
            order.add("sync missing");
            done.countDown();
        }, null);
        if (!done.await(Harness.WAIT_MS, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("pipelined callbacks: only " + order);
        }
        out("pipelined callbacks: " + order);
    }

    static void system(Harness h) throws Exception {
        ZooKeeper zk = h.connect(null);
        h.show("children of /zookeeper", () -> zk.getChildren("/zookeeper", false));
        h.show("config", () -> zk.getConfig(false, null));
        h.show("acl of /", () -> zk.getACL("/", new Stat()));
        h.show("acl of /zookeeper/config", () -> zk.getACL("/zookeeper/config", new Stat()));
        h.show("set /zookeeper/config", () ->
            zk.setData("/zookeeper/config", Harness.bytes("x"), -1));
        h.show("delete /zookeeper", () -> {
            zk.delete("/zookeeper", -1);
            return "deleted";
        });
        h.show("delete /", () -> {
            zk.delete("/", -1);
            return "deleted";
        });
        h.show("create /", () -> mk(zk, "/", PERSISTENT));
        h.show("exists /zookeeper/quota", () -> zk.exists("/zookeeper/quota", false) != null);
    }

    static void sessions(Harness h) throws Exception {
        Harness.Recorder states = h.recorder();
        ZooKeeper zk = h.connect(states);
        mk(zk, h.p("/e"), EPHEMERAL);
        byte[] wrong = zk.getSessionPasswd().clone();
        wrong[0] ^= 1;
        out("wrong password: " + attach(h, zk.getSessionId(), wrong));
        // the server drops the session's connection before it checks the password
        Harness.awaitState(states, "Disconnected");
        Harness.awaitState(states, "SyncConnected");
        out("original connection: dropped, then resumed");
        h.show("ephemeral kept", () -> zk.exists(h.p("/e"), false));
        out("unknown session: " + attach(h, 0x7fff_0000_0000_0001L, new byte[16]));
        out("session timeout granted: " + zk.getSessionTimeout());
        Harness.Recorder rec = h.recorder();
        ZooKeeper low = new ZooKeeper(h.hosts, 1000, rec.watcher("default"));
        try {
            Harness.awaitState(rec, "SyncConnected");
            out("session timeout 1000 granted: " + low.getSessionTimeout());
        } finally {
            low.close();
        }
        Harness.Recorder roRec = h.recorder();
        ZooKeeper ro = new ZooKeeper(h.hosts, Harness.SESSION_MS, roRec.watcher("default"), true);
        try {
            out("canBeReadOnly client: " + roRec.states.poll(Harness.WAIT_MS,
                TimeUnit.MILLISECONDS));
            h.show("canBeReadOnly client writes", () -> mk(ro, h.p("/rw"), PERSISTENT));
        } finally {
            ro.close();
        }
    }

    /** The first state a session reattach with this id and password reaches. */
    private static String attach(Harness h, long id, byte[] password) throws Exception {
        Harness.Recorder rec = h.recorder();
        ZooKeeper zk = new ZooKeeper(h.hosts, Harness.SESSION_MS, rec.watcher("default"), id,
            password);
        try {
            String state = rec.states.poll(Harness.WAIT_MS, TimeUnit.MILLISECONDS);
            return state + " " + zk.getState();
        } finally {
            zk.close();
        }
    }

    static void limits(Harness h) throws Exception {
        Harness.Recorder rec = h.recorder();
        ZooKeeper zk = h.connect(rec);
        mk(zk, h.p("/eph"), EPHEMERAL);
        String big = h.p("/big");
        byte[] mb = new byte[1_000_000];
        Arrays.fill(mb, (byte) 'm');
        h.show("create 1000000 bytes", () -> zk.create(big, mb, OPEN, PERSISTENT));
        h.show("read it back", () -> Arrays.equals(mb, zk.getData(big, false, null)));
        // a frame over jute.maxbuffer (1 MiB - 1): the server drops the connection
        h.show("set 1100000 bytes", () -> zk.setData(big, new byte[1_100_000], -1));
        Harness.awaitState(rec, "Disconnected");
        Harness.awaitState(rec, "SyncConnected");
        h.show("after reconnect", () -> zk.exists(big, false));
        h.show("ephemeral survives", () -> zk.getEphemerals(h.base));
    }
}
