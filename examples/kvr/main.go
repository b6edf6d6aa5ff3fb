package kvr

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/falsify-dev/falsify/history"
)

// Main runs the demo system's command line, args without the program
// name:
//
//	node --name n1 --listen 127.0.0.1:7001 --peers n1=…,n2=…,n3=… [--mode none|stale-read|lost-ack]
//	     [--heartbeat-timeout 500ms] [--apply-delay 50ms] [--replication-delay 250ms] [--exit-on-stdin-eof]
//	workload --nodes addr1,addr2,addr3 [--seed 1] [--clients 5] [--duration 2s] [--keys 5]
//	     [--read-from primary|any] [--timeout 1s] [--pause 0] [--out history.jsonl]
//
// A node prints "kvr node NAME listening on ADDR" once it accepts
// connections and runs until SIGINT or SIGTERM; its role changes go to
// stderr. The workload writes its history as JSON Lines to --out (default
// stdout). It returns the exit status: 0, 1 on a runtime error, 2 on bad
// arguments.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return MainContext(ctx, args, stdout, stderr)
}

// MainContext is [Main] stopping when ctx is done instead of on a signal.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: node|workload [flags] (see -h of each)")
		return 2
	}
	switch args[0] {
	case "node":
		return nodeMain(ctx, args[1:], stdout, stderr)
	case "workload":
		return workloadMain(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "unknown command %q: want node or workload\n", args[0])
	return 2
}

func nodeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "this node's name (n1, n2 or n3)")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	peers := fs.String("peers", "", "every node as name=address, in succession order, comma-separated (addresses may be proxies)")
	mode := fs.String("mode", "none", "none, stale-read or lost-ack")
	hb := fs.Duration("heartbeat-timeout", DefaultHeartbeatTimeout, "failover after this long without the primary")
	applyDelay := fs.Duration("apply-delay", DefaultApplyDelay, "stale-read: how long a backup waits before applying an entry")
	replDelay := fs.Duration("replication-delay", DefaultReplicationDelay, "lost-ack: how long the primary waits before replicating a write")
	stdinEOF := fs.Bool("exit-on-stdin-eof", false, "stop when standard input closes (the parent that started the node is gone)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	m, err := ParseMode(*mode)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ps, err := parsePeers(*peers)
	if err != nil {
		fmt.Fprintf(stderr, "--peers: %v\n", err)
		return 2
	}
	var logMu sync.Mutex
	n, err := Start(NodeConfig{Name: *name, Listen: *listen, Peers: ps, Mode: m,
		HeartbeatTimeout: *hb, ApplyDelay: *applyDelay, ReplicationDelay: *replDelay,
		Logf: func(format string, args ...any) {
			logMu.Lock()
			fmt.Fprintf(stderr, time.Now().UTC().Format("15:04:05.000 ")+format+"\n", args...)
			logMu.Unlock()
		}})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "kvr node %s listening on %s (mode %s)\n", *name, n.Addr(), m)
	if *stdinEOF {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
	}
	<-ctx.Done()
	n.Close()
	return 0
}

func workloadMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("workload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var w Workload
	nodes := fs.String("nodes", "", "addresses to talk to, comma-separated, in failover order")
	fs.Int64Var(&w.Seed, "seed", 1, "seed of the op sequence")
	fs.IntVar(&w.Clients, "clients", 5, "concurrent clients")
	fs.DurationVar(&w.Duration, "duration", 2*time.Second, "how long to issue ops")
	fs.IntVar(&w.Keys, "keys", 5, "number of keys")
	fs.StringVar(&w.ReadFrom, "read-from", ReadFromPrimary, "primary or any")
	fs.DurationVar(&w.Timeout, "timeout", time.Second, "per-op timeout")
	fs.DurationVar(&w.Pause, "pause", 0, "pause between a client's ops")
	out := fs.String("out", "", "history file (JSON Lines; default stdout)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for a := range strings.SplitSeq(*nodes, ",") {
		if a = strings.TrimSpace(a); a != "" {
			w.Nodes = append(w.Nodes, a)
		}
	}
	if len(w.Nodes) == 0 {
		fmt.Fprintln(stderr, "--nodes: give at least one address")
		return 2
	}
	ops, err := w.Run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	dst := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer f.Close()
		dst = f
	}
	if err := history.WriteJSONL(dst, ops); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if f, ok := dst.(*os.File); ok && f != os.Stdout {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	return 0
}
