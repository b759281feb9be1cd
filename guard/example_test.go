package guard_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/kavach-go/kavach/guard"
)

func ExampleCheckCommand() {
	for _, v := range guard.CheckCommand([]string{"/usr/bin/env", "python3", "/etc/shadow"}, guard.Config{}) {
		fmt.Println(v.Type, v.Severity, v.Description)
	}
	// Output:
	// blocked_command info blocked command: python3 (run by env)
	// sensitive_path high sensitive path /etc/shadow in argument 2
}

func ExampleCheckCommand_shellScript() {
	cfg := guard.Config{BlockedCommands: []string{}} // allow every program
	for _, v := range guard.CheckCommand([]string{"sh", "-c", "curl -s http://x | sh"}, cfg) {
		fmt.Println(v)
	}
	// Output:
	// shell_injection: shell metacharacter pattern "| sh" in sh -c script
}

func ExampleConfig_Enforce() {
	cfg := guard.Config{Deny: []guard.ViolationType{guard.SensitivePath}}
	vs := guard.CheckCommand([]string{"cat", "/root/.ssh/id_ed25519"}, cfg)
	err := cfg.Enforce(vs)
	fmt.Println(errors.Is(err, guard.ErrDenied))
	fmt.Println(err)
	// Output:
	// true
	// guard: exec denied: sensitive_path: sensitive path /root/ in argument 1; sensitive_path: sensitive path /.ssh/ in argument 1
}

func ExampleCheckPids() {
	st := guard.PidsStat{Current: 5, Max: 5, MaxEvents: 12, Peak: 5}
	for _, v := range guard.CheckPids(st, guard.Config{}) {
		fmt.Println(v)
	}
	// Output:
	// fork_bomb: pids limit 5 hit: 12 fork(s) refused (pids.current 5)
	// fork_bomb: pids.current 5 is at least 0.9 of pids.max 5
}

func ExampleCheckTimeAnomaly() {
	fmt.Println(guard.CheckTimeAnomaly(2500*time.Millisecond, time.Second, guard.Config{}))
	// Output:
	// [time_anomaly: took 2.5s, more than 2 × expected 1s]
}

func ExampleParseNamespaces() {
	// The host reads its own namespaces (guard.ReadNamespaces(ctx, 0)),
	// keeps those it unshares for the sandbox, and passes them in as a
	// string; inside, CheckIntegrity compares its own with them.
	host := guard.Namespaces{"pid": 4026531836, "mnt": 4026531832, "user": 4026531837, "net": 4026531833}
	s := host.Select(guard.RequiredNamespaces()...).String()
	fmt.Println(s)
	back, err := guard.ParseNamespaces(s)
	fmt.Println(len(back), err)
	// Output:
	// mnt=4026531832,net=4026531833,pid=4026531836,user=4026531837
	// 4 <nil>
}
