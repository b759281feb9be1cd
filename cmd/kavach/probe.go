package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach/probe"
)

func init() { register(newProbeCmd) }

// probeCmdName is the hidden subcommand `kavach verify` runs inside the
// sandbox, from a copy of the kavach binary that it bind-mounts read-only
// at probeTarget (the directory holding the copy is mounted at /run/kavach).
const (
	probeCmdName = "__probe"
	probeTarget  = "/run/kavach/kavach"
)

func newProbeCmd() *cobra.Command {
	var hostInfo string
	var hold bool
	var alloc int
	c := &cobra.Command{
		Use:    probeCmdName + " --host-info JSON",
		Short:  "Run the isolation checks inside a sandbox (used by kavach verify)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case hold:
				return probe.Hold()
			case alloc != 0:
				return probe.Alloc(alloc)
			case hostInfo == "":
				return fmt.Errorf("%s: --host-info is required", probeCmdName)
			}
			var h probe.HostInfo
			if err := json.Unmarshal([]byte(hostInfo), &h); err != nil {
				return fmt.Errorf("%s: --host-info: %w: %w", probeCmdName, probe.ErrHostInfo, err)
			}
			out, err := probe.Run(cmd.Context(), h)
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
		},
	}
	fl := c.Flags()
	fl.StringVar(&hostInfo, "host-info", "", "what the host prepared (probe.HostInfo as JSON)")
	fl.BoolVar(&hold, probe.HoldFlag[2:], false, "helper: block until stdin is closed")
	fl.IntVar(&alloc, probe.AllocFlag[2:], 0, "helper: allocate and touch this many MiB")
	c.MarkFlagsMutuallyExclusive("host-info", probe.HoldFlag[2:], probe.AllocFlag[2:])
	return c
}
