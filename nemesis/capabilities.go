package nemesis

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Capability names, used in Kind.Needs and the session's capability matrix.
const (
	CapRoot     = "root"     // effective uid 0
	CapNFTables = "nftables" // nf_tables usable over netlink
	CapNetns    = "netns"    // network namespaces can be created
	CapNetem    = "netem"    // tc qdisc netem (delay/loss in the kernel)
	CapFaketime = "faketime" // libfaketime for clock faults
	CapCgroup   = "cgroup"   // a writable cgroup controller
	CapFuse     = "fuse"     // /dev/fuse openable
	CapProxy    = "proxy"    // the embedded Toxiproxy (always present)
	CapStrace   = "strace"   // strace ≥ 5 able to trace a child, for syscall fault injection
)

// Capability is one probed capability of the host.
type Capability struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`         // what was measured
	Hint   string `json:"hint,omitempty"` // how to get it when missing
}

// Capabilities is the result of Probe: the capability matrix of this host.
type Capabilities struct {
	List []Capability `json:"capabilities"`
	// CgroupVersion is "v1", "v2", "hybrid" or "none"; CgroupWritable
	// lists the controllers falsify could write to.
	CgroupVersion  string   `json:"cgroup_version"`
	CgroupWritable []string `json:"cgroup_writable,omitempty"`
	// Kinds maps each fault kind to "" (available) or the reason it is
	// refused on this host.
	Kinds map[string]string `json:"kinds"`
}

// Get returns the named capability.
func (c Capabilities) Get(name string) (Capability, bool) {
	for _, x := range c.List {
		if x.Name == name {
			return x, true
		}
	}
	return Capability{Name: name, Detail: "not probed"}, false
}

// Probe measures what this host lets falsify do: root, nftables over
// netlink, network namespaces, tc netem (tried in a throwaway network
// namespace), libfaketime, cgroup version and writable controllers,
// /dev/fuse, strace. Each missing capability carries an install or setup
// hint.
func Probe(ctx context.Context) Capabilities {
	var c Capabilities
	root := os.Geteuid() == 0
	c.List = append(c.List, Capability{Name: CapRoot, OK: root, Detail: fmt.Sprintf("euid %d", os.Geteuid()), Hint: pick(root, "", "run falsify as root (or with CAP_NET_ADMIN, CAP_SYS_ADMIN) for kernel-level faults")})
	c.List = append(c.List, probeNFTables())
	c.List = append(c.List, probeNetns())
	c.List = append(c.List, probeNetem(ctx))
	lib := findFaketimeLib()
	bin, _ := exec.LookPath("faketime")
	ft := Capability{Name: CapFaketime, OK: lib != "", Detail: fmt.Sprintf("library %q, binary %q", lib, bin)}
	if lib == "" {
		ft.Detail = "libfaketime.so.1 not found in " + strings.Join(faketimeLibs, ", ")
		ft.Hint = "apt-get install -y faketime (Debian/Ubuntu) or dnf install libfaketime"
	}
	c.List = append(c.List, ft)
	cg := probeCgroup(&c)
	c.List = append(c.List, cg)
	c.List = append(c.List, probeFuse())
	c.List = append(c.List, Capability{Name: CapProxy, OK: true, Detail: "embedded Toxiproxy v2.12.0"})
	c.List = append(c.List, probeStrace(ctx, os.Getenv("PATH")))
	c.Kinds = map[string]string{}
	for _, k := range Kinds() {
		why := ""
		for _, need := range k.Needs {
			if x, _ := c.Get(need); !x.OK {
				why = fmt.Sprintf("needs %s: %s", need, x.Detail)
				break
			}
		}
		c.Kinds[k.Name] = why
	}
	c.Kinds["netem"] = "not implemented as a kind: " + func() string { x, _ := c.Get(CapNetem); return x.Detail }()
	return c
}

func probeNFTables() Capability {
	cap := Capability{Name: CapNFTables}
	conn, err := nftables.New()
	if err == nil {
		_, err = conn.ListTablesOfFamily(nftables.TableFamilyINet)
	}
	if err != nil {
		cap.Detail = "listing nftables tables over netlink failed: " + err.Error()
		cap.Hint = "needs root (CAP_NET_ADMIN) and the nf_tables kernel module"
		return cap
	}
	cap.OK = true
	cap.Detail = "listed inet tables over netlink"
	return cap
}

// inThrowawayNetns runs f on a locked thread moved into a new, anonymous
// network namespace; the thread (and the namespace) die with the goroutine.
func inThrowawayNetns(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

func probeNetns() Capability {
	cap := Capability{Name: CapNetns}
	if err := inThrowawayNetns(func() error { return nil }); err != nil {
		cap.Detail = err.Error()
		cap.Hint = "needs root (CAP_SYS_ADMIN); in a container, run it privileged"
		return cap
	}
	cap.OK = true
	cap.Detail = "created a network namespace"
	return cap
}

// probeNetem tries `tc qdisc add dev lo root netem delay 1ms` in a
// throwaway network namespace (tc inherits the thread's namespace).
func probeNetem(ctx context.Context) Capability {
	cap := Capability{Name: CapNetem}
	tc, err := exec.LookPath("tc")
	if err != nil {
		cap.Detail = "tc not found"
		cap.Hint = "apt-get install -y iproute2"
		return cap
	}
	var out []byte
	err = inThrowawayNetns(func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		out, err = exec.CommandContext(ctx, tc, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms").CombinedOutput()
		return err
	})
	if err != nil {
		cap.Detail = fmt.Sprintf("tc qdisc add dev lo root netem delay 1ms in a throwaway netns: %v: %s", err, strings.TrimSpace(string(out)))
		cap.Hint = "the kernel lacks sch_netem (CONFIG_NET_SCH_NETEM); latency and loss are available through the proxy kinds (latency) and nftables (loss)"
		return cap
	}
	cap.OK = true
	cap.Detail = "tc netem qdisc added in a throwaway netns"
	return cap
}

func probeCgroup(c *Capabilities) Capability {
	cap := Capability{Name: CapCgroup}
	const root = "/sys/fs/cgroup"
	if b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		c.CgroupVersion = "v2"
		if unix.Access(root, unix.W_OK) == nil {
			c.CgroupWritable = strings.Fields(string(b))
		}
	} else if entries, err := os.ReadDir(root); err == nil && len(entries) > 0 {
		c.CgroupVersion = "v1"
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			if e.Name() == "unified" {
				c.CgroupVersion = "hybrid"
				continue
			}
			if unix.Access(filepath.Join(root, e.Name()), unix.W_OK) == nil {
				c.CgroupWritable = append(c.CgroupWritable, e.Name())
			}
		}
	} else {
		c.CgroupVersion = "none"
	}
	sort.Strings(c.CgroupWritable)
	cap.OK = len(c.CgroupWritable) > 0
	cap.Detail = fmt.Sprintf("cgroup %s, writable controllers: %s", c.CgroupVersion, strings.Join(c.CgroupWritable, " "))
	if !cap.OK {
		cap.Hint = "mount a cgroup hierarchy writable by falsify (root, or a delegated cgroup v2 subtree)"
	}
	return cap
}

func probeFuse() Capability {
	cap := Capability{Name: CapFuse}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		cap.Detail = "/dev/fuse: " + err.Error()
		cap.Hint = "load the fuse module (modprobe fuse) or pass --device /dev/fuse to the container"
		return cap
	}
	f.Close()
	cap.OK = true
	cap.Detail = "/dev/fuse opened read-write"
	return cap
}

const straceHint = "apt-get install -y strace (Debian/Ubuntu) or dnf install strace; in a container, allow ptrace (docker run --cap-add SYS_PTRACE)"

var straceVersionRE = regexp.MustCompile(`version (\d+)\.(\d+)`)

// probeStrace looks for strace in the directories of pathEnv (a PATH
// value), requires version 5 or later (syscall injection with signal= and
// when=) and traces a child with it, which fails where ptrace is denied.
func probeStrace(ctx context.Context, pathEnv string) Capability {
	cap := Capability{Name: CapStrace, Hint: straceHint}
	bin, err := lookPathIn("strace", pathEnv)
	if err != nil {
		cap.Detail = err.Error()
		return cap
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-V").Output()
	m := straceVersionRE.FindSubmatch(out)
	if err != nil || m == nil {
		cap.Detail = fmt.Sprintf("%s -V: %v %q", bin, err, strings.TrimSpace(string(out)))
		return cap
	}
	major, _ := strconv.Atoi(string(m[1]))
	version := string(m[1]) + "." + string(m[2])
	if major < 5 {
		cap.Detail = fmt.Sprintf("%s is version %s; syscall fault injection needs 5 or later", bin, version)
		return cap
	}
	// Trace strace -V under strace: proves ptrace works here.
	if out, err := exec.CommandContext(ctx, bin, "-o", os.DevNull, "-e", "trace=none", "--", bin, "-V").CombinedOutput(); err != nil {
		cap.Detail = fmt.Sprintf("%s %s cannot trace a child: %v: %s", bin, version, err, strings.TrimSpace(string(out)))
		return cap
	}
	cap.OK, cap.Hint = true, ""
	cap.Detail = fmt.Sprintf("strace %s at %s traced a child", version, bin)
	return cap
}
