package threat_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/threat"
)

func ExampleClassify() {
	findings := []scan.Finding{
		{Category: "pii_network", Severity: scan.Low},    // an IPv4 address
		{Category: "obfuscation", Severity: scan.Medium}, // base64
		{Category: "pii", Severity: scan.Low},            // an e-mail address
	}
	a := threat.Classify(findings, nil)
	fmt.Printf("%.3f %v %v %v\n", a.IntentScore, a.Classification, a.Escalation, a.KillChainStages)

	violations := guard.CheckCommand([]string{"cat", "/etc/shadow"}, guard.Config{})
	a = threat.Classify(nil, violations)
	fmt.Printf("%.3f %v %v %v\n", a.IntentScore, a.Classification, a.Escalation, a.KillChainStages)
	// Output:
	// 0.975 malicious tier4_revoke [reconnaissance weaponization exfiltration]
	// 0.600 likely_malicious tier3_suspend [exfiltration]
}

func ExampleOffenderTracker() {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	tr, err := threat.NewOffenderTracker(ctx, threat.TrackerConfig{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	worst := threat.Assessment{IntentScore: 1}
	for range 3 {
		esc, _ := tr.Record(ctx, "agent-7", worst)
		fmt.Println(esc)
	}
	err = tr.Check("agent-7")
	fmt.Println(errors.Is(err, threat.ErrSuspended))
	fmt.Println(err)

	now = now.Add(30 * time.Minute)
	fmt.Println(tr.Score("agent-7"))

	_ = tr.Reset(ctx, "agent-7")
	fmt.Println(tr.Check("agent-7"))
	// Output:
	// tier1_log
	// tier2_alert
	// tier3_suspend
	// true
	// threat: agent "agent-7" suspended since 2023-11-14T22:13:20Z (offender score 3.000); it stays suspended until reset
	// 1.5
	// <nil>
}
