import static org.apache.zookeeper.CreateMode.PERSISTENT;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;

/**
 * Watch re-registration after the TCP connection drops (run through a cuttable proxy).
 *
 * Every session state change and watch event is printed the moment the client delivers it
 * ("state X" / "event LABEL TYPE PATH"), so the driving test can cut the proxy, change the
 * watched nodes with another client while this one is disconnected, and restore the proxy.
 *
 * Phase 1 adds digest auth, sets one-shot data, exists and child watches (re-sent with
 * SetWatches), one of them on a node only the digest can read, and prints "ready 1"; it
 * ends after five watch events, then reads that node (the client re-sends its auth).
 * Phase 2 adds a persistent recursive watch and a one-shot data watch (re-sent with
 * SetWatches2) and prints "ready 2"; it ends when the creation of ~/parent/c3 is reported.
 * Both phases have a deadline.
 */
final class ReconnectScenario {
    private static final long PHASE_MS = 45000;

    private ReconnectScenario() {
    }

    static void run(Harness h) throws Exception {
        BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        ZooKeeper zk = h.connect(null);
        zk.register(watcher(h, queue, "default"));
        String data = h.p("/data");
        String parent = h.p("/parent");
        zk.create(data, Harness.bytes("v0"), Ids.OPEN_ACL_UNSAFE, PERSISTENT);
        zk.create(parent, null, Ids.OPEN_ACL_UNSAFE, PERSISTENT);
        zk.create(parent + "/c1", null, Ids.OPEN_ACL_UNSAFE, PERSISTENT);
        zk.create(h.p("/doomed"), null, Ids.OPEN_ACL_UNSAFE, PERSISTENT);
        zk.getData(data, watcher(h, queue, "data"), null);
        zk.exists(h.p("/created"), watcher(h, queue, "exists"));
        zk.getChildren(parent, watcher(h, queue, "child"));
        zk.getData(h.p("/doomed"), watcher(h, queue, "doomed"), null);
        zk.addAuthInfo("digest", Harness.bytes("alice:secret"));
        String secret = h.p("/secret");
        zk.create(secret, Harness.bytes("s0"), Ids.CREATOR_ALL_ACL, PERSISTENT);
        zk.getData(secret, watcher(h, queue, "secret"), null);
        Harness.out("session 0x" + Long.toHexString(zk.getSessionId()));
        Harness.out("ready 1");
        pump(queue, 5, null);
        // the client re-sent its digest auth on reconnecting
        Harness.out("secret after reconnect: " + h.attempt(() -> zk.getData(secret, false, null)));
        zk.addWatch(parent, watcher(h, queue, "recursive"), AddWatchMode.PERSISTENT_RECURSIVE);
        zk.getData(data, watcher(h, queue, "data2"), null);
        Harness.out("ready 2");
        pump(queue, Integer.MAX_VALUE, "event recursive NodeCreated ~/parent/c3");
        Harness.out("session 0x" + Long.toHexString(zk.getSessionId()));
    }

    private static Watcher watcher(Harness h, BlockingQueue<String> queue, String label) {
        return event -> {
            if (event.getType() == EventType.None) {
                queue.add("state " + event.getState());
            } else {
                queue.add("event " + label + " " + event.getType() + " " + h.rel(event.getPath()));
            }
        };
    }

    /** Prints queued items until `events` watch events or the line `last` went by. */
    private static void pump(BlockingQueue<String> queue, int events, String last)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + PHASE_MS;
        int seen = 0;
        while (seen < events) {
            long left = deadline - System.currentTimeMillis();
            String item = queue.poll(Math.max(left, 1), TimeUnit.MILLISECONDS);
            if (item == null) {
                throw new IllegalStateException("phase timed out after " + seen + " events");
            }
            Harness.out(item);
            if (item.startsWith("event ")) {
                seen++;
            }
            if (item.equals(last)) {
                return;
            }
        }
    }
}
