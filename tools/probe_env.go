package tools

import (
	"context"
	"sort"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/nemesis"
)

// ProbeEnvArgs are probe_env's arguments (none).
type ProbeEnvArgs struct{}

// FaultKindInfo describes one built-in fault kind on this host.
type FaultKindInfo struct {
	Name      string            `json:"name"`
	Family    string            `json:"family" jsonschema_description:"process, network-proxy, network-kernel, storage or time."`
	Doc       string            `json:"doc" jsonschema_description:"What it does and what it measures as landing evidence."`
	Targets   []string          `json:"targets" jsonschema_description:"Target kinds it accepts (register_target)."`
	Params    map[string]string `json:"params,omitempty" jsonschema_description:"Parameters it reads: name → meaning."`
	Needs     []string          `json:"needs" jsonschema_description:"Capabilities it needs."`
	Available bool              `json:"available" jsonschema_description:"True when this host has every capability it needs."`
	Refused   string            `json:"refused,omitempty" jsonschema_description:"Why inject_fault refuses it here (then the scenario becomes INCONCLUSIVE-env)."`
	Hint      string            `json:"hint,omitempty" jsonschema_description:"How to get the missing capability."`
}

// ProbeEnvResult is probe_env's result.
type ProbeEnvResult struct {
	Capabilities   []nemesis.Capability `json:"capabilities" jsonschema_description:"Each capability measured on this host (root, nftables, netns, netem, faketime, cgroup, fuse, proxy): ok, what was measured, and an install or setup hint when missing."`
	CgroupVersion  string               `json:"cgroup_version" jsonschema_description:"v1, v2, hybrid or none."`
	CgroupWritable []string             `json:"cgroup_writable" jsonschema_description:"cgroup controllers falsify can write to."`
	Kinds          []FaultKindInfo      `json:"kinds" jsonschema_description:"Every built-in fault kind and whether this host can inject it."`
}

func (e *Env) probeEnv() server.ServerTool {
	tool := mcp.NewTool("probe_env",
		mcp.WithDescription("Measure what this host lets falsify's built-in nemesis do: root, nftables over netlink, network namespaces, tc netem, libfaketime, cgroup version and writable controllers, /dev/fuse, and for each fault kind whether it is available or refused (with the reason and an install hint). "+
			"Call it while designing §6b (capabilities) and before inject_fault; it changes nothing on the host."),
		mcp.WithInputSchema[ProbeEnvArgs](),
		mcp.WithOutputSchema[ProbeEnvResult](),
		annotations("Probe the fault environment", true, false, true, false),
	)
	return register(e, tool, e.doProbeEnv)
}

func (e *Env) doProbeEnv(ctx context.Context, _ mcp.CallToolRequest, _ ProbeEnvArgs) (ProbeEnvResult, error) {
	caps := nemesis.Probe(ctx)
	if err := ctx.Err(); err != nil {
		return ProbeEnvResult{}, err
	}
	res := ProbeEnvResult{Capabilities: caps.List, CgroupVersion: caps.CgroupVersion, CgroupWritable: caps.CgroupWritable}
	for _, k := range nemesis.Kinds() {
		info := FaultKindInfo{Name: k.Name, Family: k.Family, Doc: k.Doc, Targets: k.Targets, Params: k.Params,
			Needs: append([]string{}, k.Needs...), Refused: caps.Kinds[k.Name]}
		info.Available = info.Refused == ""
		for _, need := range k.Needs {
			if c, ok := caps.Get(need); !ok || !c.OK {
				info.Hint = c.Hint
				break
			}
		}
		res.Kinds = append(res.Kinds, info)
	}
	sort.Slice(res.Kinds, func(i, j int) bool { return res.Kinds[i].Name < res.Kinds[j].Name })
	return res, nil
}
