package nemesis

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the servers the tests fault: with
// FALSIFY_NEMESIS_HELPER set, TestMain runs a helper instead of the tests.
//
//	echo      TCP server echoing bytes back
//	register  TCP line server: "SET k v" → OK, "GET k" → v or NIL
//	orphan    applies faults from its own Nemesis, journals their records,
//	          says "ready" and waits to be SIGKILLed
//
// The servers write their listen address to FALSIFY_HELPER_ADDR_FILE.
func TestMain(m *testing.M) {
	switch os.Getenv("FALSIFY_NEMESIS_HELPER") {
	case "":
		os.Exit(m.Run())
	case "echo":
		serve(func(c net.Conn) { io.Copy(c, c) })
	case "register":
		var mu sync.Mutex
		reg := map[string]string{}
		serve(func(c net.Conn) {
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				mu.Lock()
				reply := "ERR"
				switch {
				case len(f) == 3 && f[0] == "SET":
					reg[f[1]] = f[2]
					reply = "OK"
				case len(f) == 2 && f[0] == "GET":
					reply = "NIL"
					if v, ok := reg[f[1]]; ok {
						reply = v
					}
				}
				mu.Unlock()
				fmt.Fprintln(c, reply)
			}
		})
	case "orphan":
		if err := orphanChild(); err != nil {
			fmt.Fprintln(os.Stderr, "orphan helper:", err)
			os.Exit(3)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv("FALSIFY_NEMESIS_HELPER"))
		os.Exit(2)
	}
}

func serve(handle func(net.Conn)) {
	addr := "127.0.0.1:0"
	if a := os.Getenv("FALSIFY_HELPER_LISTEN"); a != "" {
		addr = a
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if p := os.Getenv("FALSIFY_HELPER_ADDR_FILE"); p != "" {
		tmp := p + ".tmp"
		os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644)
		os.Rename(tmp, p)
	}
	fmt.Println("listening on", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

// helperCommand returns argv and env that start a helper server as an
// owned command, and the file its address will appear in.
func helperCommand(t testing.TB, mode string) ([]string, []string, string) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), mode+".addr")
	return []string{os.Args[0], "-test.run=^$"}, []string{"FALSIFY_NEMESIS_HELPER=" + mode, "FALSIFY_HELPER_ADDR_FILE=" + addrFile}, addrFile
}

func waitAddr(t testing.TB, file string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("helper never wrote its address to %s", file)
	return ""
}

// startHelper starts a helper server that falsify does not own (a pid
// target), killed at cleanup, and returns it and its address.
func startHelper(t testing.TB, mode string) (*exec.Cmd, string) {
	t.Helper()
	argv, env, addrFile := helperCommand(t, mode)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, waitAddr(t, addrFile)
}

// newNemesis returns a Nemesis closed (every fault healed, every owned
// process killed) at cleanup, with the close errors reported.
func newNemesis(t testing.TB) *Nemesis {
	t.Helper()
	n := New("test_"+strings.ToLower(strings.NewReplacer("/", "_").Replace(t.Name())), t.TempDir())
	t.Cleanup(func() {
		for _, err := range n.Close() {
			t.Errorf("close: %v", err)
		}
	})
	return n
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (kernel-level fault: nftables, network namespaces, mounts); CI runs these as root")
	}
}

// netnsPair creates two network namespaces joined by a veth pair,
// 10.213.N.1 in a and 10.213.N.2 in b, deleted at cleanup.
func netnsPair(t testing.TB, n int) (a, b, ipA, ipB string) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) from iproute2 to create network namespaces")
	}
	a = fmt.Sprintf("fzt%d_%da", os.Getpid(), n)
	b = fmt.Sprintf("fzt%d_%db", os.Getpid(), n)
	ipA, ipB = fmt.Sprintf("10.213.%d.1", n), fmt.Sprintf("10.213.%d.2", n)
	va, vb := fmt.Sprintf("fz%d_%da", os.Getpid()%100000, n), fmt.Sprintf("fz%d_%db", os.Getpid()%100000, n)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", a)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", a).Run() })
	run("netns", "add", b)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", b).Run() })
	run("link", "add", va, "type", "veth", "peer", "name", vb)
	run("link", "set", va, "netns", a)
	run("link", "set", vb, "netns", b)
	run("-n", a, "addr", "add", ipA+"/24", "dev", va)
	run("-n", b, "addr", "add", ipB+"/24", "dev", vb)
	run("-n", a, "link", "set", va, "up")
	run("-n", b, "link", "set", vb, "up")
	run("-n", a, "link", "set", "lo", "up")
	run("-n", b, "link", "set", "lo", "up")
	return a, b, ipA, ipB
}

// orphanChild is the "crashed falsify" of TestOrphansHealed: it pauses a
// pid, drops traffic in a netns and partitions a proxy, journaling each
// record before applying it, then waits to be killed.
func orphanChild() error {
	ctx := context.Background()
	journal, err := os.OpenFile(os.Getenv("ORPHAN_JOURNAL"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n := New("orphan_child", os.Getenv("ORPHAN_LOGDIR"))
	var pid int
	fmt.Sscan(os.Getenv("ORPHAN_PID"), &pid)
	if _, err := n.Register(ctx, TargetSpec{Name: "paused", PID: pid}); err != nil {
		return err
	}
	if _, err := n.Register(ctx, TargetSpec{Name: "peer", Node: os.Getenv("ORPHAN_NODE"), Netns: os.Getenv("ORPHAN_NETNS")}); err != nil {
		return err
	}
	if _, err := n.Register(ctx, TargetSpec{Name: "echo", Address: os.Getenv("ORPHAN_ECHO")}); err != nil {
		return err
	}
	for _, spec := range []Spec{
		{Kind: "pause", Targets: []string{"paused"}},
		{Kind: "drop", Targets: []string{"peer"}},
		{Kind: "partition", Targets: []string{"echo"}},
	} {
		rec, err := n.Prepare(ctx, spec)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(rec)
		if _, err := journal.Write(append(b, '\n')); err != nil {
			return err
		}
		if err := journal.Sync(); err != nil {
			return err
		}
		f, err := n.Apply(ctx, rec)
		if err != nil {
			return err
		}
		if !f.Landing.Landed {
			return fmt.Errorf("%s did not land: %s", spec.Kind, f.Landing.Reason)
		}
	}
	fmt.Println("ready")
	select {}
}
