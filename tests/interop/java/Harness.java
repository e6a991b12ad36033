import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Stat;

/**
 * Shared plumbing for the interop scenarios: connections, event recording and output.
 *
 * Every line printed is deterministic for a given server behaviour: paths under the base
 * path are printed as "~/...", session ids as "session#N" (N = the order the handles were
 * opened in), and zxids only through comparisons.
 */
final class Harness implements AutoCloseable {
    static final int SESSION_MS = 10000;
    static final long WAIT_MS = 20000;

    final String hosts;
    final String base;
    private final List<ZooKeeper> handles = new ArrayList<>();
    private final AtomicInteger marks = new AtomicInteger();

    Harness(String hosts, String base) {
        this.hosts = hosts;
        this.base = base;
    }

    /** Something a scenario tries; its outcome is printed by {@link #attempt}. */
    interface Action {
        Object run() throws Exception;
    }

    static synchronized void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** An absolute path under the base path: p("/x") is base + "/x". */
    String p(String rel) {
        return base + rel;
    }

    /** A path as printed: the base path becomes "~". */
    String rel(String path) {
        if (path == null) {
            return "null";
        }
        return path.startsWith(base) ? "~" + path.substring(base.length()) : path;
    }

    ZooKeeper connect(Recorder rec) throws Exception {
        return connect(hosts, rec);
    }

    /** A new session on connectString; waits for SyncConnected. */
    ZooKeeper connect(String connectString, Recorder rec) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        Watcher forward = rec == null ? null : rec.watcher("default");
        ZooKeeper zk = new ZooKeeper(connectString, SESSION_MS, event -> {
            if (event.getState() == KeeperState.SyncConnected) {
                up.countDown();
            }
            if (forward != null) {
                forward.process(event);
            }
        });
        handles.add(zk);
        if (!up.await(WAIT_MS, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("no SyncConnected from " + connectString);
        }
        return zk;
    }

    /** Runs the action and describes the outcome: "ok <value>" or "err <CODE>". */
    String attempt(Action action) {
        try {
            Object value = action.run();
            return "ok " + fmt(value);
        } catch (KeeperException e) {
            return "err " + e.code();
        } catch (Exception e) {
            return "exception " + e.getClass().getSimpleName();
        }
    }

    /** Prints "label: <outcome>". */
    void show(String label, Action action) {
        out(label + ": " + attempt(action));
    }

    String fmt(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Stat) {
            return stat((Stat) value);
        }
        if (value instanceof byte[]) {
            return "'" + new String((byte[]) value, StandardCharsets.UTF_8) + "'";
        }
        if (value instanceof String) {
            return rel((String) value);
        }
        if (value instanceof ACL) {
            ACL acl = (ACL) value;
            return acl.getPerms() + " " + acl.getId().getScheme() + ":" + acl.getId().getId();
        }
        if (value instanceof ClientInfo) {
            ClientInfo info = (ClientInfo) value;
            return info.getAuthScheme() + ":" + info.getUser();
        }
        if (value instanceof Collection) {
            List<String> items = new ArrayList<>();
            for (Object item : (Collection<?>) value) {
                items.add(fmt(item));
            }
            items.sort(null);
            return items.toString();
        }
        return String.valueOf(value);
    }

    /** The Stat fields that do not depend on zxids or clocks. */
    String stat(Stat s) {
        return String.format("v=%d cv=%d av=%d len=%d kids=%d owner=%s", s.getVersion(),
            s.getCversion(), s.getAversion(), s.getDataLength(), s.getNumChildren(),
            owner(s.getEphemeralOwner()));
    }

    String owner(long id) {
        if (id == 0) {
            return "0";
        }
        for (int i = 0; i < handles.size(); i++) {
            if (handles.get(i).getSessionId() == id) {
                return "session#" + i;
            }
        }
        return "0x" + Long.toHexString(id);
    }

    /**
     * The events rec received up to now, in arrival order. A marker request is sent on zk
     * and its callback runs on zk's event thread after every notification read before its
     * reply, so no event that the server sent earlier can be missed.
     */
    List<String> drain(ZooKeeper zk, Recorder rec) throws InterruptedException {
        String mark = "mark " + marks.incrementAndGet();
        zk.exists("/", false, (rc, path, ctx, stat) -> rec.events.add(mark), null);
        List<String> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (true) {
            long left = deadline - System.currentTimeMillis();
            String item = rec.events.poll(Math.max(left, 1), TimeUnit.MILLISECONDS);
            if (item == null) {
                throw new IllegalStateException("marker reply never came; so far " + got);
            }
            if (item.equals(mark)) {
                return got;
            }
            got.add(item);
        }
    }

    /** Prints "label: [events]" for the events drained from rec. */
    void showEvents(String label, ZooKeeper zk, Recorder rec) throws InterruptedException {
        out(label + ": " + drain(zk, rec));
    }

    /** Like showEvents, sorted: for one notification fanned out to several watchers. */
    void showEventsSorted(String label, ZooKeeper zk, Recorder rec) throws InterruptedException {
        List<String> got = drain(zk, rec);
        got.sort(null);
        out(label + ": " + got);
    }

    /** Runs sync on path and describes its callback: "rc CODE path PATH". */
    String sync(ZooKeeper zk, String path) throws Exception {
        CompletableFuture<String> done = new CompletableFuture<>();
        zk.sync(path, (rc, p, ctx) -> done.complete(
            "rc " + KeeperException.Code.get(rc) + " path " + rel(p)), null);
        return done.get(WAIT_MS, TimeUnit.MILLISECONDS);
    }

    /** Waits up to WAIT_MS for an item of rec's state queue equal to want. */
    static void awaitState(Recorder rec, String want) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (true) {
            long left = deadline - System.currentTimeMillis();
            String item = rec.states.poll(Math.max(left, 1), TimeUnit.MILLISECONDS);
            if (item == null) {
                throw new IllegalStateException("state " + want + " never came");
            }
            if (item.equals(want)) {
                return;
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        for (ZooKeeper zk : handles) {
            zk.close();
        }
        handles.clear();
    }

    /** Collects watch events ("label Type ~/path") and session states ("Type") of watchers. */
    final class Recorder {
        final BlockingQueue<String> events = new LinkedBlockingQueue<>();
        final BlockingQueue<String> states = new LinkedBlockingQueue<>();

        Watcher watcher(String label) {
            return event -> {
                if (event.getType() == EventType.None) {
                    states.add(String.valueOf(event.getState()));
                } else {
                    events.add(label + " " + event.getType() + " " + rel(event.getPath()));
                }
            };
        }
    }

    Recorder recorder() {
        return new Recorder();
    }
}
