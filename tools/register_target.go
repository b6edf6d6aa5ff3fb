package tools

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/nemesis"
)

// RegisterTargetArgs are register_target's arguments.
type RegisterTargetArgs struct {
	Session string   `json:"session" jsonschema_description:"Session id from start_session."`
	Name    string   `json:"name" jsonschema_description:"Name of the target (n1, primary, db…); inject_fault's targets take it or the returned id."`
	PID     int      `json:"pid,omitempty" jsonschema_description:"A running process to fault (pause, kill, stop); its start time is recorded so that a reused pid is never signalled."`
	Command []string `json:"command,omitempty" jsonschema_description:"A command falsify starts and owns (argv, no shell), in its own process group, output to the session's logs/<name>.log; it stops when falsify stops. Needed for restart, clock-skew and fsync-loss."`
	Address string   `json:"address,omitempty" jsonschema_description:"host:port of a TCP service to front with a proxy inside falsify (no root needed): point the SUT's clients at the returned proxy_listen so that proxy faults (partition, latency, reset…) reach them."`
	Node    string   `json:"node,omitempty" jsonschema_description:"Host name or IP of a node for kernel network faults (drop, drop-oneway, loss; root and nftables)."`
	Path    string   `json:"path,omitempty" jsonschema_description:"A directory whose filesystem disk-full fills (use a small tmpfs or loop mount the SUT writes into)."`
	Dir     string   `json:"dir,omitempty" jsonschema_description:"command only: its working directory."`
	Env     []string `json:"env,omitempty" jsonschema_description:"command only: extra KEY=VALUE environment entries."`
	Listen  string   `json:"listen,omitempty" jsonschema_description:"address only: the proxy's listen address (default 127.0.0.1 on a free port)."`
	Netns   string   `json:"netns,omitempty" jsonschema_description:"Network namespace (a name under /run/netns or a path) kernel network faults against this target are installed in."`
	SSH     *SSHArgs `json:"ssh,omitempty" jsonschema_description:"node only: how to reach the node over ssh, so that process faults (params.pid) and the node-* kinds run there with the node's own kill/nft/iptables, each command and its raw output kept as evidence."`
}

// SSHArgs say how register_target reaches a node over ssh.
type SSHArgs struct {
	Addr                  string `json:"addr,omitempty" jsonschema_description:"host:port (default: the node, port 22)."`
	User                  string `json:"user" jsonschema_description:"Remote user (root, or one allowed CAP_NET_ADMIN and to signal the SUT)."`
	KeyFile               string `json:"key_file" jsonschema_description:"Private key file (absolute, or relative to the workspace); unencrypted. Its path is journaled, never its content."`
	KnownHostsFile        string `json:"known_hosts_file,omitempty" jsonschema_description:"known_hosts file listing the node's host key (ssh-keyscan); required unless insecure_ignore_host_key."`
	InsecureIgnoreHostKey bool   `json:"insecure_ignore_host_key,omitempty" jsonschema_description:"Accept any host key: only for throwaway test hosts."`
}

// RegisterTargetResult is register_target's result.
type RegisterTargetResult struct {
	ID          string         `json:"id" jsonschema_description:"The target id (t1, t2…) inject_fault's targets take."`
	ProxyListen string         `json:"proxy_listen,omitempty" jsonschema_description:"For an address target: the address the SUT's clients must connect to, so that proxy faults reach them."`
	Target      nemesis.Target `json:"target" jsonschema_description:"The registered target: kind, pid and start time, owned command and its log, proxy address, node, path."`
}

func (e *Env) registerTarget() server.ServerTool {
	tool := mcp.NewTool("register_target",
		mcp.WithDescription("Register a target that built-in faults may land on: a running pid, a command falsify starts and owns, a TCP address fronted by a proxy inside falsify, a remote node, or a directory for storage faults. "+
			"Faults land only on registered targets; any other pid, address or path is refused. Give name and exactly one of pid, command, address, node or path. "+
			"For an address, point the SUT's clients at the returned proxy_listen. Targets are journaled and registered again after a restart (an owned command stops with falsify and must be registered again). "+
			"Call it after start_session and before inject_fault, once per node, process or service the scenario's faults hit."),
		mcp.WithInputSchema[RegisterTargetArgs](),
		mcp.WithOutputSchema[RegisterTargetResult](),
		annotations("Register a fault target", false, false, false, false),
	)
	return register(e, tool, e.doRegisterTarget)
}

func (e *Env) doRegisterTarget(ctx context.Context, _ mcp.CallToolRequest, args RegisterTargetArgs) (RegisterTargetResult, error) {
	if strings.TrimSpace(args.Name) == "" {
		return RegisterTargetResult{}, argErr("name", "give the target a name (n1, primary, db…)", "is empty")
	}
	var given []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"pid", args.PID != 0}, {"command", len(args.Command) > 0}, {"address", args.Address != ""}, {"node", args.Node != ""}, {"path", args.Path != ""}} {
		if f.set {
			given = append(given, f.name)
		}
	}
	if len(given) != 1 {
		if len(given) == 0 {
			return RegisterTargetResult{}, argErr("pid", "give exactly one of pid, command, address, node or path", "none of pid, command, address, node or path is given")
		}
		return RegisterTargetResult{}, argErr(given[1], "give exactly one of pid, command, address, node or path", "%s are all given", strings.Join(given, ", "))
	}
	if args.PID < 0 {
		return RegisterTargetResult{}, argErr("pid", "give the id of a running process", "%d is not a process id", args.PID)
	}
	if (args.Dir != "" || len(args.Env) > 0) && len(args.Command) == 0 {
		return RegisterTargetResult{}, argErr("dir", "dir and env apply to command targets only", "set for a %s target", given[0])
	}
	if args.Listen != "" && args.Address == "" {
		return RegisterTargetResult{}, argErr("listen", "listen applies to address targets only", "set for a %s target", given[0])
	}
	spec := nemesis.TargetSpec{
		Name: args.Name, PID: args.PID, Command: args.Command, Dir: args.Dir, Env: args.Env,
		Address: args.Address, Listen: args.Listen, Node: args.Node, Path: args.Path, Netns: args.Netns,
	}
	if args.SSH != nil {
		if args.Node == "" {
			return RegisterTargetResult{}, argErr("ssh", "ssh applies to node targets only", "set for a %s target", given[0])
		}
		cfg := nemesis.SSHConfig{Addr: args.SSH.Addr, User: args.SSH.User, InsecureIgnoreHostKey: args.SSH.InsecureIgnoreHostKey}
		var err error
		if cfg.KeyFile, err = e.hostPath(args.SSH.KeyFile); err != nil {
			return RegisterTargetResult{}, argErr("ssh.key_file", "give the private key file, absolute or relative to the workspace", "%v", err)
		}
		if args.SSH.KnownHostsFile != "" {
			if cfg.KnownHostsFile, err = e.hostPath(args.SSH.KnownHostsFile); err != nil {
				return RegisterTargetResult{}, argErr("ssh.known_hosts_file", "give the known_hosts file, absolute or relative to the workspace", "%v", err)
			}
		}
		spec.SSH = &cfg
	}
	t, err := e.sessions.RegisterTarget(ctx, args.Session, spec)
	if err != nil {
		return RegisterTargetResult{}, err
	}
	return RegisterTargetResult{ID: t.ID, ProxyListen: t.ProxyListen, Target: *t}, nil
}

// hostPath returns an absolute path: p itself when absolute (an ssh key
// lives outside the workspace), else p resolved inside the workspace.
func (e *Env) hostPath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", errors.New("is empty")
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	return e.ws.Resolve(p)
}
